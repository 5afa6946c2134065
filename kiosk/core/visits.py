"""Visits (passages): who came, when and why, and how many came today.

A check-in is one transaction: the visit row, the member's last contact and
the ``visit.recorded`` event. With WAL and synchronous=FULL, once
``check_in`` returns the visit survives a crash or a power cut (see
tests/test_crash.py).
"""

from __future__ import annotations

from datetime import date, datetime

from kiosk.core import members, period, search
from kiosk.core.errors import InvalidInput, N_, NotFound
from kiosk.core.members import Members, check_actor
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol

PARIS = period.PARIS  # one definition of the centre's time zone


def _iso(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else protocol.utc_iso(moment)


def day_bounds(day: date) -> tuple[str, str]:
    """The UTC start and end of a calendar day in Paris (23 or 25 hours at DST changes)."""
    return period.bounds(day, day)


class Visits:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    def check_in(self, reason: str, member_id: str | None = None, actor: dict | None = None) -> dict:
        """Record a visit, of a member or anonymous; durable on return."""
        if reason not in self.settings.reason_codes():
            raise InvalidInput("reason", N_("Choisissez la raison de votre venue dans la liste."),
                               f"unknown visit reason {reason!r}", value=reason)
        check_actor(actor)
        role = actor["role"] if actor else "resident"
        with self.store.transaction():
            if actor and self.store.conn.execute("SELECT 1 FROM staff WHERE id = ? AND active = 1",
                                                 (actor["id"],)).fetchone() is None:
                raise InvalidInput("actor", N_("Ce bénévole ou salarié n'a plus accès : reprenez votre code."),
                                   f"no active volunteer or staff member {actor['id']!r}", value=actor["id"])
            if member_id is not None and not members.exists(self.store.conn, member_id):
                raise NotFound("member_id", N_("Cette personne n'est pas (ou plus) inscrite."),
                               f"no member {member_id!r}", value=member_id)
            visit = {"id": protocol.new_id(), "occurred_at": self.store.now_iso(), "member_id": member_id,
                     "reason": reason, "recorded_by_role": role, "recorded_by": actor["id"] if actor else None}
            self.store.conn.execute(
                "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, recorded_by) "
                "VALUES (:id, :occurred_at, :member_id, :reason, :recorded_by_role, :recorded_by)", visit)
            if member_id is not None:
                self.store.conn.execute("UPDATE members SET last_seen_at = ? WHERE id = ?",
                                        (visit["occurred_at"], member_id))
                search.touch(self.store.conn, member_id, visit["occurred_at"])
            self.store.emit("visit.recorded", {"visit_id": visit["id"], "member_id": member_id,
                                               "reason": reason, "recorded_by": role})
            if actor:
                self.store.audit(actor, "visit.check_in", visit_id=visit["id"], member_id=member_id)
        return visit

    def check_in_by_card(self, card_code: str, reason: str, actor: dict | None = None) -> dict:
        """Check in the holder of a scanned or typed card (errors as ``Members.by_card``)."""
        member = Members(self.store, self.settings).by_card(card_code)
        return self.check_in(reason, member_id=member["id"], actor=actor)

    def between(self, start: datetime | str, end: datetime | str) -> list[dict]:
        """Visits from ``start`` (included) to ``end`` (excluded), oldest first."""
        return self.store.query(
            "SELECT * FROM visits WHERE occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, id",
            (_iso(start), _iso(end)))

    def counts_by_reason(self, start: datetime | str, end: datetime | str) -> dict[str, int]:
        """How many visits for each reason, every configured reason listed (0 if none)."""
        counts = {code: 0 for code in self.settings.reason_codes()}
        for reason, number in self.store.conn.execute(
                "SELECT reason, count(*) FROM visits WHERE occurred_at >= ? AND occurred_at < ? "
                "GROUP BY reason", (_iso(start), _iso(end))):
            counts[reason] = number
        return counts

    def today_count(self) -> int:
        """Visits since midnight, Paris time."""
        start, end = day_bounds(self.store.now().astimezone(PARIS).date())
        return self.store.conn.execute(
            "SELECT count(*) FROM visits WHERE occurred_at >= ? AND occurred_at < ?", (start, end)).fetchone()[0]

