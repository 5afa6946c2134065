"""Registrations to a workshop session: the booked places and the waitlist.

One row per (session, member), whatever happens to it: booked, waitlisted or
cancelled. ``queue_seq`` orders the queue (first come, first booked, first
promoted). Every function here runs inside the caller's transaction
(``Workshops`` opens it), emits ``registration.changed`` for each row it
changes and writes the audit line; none of them commits.

``session`` arguments are the session rows loaded by ``Workshops`` (dicts with
id, capacity, starts_at, cancelled_at).
"""

from __future__ import annotations

from kiosk.core import replication
from kiosk.core.errors import N_, Conflict, NotFound
from kiosk.core.store import Store
from sync.protocol import new_id


def audit(store: Store, actor: dict | None, action: str, **detail) -> None:
    """Audit what a volunteer or staff member did; a resident's own sign-up at
    the kiosk (actor None) is not a PIN-mode action."""
    if actor is not None:
        store.audit(actor, action, **detail)


def live_member(store: Store, member_id: str) -> dict:
    """The member's row, or NotFound when unknown or erased."""
    row = store.one(
        "SELECT id, first_name, last_name, phone, erased_at FROM members WHERE id = ?",
        (member_id,),
    )
    if row is None or row["erased_at"] is not None:
        raise NotFound(
            "member_id",
            N_("Nous ne trouvons pas cette personne. Demandez à l'accueil."),
            f"no member {member_id!r}",
            value=member_id,
        )
    return row


def counts(store: Store, session_id: str) -> tuple[int, int]:
    """(booked, waitlisted) of one session."""
    row = store.conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'booked'), "
        "count(*) FILTER (WHERE status = 'waitlisted') "
        "FROM registrations WHERE session_id = ?",
        (session_id,),
    ).fetchone()
    return row[0], row[1]


def _next_seq(store: Store, session_id: str) -> int:
    row = store.conn.execute(
        "SELECT coalesce(max(queue_seq), 0) + 1 FROM registrations WHERE session_id = ?",
        (session_id,),
    ).fetchone()
    return row[0]


def _emit(store: Store, registration: dict) -> None:
    # every change of a registration passes here: the centre's other devices hear of it too
    replication.record_row(
        store,
        "registrations",
        {k: registration[k] for k in ("id", "session_id", "member_id", "status")},
    )
    store.emit(
        "registration.changed",
        {
            "registration_id": registration["id"],
            "session_id": registration["session_id"],
            "member_id": registration["member_id"],
            "status": registration["status"],
        },
    )


def _set_status(store: Store, registration: dict, status: str) -> dict:
    store.conn.execute(
        "UPDATE registrations SET status = ?, updated_at = ? WHERE id = ?",
        (status, store.now_iso(), registration["id"]),
    )
    changed = dict(registration, status=status)
    _emit(store, changed)
    return changed


def _position(store: Store, session_id: str, queue_seq: int) -> int:
    """1-based place on the waitlist of the registration queued at ``queue_seq``."""
    return store.conn.execute(
        "SELECT count(*) FROM registrations "
        "WHERE session_id = ? AND status = 'waitlisted' AND queue_seq <= ?",
        (session_id, queue_seq),
    ).fetchone()[0]


def register(store: Store, session: dict, member_id: str, actor: dict | None) -> dict:
    """Book a place, or queue on the waitlist when the session is full (or
    others already wait: nobody jumps the queue)."""
    live_member(store, member_id)
    existing = store.one(
        "SELECT id, session_id, member_id, status FROM registrations WHERE session_id = ? AND member_id = ?",
        (session["id"], member_id),
    )
    if existing and existing["status"] != "cancelled":
        raise Conflict(
            "member_id",
            N_("Cette personne est déjà inscrite à cet atelier. Vous pouvez venir."),
            f"member already {existing['status']} for this session",
            value=member_id,
        )
    booked, waiting = counts(store, session["id"])
    status = "booked" if booked < session["capacity"] and waiting == 0 else "waitlisted"
    seq, now = _next_seq(store, session["id"]), store.now_iso()
    if existing:
        # re-registering after a cancellation re-queues at the end, same registration
        store.conn.execute(
            "UPDATE registrations SET status = ?, queue_seq = ?, queued_at = ?, updated_at = ? WHERE id = ?",
            (status, seq, now, now, existing["id"]),
        )
        registration_id = existing["id"]
    else:
        registration_id = new_id()
        store.conn.execute(
            "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, "
            "queued_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (registration_id, session["id"], member_id, status, seq, now, now, now),
        )
    _emit(
        store, {"id": registration_id, "session_id": session["id"], "member_id": member_id, "status": status}
    )
    audit(store, actor, "registration.add", session_id=session["id"], member_id=member_id, status=status)
    position = _position(store, session["id"], seq) if status == "waitlisted" else None
    return {"registration_id": registration_id, "status": status, "position": position}


def cancel(store: Store, session: dict, member_id: str, actor: dict | None) -> dict | None:
    """Cancel a member's live registration; a freed place goes to the first
    on the waitlist. Returns the promoted registration, or None."""
    registration = store.one(
        "SELECT id, session_id, member_id, status FROM registrations "
        "WHERE session_id = ? AND member_id = ? AND status != 'cancelled'",
        (session["id"], member_id),
    )
    if registration is None:
        raise NotFound(
            "member_id",
            N_("Cette personne n'est pas inscrite à cet atelier. Touchez « Je m'inscris »."),
            "no live registration of this member for this session",
            value=member_id,
        )
    _set_status(store, registration, "cancelled")
    audit(
        store,
        actor,
        "registration.cancel",
        session_id=session["id"],
        member_id=member_id,
        was=registration["status"],
    )
    promoted = promote(store, session, actor)
    return promoted[0] if promoted else None


def promote(store: Store, session: dict, actor: dict | None) -> list[dict]:
    """Move the first waitlisted into the free places, in queue order."""
    booked, _ = counts(store, session["id"])
    free = session["capacity"] - booked
    if free <= 0:
        return []
    waiting = store.query(
        "SELECT id, session_id, member_id, status FROM registrations "
        "WHERE session_id = ? AND status = 'waitlisted' ORDER BY queue_seq LIMIT ?",
        (session["id"], free),
    )
    promoted = []
    for registration in waiting:
        promoted.append(_set_status(store, registration, "booked"))
        audit(
            store,
            actor,
            "registration.promote",
            session_id=session["id"],
            member_id=registration["member_id"],
        )
    return [{"registration_id": r["id"], "member_id": r["member_id"], "status": "booked"} for r in promoted]


def of_session(store: Store, session_id: str) -> list[dict]:
    """Live registrations: booked then waitlisted, each in queue order."""
    rows = store.query(
        "SELECT r.id AS registration_id, r.member_id, r.status, r.queued_at, "
        "m.first_name, m.last_name, m.phone "
        "FROM registrations r JOIN members m ON m.id = r.member_id "
        "WHERE r.session_id = ? AND r.status != 'cancelled' "
        "ORDER BY r.status = 'waitlisted', r.queue_seq",
        (session_id,),
    )
    place = 0
    for row in rows:
        if row["status"] == "waitlisted":
            place += 1
            row["position"] = place
        else:
            row["position"] = None
    return rows


def of_member(store: Store, member_id: str, after_iso: str | None) -> list[dict]:
    """A member's live registrations with their session, soonest first;
    only sessions ending after ``after_iso`` when given."""
    sql = (
        "SELECT r.id AS registration_id, r.session_id, r.status, s.starts_at, s.ends_at, "
        "coalesce(s.place, w.place) AS place, w.title, w.theme, "
        "s.cancelled_at IS NOT NULL AS cancelled "
        "FROM registrations r JOIN sessions s ON s.id = r.session_id "
        "JOIN workshops w ON w.id = s.workshop_id "
        "WHERE r.member_id = ? AND r.status != 'cancelled'"
    )
    params: list = [member_id]
    if after_iso is not None:
        sql += " AND s.ends_at > ?"
        params.append(after_iso)
    rows = store.query(sql + " ORDER BY s.starts_at", params)
    for row in rows:
        row["cancelled"] = bool(row["cancelled"])
    return rows
