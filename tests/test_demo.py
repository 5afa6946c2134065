"""The demo centre: believable, consistent (each row with its event), repeatable."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from kiosk import cli
from kiosk.core import cards, demo
from kiosk.core.members import Members
from kiosk.core.settings import DEFAULT_COMMUNES, Settings
from kiosk.core.staff import Staff
from kiosk.core.store import Store
from kiosk.core.visits import PARIS
from sync import protocol


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    summary = demo.build(path, members=300, visits=2000, seed=1)
    store = Store.open(path)
    yield store, summary
    store.close()


def test_demo_has_the_members_and_visits_asked_for(built):
    store, _ = built
    assert store.one("SELECT count(*) AS n FROM members")["n"] == 300
    assert store.one("SELECT count(*) AS n FROM visits")["n"] == 2000


def test_every_demo_row_has_its_event_and_every_event_is_valid(built):
    store, _ = built
    bodies = [json.loads(row[0]) for row in store.conn.execute("SELECT body FROM outbox")]
    for event in bodies:
        protocol.validate_event(event)
    by_type = {}
    for event in bodies:
        by_type.setdefault(event["type"], []).append(event["data"])
    assert {d["visit_id"] for d in by_type["visit.recorded"]} == {
        row[0] for row in store.conn.execute("SELECT id FROM visits")
    }
    assert {d["member_id"] for d in by_type["member.created"]} == {
        row[0] for row in store.conn.execute("SELECT id FROM members")
    }


def test_demo_database_is_consistent_and_in_wal_mode(built):
    store, _ = built
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_demo_members_look_like_the_boulonnais(built):
    store, _ = built
    rows = store.query("SELECT first_name, last_name, commune, card_code FROM members")
    everything = " ".join(f"{r['first_name']} {r['last_name']}" for r in rows)
    assert any(c in everything for c in "éèïëç")
    assert {r["commune"] for r in rows} <= set(DEFAULT_COMMUNES)
    assert all(cards.is_valid(r["card_code"]) for r in rows)
    assert len({r["last_name"] for r in rows}) > 40


def test_demo_visits_fall_in_opening_hours_of_the_last_month(built):
    store, _ = built
    now = store.now()
    for visit in store.query("SELECT occurred_at FROM visits"):
        moment = protocol.parse_utc(visit["occurred_at"])
        assert now - timedelta(days=32) <= moment <= now
        local = moment.astimezone(PARIS)
        assert local.weekday() < 6 and 9 <= local.hour < 18


def test_demo_members_last_contact_is_their_last_visit(built):
    store, _ = built
    wrong = store.query(
        "SELECT m.id FROM members m WHERE m.last_seen_at IS NOT "
        "(SELECT max(occurred_at) FROM visits v WHERE v.member_id = m.id)"
    )
    assert wrong == []


def test_demo_staff_can_unlock_with_the_printed_pins(built):
    store, summary = built
    assert "1234" in summary and "5678" in summary
    assert Staff(store).authenticate("1234")["name"] == "Claire Martin"
    assert Staff(store).authenticate("5678")["role"] == "volunteer"


def test_demo_has_a_full_session_with_a_waitlist(built):
    store, _ = built
    full = store.query(
        "SELECT s.id FROM sessions s WHERE s.capacity = "
        "(SELECT count(*) FROM registrations r WHERE r.session_id = s.id AND r.status = 'booked') "
        "AND EXISTS (SELECT 1 FROM registrations r WHERE r.session_id = s.id "
        "AND r.status = 'waitlisted')"
    )
    assert len(full) == 1


def test_demo_members_are_found_by_the_search(built):
    store, _ = built
    someone = store.one("SELECT id, last_name FROM members LIMIT 1")
    found = Members(store, Settings(store)).search(someone["last_name"], limit=500)
    assert someone["id"] in [m["id"] for m in found]


def test_demo_with_the_same_seed_gives_the_same_people(tmp_path):
    names = []
    for run in ("a", "b"):
        demo.build(tmp_path / f"{run}.db", members=50, visits=100, seed=7)
        with Store.open(tmp_path / f"{run}.db") as store:
            names.append(
                [
                    (r["first_name"], r["last_name"], r["birth_year"])
                    for r in store.query("SELECT * FROM members ORDER BY created_at")
                ]
            )
    assert names[0] == names[1]


def test_kiosk_demo_command_builds_and_prints_the_pins(tmp_path, capsys):
    assert cli.main(["demo", "--db", str(tmp_path / "c.db"), "--members", "20", "--visits", "50"]) == 0
    out = capsys.readouterr().out
    assert "20 members" in out and "PIN 1234" in out


@pytest.mark.slow
def test_demo_scales_to_tens_of_thousands(tmp_path):
    demo.build(tmp_path / "big.db", members=10_000, visits=100_000, seed=3)
    with Store.open(tmp_path / "big.db") as store:
        assert store.one("SELECT count(*) AS n FROM outbox WHERE type = 'visit.recorded'")["n"] == 100_000
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_filling_a_demo_again_adds_people_but_no_second_staff_or_workshops(tmp_path):
    path = tmp_path / "again.db"
    demo.build(path, members=20, visits=30, seed=1)
    demo.build(path, members=10, visits=5, seed=2)
    with Store.open(path) as store:
        assert store.one("SELECT count(*) AS n FROM members")["n"] == 30
        assert store.one("SELECT count(*) AS n FROM staff")["n"] == len(demo.STAFF) + len(demo.VOLUNTEERS)
        assert store.one("SELECT count(*) AS n FROM workshops")["n"] == len(demo.CATALOGUE)
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_demo_has_volunteers_time_of_both_kinds_and_one_to_check(tmp_path):
    path = tmp_path / "volunteers.db"
    demo.build(path, members=10, visits=20, seed=3)
    with Store.open(path) as store:
        kinds = {
            row["kind"]: row
            for row in store.query(
                "SELECT kind, count(DISTINCT volunteer_id) AS people, sum(minutes) AS minutes "
                "FROM volunteer_stretches WHERE removed_at IS NULL GROUP BY kind"
            )
        }
        assert kinds["activity"]["people"] == 4 and kinds["governance"]["people"] == 4
        assert kinds["activity"]["minutes"] > kinds["governance"]["minutes"] > 0
        assert store.one("SELECT count(*) AS n FROM volunteer_stretches WHERE to_review = 1")["n"] == 1
        sent = store.one("SELECT count(*) AS n FROM outbox WHERE type = 'volunteering.recorded'")["n"]
        assert sent == store.one("SELECT count(*) AS n FROM volunteer_stretches")["n"]
