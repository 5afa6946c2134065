"""Visits (passages): who came, when and why, and how many came today.

A check-in is one transaction: the visit row, its ``visit.recorded``
event and, on a device that replicates, its change for the centre's other
devices (``changelog.record``) (the member's last contact is derived from the visits afterwards, see
``search.refresh_recency``). With WAL and synchronous=FULL, once
``check_in`` returns the visit survives a crash or a power cut (see
tests/test_crash.py).
"""

from __future__ import annotations

from datetime import date, datetime

from kiosk.core import changelog, outreach, period
from kiosk.core.errors import N_, InvalidInput, NotFound
from kiosk.core.members import check_actor
from kiosk.core.settings import BODY_DOMAINS, Settings
from kiosk.core.store import Store
from sync import protocol

PARIS = period.PARIS  # one definition of the centre's time zone


_ACTIVE_STAFF = "SELECT 1 FROM staff WHERE id = ? AND active = 1"
_INSERT_ANONYMOUS = (
    "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, recorded_by, outreach_id) "
    "VALUES (?, ?, NULL, ?, ?, ?, ?)"
)
#: the member must exist and not be erased: checked by the insert itself (0 rows otherwise)
_INSERT_MEMBER = (
    "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, recorded_by, outreach_id) "
    "SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS "
    "(SELECT 1 FROM members WHERE id = ? AND erased_at IS NULL)"
)


def _iso(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else protocol.utc_iso(moment)


def day_bounds(day: date) -> tuple[str, str]:
    """The UTC start and end of a calendar day in Paris (23 or 25 hours at DST changes)."""
    return period.bounds(day, day)


class Visits:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    def check_in(
        self, reason: str, member_id: str | None = None, actor: dict | None = None, body: str | None = None
    ) -> dict:
        """Record a visit, of a member or anonymous; durable on return.
        ``body`` (settings.BODIES), named after a reason that asks for it,
        gives the visit its administrative domain instead of the reason's.

        The kiosk's most frequent change: one transaction of two inserts, the
        visit and its event (``Store.emit``, like every change). The member's
        existence is checked by the visit's insert itself; the member's last
        contact and search recency are derived later from the visits
        (``search.refresh_recency``)."""
        if actor is None:
            role, recorder = "resident", None
        else:
            check_actor(actor)
            role, recorder = actor["role"], actor["id"]
        store = self.store
        conn = store.conn
        now = store.now()
        visit = {
            "id": protocol.new_id(),
            "occurred_at": protocol.utc_iso(now),
            "member_id": member_id,
            "reason": reason,
            "recorded_by_role": role,
            "recorded_by": recorder,
        }
        with store.transaction():
            # checked inside the transaction: its first read, which the write
            # lock's own read transaction serves (one fewer to start)
            categories = self.settings.reason_categories(reason)
            if categories is None:
                raise InvalidInput(
                    "reason",
                    N_("Choisissez la raison de votre venue dans la liste."),
                    f"unknown visit reason {reason!r}",
                    value=reason,
                )
            if body is not None:
                if body not in BODY_DOMAINS:
                    raise InvalidInput(
                        "body", N_("Choisissez dans la liste."), f"unknown body {body!r}", value=body
                    )
                categories = (categories[0], BODY_DOMAINS[body] or categories[1])
            # an id we never made names no member (said below, after the actor check)
            made_by_us = member_id is None or protocol.is_id(member_id)
            if actor is not None and conn.execute(_ACTIVE_STAFF, (recorder,)).fetchone() is None:
                raise InvalidInput(
                    "actor",
                    N_("Ce bénévole ou salarié n'a plus accès : reprenez votre code."),
                    f"no active volunteer or staff member {recorder!r}",
                    value=recorder,
                )
            # the itinerant event on today on this device, if any (kiosk/core/outreach.py)
            visit["outreach_id"] = outreach.active_id(store)
            if member_id is None:
                conn.execute(
                    _INSERT_ANONYMOUS,
                    (visit["id"], visit["occurred_at"], reason, role, recorder, visit["outreach_id"]),
                )
            elif (
                not made_by_us
                or conn.execute(
                    _INSERT_MEMBER,
                    (
                        visit["id"],
                        visit["occurred_at"],
                        member_id,
                        reason,
                        role,
                        recorder,
                        visit["outreach_id"],
                        member_id,
                    ),
                ).rowcount
                != 1
            ):
                raise NotFound(
                    "member_id",
                    N_("Nous ne trouvons pas cette personne. Demandez à l'accueil."),
                    f"no member {member_id!r}",
                    value=member_id,
                )
            # for the centre's other devices (when it replicates): the visit
            # only; its event reaches the hub from this device alone. Its
            # itinerant event only when there is one (a release that does
            # not know the field then still reads the centre's other visits)
            replicated = {
                "occurred_at": visit["occurred_at"],
                "member_id": member_id,
                "reason": reason,
                "recorded_by_role": role,
                "recorded_by": recorder,
            }
            if visit["outreach_id"] is not None:
                replicated["outreach_id"] = visit["outreach_id"]
            changelog.record(conn, "visits", str(visit["id"]), replicated)
            store.emit(
                "visit.recorded",
                {
                    "visit_id": visit["id"],
                    "member_id": member_id,
                    "reason": reason,
                    "recorded_by": role,
                    "cra_theme": categories[0],
                    "domain": categories[1],
                    "outreach_id": visit["outreach_id"],
                },
                now,
            )
            if actor is not None:
                store.audit(actor, "visit.check_in", visit_id=visit["id"], member_id=member_id)
        return visit

    def between(self, start: datetime | str, end: datetime | str) -> list[dict]:
        """Visits from ``start`` (included) to ``end`` (excluded), oldest first."""
        return self.store.query(
            "SELECT * FROM visits WHERE occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, id",
            (_iso(start), _iso(end)),
        )
