"""Attendance: the roll call of booked members, marks and re-marks, walk-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from people import add_member, add_staff, event_counts, events, snapshot

from kiosk.core.errors import Conflict, InvalidInput, NotFound
from kiosk.core.workshops import Workshops


@pytest.fixture
def workshops(store):
    return Workshops(store)


@pytest.fixture
def staff(store):
    return add_staff(store)


@pytest.fixture
def session(store, workshops, clock):
    """A session starting in 30 minutes (its roll call is open), with Aïcha and
    Gérard booked and Zoé on the waitlist."""
    workshop = workshops.create_workshop("Atelier tablette", "numerique")
    start = clock() + timedelta(minutes=30)
    session_id = workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 2)["id"]
    members = {name: add_member(store, name, "Martin") for name in ("Aïcha", "Gérard", "Zoé")}
    for member in members.values():
        workshops.register(session_id, member)
    return {"id": session_id, **members}


def test_roll_call_lists_booked_members_unmarked(workshops, session):
    roll = workshops.roll_call(session["id"])
    assert [(r["first_name"], r["present"], r["walk_in"]) for r in roll] == [
        ("Aïcha", None, False),
        ("Gérard", None, False),
    ]


def test_marking_present_stores_the_mark_and_emits_attendance_taken(store, workshops, session, staff):
    marked = workshops.mark_attendance(session["id"], session["Aïcha"], True, actor=staff)
    assert marked["present"] is True and marked["walk_in"] is False
    assert events(store, "attendance.taken") == [
        {
            "attendance_id": marked["attendance_id"],
            "session_id": session["id"],
            "member_id": session["Aïcha"],
            "present": True,
            "walk_in": False,
        }
    ]
    row = store.one("SELECT marked_by FROM attendance WHERE id = ?", (marked["attendance_id"],))
    assert row["marked_by"] == staff["id"]
    assert (
        store.one("SELECT actor_id FROM audit_log WHERE action = 'attendance.mark'")["actor_id"]
        == staff["id"]
    )


def test_marking_again_updates_the_row_and_emits_with_the_same_attendance_id(store, workshops, session):
    first = workshops.mark_attendance(session["id"], session["Gérard"], True)
    second = workshops.mark_attendance(session["id"], session["Gérard"], False)
    assert second["attendance_id"] == first["attendance_id"]
    assert store.one("SELECT count(*) AS n FROM attendance")["n"] == 1
    taken = events(store, "attendance.taken")
    assert [(e["attendance_id"], e["present"]) for e in taken] == [
        (first["attendance_id"], True),
        (first["attendance_id"], False),
    ]
    roll = {r["member_id"]: r["present"] for r in workshops.roll_call(session["id"])}
    assert roll == {session["Aïcha"]: None, session["Gérard"]: False}


def test_only_booked_members_can_be_marked(store, workshops, session):
    stranger = add_member(store, "Inconnu")
    before = snapshot(store)
    for member in (session["Zoé"], stranger):
        with pytest.raises(Conflict) as refused:
            workshops.mark_attendance(session["id"], member, True)
        assert refused.value.field == "member_id"
    with pytest.raises(NotFound):
        workshops.mark_attendance(session["id"], "0190a0a0-0000-7000-8000-00000000dead", True)
    with pytest.raises(InvalidInput) as refused:
        workshops.mark_attendance(session["id"], session["Aïcha"], "oui")
    assert refused.value.field == "present"
    assert snapshot(store) == before


def test_an_anonymous_walk_in_is_present_without_a_member(store, workshops, session):
    first = workshops.add_walk_in(session["id"])
    second = workshops.add_walk_in(session["id"])
    assert first["attendance_id"] != second["attendance_id"]
    roll = workshops.roll_call(session["id"])
    assert [(r["member_id"], r["present"], r["walk_in"]) for r in roll[2:]] == [
        (None, True, True),
        (None, True, True),
    ]
    assert [e["member_id"] for e in events(store, "attendance.taken")] == [None, None]


def test_a_waitlisted_member_who_comes_is_a_walk_in(store, workshops, session):
    walk_in = workshops.add_walk_in(session["id"], session["Zoé"])
    assert walk_in == {
        "attendance_id": walk_in["attendance_id"],
        "member_id": session["Zoé"],
        "present": True,
        "walk_in": True,
    }
    assert workshops.roll_call(session["id"])[-1]["first_name"] == "Zoé"


def test_a_walk_in_cannot_be_booked_or_already_on_the_roll(store, workshops, session):
    workshops.add_walk_in(session["id"], session["Zoé"])
    before = snapshot(store)
    with pytest.raises(Conflict):
        workshops.add_walk_in(session["id"], session["Zoé"])
    with pytest.raises(Conflict):
        workshops.add_walk_in(session["id"], session["Aïcha"])
    assert snapshot(store) == before


def test_the_roll_call_opens_an_hour_before_the_session(store, workshops, clock):
    workshop = workshops.create_workshop("Atelier", "autre")
    start = clock() + timedelta(hours=3)
    session_id = workshops.add_session(workshop["id"], start, start + timedelta(hours=1), 5)["id"]
    before = snapshot(store)
    with pytest.raises(Conflict):
        workshops.add_walk_in(session_id)
    assert snapshot(store) == before
    clock.advance(hours=2)
    assert workshops.add_walk_in(session_id)["present"] is True


def test_a_cancelled_session_takes_no_attendance(store, workshops, session):
    workshops.cancel_session(session["id"])
    before = snapshot(store)
    with pytest.raises(Conflict):
        workshops.mark_attendance(session["id"], session["Aïcha"], True)
    with pytest.raises(Conflict):
        workshops.add_walk_in(session["id"])
    assert snapshot(store) == before
    assert "attendance.taken" not in event_counts(store)


def test_attendance_can_be_taken_after_the_session(workshops, session, clock):
    clock.advance(days=2)
    assert workshops.mark_attendance(session["id"], session["Aïcha"], True)["present"] is True
