"""Workshops (ateliers), their dated sessions, and the doors to registrations
and attendance (kept in registrations.py and attendance.py).

Times: every ``starts_at``/``ends_at`` argument is an aware ``datetime`` (any
zone; a naive one is refused) or an ISO 8601 string with an offset. Every
returned time is the stored ISO 8601 UTC string (``2026-12-01T08:00:00.000Z``,
read it with ``sync.protocol.parse_utc`` and show it in Europe/Paris). Those
strings sort in time order, which the queries rely on.

Each change runs in one transaction with its event (``store.emit``) and, when
a volunteer or staff member did it, its audit line; a refused change raises a
DomainError before anything is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from kiosk.core import attendance, registrations, replication
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from sync.clock import PARIS
from sync.protocol import THEMES, new_id, parse_utc, utc_iso

MAX_CAPACITY = 500
MAX_WEEKS = 52
MAX_DURATION = timedelta(hours=24)
#: a roll call may be taken from this long before the session starts
ROLL_CALL_OPENS = timedelta(hours=1)
_UNSET: Any = object()

_SESSION_SQL = """
    SELECT s.id, s.workshop_id, w.title, w.theme, w.description, w.facilitator,
           coalesce(s.place, w.place) AS place, s.starts_at, s.ends_at, s.capacity,
           s.series_id, s.cancelled_at,
           (SELECT count(*) FROM registrations r
             WHERE r.session_id = s.id AND r.status = 'booked') AS booked,
           (SELECT count(*) FROM registrations r
             WHERE r.session_id = s.id AND r.status = 'waitlisted') AS waitlisted
    FROM sessions s JOIN workshops w ON w.id = s.workshop_id
"""


# ---------------------------------------------------------------- checks


def _text(field: str, value: Any, max_len: int, required: bool = True, multiline: bool = False) -> str | None:
    """A cleaned text, or InvalidInput naming the field."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(field, N_("Ce champ est obligatoire."), "must be a non-empty text", value=value)
    value = value.strip()
    if not value and not required:
        return None
    if len(value) > max_len:
        raise InvalidInput(
            field,
            N_("Texte trop long (%(max)d caractères au plus)."),
            f"must be at most {max_len} characters",
            value=value,
            max=max_len,
        )
    allowed = "\n" if multiline else ""
    if any(ord(c) < 32 and c not in allowed for c in value):
        raise InvalidInput(
            field,
            N_("Ce texte contient des caractères invalides."),
            "must not contain control characters",
            value=value,
        )
    return value


def _theme(value: Any) -> str:
    if value not in THEMES:
        raise InvalidInput(
            "theme",
            N_("Choisissez un thème dans la liste."),
            f"must be one of {', '.join(THEMES)}",
            value=value,
        )
    return value


def _moment(field: str, value: Any) -> datetime:
    """An aware datetime (or ISO string with an offset), as UTC."""
    if isinstance(value, str):
        try:
            return parse_utc(value)
        except ValueError:
            pass
    elif isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    raise InvalidInput(
        field,
        N_("Date ou heure invalide."),
        "must be an aware datetime or an ISO 8601 time with an offset",
        value=value,
    )


def _span(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput(
            "ends_at",
            N_("La fin doit venir après le début."),
            "must be after starts_at",
            value=utc_iso(ends_at),
        )
    if ends_at - starts_at > MAX_DURATION:
        raise InvalidInput(
            "ends_at",
            N_("Une séance dure 24 heures au plus."),
            "a session lasts at most 24 hours",
            value=utc_iso(ends_at),
        )


def _capacity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
        raise InvalidInput(
            "capacity",
            N_("Le nombre de places va de 0 à %(max)d."),
            f"must be a whole number from 0 to {MAX_CAPACITY}",
            value=value,
            max=MAX_CAPACITY,
        )
    return value


def _session_view(row: dict) -> dict:
    row["cancelled"] = row["cancelled_at"] is not None
    row["seats_left"] = max(0, row["capacity"] - row["booked"])
    return row


def _paris_week_end(moment: datetime) -> datetime:
    """Next Monday 00:00 in Paris after ``moment``, as UTC."""
    local = moment.astimezone(PARIS)
    monday = local.date() + timedelta(days=7 - local.weekday())
    return datetime.combine(monday, time(0), tzinfo=PARIS).astimezone(UTC)


def _same_wall_clock(moment: datetime, weeks: int) -> datetime:
    """``moment`` plus whole weeks at the same Paris wall-clock time (so a
    14:00 workshop stays at 14:00 across the DST change)."""
    local = moment.astimezone(PARIS).replace(tzinfo=None) + timedelta(weeks=weeks)
    return local.replace(tzinfo=PARIS).astimezone(UTC)


class Workshops:
    def __init__(self, store: Store):
        self.store = store

    @contextlib.contextmanager
    def _change(self, actor: dict | None) -> Iterator[None]:
        """One change's transaction, made by a resident (None) or an active person."""
        with self.store.transaction():
            check_actor(self.store, actor)
            yield

    # ------------------------------------------------------------ workshops

    def create_workshop(
        self,
        title: str,
        theme: str,
        description: str = "",
        facilitator: str | None = None,
        place: str | None = None,
        actor: dict | None = None,
        sheet: str | None = None,
    ) -> dict:
        """A new workshop; ``sheet``: the federation sheet it is adopted
        from (kiosk.core.sheets), kept and named in its events."""
        row: dict[str, Any] = {
            "id": new_id(),
            "title": _text("title", title, 200),
            "theme": _theme(theme),
            "description": _text("description", description, 2000, False, True) or "",
            "facilitator": _text("facilitator", facilitator, 200, False),
            "place": _text("place", place, 200, False),
        }
        with self._change(actor):
            now = self.store.now_iso()
            self.store.db.table("workshops").insert(dict(row, created_at=now, updated_at=now))
            replication.record_row(self.store, "workshops", dict(row, created_at=now, updated_at=now))
            if sheet is not None:
                self.store.conn.execute(
                    "INSERT INTO workshop_sheets (workshop_id, sheet_id, adopted_at) VALUES (?, ?, ?)",
                    (row["id"], sheet, now),
                )
            self._emit_workshop("workshop.created", row)
            registrations.audit(
                self.store, actor, "workshop.create", workshop_id=row["id"], title=row["title"]
            )
        return self.get_workshop(row["id"])

    def update_workshop(self, workshop_id: str, actor: dict | None = None, **fields: Any) -> dict:
        """Change any of title, theme, description, facilitator, place."""
        checks = {
            "title": lambda v: _text("title", v, 200),
            "theme": _theme,
            "description": lambda v: _text("description", v, 2000, False, True) or "",
            "facilitator": lambda v: _text("facilitator", v, 200, False),
            "place": lambda v: _text("place", v, 200, False),
        }
        unknown = set(fields) - set(checks)
        if unknown:
            raise InvalidInput(sorted(unknown)[0], N_("Champ inconnu."), "not a workshop field")
        cleaned = {key: checks[key](value) for key, value in fields.items()}
        with self._change(actor):
            current = self.get_workshop(workshop_id)
            changes = {k: v for k, v in cleaned.items() if current[k] != v}
            if not changes:
                return current
            self.store.db.table("workshops").update(
                workshop_id, dict(changes, updated_at=self.store.now_iso())
            )
            replication.record_row(
                self.store, "workshops", dict(changes, id=workshop_id, updated_at=self.store.now_iso())
            )
            self._emit_workshop("workshop.updated", dict(current, **changes))
            registrations.audit(
                self.store, actor, "workshop.update", workshop_id=workshop_id, fields=sorted(changes)
            )
        return self.get_workshop(workshop_id)

    def _emit_workshop(self, kind: str, row: dict) -> None:
        # no description or facilitator: the hub needs what was offered, not who ran it
        data = {"workshop_id": row["id"], "title": row["title"], "theme": row["theme"], "place": row["place"]}
        sheet = self.store.conn.execute(
            "SELECT sheet_id FROM workshop_sheets WHERE workshop_id = ? AND sheet_id IS NOT NULL",
            (row["id"],),
        ).fetchone()
        if sheet is not None:  # protocol 1.3: the hub counts the sheet's diffusion
            data["sheet"] = sheet[0]
        self.store.emit(kind, data)

    def get_workshop(self, workshop_id: str) -> dict:
        row = self.store.one("SELECT * FROM workshops WHERE id = ?", (workshop_id,))
        if row is None:
            raise NotFound(
                "workshop_id",
                N_("Cet atelier est introuvable."),
                f"no workshop {workshop_id!r}",
                value=workshop_id,
            )
        return row

    # ------------------------------------------------------------ sessions

    def add_session(
        self,
        workshop_id: str,
        starts_at: Any,
        ends_at: Any,
        capacity: int,
        place: str | None = None,
        actor: dict | None = None,
    ) -> dict:
        start, end = _moment("starts_at", starts_at), _moment("ends_at", ends_at)
        _span(start, end)
        capacity = _capacity(capacity)
        place = _text("place", place, 200, False)
        with self._change(actor):
            self.get_workshop(workshop_id)
            session_id = self._insert_session(workshop_id, start, end, capacity, place, None)
            registrations.audit(self.store, actor, "session.create", session_id=session_id)
        return self.session(session_id)

    def add_weekly_series(
        self,
        workshop_id: str,
        first_starts_at: Any,
        ends_at_first: Any,
        weeks: int,
        capacity: int,
        place: str | None = None,
        actor: dict | None = None,
    ) -> list[dict]:
        """``weeks`` sessions, one a week from the first, sharing a series_id."""
        start, end = _moment("first_starts_at", first_starts_at), _moment("ends_at_first", ends_at_first)
        _span(start, end)
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
            raise InvalidInput(
                "weeks",
                N_("Le nombre de semaines va de 1 à %(max)d."),
                f"must be a whole number from 1 to {MAX_WEEKS}",
                value=weeks,
                max=MAX_WEEKS,
            )
        capacity = _capacity(capacity)
        place = _text("place", place, 200, False)
        series_id, ids = new_id(), []
        with self._change(actor):
            self.get_workshop(workshop_id)
            for week in range(weeks):
                ids.append(
                    self._insert_session(
                        workshop_id,
                        _same_wall_clock(start, week),
                        _same_wall_clock(end, week),
                        capacity,
                        place,
                        series_id,
                    )
                )
            registrations.audit(self.store, actor, "session.create_series", series_id=series_id, weeks=weeks)
        return [self.session(session_id) for session_id in ids]

    def _insert_session(
        self,
        workshop_id: str,
        start: datetime,
        end: datetime,
        capacity: int,
        place: str | None,
        series_id: str | None,
    ) -> str:
        session_id, now = new_id(), self.store.now_iso()
        row = {
            "id": session_id,
            "workshop_id": workshop_id,
            "starts_at": utc_iso(start),
            "ends_at": utc_iso(end),
            "capacity": capacity,
            "place": place,
            "series_id": series_id,
            "cancelled_at": None,
            "created_at": now,
            "updated_at": now,
        }
        self.store.db.table("sessions").insert(row)
        replication.record_row(self.store, "sessions", row)
        self.store.emit(
            "session.created",
            {
                "session_id": session_id,
                "workshop_id": workshop_id,
                "starts_at": utc_iso(start),
                "ends_at": utc_iso(end),
                "capacity": capacity,
            },
        )
        return session_id

    def update_session(
        self,
        session_id: str,
        actor: dict | None = None,
        starts_at: Any = _UNSET,
        ends_at: Any = _UNSET,
        capacity: Any = _UNSET,
        place: Any = _UNSET,
    ) -> dict:
        """Move, resize or relocate a session. Fewer places than are booked is
        refused; more places go to the waitlist, first come first served."""
        with self._change(actor):
            current = self._live_session(session_id)
            new: dict[str, Any] = {
                "starts_at": current["starts_at"]
                if starts_at is _UNSET
                else utc_iso(_moment("starts_at", starts_at)),
                "ends_at": current["ends_at"] if ends_at is _UNSET else utc_iso(_moment("ends_at", ends_at)),
                "capacity": current["capacity"] if capacity is _UNSET else _capacity(capacity),
                "place": current["own_place"] if place is _UNSET else _text("place", place, 200, False),
            }
            _span(parse_utc(new["starts_at"]), parse_utc(new["ends_at"]))
            if new["capacity"] < current["booked"]:
                raise Conflict(
                    "capacity",
                    N_("%(booked)d places sont déjà réservées : il en faut au moins autant."),
                    f"{current['booked']} places are already booked",
                    value=new["capacity"],
                    booked=current["booked"],
                )
            self._apply_session_update(current, new, actor)
        return self.session(session_id)

    def _apply_session_update(self, current: dict, new: dict, actor: dict | None) -> None:
        changes = {
            key: value
            for key, value in new.items()
            if value != current["own_place" if key == "place" else key]
        }
        if not changes:
            return
        self.store.db.table("sessions").update(current["id"], dict(changes, updated_at=self.store.now_iso()))
        replication.record_row(
            self.store, "sessions", dict(changes, id=current["id"], updated_at=self.store.now_iso())
        )
        if changes.keys() - {"place"}:
            # the event carries no place: a move of room alone is not the hub's news
            self.store.emit(
                "session.updated",
                {
                    "session_id": current["id"],
                    "workshop_id": current["workshop_id"],
                    "starts_at": new["starts_at"],
                    "ends_at": new["ends_at"],
                    "capacity": new["capacity"],
                },
            )
        registrations.audit(
            self.store, actor, "session.update", session_id=current["id"], fields=sorted(changes)
        )
        if new["capacity"] > current["capacity"] and new["starts_at"] > self.store.now_iso():
            registrations.promote(self.store, dict(current, capacity=new["capacity"]), actor)

    def cancel_session(self, session_id: str, actor: dict | None = None) -> list[dict]:
        """Cancel a session. Returns the people to tell (booked, then
        waitlisted): id, first_name, last_name, phone, status. Their
        registrations stay as they were: the session's cancellation says it all."""
        with self._change(actor):
            self._live_session(session_id)
            people = registrations.of_session(self.store, session_id)
            now = self.store.now_iso()
            self.store.db.table("sessions").update(session_id, {"cancelled_at": now, "updated_at": now})
            replication.record_row(
                self.store, "sessions", {"id": session_id, "cancelled_at": now, "updated_at": now}
            )
            self.store.emit("session.cancelled", {"session_id": session_id})
            registrations.audit(self.store, actor, "session.cancel", session_id=session_id, told=len(people))
        return [
            {
                "id": p["member_id"],
                "first_name": p["first_name"],
                "last_name": p["last_name"],
                "phone": p["phone"],
                "status": p["status"],
            }
            for p in people
        ]

    def session(self, session_id: str) -> dict:
        """One session with its workshop's title/theme/place and its counts."""
        row = self.store.one(_SESSION_SQL + " WHERE s.id = ?", (session_id,))
        if row is None:
            raise NotFound(
                "session_id",
                N_("Cette séance est introuvable."),
                f"no session {session_id!r}",
                value=session_id,
            )
        return _session_view(row)

    def _live_session(self, session_id: str) -> dict:
        """The session (with its own place apart), refused if cancelled."""
        row = self.session(session_id)
        if row["cancelled"]:
            raise Conflict(
                "session_id",
                N_("Cet atelier est annulé. Choisissez un autre atelier."),
                "the session is cancelled",
                value=session_id,
            )
        row["own_place"] = self.store.conn.execute(
            "SELECT place FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()[0]
        return row

    def _open_session(self, session_id: str) -> dict:
        """A session that still takes registrations: not cancelled, not started."""
        row = self._live_session(session_id)
        if row["starts_at"] <= self.store.now_iso():
            raise Conflict(
                "session_id",
                N_("Cet atelier a déjà commencé. Choisissez un autre atelier."),
                "the session has already started",
                value=session_id,
            )
        return row

    def sessions_between(self, start: Any, end: Any, include_cancelled: bool = False) -> list[dict]:
        """Sessions starting in [start, end), in time order."""
        sql = _SESSION_SQL + " WHERE s.starts_at >= ? AND s.starts_at < ?"
        if not include_cancelled:
            sql += " AND s.cancelled_at IS NULL"
        rows = self.store.query(
            sql + " ORDER BY s.starts_at, w.title",
            (utc_iso(_moment("start", start)), utc_iso(_moment("end", end))),
        )
        return [_session_view(row) for row in rows]

    def week_sessions(self, now: Any = None) -> list[dict]:
        """What the residents' screen shows: sessions not yet started, from now
        to Sunday night (Europe/Paris), not cancelled, in time order."""
        moment = self.store.now() if now is None else _moment("now", now)
        start = moment + timedelta(milliseconds=1)  # a session starting now has started
        return self.sessions_between(start, _paris_week_end(moment))

    # ------------------------------------------------------------ registrations

    def register(self, session_id: str, member_id: str, actor: dict | None = None) -> dict:
        """{registration_id, status: booked|waitlisted, position on the waitlist or None}."""
        with self._change(actor):
            session = self._open_session(session_id)
            return registrations.register(self.store, session, member_id, actor)

    def cancel_registration(self, session_id: str, member_id: str, actor: dict | None = None) -> dict | None:
        """Cancel; returns the registration promoted from the waitlist, or None."""
        with self._change(actor):
            session = self._open_session(session_id)
            return registrations.cancel(self.store, session, member_id, actor)

    def registrations(self, session_id: str) -> list[dict]:
        self.session(session_id)
        return registrations.of_session(self.store, session_id)

    # ------------------------------------------------------------ attendance

    def roll_call(self, session_id: str) -> list[dict]:
        self.session(session_id)
        return attendance.roll_call(self.store, session_id)

    def mark_attendance(
        self, session_id: str, member_id: str, present: bool, actor: dict | None = None
    ) -> dict:
        with self._change(actor):
            session = self._roll_call_open(session_id)
            return attendance.mark(self.store, session, member_id, present, actor)

    def add_walk_in(self, session_id: str, member_id: str | None = None, actor: dict | None = None) -> dict:
        with self._change(actor):
            session = self._roll_call_open(session_id)
            return attendance.add_walk_in(self.store, session, member_id, actor)

    def _roll_call_open(self, session_id: str) -> dict:
        row = self._live_session(session_id)
        if parse_utc(row["starts_at"]) - ROLL_CALL_OPENS > self.store.now():
            raise Conflict(
                "session_id",
                N_("L'appel s'ouvre une heure avant la séance."),
                "the roll call opens one hour before the session",
                value=session_id,
            )
        return row
