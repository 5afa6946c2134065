"""The rest of the centre's working data between its devices, through a real
hub: visits (counted once at the hub), staff accounts and their PINs, the
centre's settings (not a device's own), the audit log (every device ends
with every line), and what a device held before it replicated them."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlalchemy as sa

from federation import store as hub_store
from kiosk import syncing
from kiosk.core import changelog, replication
from kiosk.core.centre import Centre
from kiosk.core.errors import InvalidInput
from kiosk.core.store import Store
from sync import protocol
from sync.replication import HybridClock, ReplicationError, make_change
from tests.test_kiosk_replication import enrolled_kiosk, invited, join, names_in, second_kiosk

pytest_plugins = ["tests.conftest_hub"]


@pytest.fixture
def pair(shared_hub, tmp_path):
    """Two kiosks of one centre: the reception (its first device) and a tablet."""
    centre_id, code = shared_hub.add_centre("Centre social des Dunes")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = second_kiosk(shared_hub, centre_id, tmp_path / "tablet.db")
    join(reception, tablet)
    return reception, tablet


def exchange(*kiosks: str) -> None:
    for kiosk in kiosks:
        syncing.replicate_once(kiosk)


def rows(path: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def hub_visits(shared_hub, centre_id: str) -> list[str]:
    """The visit ids of the centre's ``visit.recorded`` events the hub holds."""
    engine = hub_store.create_engine(shared_hub.db_url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(
                sa.select(hub_store.events.c.body).where(
                    hub_store.events.c.centre_id == centre_id, hub_store.events.c.type == "visit.recorded"
                )
            ).scalars()
            return sorted(json.loads(body)["data"]["visit_id"] for body in bodies)
    finally:
        engine.dispose()


def test_visits_reach_every_device_and_the_hub_counts_each_once(pair, shared_hub):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        centre_id = centre.settings.get("centre_id")
        aicha = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        nadia = centre.staff.add("Nadia Ferhat", "volunteer", "2468")
        made = [
            centre.visits.check_in("accueil", member_id=aicha)["id"],
            centre.visits.check_in("demarches")["id"],  # anonymous
            centre.visits.check_in("ordinateur", member_id=aicha, actor=nadia)["id"],
        ]
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        got = centre.store.query(
            "SELECT id, member_id, reason, recorded_by_role, recorded_by, outreach_id FROM visits ORDER BY id"
        )
        assert [v["id"] for v in got] == sorted(made)
        by_id = {v["id"]: v for v in got}
        assert (by_id[made[0]]["member_id"], by_id[made[1]]["member_id"]) == (aicha, None)
        assert (by_id[made[2]]["recorded_by_role"], by_id[made[2]]["recorded_by"]) == (
            "volunteer",
            nadia["id"],
        )
        # the tablet checks a visit in too, by the volunteer it learnt
        made.append(centre.visits.check_in("accueil", member_id=aicha, actor=nadia)["id"])
    exchange(tablet, reception)
    with Store.open(reception) as kiosk:
        assert sorted(r[0] for r in kiosk.conn.execute("SELECT id FROM visits")) == sorted(made)
    # both devices push their events, twice over, and exchange in between
    for kiosk in (reception, tablet, reception, tablet):
        syncing.sync_once(kiosk)
    assert hub_visits(shared_hub, centre_id) == sorted(made)  # each visit once, from its device
    tablet_sent = rows(tablet, "SELECT event_id FROM outbox WHERE type = 'visit.recorded'")
    assert len(tablet_sent) == 1  # its own visit only, none of the reception's


def test_a_pin_set_on_one_device_opens_the_others(pair):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        karim = centre.staff.add("Karim Haddad", "staff", "1357")
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        assert centre.staff.authenticate("1357")["id"] == karim["id"]
        centre.staff.reset_pin(karim["id"], "8642", karim)
    exchange(tablet, reception)
    with Centre.open(reception) as centre:
        assert centre.staff.authenticate("8642") == {
            "id": karim["id"],
            "name": "Karim Haddad",
            "role": "staff",
        }
        with pytest.raises(InvalidInput):
            centre.staff.authenticate("1357")
        zoe = centre.staff.add("Zoé Martin", "volunteer", "5555", actor=karim)
        centre.staff.deactivate(zoe["id"], karim)
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        people = {p["name"]: p["active"] for p in centre.staff.list()}
        assert people == {"Karim Haddad": True, "Zoé Martin": False}
        with pytest.raises(InvalidInput):
            centre.staff.authenticate("5555")  # withdrawn on every device
    # when someone last signed in stays on the device that saw it
    assert rows(reception, "SELECT last_login_at IS NOT NULL FROM staff WHERE name = 'Karim Haddad'") == [
        (1,)
    ]


def test_the_centre_settings_replicate_and_a_device_own_do_not(pair):
    reception, tablet = pair
    with Centre.open(tablet) as centre:
        tablet_token = centre.settings.get("device_token")
    with Centre.open(reception) as centre:
        reasons = [*centre.settings.get("reasons"), {"code": "cafe", "label": "Un café", "icon": "coffee"}]
        centre.settings.set("reasons", reasons)
        centre.settings.set("idle_timeout_s", 120)
        centre.settings.set("collect_situation", True)
        centre.settings.set("printer", "Brother QL-800")  # the reception's own
        centre.settings.set("sent_events_kept_days", 30)
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        assert centre.settings.get("reasons") == reasons
        assert centre.settings.is_reason("cafe")
        assert (
            centre.settings.get("idle_timeout_s") == 120 and centre.settings.get("collect_situation") is True
        )
        assert centre.settings.get("printer") is None and centre.settings.get("sent_events_kept_days") == 90
        assert centre.settings.get("device_token") == tablet_token
        # and back: the last writer wins
        centre.settings.set("idle_timeout_s", 90)
    exchange(tablet, reception)
    with Centre.open(reception) as centre:
        assert centre.settings.get("idle_timeout_s") == 90
    shared = rows(reception, "SELECT DISTINCT row_id FROM replication_log WHERE tbl = 'settings'")
    assert {key for (key,) in shared} == {"reasons", "idle_timeout_s", "collect_situation", "centre_name"}


def test_a_setting_outside_the_allow_list_does_not_replicate():
    clock = HybridClock("reception")
    with pytest.raises(ReplicationError, match="row id 'device_token'"):
        make_change(clock, "settings", "device_token", {"value": '"a-token"'})
    with pytest.raises(ReplicationError, match="row id 'printer'"):
        make_change(clock, "settings", "printer", {"value": '"Brother"'})


def test_every_device_ends_with_every_audit_line_once(shared_hub, tmp_path):
    _centre_id, code = shared_hub.add_centre("Centre social du Portel")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = invited(reception, tmp_path / "tablet.db", "Tablette")  # its enrolment's lines too
    with Centre.open(reception) as centre:
        karim = centre.staff.add("Karim Haddad", "staff", "1357")
        centre.staff.authenticate("1357")
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        centre.staff.authenticate("1357")
        centre.settings.set("centre_name", "Centre social des Dunes", actor=karim)
    for _ in range(2):  # again: nothing twice
        exchange(tablet, reception, tablet)
    pair = (reception, tablet)
    lines = [set(rows(kiosk, "SELECT id, at, actor_id, action, detail FROM audit_log")) for kiosk in pair]
    assert lines[0] == lines[1]
    assert all(len(rows(k, "SELECT id FROM audit_log")) == len(lines[0]) for k in pair)
    enrolments = [
        d for (_i, _a, _p, action, d) in lines[0] if action == "settings.set" and "device_token" in d
    ]
    assert len(enrolments) == 2  # each device's own enrolment, its token hidden
    assert all('"***"' in d for d in enrolments)
    actions = sorted(
        action for (_id, _at, _actor, action, _detail) in lines[0] if action.startswith("staff.")
    )
    assert actions == ["staff.add", "staff.login", "staff.login"]
    # newest first by the time it was done, whichever device did it
    with Centre.open(reception) as centre:
        shown = centre.staff.audit_log(limit=1000)
        assert [line["at"] for line in shown] == sorted((line["at"] for line in shown), reverse=True)


def test_an_erased_member_visits_stay_anonymous_counts_on_every_device(pair):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        member_id = centre.members.register("Zoubida", "Quennehen", consent_data=True)["id"]
        centre.visits.check_in("accueil", member_id=member_id)
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:  # a visit while the erasure is on its way
        late = centre.visits.check_in("ordinateur", member_id=member_id)["id"]
    with Centre.open(reception) as centre:
        centre.privacy.erase(member_id, None)
    exchange(reception, tablet, reception, tablet)
    for kiosk in (reception, tablet):
        assert rows(kiosk, "SELECT count(*), count(member_id) FROM visits") == [(2, 0)]
        assert (late,) in rows(kiosk, "SELECT id FROM visits")
        held = names_in(kiosk)
        assert "Zoubida" not in held and "Quennehen" not in held


def test_a_visit_waits_for_its_member_then_is_written(tmp_path):
    """A visit whose member (or recorder) has not arrived here waits for
    them, and is written in the batch that brings them."""
    with Centre.open(str(tmp_path / "kiosk.db")) as centre:
        store = centre.store
        replication.set_up(store, device_id=protocol.new_id())
        clock = HybridClock("elsewhere")
        member, volunteer, visit = protocol.new_id(), protocol.new_id(), protocol.new_id()
        visit_change = make_change(
            clock,
            "visits",
            visit,
            {
                "occurred_at": "2026-12-01T09:00:00.000Z",
                "member_id": member,
                "reason": "accueil",
                "recorded_by_role": "volunteer",
                "recorded_by": volunteer,
            },
        )
        with store.transaction():
            changelog.insert(store.conn, visit_change, "remote")
            replication._apply_more(store, [visit_change], set())
        assert store.query("SELECT * FROM visits") == []
        at = "2026-12-01T08:00:00.000Z"
        member_change = make_change(
            clock,
            "members",
            member,
            {
                "first_name": "Aïcha",
                "last_name": "Benali",
                "consent_data": 1,
                "created_at": at,
                "updated_at": at,
            },
        )
        with store.transaction():
            changelog.insert(store.conn, member_change, "remote")
            replication.apply_member(store, member, lambda m: None)
            replication._apply_more(store, [member_change], {member})
        assert store.query("SELECT * FROM visits") == []  # its recorder has not arrived either
        staff_change = make_change(
            clock,
            "staff",
            volunteer,
            {
                "name": "Nadia",
                "role": "volunteer",
                "pin_salt": "00" * 16,
                "pin_hash": "11" * 32,
                "pin_params": "scrypt:n=16384,r=8,p=1",
            },
        )
        with store.transaction():
            changelog.insert(store.conn, staff_change, "remote")
            replication._apply_more(store, [staff_change], set())
        assert [(v["id"], v["member_id"], v["recorded_by"]) for v in store.query("SELECT * FROM visits")] == [
            (visit, member, volunteer)
        ]
        assert store.query("SELECT * FROM replication_waiting") == []


def test_what_a_device_held_before_goes_to_the_others_on_upgrade(pair):
    """A device that replicated before visits, staff and settings did (its
    members in the log already) puts them into the log at its next
    exchange: schema 17 sets those baseline flags."""
    reception, tablet = pair
    exchange(reception, tablet)
    with Store.open(reception) as kiosk, kiosk.transaction():
        # written as an older release did: no change recorded for them
        kiosk.conn.execute(
            "INSERT INTO staff (id, name, role, pin_salt, pin_hash, pin_params, active, created_at, "
            "updated_at) "
            "VALUES (?, 'Nadia Ferhat', 'volunteer', x'00', x'11', 'scrypt:n=16384,r=8,p=1', 1, "
            "'2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')",
            (volunteer := protocol.new_id(),),
        )
        kiosk.conn.execute(
            "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, recorded_by) "
            "VALUES (?, '2026-11-02T09:00:00.000Z', NULL, 'accueil', 'volunteer', ?)",
            (visit := protocol.new_id(), volunteer),
        )
        kiosk.conn.execute("UPDATE settings SET value = '\"Les Dunes\"' WHERE key = 'centre_name'")
        kiosk.conn.execute(
            "INSERT INTO audit_log (id, at, action, detail) "
            "VALUES (?, '2026-11-02T09:00:00.000Z', 'old', '{}')",
            (line := protocol.new_id(),),
        )
        kiosk.conn.execute(
            "UPDATE replication_device SET baseline = ?",
            (replication.BASELINE_MORE | replication.BASELINE_SETTINGS,),
        )
    exchange(reception, tablet)
    assert rows(tablet, "SELECT id, recorded_by FROM visits") == [(visit, volunteer)]
    assert rows(tablet, "SELECT name FROM staff") == [("Nadia Ferhat",)]
    assert rows(tablet, "SELECT value FROM settings WHERE key = 'centre_name'") == [('"Les Dunes"',)]
    assert (line,) in rows(tablet, "SELECT id FROM audit_log")


def test_an_upgraded_device_applies_what_its_log_held_once(pair):
    """A release that did not apply visits still kept those it received in
    its log: upgraded, the device writes them, and never twice those it
    holds already."""
    reception, tablet = pair
    with Centre.open(reception) as centre:
        kept = centre.visits.check_in("accueil")["id"]
        lost = centre.visits.check_in("ordinateur")["id"]
    exchange(reception, tablet)
    with Store.open(tablet) as kiosk, kiosk.transaction():
        kiosk.conn.execute("DELETE FROM visits WHERE id = ?", (lost,))  # received, never applied
        kiosk.conn.execute(
            "UPDATE replication_device SET baseline = ?",
            (replication.BASELINE_MORE | replication.BASELINE_SETTINGS,),
        )
    exchange(tablet)
    assert sorted(rows(tablet, "SELECT id FROM visits")) == sorted([(kept,), (lost,)])


def test_a_joining_device_starts_with_the_whole_centre_and_its_settings(shared_hub, tmp_path):
    """The snapshot a joining device starts from holds the visits, staff
    accounts, settings and audit lines; its own settings give way."""
    _centre_id, code = shared_hub.add_centre("Nom donné par la fédération")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    with Centre.open(reception) as centre:
        centre.settings.set("centre_name", "Centre social des Dunes")
        centre.settings.set("idle_timeout_s", 120)
        nadia = centre.staff.add("Nadia Ferhat", "volunteer", "2468")
        aicha = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        visits = {centre.visits.check_in("accueil", member_id=aicha, actor=nadia)["id"] for _ in range(3)}
    syncing.replicate_once(reception)
    tablet = invited(reception, tmp_path / "tablet.db", "Tablette")
    assert {v for (v,) in rows(tablet, "SELECT id FROM visits")} == visits
    assert set(rows(reception, "SELECT id FROM audit_log")) <= set(rows(tablet, "SELECT id FROM audit_log"))
    with Centre.open(tablet) as centre:
        assert centre.staff.authenticate("2468")["id"] == nadia["id"]
    exchange(reception, tablet, reception)
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            assert centre.settings.get("centre_name") == "Centre social des Dunes"
            assert centre.settings.get("idle_timeout_s") == 120
    assert rows(tablet, "SELECT count(*) FROM outbox WHERE type = 'visit.recorded'") == [(0,)]


def test_who_marked_the_roll_call_travels_with_the_mark(pair):
    from datetime import UTC, datetime, timedelta

    reception, tablet = pair
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)  # the roll call is open
    with Centre.open(reception) as centre:
        workshop = centre.workshops.create_workshop("Couture", "autre")["id"]
        session = centre.workshops.add_session(workshop, start, start + timedelta(hours=2), 5)["id"]
        aicha = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        centre.workshops.register(session, aicha)
        karim = centre.staff.add("Karim Haddad", "staff", "1357")
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:  # the roll call, in the workshop room
        nadia = centre.staff.add("Nadia Ferhat", "volunteer", "2468")
        centre.workshops.mark_attendance(session, aicha, True, actor=nadia)
        centre.workshops.add_walk_in(session, None, actor=nadia)
    exchange(tablet, reception)
    marked = "SELECT walk_in, present, marked_by FROM attendance ORDER BY walk_in"
    assert rows(reception, marked) == [(0, 1, nadia["id"]), (1, 1, nadia["id"])]
    with Centre.open(reception) as centre:  # corrected at reception: absent after all
        centre.workshops.mark_attendance(session, aicha, False, actor=karim)
    exchange(reception, tablet)
    assert rows(tablet, marked) == [(0, 0, karim["id"]), (1, 1, nadia["id"])]


def test_a_visit_of_a_record_merged_elsewhere_counts_for_the_kept_one(pair):
    """The tablet checks in a record the reception merged meanwhile: on both
    devices the visit ends on the kept record."""
    reception, tablet = pair
    with Centre.open(reception) as centre:
        kept = centre.members.register("Aïcha", "Benali", birth_year=1985, consent_data=True)["id"]
        other = centre.members.register("Aicha", "Benalli", birth_year=1985, consent_data=True)["id"]
        karim = centre.staff.add("Karim Haddad", "staff", "1357")
    exchange(reception, tablet)
    with Centre.open(tablet) as centre:
        visit = centre.visits.check_in("accueil", member_id=other)["id"]
    with Centre.open(reception) as centre:
        centre.duplicates.merge(kept, other, karim)
    exchange(reception, tablet, reception, tablet)
    for kiosk in (reception, tablet):
        assert rows(kiosk, f"SELECT member_id FROM visits WHERE id = '{visit}'") == [(kept,)]
