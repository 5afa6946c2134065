"""Volunteers' time: each stretch of a volunteer's presence, and what it went to.

A volunteer starts and ends a stretch with their PIN (« Je commence » /
« Je termine »), choosing its kind: the centre's activities, or its
governance (conseil d'administration, commissions). Staff may also enter
hours afterwards (a day, and a start and end or a duration), correct a
stretch, or remove one entered by mistake.

A stretch left open when its day is over closes itself: at the centre's
closing time, ``CLOSES_AT`` (19:00 in Paris), or at 23:59 when it began
after that. It is then flagged for staff to check (``to_review``, listed by
kiosk.core.review's « À vérifier »). The kiosk notices at the first call
after the day is over, and every hour (the app's check).

What the hub learns (``volunteering.recorded``, sync.protocol) is the
whole stretch each time it changes, as a new event with a higher
``version``: the day, the minutes, the kind, whether it closed itself and
has not been checked, whether it was removed; the volunteer as a random
pseudonym kept here (``volunteer_pseudonyms``), never their name or their
staff id, and never the times of day. An open stretch tells the hub
nothing yet: it has no hours until it ends.

Bounds, each refused with a French message naming what is wrong: a day
neither in the future nor more than ``MAX_DAYS_BACK`` days ago, a duration
from 1 minute to 24 hours, no more than 24 hours a day for one volunteer,
no two timed stretches of one volunteer overlapping, no end in the future.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kiosk.core import period, review
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from sync import protocol

PARIS = period.PARIS
KINDS = protocol.VOLUNTEERING_KINDS
#: the words of each kind (gettext msgids)
KIND_LABELS = {"activity": N_("Activités"), "governance": N_("Gouvernance : CA, commissions")}
#: when a stretch left open closes itself, in Paris (one that began later closes at LAST_MINUTE)
CLOSES_AT = time(19, 0)
LAST_MINUTE = time(23, 59)
#: how far back staff may enter hours
MAX_DAYS_BACK = 366
DAY_MINUTES = 24 * 60

_COLUMNS = (
    "s.id, s.volunteer_id, st.name AS volunteer_name, s.kind, s.day, s.starts_at, s.ends_at, "
    "s.minutes, s.closed_by, s.to_review, s.removed_at, s.version"
)
_OPEN = "minutes IS NULL AND removed_at IS NULL"


def _bad(field: str, template: str, en: str, value: Any = None, **params: Any) -> InvalidInput:
    return InvalidInput(field, template, en, value=value, **params)


def parse_day(value: Any) -> date:
    """A day as a date, or its text 'YYYY-MM-DD' or 'JJ/MM/AAAA'."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()[:20]
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    raise _bad("day", N_("Cette date n'est pas valable : écrivez-la jj/mm/aaaa."), "not a date", value)


_CLOCK_RE = re.compile(r"([01]?\d|2[0-3])\s*[h:]\s*([0-5]\d)?")


def parse_clock(value: Any, field: str) -> time:
    """A time of day as a time, or its text '14:30', '14h30', '14h'."""
    if isinstance(value, time):
        return value
    match = _CLOCK_RE.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise _bad(field, N_("Cette heure n'est pas valable : écrivez-la 14:30."), "not a time of day", value)
    return time(int(match[1]), int(match[2] or 0))


_DURATION_RE = re.compile(r"(\d{1,2})\s*(?:h|:)\s*(\d{1,2})?\s*(?:min)?|(\d{1,4})\s*min")


def parse_duration(value: Any) -> int:
    """A duration in minutes, from a number of minutes or text '2h30', '2:30',
    '2h', '45 min', '3' (hours)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit() and len(text) <= 2:
            return int(text) * 60
        match = _DURATION_RE.fullmatch(text)
        if match and match[3]:
            return int(match[3])
        if match and int(match[2] or 0) < 60:
            return int(match[1]) * 60 + int(match[2] or 0)
    raise _bad("minutes", N_("Cette durée n'est pas valable : écrivez-la 2h30."), "not a duration", value)


def paris_time(iso: str | None) -> str:
    """'HH:MM' in Paris of a stored UTC time ('' for none)."""
    if not iso:
        return ""
    return protocol.parse_utc(iso).astimezone(PARIS).strftime("%H:%M")


def _utc(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=PARIS).astimezone(UTC)


def _minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


class Volunteering:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------ the volunteer's two buttons

    def current(self, actor: dict) -> dict | None:
        """The volunteer's open stretch, once any left open on a day now over
        has closed itself; None when they have not started."""
        person = self._volunteer_actor(actor)
        self.close_forgotten()
        row = self.store.one(
            f"SELECT {_COLUMNS} FROM volunteer_stretches s JOIN staff st ON st.id = s.volunteer_id "
            "WHERE s.volunteer_id = ? AND s.minutes IS NULL AND s.removed_at IS NULL",
            (person["id"],),
        )
        return _shown(row) if row else None

    def start(self, actor: dict, kind: str) -> dict:
        """« Je commence »: open a stretch of ``kind`` now."""
        kind = self._kind(kind)
        person = self._volunteer_actor(actor)
        with self.store.transaction():
            self.close_forgotten()
            now = self.store.now()
            held = self.store.one(
                f"SELECT starts_at FROM volunteer_stretches WHERE volunteer_id = ? AND {_OPEN}",
                (person["id"],),
            )
            if held:
                raise Conflict(
                    "kind",
                    N_("Vous avez déjà commencé à %(time)s."),
                    "this volunteer has an open stretch already",
                    time=paris_time(held["starts_at"]),
                )
            day = now.astimezone(PARIS).date()
            stretch_id = protocol.new_id()
            stamp = protocol.utc_iso(now)
            self.store.db.table("volunteer_stretches").insert(
                {
                    "id": stretch_id,
                    "volunteer_id": person["id"],
                    "kind": kind,
                    "day": day.isoformat(),
                    "starts_at": stamp,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            self.store.audit(person, "volunteering.start", stretch_id=stretch_id, kind=kind)
        return self.get(stretch_id)

    def finish(self, actor: dict) -> dict:
        """« Je termine »: close the volunteer's open stretch now. A stretch
        of less than a minute is dropped (the hub never heard of it)."""
        person = self._volunteer_actor(actor)
        with self.store.transaction():
            closed = self.close_forgotten()
            held = self.store.one(
                f"SELECT id, starts_at FROM volunteer_stretches WHERE volunteer_id = ? AND {_OPEN}",
                (person["id"],),
            )
            if held is None:
                if any(row["volunteer_id"] == person["id"] for row in closed):
                    raise NotFound(
                        "stretch",
                        N_("Votre présence s'est close toute seule : un salarié la vérifiera."),
                        "the open stretch was of a day now over: it closed itself",
                    )
                raise NotFound(
                    "stretch",
                    N_("Vous n'avez pas commencé : touchez « Je commence »."),
                    "this volunteer has no open stretch",
                )
            now = self.store.now()
            minutes = _minutes_between(protocol.parse_utc(held["starts_at"]), now)
            if minutes < 1:
                self.store.conn.execute("DELETE FROM volunteer_stretches WHERE id = ?", (held["id"],))
                self.store.audit(person, "volunteering.dropped", stretch_id=held["id"])
                return {"id": held["id"], "minutes": 0, "removed": True}
            self._save(
                held["id"],
                {"ends_at": protocol.utc_iso(now), "minutes": minutes, "closed_by": "volunteer"},
            )
            self.store.audit(person, "volunteering.finish", stretch_id=held["id"], minutes=minutes)
        return self.get(held["id"])

    # ------------------------------------------------------------ closing by itself

    def close_forgotten(self) -> list[dict]:
        """Close every stretch left open on a day now over (Paris): at
        CLOSES_AT, or at LAST_MINUTE when it began after CLOSES_AT, and flag
        it for staff to check. Returns those it closed."""
        today = self.store.now().astimezone(PARIS).date().isoformat()
        if (
            self.store.conn.execute(
                f"SELECT 1 FROM volunteer_stretches WHERE {_OPEN} AND day < ? LIMIT 1", (today,)
            ).fetchone()
            is None
        ):
            return []
        closed = []
        with self.store.transaction():
            for row in self.store.query(
                f"SELECT id, volunteer_id, day, starts_at FROM volunteer_stretches WHERE {_OPEN} AND day < ?",
                (today,),
            ):
                start = protocol.parse_utc(row["starts_at"])
                day = date.fromisoformat(row["day"])
                end = _utc(day, CLOSES_AT)
                if end <= start:
                    end = _utc(day, LAST_MINUTE)
                minutes = max(0, _minutes_between(start, end))
                if minutes < 1:
                    self.store.conn.execute("DELETE FROM volunteer_stretches WHERE id = ?", (row["id"],))
                    continue
                self._save(
                    row["id"],
                    {
                        "ends_at": protocol.utc_iso(end),
                        "minutes": minutes,
                        "closed_by": "auto",
                        "to_review": 1,
                    },
                )
                self.store.audit(None, "volunteering.closed_alone", stretch_id=row["id"], minutes=minutes)
                closed.append(row)
        return closed

    # ------------------------------------------------------------ staff: afterwards, corrections

    def enter(
        self,
        actor: dict,
        volunteer_id: str,
        kind: str,
        day: Any,
        start: Any = None,
        end: Any = None,
        minutes: Any = None,
    ) -> dict:
        """Staff enter a volunteer's hours afterwards: a day, and a start and
        end (times of day in Paris) or a duration (``minutes``)."""
        staff = self._staff_actor(actor)
        with self.store.transaction():
            self._volunteer(volunteer_id)
            fields = self._checked(volunteer_id, kind, day, start, end, minutes, None)
            stretch_id = protocol.new_id()
            stamp = self.store.now_iso()
            self.store.db.table("volunteer_stretches").insert(
                {
                    "id": stretch_id,
                    "volunteer_id": volunteer_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "entered_by": staff["id"],
                    "closed_by": "staff",
                    **fields,
                }
            )
            self._send(stretch_id)
            self.store.audit(staff, "volunteering.enter", stretch_id=stretch_id, **fields)
        return self.get(stretch_id)

    def correct(
        self,
        actor: dict,
        stretch_id: str,
        kind: str,
        day: Any,
        start: Any = None,
        end: Any = None,
        minutes: Any = None,
    ) -> dict:
        """Staff correct a closed stretch (its kind, day, times or duration);
        a stretch to check is checked by it."""
        staff = self._staff_actor(actor)
        with self.store.transaction():
            held = self._closed(stretch_id)
            fields = self._checked(held["volunteer_id"], kind, day, start, end, minutes, stretch_id)
            self._save(stretch_id, {**fields, "to_review": 0, "entered_by": staff["id"]})
            self.store.audit(staff, "volunteering.correct", stretch_id=stretch_id, **fields)
        return self.get(stretch_id)

    def confirm(self, actor: dict, stretch_id: str) -> dict:
        """Staff say a stretch that closed itself is right as it is."""
        staff = self._staff_actor(actor)
        with self.store.transaction():
            held = self._closed(stretch_id)
            if not held["to_review"]:
                raise Conflict(
                    "stretch_id",
                    N_("Cette présence a déjà été vérifiée."),
                    "this stretch is not to review",
                    value=stretch_id,
                )
            self._save(stretch_id, {"to_review": 0, "entered_by": staff["id"]})
            self.store.audit(staff, "volunteering.confirm", stretch_id=stretch_id)
        return self.get(stretch_id)

    def remove(self, actor: dict, stretch_id: str) -> None:
        """Staff remove a stretch entered by mistake (open or closed). The hub
        is told only if it heard of it: then it counts it for nothing."""
        staff = self._staff_actor(actor)
        with self.store.transaction():
            held = self._held(stretch_id)
            changes: dict[str, Any] = {"removed_at": self.store.now_iso(), "to_review": 0}
            if held["version"] == 0:
                self.store.db.table("volunteer_stretches").update(stretch_id, changes)
            else:
                self._save(stretch_id, changes)
            self.store.audit(staff, "volunteering.remove", stretch_id=stretch_id)

    # ------------------------------------------------------------ reading

    def get(self, stretch_id: str) -> dict:
        row = self.store.one(
            f"SELECT {_COLUMNS} FROM volunteer_stretches s JOIN staff st ON st.id = s.volunteer_id "
            "WHERE s.id = ?",
            (stretch_id,),
        )
        if row is None:
            raise NotFound(
                "stretch_id",
                N_("Cette présence est introuvable."),
                f"no stretch {stretch_id!r}",
                value=stretch_id,
            )
        return _shown(row)

    def between(self, first: Any, last: Any, volunteer_id: str | None = None) -> list[dict]:
        """Stretches (not removed) from day ``first`` to ``last``, newest first."""
        low, high = parse_day(first).isoformat(), parse_day(last).isoformat()
        sql = (
            f"SELECT {_COLUMNS} FROM volunteer_stretches s JOIN staff st ON st.id = s.volunteer_id "
            "WHERE s.day BETWEEN ? AND ? AND s.removed_at IS NULL"
        )
        params: list[Any] = [low, high]
        if volunteer_id:
            sql += " AND s.volunteer_id = ?"
            params.append(volunteer_id)
        rows = self.store.query(sql + " ORDER BY s.day DESC, s.starts_at DESC, s.id", params)
        return [_shown(row) for row in rows]

    def to_review(self) -> list[dict]:
        """Stretches that closed themselves and staff have not checked, oldest first."""
        self.close_forgotten()
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM volunteer_stretches s JOIN staff st ON st.id = s.volunteer_id "
            "WHERE s.to_review = 1 AND s.removed_at IS NULL ORDER BY s.day, s.starts_at"
        )
        return [_shown(row) for row in rows]

    def volunteers(self) -> list[dict]:
        """The volunteers hours may be entered for: active first, by name."""
        return self.store.query(
            "SELECT id, name, active FROM staff WHERE role = 'volunteer' "
            "ORDER BY active DESC, name COLLATE NOCASE"
        )

    # ------------------------------------------------------------ inside

    def _checked(
        self,
        volunteer_id: str,
        kind: Any,
        day: Any,
        start: Any,
        end: Any,
        minutes: Any,
        except_id: str | None,
    ) -> dict:
        """The stored fields of a stretch entered by staff, every bound checked."""
        kind = self._kind(kind)
        on = parse_day(day)
        now = self.store.now()
        today = now.astimezone(PARIS).date()
        if on > today:
            raise _bad(
                "day", N_("Cette date est à venir : on ne compte que le temps passé."), "future day", day
            )
        if (today - on).days > MAX_DAYS_BACK:
            raise _bad(
                "day",
                N_("Cette date a plus d'un an : elle ne peut plus être saisie."),
                f"more than {MAX_DAYS_BACK} days ago",
                day,
            )
        begins = ends = None
        if start not in (None, "") or end not in (None, ""):
            if start in (None, "") or end in (None, ""):
                raise _bad(
                    "end" if start not in (None, "") else "start",
                    N_("Donnez l'heure de début et l'heure de fin, ou seulement une durée."),
                    "start and end go together",
                )
            begins = _utc(on, parse_clock(start, "start"))
            ends = _utc(on, parse_clock(end, "end"))
            if ends <= begins:
                raise _bad(
                    "end",
                    N_("L'heure de fin doit venir après l'heure de début."),
                    "ends before it starts",
                    end,
                )
            if ends > now:
                raise _bad("end", N_("Cette heure n'est pas encore passée."), "ends in the future", end)
            minutes = _minutes_between(begins, ends)
        elif minutes in (None, ""):
            raise _bad(
                "minutes",
                N_("Donnez l'heure de début et l'heure de fin, ou une durée."),
                "neither times nor a duration",
            )
        else:
            minutes = parse_duration(minutes)
        if not 1 <= minutes <= DAY_MINUTES:
            raise _bad(
                "minutes",
                N_("La durée doit aller de 1 minute à 24 heures."),
                "must be from 1 to 1440 minutes",
                minutes,
            )
        if begins is not None and ends is not None:
            self._refuse_overlap(volunteer_id, on, begins, ends, except_id)
        taken = self.store.conn.execute(
            "SELECT coalesce(sum(minutes), 0) FROM volunteer_stretches WHERE volunteer_id = ? AND day = ? "
            "AND removed_at IS NULL AND id IS NOT ?",
            (volunteer_id, on.isoformat(), except_id),
        ).fetchone()[0]
        if taken + minutes > DAY_MINUTES:
            raise _bad(
                "minutes",
                N_("Cela ferait plus de 24 heures ce jour-là pour cette personne."),
                "more than 24 hours in one day for this volunteer",
                minutes,
            )
        return {
            "kind": kind,
            "day": on.isoformat(),
            "starts_at": protocol.utc_iso(begins) if begins else None,
            "ends_at": protocol.utc_iso(ends) if ends else None,
            "minutes": minutes,
        }

    def _refuse_overlap(
        self, volunteer_id: str, on: date, begins: datetime, ends: datetime, except_id: str | None
    ) -> None:
        """No two timed stretches of one volunteer at the same moment (an
        open one runs until now)."""
        now = self.store.now_iso()
        low = (on - timedelta(days=1)).isoformat()
        for row in self.store.query(
            "SELECT starts_at, coalesce(ends_at, ?) AS ends_at FROM volunteer_stretches "
            "WHERE volunteer_id = ? AND day >= ? AND starts_at IS NOT NULL AND removed_at IS NULL "
            "AND id IS NOT ?",
            (now, volunteer_id, low, except_id),
        ):
            if row["starts_at"] < protocol.utc_iso(ends) and protocol.utc_iso(begins) < row["ends_at"]:
                raise Conflict(
                    "start",
                    N_("Ces heures chevauchent une autre présence de cette personne (%(start)s–%(end)s)."),
                    "overlaps another stretch of this volunteer",
                    start=paris_time(row["starts_at"]),
                    end=paris_time(row["ends_at"]),
                )

    def _save(self, stretch_id: str, changes: dict) -> None:
        """Store the changes of a stretch and send its new version."""
        changes = {**changes, "updated_at": self.store.now_iso()}
        self.store.db.table("volunteer_stretches").update(stretch_id, changes)
        self._send(stretch_id)

    def _send(self, stretch_id: str) -> None:
        """The stretch's next version, as the hub is to know it (Store.emit:
        in the caller's transaction)."""
        self.store.conn.execute(
            "UPDATE volunteer_stretches SET version = version + 1 WHERE id = ?", (stretch_id,)
        )
        row = self.store.one("SELECT * FROM volunteer_stretches WHERE id = ?", (stretch_id,))
        assert row is not None and row["minutes"] is not None  # only closed stretches are sent
        self.store.emit(
            "volunteering.recorded",
            {
                "stretch_id": stretch_id,
                "volunteer_id": self._pseudonym(row["volunteer_id"]),
                "kind": row["kind"],
                "day": row["day"],
                "minutes": row["minutes"],
                "version": row["version"],
                "auto_closed": bool(row["to_review"]),
                "removed": row["removed_at"] is not None,
            },
        )

    def _pseudonym(self, staff_id: str) -> str:
        """The volunteer's random id for the hub, made the first time (UUID4:
        nothing of the person or of when they were added)."""
        row = self.store.conn.execute(
            "SELECT pseudonym FROM volunteer_pseudonyms WHERE staff_id = ?", (staff_id,)
        ).fetchone()
        if row:
            return row[0]
        pseudonym = str(uuid.uuid4())
        self.store.conn.execute(
            "INSERT INTO volunteer_pseudonyms (staff_id, pseudonym) VALUES (?, ?)", (staff_id, pseudonym)
        )
        return pseudonym

    def _held(self, stretch_id: Any) -> dict:
        row = self.store.one(
            "SELECT * FROM volunteer_stretches WHERE id = ? AND removed_at IS NULL", (stretch_id,)
        )
        if row is None:
            raise NotFound(
                "stretch_id",
                N_("Cette présence est introuvable."),
                f"no stretch {stretch_id!r}",
                value=stretch_id,
            )
        return row

    def _closed(self, stretch_id: Any) -> dict:
        row = self._held(stretch_id)
        if row["minutes"] is None:
            raise Conflict(
                "stretch_id",
                N_("Cette présence n'est pas terminée : la personne doit toucher « Je termine »."),
                "this stretch is still open",
                value=stretch_id,
            )
        return row

    def _kind(self, kind: Any) -> str:
        if kind not in KINDS:
            raise _bad(
                "kind",
                N_("Choisissez : activités ou gouvernance."),
                f"must be one of {', '.join(KINDS)}",
                kind,
            )
        return kind

    def _volunteer(self, volunteer_id: Any) -> dict:
        row = self.store.one(
            "SELECT id, name FROM staff WHERE id = ? AND role = 'volunteer'", (volunteer_id,)
        )
        if row is None:
            raise NotFound(
                "volunteer_id",
                N_("Choisissez un bénévole dans la liste."),
                f"no volunteer {volunteer_id!r}",
                value=volunteer_id,
            )
        return row

    def _volunteer_actor(self, actor: Any) -> dict:
        row = check_actor(self.store, actor)
        if row is None or row["role"] != "volunteer":
            raise InvalidInput(
                "actor",
                N_("Le temps de bénévolat se compte avec le code d'un bénévole."),
                "only an active volunteer starts or ends their own stretch",
            )
        return row

    def _staff_actor(self, actor: Any) -> dict:
        row = check_actor(self.store, actor)
        if row is None or row["role"] != "staff":
            raise InvalidInput(
                "actor", N_("Réservé aux salariés du centre."), "only an active staff member may do this"
            )
        return row


def _shown(row: dict) -> dict:
    """A stretch as the screens read it: its times in Paris, flags as booleans."""
    row = dict(row)
    row["start"], row["end"] = paris_time(row["starts_at"]), paris_time(row["ends_at"])
    row["to_review"] = bool(row["to_review"])
    row["open"] = row["minutes"] is None
    return row


# ------------------------------------------------------------ « À vérifier »


def _review_items(store: Store) -> list[review.Item]:
    items = []
    for row in Volunteering(store).to_review():
        items.append(
            review.Item(
                kind="volunteering",
                item_id=row["id"],
                day=row["day"],
                template=N_("%(name)s : %(kind)s, de %(start)s à %(end)s. « Je termine » oublié ?"),
                params={
                    "name": row["volunteer_name"],
                    "kind": KIND_LABELS[row["kind"]],
                    "start": row["start"],
                    "end": row["end"],
                },
                translate=("kind",),
            )
        )
    return items


def _confirm(store: Store, item_id: str, actor: dict) -> None:
    Volunteering(store).confirm(actor, item_id)


review.register(
    review.Kind(
        code="volunteering",
        title=N_("Présences de bénévoles closes toutes seules"),
        icon="schedule",
        items=_review_items,
        confirm=_confirm,
        confirm_text=N_("C'est juste"),
        correct_screen="staff_volunteering",
    )
)
