"""A member's rights over their data (RGPD): erasure, export, retention.

Erasure keeps the member's row as a tombstone (id, created_at, erased_at, every
other field emptied) so that the rows pointing at it stay valid: visits are
unlinked and stay as anonymous counts; past registrations and attendance keep
pointing at the tombstone, which names nobody; upcoming registrations are
cancelled (the waitlist moves up). The card code is revoked, never reused.
The ``member.erased`` event tells the hub to forget the member too.

Every operation here writes an audit line, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiosk.core import registrations, replication, search
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.households import Households
from kiosk.core.members import Members, check_actor
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from kiosk.core.voice import Voice
from sync import protocol

#: What erasure empties (member fields holding or revealing personal data).
WIPED = {
    "first_name": None,
    "last_name": None,
    "birth_year": None,
    "age_band": None,
    "age_band_year": None,
    "gender": None,
    "commune": None,
    "neighbourhood": None,
    "qpv": 0,
    "phone": None,
    "email": None,
    "consent_data": 0,
    "consent_data_at": None,
    "consent_photos": 0,
    "consent_contact": 0,
    "card_code": None,
    "last_seen_at": None,
    "household_id": None,
    # the FSE+ situation and its consent (kiosk/core/situation.py)
    "situation_consent_at": None,
    "employment": None,
    "education": None,
}


def months_before(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months earlier (clamped to the month's end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


class Privacy:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self.members = Members(store, settings)
        self.households = Households(store, settings)
        self.voice = Voice(store)

    # ------------------------------------------------------------ erasure

    def erase(self, member_id: str, actor: dict | None) -> dict:
        """Erase a member's personal data; returns the tombstone."""
        check_actor(actor)
        with self.store.transaction():
            self._erase(member_id, actor, why="request")
        return self.store.query("SELECT * FROM members WHERE id = ?", (member_id,))[0]

    def erase_replicated(self, member_id: str) -> None:
        """Another device of the centre erased this person: the same here,
        inside the caller's transaction, with no event (that device told
        the hub)."""
        self._erase(member_id, None, why="replicated", replicated=True)

    def _erase(
        self,
        member_id: str,
        actor: dict | None,
        why: str,
        unlink_visits: bool = True,
        replicated: bool = False,
    ) -> None:
        """The erasure itself, inside the caller's transaction. ``unlink_visits``
        False: the caller unlinks the visits of all it erased at once
        (``_unlink_erased_visits``: visits have no index of member_id, so
        that is one scan of the table instead of one a member).
        ``replicated``: another device of the centre erased the person; it
        told the hub, and its erasure is already in the replication log."""
        member = self.members.get(member_id)  # NotFound when unknown or already erased
        now = self.store.now_iso()
        self._cancel_upcoming(member_id, actor, now)
        self.households.forget(member_id)  # a household left with one member is gone
        self.voice.forget_member(member_id)  # a first name left with an idea goes too
        conn = self.store.conn
        if member["card_code"]:
            conn.execute(
                "INSERT INTO revoked_cards (card_code, member_id, reason, revoked_at) "
                "VALUES (?, ?, 'erased', ?)",
                (member["card_code"], member_id, now),
            )
        self.store.db.table("members").update(member_id, {**WIPED, "updated_at": now, "erased_at": now})
        if unlink_visits:
            conn.execute("UPDATE visits SET member_id = NULL WHERE member_id = ?", (member_id,))
        search.unindex_member(conn, member_id)
        if not replicated:
            self.store.emit("member.erased", {"member_id": member_id})
            replication.record_erasure(self.store, member_id)
        self.store.audit(actor, "member.erase", member_id=member_id, why=why)

    def _cancel_upcoming(self, member_id: str, actor: dict | None, now: str) -> None:
        """Free the places an erased member held in sessions still to come."""
        upcoming = self.store.query(
            "SELECT s.id, s.capacity, s.starts_at, s.cancelled_at FROM registrations r "
            "JOIN sessions s ON s.id = r.session_id WHERE r.member_id = ? AND r.status != 'cancelled' "
            "AND s.cancelled_at IS NULL AND s.starts_at > ?",
            (member_id, now),
        )
        for session in upcoming:
            registrations.cancel(self.store, session, member_id, actor)

    # ------------------------------------------------------------ export

    def export(self, member_id: str, actor: dict | None) -> dict:
        """Everything held on one member, as JSON-ready dicts (the right of access)."""
        check_actor(actor)
        member = self.members.get(member_id)
        query = self.store.query
        held = {
            "exported_at": self.store.now_iso(),
            "member": member,
            "replaced_cards": query(
                "SELECT card_code, reason, revoked_at FROM revoked_cards "
                "WHERE member_id = ? ORDER BY revoked_at",
                (member_id,),
            ),
            "visits": query(
                "SELECT id, occurred_at, reason, recorded_by_role FROM visits "
                "WHERE member_id = ? ORDER BY occurred_at",
                (member_id,),
            ),
            "registrations": query(
                "SELECT r.id, r.status, r.created_at, r.updated_at, w.title AS workshop, "
                "s.starts_at, s.ends_at FROM registrations r JOIN sessions s ON s.id = r.session_id "
                "JOIN workshops w ON w.id = s.workshop_id WHERE r.member_id = ? ORDER BY s.starts_at",
                (member_id,),
            ),
            "attendance": query(
                "SELECT a.id, a.present, a.walk_in, a.marked_at, w.title AS workshop, s.starts_at "
                "FROM attendance a JOIN sessions s ON s.id = a.session_id "
                "JOIN workshops w ON w.id = s.workshop_id WHERE a.member_id = ? ORDER BY s.starts_at",
                (member_id,),
            ),
        }
        held["ideas"] = self.voice.member_ideas(member_id)
        for row in held["attendance"]:
            row["present"], row["walk_in"] = bool(row["present"]), bool(row["walk_in"])
        with self.store.transaction():
            self.store.audit(actor, "member.export", member_id=member_id)
        return held

    # ------------------------------------------------------------ retention

    def _cutoff(self, months: Any) -> str:
        if months is None:
            months = self.settings.get("retention_months")
        if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
            raise InvalidInput(
                "months",
                N_("La durée de conservation doit être de 1 à 120 mois."),
                "must be a whole number of months from 1 to 120",
                value=months,
            )
        return protocol.utc_iso(months_before(self.store.now(), months))

    def retention_candidates(self, months: int | None = None) -> list[dict]:
        """Members with no contact (visit, registration, attendance, or
        registering) for ``months`` (default: setting retention_months)."""
        cutoff = self._cutoff(months)
        search.refresh_recency(self.store.conn)  # someone who just came is never a candidate
        return self.store.query(
            "SELECT m.id, m.first_name, m.last_name, m.created_at, m.last_seen_at FROM members m "
            "WHERE m.erased_at IS NULL AND coalesce(m.last_seen_at, m.created_at) < :cutoff "
            "AND m.created_at < :cutoff "
            "AND NOT EXISTS (SELECT 1 FROM registrations r WHERE "
            "r.member_id = m.id AND r.updated_at >= :cutoff) "
            "AND NOT EXISTS (SELECT 1 FROM attendance a WHERE a.member_id = m.id AND a.marked_at >= :cutoff) "
            "ORDER BY coalesce(m.last_seen_at, m.created_at)",
            {"cutoff": cutoff},
        )

    def retention_purge(self, actor: dict | None = None, months: int | None = None) -> int:
        """Erase the retention candidates (meant to run daily); returns how many."""
        check_actor(actor)
        cutoff = self._cutoff(months)
        with self.store.transaction():
            candidates = self.retention_candidates(months)
            for member in candidates:
                self._erase(member["id"], actor, why="retention", unlink_visits=False)
            if candidates:
                self._unlink_erased_visits()
            # a contact left with an idea (a first name and a phone) is kept no longer than a member
            self.voice.forget_contacts_before(cutoff)
            self.store.audit(actor, "privacy.retention_purge", erased=len(candidates), before=cutoff)
        return len(candidates)

    def _unlink_erased_visits(self) -> None:
        """Turn every visit of an erased member into an anonymous count: one
        pass over the visits, inside the caller's transaction."""
        self.store.conn.execute(
            "UPDATE visits SET member_id = NULL WHERE member_id IN "
            "(SELECT id FROM members WHERE erased_at IS NOT NULL)"
        )
