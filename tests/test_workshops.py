"""Workshops and their sessions: creation, changes, weekly series across DST,
cancellation, and the week's programme, on a real database file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from people import add_member, add_staff, event_counts, events, snapshot

from kiosk.core.errors import Conflict, InvalidInput, NotFound
from kiosk.core.workshops import PARIS, Workshops
from sync.protocol import parse_utc
from tests import queries

UTC = UTC


@pytest.fixture
def workshops(store):
    return Workshops(store)


@pytest.fixture
def workshop(workshops):
    return workshops.create_workshop(
        "Premiers pas sur l'ordinateur",
        "numerique",
        description="Allumer, cliquer,\nécrire.",
        facilitator="Karim",
        place="Salle 2",
    )


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_create_workshop_stores_it_and_emits_its_event_without_the_facilitator(store, workshops):
    created = workshops.create_workshop("Café des parents", "parentalite", facilitator="Karim")
    assert workshops.get_workshop(created["id"])["title"] == "Café des parents"
    [data] = events(store, "workshop.created")
    assert data == {
        "workshop_id": created["id"],
        "title": "Café des parents",
        "theme": "parentalite",
        "place": None,
    }


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("theme", {"title": "Atelier", "theme": "cuisine"}),
        ("title", {"title": "   ", "theme": "autre"}),
        ("title", {"title": "x" * 300, "theme": "autre"}),
        ("title", {"title": "Atelier\x07", "theme": "autre"}),
        ("description", {"title": "Atelier", "theme": "autre", "description": "a\x00b"}),
        ("place", {"title": "Atelier", "theme": "autre", "place": "p" * 201}),
    ],
)
def test_a_bad_workshop_is_refused_naming_the_field_and_nothing_is_written(store, workshops, field, kwargs):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        workshops.create_workshop(**kwargs)
    assert refused.value.field == field
    assert refused.value.message_fr
    assert snapshot(store) == before


def test_update_workshop_changes_fields_and_emits_workshop_updated(store, workshops, workshop):
    staff = add_staff(store)
    updated = workshops.update_workshop(workshop["id"], actor=staff, title="Premiers clics", place="Salle 3")
    assert (updated["title"], updated["place"], updated["facilitator"]) == (
        "Premiers clics",
        "Salle 3",
        "Karim",
    )
    assert events(store, "workshop.updated") == [
        {"workshop_id": workshop["id"], "title": "Premiers clics", "theme": "numerique", "place": "Salle 3"}
    ]
    audit = store.one("SELECT * FROM audit_log WHERE action = 'workshop.update'")
    assert audit["actor_id"] == staff["id"] and audit["actor_name"] == "Nadia Ferhat"


def test_an_update_that_changes_nothing_emits_nothing(store, workshops, workshop):
    workshops.update_workshop(workshop["id"], title="Premiers pas sur l'ordinateur")
    assert "workshop.updated" not in event_counts(store)


def test_update_workshop_refuses_unknown_fields_bad_values_and_unknown_workshops(store, workshops, workshop):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        workshops.update_workshop(workshop["id"], colour="red")
    assert refused.value.field == "colour"
    with pytest.raises(InvalidInput) as refused:
        workshops.update_workshop(workshop["id"], theme="sport")
    assert refused.value.field == "theme"
    with pytest.raises(NotFound):
        workshops.update_workshop("0190a0a0-0000-7000-8000-00000000dead", title="X")
    assert snapshot(store) == before


def test_list_workshops_counts_upcoming_sessions(store, workshops, workshop, clock):
    workshops.add_session(
        workshop["id"], clock() + timedelta(days=1), clock() + timedelta(days=1, hours=2), 8
    )
    workshops.add_session(
        workshop["id"], clock() - timedelta(days=1), clock() - timedelta(days=1, hours=-2), 8
    )
    [listed] = queries.list_workshops(workshops)
    assert listed["upcoming_sessions"] == 1


def test_add_session_stores_utc_times_and_emits_session_created(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14, 0), paris(2026, 12, 3, 16, 0), 8)
    assert session["starts_at"] == "2026-12-03T13:00:00.000Z"
    assert session["ends_at"] == "2026-12-03T15:00:00.000Z"
    assert (session["title"], session["theme"], session["place"]) == (
        "Premiers pas sur l'ordinateur",
        "numerique",
        "Salle 2",
    )
    assert (
        session["capacity"],
        session["booked"],
        session["waitlisted"],
        session["seats_left"],
        session["cancelled"],
    ) == (8, 0, 0, 8, False)
    assert events(store, "session.created") == [
        {
            "session_id": session["id"],
            "workshop_id": workshop["id"],
            "starts_at": "2026-12-03T13:00:00.000Z",
            "ends_at": "2026-12-03T15:00:00.000Z",
            "capacity": 8,
        }
    ]


def test_a_session_place_overrides_the_workshop_place(workshops, workshop, clock):
    session = workshops.add_session(
        workshop["id"], clock() + timedelta(hours=1), clock() + timedelta(hours=2), 5, place="Médiathèque"
    )
    assert session["place"] == "Médiathèque"


@pytest.mark.parametrize(
    "field, starts, ends, capacity",
    [
        ("ends_at", paris(2026, 12, 3, 14), paris(2026, 12, 3, 14), 8),
        ("ends_at", paris(2026, 12, 3, 14), paris(2026, 12, 3, 13), 8),
        ("ends_at", paris(2026, 12, 3, 14), paris(2026, 12, 5, 14), 8),
        ("starts_at", datetime(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8),
        ("starts_at", "jeudi", paris(2026, 12, 3, 16), 8),
        ("capacity", paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), -1),
        ("capacity", paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 501),
        ("capacity", paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), "8"),
        ("capacity", paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), True),
    ],
)
def test_a_bad_session_is_refused_naming_the_field(store, workshops, workshop, field, starts, ends, capacity):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        workshops.add_session(workshop["id"], starts, ends, capacity)
    assert refused.value.field == field
    assert snapshot(store) == before


def test_a_session_of_an_unknown_workshop_is_not_found(store, workshops):
    with pytest.raises(NotFound) as refused:
        workshops.add_session(
            "0190a0a0-0000-7000-8000-00000000dead", paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8
        )
    assert refused.value.field == "workshop_id"


def test_iso_strings_with_an_offset_are_accepted(workshops, workshop):
    session = workshops.add_session(
        workshop["id"], "2026-12-03T14:00:00+01:00", "2026-12-03T16:00:00+01:00", 0
    )
    assert session["starts_at"] == "2026-12-03T13:00:00.000Z"


def test_weekly_series_keeps_paris_wall_clock_time_across_the_dst_change(store, workshops, workshop):
    # Paris moves to summer time on Sunday 28 March 2027
    series = workshops.add_weekly_series(
        workshop["id"], paris(2027, 3, 16, 14, 0), paris(2027, 3, 16, 16, 0), weeks=4, capacity=10
    )
    assert [s["starts_at"] for s in series] == [
        "2027-03-16T13:00:00.000Z",
        "2027-03-23T13:00:00.000Z",
        "2027-03-30T12:00:00.000Z",
        "2027-04-06T12:00:00.000Z",
    ]
    local = [parse_utc(s["starts_at"]).astimezone(PARIS) for s in series]
    assert {(t.hour, t.minute, t.weekday()) for t in local} == {(14, 0, 1)}
    assert all(parse_utc(s["ends_at"]) - parse_utc(s["starts_at"]) == timedelta(hours=2) for s in series)
    assert len({s["series_id"] for s in series}) == 1 and series[0]["series_id"]
    assert event_counts(store)["session.created"] == 4


@pytest.mark.parametrize("weeks", [0, 53, "4", None])
def test_a_series_needs_1_to_52_weeks(store, workshops, workshop, weeks):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        workshops.add_weekly_series(
            workshop["id"], paris(2027, 3, 16, 14), paris(2027, 3, 16, 16), weeks=weeks, capacity=10
        )
    assert refused.value.field == "weeks"
    assert snapshot(store) == before


def test_update_session_moves_it_and_emits_session_updated(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8)
    moved = workshops.update_session(
        session["id"], starts_at=paris(2026, 12, 4, 14), ends_at=paris(2026, 12, 4, 16)
    )
    assert moved["starts_at"] == "2026-12-04T13:00:00.000Z"
    assert events(store, "session.updated") == [
        {
            "session_id": session["id"],
            "workshop_id": workshop["id"],
            "starts_at": "2026-12-04T13:00:00.000Z",
            "ends_at": "2026-12-04T15:00:00.000Z",
            "capacity": 8,
        }
    ]


def test_update_session_refuses_an_end_before_the_start(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8)
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        workshops.update_session(session["id"], ends_at=paris(2026, 12, 3, 13))
    assert refused.value.field == "ends_at"
    assert snapshot(store) == before


def test_capacity_below_the_places_booked_is_a_conflict(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 3)
    for name in ("Aïcha", "Bérénice", "Gérard"):
        workshops.register(session["id"], add_member(store, name))
    before = snapshot(store)
    with pytest.raises(Conflict) as refused:
        workshops.update_session(session["id"], capacity=2)
    assert refused.value.field == "capacity"
    assert "3 places" in refused.value.message_fr
    assert snapshot(store) == before


def test_raising_capacity_promotes_from_the_waitlist_in_order(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 1)
    first, second, third = (add_member(store, n) for n in ("Aïcha", "Bérénice", "Gérard"))
    for member in (first, second, third):
        workshops.register(session["id"], member)
    updated = workshops.update_session(session["id"], capacity=2)
    assert (updated["booked"], updated["waitlisted"]) == (2, 1)
    statuses = {r["member_id"]: r["status"] for r in workshops.registrations(session["id"])}
    assert statuses == {first: "booked", second: "booked", third: "waitlisted"}
    assert events(store, "registration.changed")[-1]["member_id"] == second


def test_changing_only_the_room_emits_no_event_for_the_hub(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8)
    moved = workshops.update_session(session["id"], place="Salle 1")
    assert moved["place"] == "Salle 1"
    assert "session.updated" not in event_counts(store)
    assert workshops.update_session(session["id"], place=None)["place"] == "Salle 2"


def test_cancel_session_returns_the_people_to_tell_and_emits_session_cancelled(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 1)
    aicha = add_member(store, "Aïcha", "Benali", phone="06 12 34 56 78")
    gerard = add_member(store, "Gérard", "Lefèvre", phone=None)
    workshops.register(session["id"], aicha)
    workshops.register(session["id"], gerard)
    staff = add_staff(store)
    to_tell = workshops.cancel_session(session["id"], actor=staff)
    assert to_tell == [
        {
            "id": aicha,
            "first_name": "Aïcha",
            "last_name": "Benali",
            "phone": "+33612345678",
            "status": "booked",
        },
        {"id": gerard, "first_name": "Gérard", "last_name": "Lefèvre", "phone": None, "status": "waitlisted"},
    ]
    assert workshops.session(session["id"])["cancelled"] is True
    assert events(store, "session.cancelled") == [{"session_id": session["id"]}]
    assert (
        store.one("SELECT actor_id FROM audit_log WHERE action = 'session.cancel'")["actor_id"] == staff["id"]
    )


def test_a_cancelled_session_cannot_be_cancelled_or_changed_again(store, workshops, workshop):
    session = workshops.add_session(workshop["id"], paris(2026, 12, 3, 14), paris(2026, 12, 3, 16), 8)
    workshops.cancel_session(session["id"])
    before = snapshot(store)
    with pytest.raises(Conflict):
        workshops.cancel_session(session["id"])
    with pytest.raises(Conflict):
        workshops.update_session(session["id"], capacity=10)
    assert snapshot(store) == before


def test_unknown_session_is_not_found(workshops):
    with pytest.raises(NotFound) as refused:
        workshops.session("0190a0a0-0000-7000-8000-00000000dead")
    assert refused.value.field == "session_id"


def test_week_sessions_shows_what_is_left_of_this_paris_week_in_time_order(store, workshops, workshop, clock):
    # the clock is Tuesday 1 December 2026, 9:00 in Paris
    later_today = workshops.add_session(workshop["id"], paris(2026, 12, 1, 14), paris(2026, 12, 1, 16), 8)
    sunday_night = workshops.add_session(
        workshop["id"], paris(2026, 12, 6, 23, 30), paris(2026, 12, 6, 23, 59), 8
    )
    thursday = workshops.add_session(workshop["id"], paris(2026, 12, 3, 10), paris(2026, 12, 3, 12), 8)
    workshops.add_session(workshop["id"], paris(2026, 12, 7, 0, 0), paris(2026, 12, 7, 2), 8)
    workshops.add_session(workshop["id"], paris(2026, 12, 1, 8), paris(2026, 12, 1, 10), 8)
    cancelled = workshops.add_session(workshop["id"], paris(2026, 12, 2, 10), paris(2026, 12, 2, 12), 8)
    workshops.cancel_session(cancelled["id"])
    shown = [s["id"] for s in workshops.week_sessions()]
    assert shown == [later_today["id"], thursday["id"], sunday_night["id"]]
    # on Sunday evening only Sunday's last session is left
    assert [s["id"] for s in workshops.week_sessions(now=paris(2026, 12, 6, 20))] == [sunday_night["id"]]


def test_sessions_between_can_include_the_cancelled_ones(workshops, workshop):
    kept = workshops.add_session(workshop["id"], paris(2026, 12, 2, 10), paris(2026, 12, 2, 12), 8)
    gone = workshops.add_session(workshop["id"], paris(2026, 12, 3, 10), paris(2026, 12, 3, 12), 8)
    workshops.cancel_session(gone["id"])
    span = (paris(2026, 12, 1), paris(2026, 12, 8))
    assert [s["id"] for s in workshops.sessions_between(*span)] == [kept["id"]]
    both = workshops.sessions_between(*span, include_cancelled=True)
    assert [(s["id"], s["cancelled"]) for s in both] == [(kept["id"], False), (gone["id"], True)]


def test_an_actor_must_be_an_active_person(store, workshops):
    from kiosk.core.staff import Staff

    nadia = add_staff(store)
    karim = Staff(store).add("Karim", "volunteer", "1357")
    Staff(store).deactivate(karim["id"], actor=nadia)
    before = snapshot(store)
    for actor in (
        {"id": "0190a0a0-0000-7000-8000-00000000dead", "name": "X", "role": "staff"},
        karim,
        "Nadia",
    ):
        with pytest.raises(InvalidInput) as refused:
            workshops.create_workshop("Atelier", "autre", actor=actor)
        assert refused.value.field == "actor"
    assert snapshot(store) == before
