"""Attendance at a workshop session: the roll call of booked members, and walk-ins.

One row per member and session (a unique index), so marking again updates the
row and emits a new ``attendance.taken`` with the same ``attendance_id``: the
hub keeps the latest. Anonymous walk-ins have no member and one row each.
Like registrations.py, every function runs in the caller's transaction.
"""

from __future__ import annotations

from kiosk.core import replication
from kiosk.core.errors import N_, Conflict, InvalidInput
from kiosk.core.registrations import audit, live_member
from kiosk.core.store import Store
from sync.protocol import new_id


def _emit(store: Store, row: dict, marked_by: str | None = None) -> None:
    # every mark passes here: the centre's other devices hear of it too, with
    # who marked it (staff accounts replicate)
    replication.record_row(
        store,
        "attendance",
        {
            "id": row["id"],
            "session_id": row["session_id"],
            "member_id": row["member_id"],
            "present": int(bool(row["present"])),
            "walk_in": int(bool(row["walk_in"])),
            "marked_at": store.now_iso(),
            "marked_by": marked_by,
        },
    )
    store.emit(
        "attendance.taken",
        {
            "attendance_id": row["id"],
            "session_id": row["session_id"],
            "member_id": row["member_id"],
            "present": bool(row["present"]),
            "walk_in": bool(row["walk_in"]),
        },
    )


def _actor_id(actor: dict | None) -> str | None:
    return actor["id"] if actor else None


def roll_call(store: Store, session_id: str) -> list[dict]:
    """Booked members with their mark (None when not marked yet), in queue
    order, then the walk-ins in the order they came."""
    booked = store.query(
        "SELECT r.member_id, m.first_name, m.last_name, a.id AS attendance_id, "
        "a.present, 0 AS walk_in "
        "FROM registrations r JOIN members m ON m.id = r.member_id "
        "LEFT JOIN attendance a ON a.session_id = r.session_id AND a.member_id = r.member_id "
        "WHERE r.session_id = ? AND r.status = 'booked' ORDER BY r.queue_seq",
        (session_id,),
    )
    walk_ins = store.query(
        "SELECT a.member_id, m.first_name, m.last_name, a.id AS attendance_id, "
        "a.present, 1 AS walk_in "
        "FROM attendance a LEFT JOIN members m ON m.id = a.member_id "
        "WHERE a.session_id = ? AND a.walk_in = 1 ORDER BY a.marked_at, a.rowid",
        (session_id,),
    )
    rows = booked + walk_ins
    for row in rows:
        row["present"] = None if row["present"] is None else bool(row["present"])
        row["walk_in"] = bool(row["walk_in"])
    return rows


def mark(store: Store, session: dict, member_id: str, present: bool, actor: dict | None) -> dict:
    """Mark a booked member present or absent (again if need be)."""
    if not isinstance(present, bool):
        raise InvalidInput(
            "present", N_("Indiquez présent ou absent."), "present must be true or false", value=present
        )
    booked = store.one(
        "SELECT 1 FROM registrations WHERE session_id = ? AND member_id = ? AND status = 'booked'",
        (session["id"], member_id),
    )
    if booked is None:
        live_member(store, member_id)  # an unknown member is NotFound, not a Conflict
        raise Conflict(
            "member_id",
            N_("Cette personne n'a pas de place réservée : ajoutez-la comme participant sans inscription."),
            "member holds no booked place in this session",
            value=member_id,
        )
    row = store.one(
        "SELECT * FROM attendance WHERE session_id = ? AND member_id = ?", (session["id"], member_id)
    )
    now = store.now_iso()
    if row is None:
        row = {
            "id": new_id(),
            "session_id": session["id"],
            "member_id": member_id,
            "present": present,
            "walk_in": False,
        }
        store.conn.execute(
            "INSERT INTO attendance (id, session_id, member_id, present, walk_in, marked_at, "
            "marked_by) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (row["id"], session["id"], member_id, int(present), now, _actor_id(actor)),
        )
    else:
        row["present"] = present
        store.conn.execute(
            "UPDATE attendance SET present = ?, marked_at = ?, marked_by = ? WHERE id = ?",
            (int(present), now, _actor_id(actor), row["id"]),
        )
    _emit(store, row, _actor_id(actor))
    audit(store, actor, "attendance.mark", session_id=session["id"], member_id=member_id, present=present)
    return {
        "attendance_id": row["id"],
        "member_id": member_id,
        "present": present,
        "walk_in": bool(row["walk_in"]),
    }


def add_walk_in(store: Store, session: dict, member_id: str | None, actor: dict | None) -> dict:
    """Someone who came without a booked place: a known member or anonymous."""
    if member_id is not None:
        live_member(store, member_id)
        if store.one(
            "SELECT 1 FROM attendance WHERE session_id = ? AND member_id = ?", (session["id"], member_id)
        ):
            raise Conflict(
                "member_id",
                N_("Cette personne est déjà sur la feuille de présence."),
                "member already on this session's roll",
                value=member_id,
            )
        if store.one(
            "SELECT 1 FROM registrations WHERE session_id = ? AND member_id = ? AND status = 'booked'",
            (session["id"], member_id),
        ):
            raise Conflict(
                "member_id",
                N_("Cette personne a une place réservée : cochez-la présente dans la liste."),
                "member holds a booked place: mark them instead",
                value=member_id,
            )
    row = {
        "id": new_id(),
        "session_id": session["id"],
        "member_id": member_id,
        "present": True,
        "walk_in": True,
    }
    store.conn.execute(
        "INSERT INTO attendance (id, session_id, member_id, present, walk_in, marked_at, "
        "marked_by) VALUES (?, ?, ?, 1, 1, ?, ?)",
        (row["id"], session["id"], member_id, store.now_iso(), _actor_id(actor)),
    )
    _emit(store, row, _actor_id(actor))
    audit(store, actor, "attendance.walk_in", session_id=session["id"], member_id=member_id)
    return {"attendance_id": row["id"], "member_id": member_id, "present": True, "walk_in": True}
