"""Registrations: booked places, the waitlist in order, cancellations and
promotions, and (with hypothesis) the invariants under random sequences of
operations on a real database file."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from people import add_member, add_staff, erase_member, event_counts, events, snapshot

from kiosk.core.errors import Conflict, DomainError, NotFound
from kiosk.core.store import Store
from kiosk.core.workshops import Workshops
from tests import queries

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def workshops(store):
    return Workshops(store)


@pytest.fixture
def session_of(workshops, clock):
    workshop = workshops.create_workshop("Atelier CV", "e_administration")

    def make(capacity: int, in_days: float = 2) -> str:
        start = clock() + timedelta(days=in_days)
        return workshops.add_session(workshop["id"], start, start + timedelta(hours=2), capacity)["id"]

    return make


def test_places_are_booked_then_the_waitlist_fills_with_positions(store, workshops, session_of):
    session = session_of(2)
    results = [
        workshops.register(session, add_member(store, name))
        for name in ("Aïcha", "Bérénice", "Gérard", "Zoé")
    ]
    assert [(r["status"], r["position"]) for r in results] == [
        ("booked", None),
        ("booked", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    shown = workshops.session(session)
    assert (shown["booked"], shown["waitlisted"], shown["seats_left"]) == (2, 2, 0)
    assert [e["status"] for e in events(store, "registration.changed")] == [
        "booked",
        "booked",
        "waitlisted",
        "waitlisted",
    ]


def test_a_session_with_no_places_waitlists_everyone(store, workshops, session_of):
    session = session_of(0)
    assert workshops.register(session, add_member(store))["status"] == "waitlisted"


def test_registering_twice_is_a_conflict_and_changes_nothing(store, workshops, session_of):
    session, member = session_of(1), add_member(store)
    workshops.register(session, member)
    before = snapshot(store)
    with pytest.raises(Conflict) as refused:
        workshops.register(session, member)
    assert refused.value.field == "member_id"
    assert "déjà inscrite" in refused.value.message_fr
    assert snapshot(store) == before


def test_registering_again_after_cancelling_requeues_at_the_end(store, workshops, session_of):
    session = session_of(1)
    aicha, gerard, zoe = (add_member(store, n) for n in ("Aïcha", "Gérard", "Zoé"))
    first = workshops.register(session, aicha)
    workshops.register(session, gerard)
    workshops.register(session, zoe)
    promoted = workshops.cancel_registration(session, aicha)
    assert promoted["member_id"] == gerard
    again = workshops.register(session, aicha)
    assert again == {"registration_id": first["registration_id"], "status": "waitlisted", "position": 2}
    assert [r["member_id"] for r in workshops.registrations(session)] == [gerard, zoe, aicha]


def test_cancelling_a_booked_place_promotes_the_first_waitlisted(store, workshops, session_of):
    session = session_of(1)
    aicha, gerard, zoe = (add_member(store, n) for n in ("Aïcha", "Gérard", "Zoé"))
    for member in (aicha, gerard, zoe):
        workshops.register(session, member)
    staff = add_staff(store)
    promoted = workshops.cancel_registration(session, aicha, actor=staff)
    assert promoted["member_id"] == gerard and promoted["status"] == "booked"
    changes = [(e["member_id"], e["status"]) for e in events(store, "registration.changed")]
    assert changes[-2:] == [(aicha, "cancelled"), (gerard, "booked")]
    listed = workshops.registrations(session)
    assert [(r["member_id"], r["status"], r["position"]) for r in listed] == [
        (gerard, "booked", None),
        (zoe, "waitlisted", 1),
    ]
    actions = [
        r["action"]
        for r in store.query("SELECT action FROM audit_log WHERE actor_id = ? ORDER BY seq", (staff["id"],))
    ]
    assert actions == ["registration.cancel", "registration.promote"]


def test_cancelling_a_waitlisted_place_promotes_nobody(store, workshops, session_of):
    session = session_of(1)
    aicha, gerard, zoe = (add_member(store, n) for n in ("Aïcha", "Gérard", "Zoé"))
    for member in (aicha, gerard, zoe):
        workshops.register(session, member)
    assert workshops.cancel_registration(session, gerard) is None
    assert [(r["member_id"], r["position"]) for r in workshops.registrations(session)] == [
        (aicha, None),
        (zoe, 1),
    ]


def test_cancelling_without_a_registration_is_not_found(store, workshops, session_of):
    session, member = session_of(1), add_member(store)
    before = snapshot(store)
    with pytest.raises(NotFound):
        workshops.cancel_registration(session, member)
    assert snapshot(store) == before


def test_a_past_session_takes_no_registration(store, workshops, session_of, clock):
    session, member = session_of(1, in_days=1), add_member(store)
    clock.advance(days=1)  # the session starts right now
    before = snapshot(store)
    with pytest.raises(Conflict) as refused:
        workshops.register(session, member)
    assert refused.value.field == "session_id"
    assert snapshot(store) == before


def test_a_cancelled_session_takes_no_registration(store, workshops, session_of):
    session, member = session_of(1), add_member(store)
    workshops.cancel_session(session)
    before = snapshot(store)
    with pytest.raises(Conflict):
        workshops.register(session, member)
    assert snapshot(store) == before


@pytest.mark.parametrize("erased", [False, True])
def test_unknown_or_erased_members_are_not_found(store, workshops, session_of, erased):
    session = session_of(1)
    member = add_member(store) if erased else "0190a0a0-0000-7000-8000-00000000dead"
    if erased:
        erase_member(store, member)
    before = snapshot(store)
    with pytest.raises(NotFound) as refused:
        workshops.register(session, member)
    assert refused.value.field == "member_id"
    assert snapshot(store) == before


def test_member_registrations_lists_upcoming_sessions_soonest_first(store, workshops, session_of, clock):
    member = add_member(store)
    later, sooner, past = session_of(5, in_days=5), session_of(5, in_days=1), session_of(5, 0.5)
    for session in (later, sooner, past):
        workshops.register(session, member)
    clock.advance(days=0.6)  # past has now ended
    assert [r["session_id"] for r in queries.member_registrations(workshops, member)] == [sooner, later]
    everything = queries.member_registrations(workshops, member, upcoming_only=False)
    assert [r["session_id"] for r in everything] == [past, sooner, later]
    assert everything[0]["title"] == "Atelier CV"


# ---------------------------------------------------------------- properties

NAMES = ("Aïcha", "Bérénice", "Gérard", "Zoé", "Éloïse", "Noël")
MEMBERS = len(NAMES)
SESSIONS = 2


class RegistrationMachine(RuleBasedStateMachine):
    """Random registrations, cancellations and capacity changes on two
    sessions, checked against a plain model: for each session a booked list
    and a waitlist, in order."""

    def __init__(self):
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.store = Store.open(Path(self.tmp.name) / "kiosk.db", clock=lambda: START)
        self.workshops = Workshops(self.store)
        workshop = self.workshops.create_workshop("Atelier", "autre")
        start = START + timedelta(days=1)
        self.sessions = [
            self.workshops.add_session(
                workshop["id"], start + timedelta(hours=i), start + timedelta(hours=i + 1), 2
            )["id"]
            for i in range(SESSIONS)
        ]
        self.capacity = [2] * SESSIONS
        self.members = [add_member(self.store, name) for name in NAMES]
        self.booked: list[list[str]] = [[] for _ in range(SESSIONS)]
        self.waiting: list[list[str]] = [[] for _ in range(SESSIONS)]
        self.expected = {"registration.changed": 0, "session.updated": 0}

    def teardown(self):
        self.store.close()
        self.tmp.cleanup()

    def _promote(self, at: int) -> None:
        while self.waiting[at] and len(self.booked[at]) < self.capacity[at]:
            self.booked[at].append(self.waiting[at].pop(0))
            self.expected["registration.changed"] += 1

    @rule(at=st.integers(0, SESSIONS - 1), index=st.integers(0, MEMBERS - 1))
    def register(self, at, index):
        member, booked, waiting = self.members[index], self.booked[at], self.waiting[at]
        if member in booked or member in waiting:
            before = snapshot(self.store)
            try:
                self.workshops.register(self.sessions[at], member)
            except Conflict:
                assert snapshot(self.store) == before
                return
            raise AssertionError("a second live registration was accepted")
        result = self.workshops.register(self.sessions[at], member)
        if len(booked) < self.capacity[at] and not waiting:
            booked.append(member)
            assert result["status"] == "booked" and result["position"] is None
        else:
            waiting.append(member)
            assert result["status"] == "waitlisted" and result["position"] == len(waiting)
        self.expected["registration.changed"] += 1

    @rule(at=st.integers(0, SESSIONS - 1), index=st.integers(0, MEMBERS - 1))
    def cancel(self, at, index):
        member, booked, waiting = self.members[index], self.booked[at], self.waiting[at]
        if member not in booked and member not in waiting:
            before = snapshot(self.store)
            try:
                self.workshops.cancel_registration(self.sessions[at], member)
            except NotFound:
                assert snapshot(self.store) == before
                return
            raise AssertionError("cancelled a registration that does not exist")
        promoted = self.workshops.cancel_registration(self.sessions[at], member)
        self.expected["registration.changed"] += 1
        first_waiting = waiting[0] if waiting else None
        (booked if member in booked else waiting).remove(member)
        self._promote(at)
        if promoted is not None:
            assert promoted["member_id"] == first_waiting

    @rule(at=st.integers(0, SESSIONS - 1), capacity=st.integers(0, 5))
    def change_capacity(self, at, capacity):
        before = snapshot(self.store)
        try:
            self.workshops.update_session(self.sessions[at], capacity=capacity)
        except DomainError:
            assert capacity < len(self.booked[at])
            assert snapshot(self.store) == before
            return
        assert capacity >= len(self.booked[at])
        if capacity != self.capacity[at]:
            self.expected["session.updated"] += 1
        self.capacity[at] = capacity
        self._promote(at)

    @invariant()
    def matches_the_model(self):
        for at, session_id in enumerate(self.sessions):
            listed = self.workshops.registrations(session_id)
            booked = [r["member_id"] for r in listed if r["status"] == "booked"]
            waiting = [r["member_id"] for r in listed if r["status"] == "waitlisted"]
            assert booked == self.booked[at]
            assert waiting == self.waiting[at]  # first come, first promoted
            assert len(booked) <= self.capacity[at]
            session = self.workshops.session(session_id)
            assert (session["booked"], session["waitlisted"]) == (len(booked), len(waiting))

    @invariant()
    def one_live_registration_per_member_and_session(self):
        rows = self.store.query(
            "SELECT session_id, member_id, count(*) AS n FROM registrations "
            "WHERE status != 'cancelled' GROUP BY session_id, member_id HAVING n > 1"
        )
        assert rows == []

    @invariant()
    def each_change_has_exactly_its_event(self):
        counts = event_counts(self.store)
        for kind, number in self.expected.items():
            assert counts.get(kind, 0) == number, kind


TestRegistrationMachine = RegistrationMachine.TestCase
TestRegistrationMachine.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_a_residents_own_sign_up_is_not_audited_but_a_volunteers_is(store, workshops, session_of):
    session = session_of(3)
    workshops.register(session, add_member(store, "Aïcha"))
    assert store.query("SELECT * FROM audit_log WHERE action LIKE 'registration.%'") == []
    karim = add_staff(store, "Karim", "volunteer", "1357")
    workshops.register(session, add_member(store, "Gérard"), actor=karim)
    [entry] = store.query("SELECT * FROM audit_log WHERE action LIKE 'registration.%'")
    assert (entry["action"], entry["actor_name"]) == ("registration.add", "Karim")


def test_two_kiosk_connections_racing_for_the_last_places_never_overbook(
    store, workshops, session_of, db_path, clock
):
    import threading

    session = session_of(3)
    members = [
        add_member(store, name)
        for name in ("Aïcha", "Bérénice", "Gérard", "Zoé", "Éloïse", "Noël", "Inès", "Léa")
    ]
    results: list[str] = []

    def sign_up(chunk: list[str]) -> None:
        with Store.open(db_path, clock=clock) as own:  # a connection per thread, as in the app
            for member in chunk:
                results.append(Workshops(own).register(session, member)["status"])

    threads = [threading.Thread(target=sign_up, args=(members[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["booked"] * 3 + ["waitlisted"] * 5
    shown = workshops.session(session)
    assert (shown["booked"], shown["waitlisted"]) == (3, 5)
    assert [r["position"] for r in workshops.registrations(session)][3:] == [1, 2, 3, 4, 5]
