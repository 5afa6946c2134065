"""Two kiosks of one centre replicating their members through a real hub's
relay (kiosk/core/replication.py, kiosk.syncing.replicate_once)."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlalchemy as sa

from federation import centres, store
from kiosk import syncing
from kiosk.core import replication
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store

pytest_plugins = ["tests.conftest_hub"]


def enrolled_kiosk(hub, path, code: str) -> str:
    """A kiosk database enrolled at ``hub`` with ``code``, the real way."""
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(path) as kiosk:
        syncing.save_enrolment(Settings(kiosk), hub.url, answer)
    return str(path)


def join(path_from: str, path_to: str) -> None:
    """What `kiosk join` will do: the newcomer (enrolled, so set up as a
    first device) takes the centre's keyring, and each knows the other's
    verify key."""
    with Store.open(path_from) as first, Store.open(path_to) as second:
        device_id = replication.device_id(second)
        with second.transaction():
            second.conn.execute("DELETE FROM replication_device")
        replication.set_up(second, keyring=replication.keyring(first), device_id=device_id)
        replication.add_peer(second, replication.device_id(first), bytes(replication.keys(first).verify_key))
        replication.add_peer(first, device_id, bytes(replication.keys(second).verify_key))


def second_kiosk(hub, centre_id: str, path) -> str:
    engine = store.create_engine(hub.db_url)
    with store.writer(engine) as conn, conn.begin():
        code = centres.new_code(conn, centre_id)
    engine.dispose()
    return enrolled_kiosk(hub, path, code)


@pytest.fixture
def pair(shared_hub, tmp_path):
    """Two kiosks of one centre: the reception (the centre's first device) and a tablet."""
    centre_id, code = shared_hub.add_centre("Centre social Les Tilleuls")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = second_kiosk(shared_hub, centre_id, tmp_path / "tablet.db")
    join(reception, tablet)
    return reception, tablet


def names_in(path: str) -> str:
    """Every text value of every table of a kiosk database, as one string."""
    conn = sqlite3.connect(path)
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = []
    for table in tables:
        for row in conn.execute(f'SELECT * FROM "{table}"'):
            found.extend(str(value) for value in row if isinstance(value, str | bytes))
    conn.close()
    return "\n".join(found)


def test_a_member_registered_at_reception_is_known_to_the_tablet(pair):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        aicha = centre.members.register(
            "Aïcha", "Benali", birth_year=1985, phone="06 12 34 56 78", consent_data=True
        )
    sent = syncing.replicate_once(reception)
    assert sent["sent"] == 1 and sent["received"] == 0
    got = syncing.replicate_once(tablet)
    assert got["received"] == 1 and got["members"] == 1 and got["refused"] == 0
    with Centre.open(tablet) as centre:
        found = centre.members.search("aicha ben")
        assert [m["id"] for m in found] == [aicha["id"]]
        member = centre.members.get(aicha["id"])
        assert (member["phone"], member["card_code"], member["birth_year"]) == (
            "+33612345678",
            aicha["card_code"],
            1985,
        )
        # the tablet told the hub nothing about her: the reception did
        assert centre.store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_edits_on_two_devices_both_arrive(pair):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        member_id = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        centre.members.update(member_id, phone="07 00 00 00 01")
    with Centre.open(reception) as centre:
        centre.members.update(member_id, last_name="Benali-Martin")
    for kiosk in (tablet, reception, tablet):
        syncing.replicate_once(kiosk)
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            member = centre.members.get(member_id)
            assert (member["last_name"], member["phone"]) == ("Benali-Martin", "+33700000001")
            assert [m["id"] for m in centre.members.search("benali-martin")] == [member_id]


def test_an_erasure_on_one_device_erases_everywhere_and_leaves_no_name(pair):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        member_id = centre.members.register("Zoubida", "Quennehen", consent_data=True)["id"]
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        centre.members.update(member_id, phone="07 00 00 00 01")  # an edit the erasure must beat
    with Centre.open(reception) as centre:
        centre.privacy.erase(member_id, None)
    for kiosk in (reception, tablet, reception):
        syncing.replicate_once(kiosk)
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            row = centre.store.one("SELECT * FROM members WHERE id = ?", (member_id,))
            assert row["erased_at"] is not None and row["first_name"] is None and row["phone"] is None
            assert centre.members.search("zoubida") == []
        held = names_in(kiosk)
        assert "Zoubida" not in held and "Quennehen" not in held and "0700000001" not in held
    with Store.open(tablet) as kiosk:
        # the tablet did not tell the hub again: the reception did
        assert (
            kiosk.conn.execute("SELECT count(*) FROM outbox WHERE type = 'member.erased'").fetchone()[0] == 0
        )


def test_a_tampered_blob_is_refused_reported_and_never_applied(pair, shared_hub):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        centre.members.register("Aïcha", "Benali", consent_data=True)
    with Store.open(reception) as kiosk:
        replication.seal_pending(kiosk, Settings(kiosk).get("centre_id"))
        ((seq, blob),) = replication.outgoing(kiosk)
        token = Settings(kiosk).get("device_token")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    from sync import relay_client

    assert relay_client.upload(shared_hub.url, token, tampered)["duplicate"] is False
    got = syncing.replicate_once(tablet)
    assert got["refused"] == 1 and got["members"] == 0
    with Store.open(tablet) as kiosk:
        assert kiosk.conn.execute("SELECT count(*) FROM members").fetchone()[0] == 0
        (refusal,) = replication.refused(kiosk)
        assert refusal["seq"] == seq and "TamperedBlob" in refusal["reason"]
    # not asked for again at the next exchange
    assert syncing.replicate_once(tablet)["refused"] == 0
    # staff see it in « À vérifier », and say they have seen it
    with Centre.open(tablet) as centre:
        pending = dict(centre.review.pending())
        (kind,) = [k for k in pending if k.code == "replication_refused"]
        (item,) = pending[kind]
        assert "refusées" in item.text()
        staff = centre.staff.add("Nadia Ferhat", "staff", "2468")
        centre.review.confirm("replication_refused", item.item_id, staff)
        assert all(k.code != "replication_refused" for k, _items in centre.review.pending())


def test_a_blob_replayed_by_the_relay_is_refused_and_reported(pair, shared_hub):
    reception, tablet = pair
    with Centre.open(reception) as centre:
        member_id = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
    with Store.open(reception) as kiosk:
        replication.seal_pending(kiosk, Settings(kiosk).get("centre_id"))
        ((_seq, first_blob),) = replication.outgoing(kiosk)
        reception_id = replication.device_id(kiosk)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(reception) as centre:
        centre.members.update(member_id, phone="07 00 00 00 01")
    syncing.replicate_once(reception)
    # a hostile relay hands the reception's first blob out again, as a new one
    engine = store.create_engine(shared_hub.db_url)
    with store.writer(engine) as conn, conn.begin():
        centre_id = conn.execute(
            sa.select(store.devices.c.centre_id).where(store.devices.c.id == reception_id)
        ).scalar_one()
        conn.execute(
            store.relay_blobs.insert().values(
                centre_id=centre_id,
                device_id=reception_id,
                device_seq=1000,
                size=len(first_blob),
                sha256="0" * 64,
                blob=first_blob,
                received_at="2026-12-01T08:00:00.000Z",
            )
        )
    engine.dispose()
    got = syncing.replicate_once(tablet)
    assert got["received"] == 1 and got["refused"] == 1
    with Store.open(tablet) as kiosk:
        assert "ReplayedBlob" in replication.refused(kiosk)[0]["reason"]
    with Centre.open(tablet) as centre:
        assert centre.members.get(member_id)["phone"] == "+33700000001"  # the later edit stands


def test_an_upgraded_kiosk_is_its_centre_s_first_device_with_nothing_lost(shared_hub, tmp_path):
    """A kiosk enrolled before replication existed (schema 10, no device id
    kept): the upgrade makes it its centre's first device, and its members
    reach a device that joins."""
    from kiosk.core import migrations

    centre_id, code = shared_hub.add_centre("Centre")
    answer = syncing.enrol(shared_hub.url, code, "Borne")
    old = str(tmp_path / "old.db")
    conn = sqlite3.connect(old)
    migrations.migrate(conn, target=10)
    settings = {"hub_url": shared_hub.url, "device_token": answer["device_token"], "centre_id": centre_id}
    conn.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?)", [(k, f'"{v}"') for k, v in settings.items()]
    )
    conn.execute(
        "INSERT INTO members (id, first_name, last_name, consent_data, card_code, created_at, updated_at) "
        "VALUES ('0190a000-0000-7000-8000-000000000001', 'Aïcha', 'Benali', 1, 'K7QM3XPD', "
        "'2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')"
    )
    conn.commit()
    conn.close()
    with Store.open(old) as kiosk:  # the upgrade
        assert replication.enabled(kiosk.conn) and replication.device_id(kiosk) is None
    tablet = second_kiosk(shared_hub, centre_id, tmp_path / "tablet.db")
    with Store.open(old) as kiosk:  # the upgraded kiosk has not learnt its id yet: join by hand
        replication.set_device_id(kiosk, answer["device_id"])
    join(old, tablet)
    assert syncing.replicate_once(old)["sent"] == 1
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        member = centre.members.get("0190a000-0000-7000-8000-000000000001")
        assert (member["first_name"], member["card_code"]) == ("Aïcha", "K7QM3XPD")


def test_an_upgraded_kiosk_learns_its_id_at_the_hub(shared_hub, tmp_path):
    centre_id, code = shared_hub.add_centre("Centre")
    path = enrolled_kiosk(shared_hub, tmp_path / "kiosk.db", code)
    with Store.open(path) as kiosk:
        expected = replication.device_id(kiosk)
        kiosk.conn.execute("UPDATE replication_device SET device_id = NULL")
    syncing.replicate_once(path)
    with Store.open(path) as kiosk:
        assert replication.device_id(kiosk) == expected


def test_the_first_device_s_members_from_before_replication_reach_a_joining_device(shared_hub, tmp_path):
    centre_id, code = shared_hub.add_centre("Centre")
    reception = str(tmp_path / "reception.db")
    with Centre.open(reception) as centre:  # members registered before the kiosk replicated
        before = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        erased = centre.members.register("Zoubida", "Quennehen", consent_data=True)["id"]
        centre.privacy.erase(erased, None)
        from datetime import UTC, datetime, timedelta

        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        workshop = centre.workshops.create_workshop("Couture", "autre")["id"]
        session = centre.workshops.add_session(workshop, start, start + timedelta(hours=2), 4)["id"]
        centre.workshops.register(session, before)
        assert centre.store.conn.execute("SELECT count(*) FROM replication_log").fetchone()[0] == 0
    enrolled_kiosk(shared_hub, reception, code)
    tablet = second_kiosk(shared_hub, centre_id, tmp_path / "tablet.db")
    join(reception, tablet)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        assert centre.members.get(before)["first_name"] == "Aïcha"
        assert [(r["member_id"], r["status"]) for r in centre.workshops.registrations(session)] == [
            (before, "booked")
        ]
        assert centre.store.one("SELECT erased_at FROM members WHERE id = ?", (erased,))["erased_at"]
    assert "Quennehen" not in names_in(tablet)


def invited(inviter: str, path, label: str) -> str:
    """A new device joining through ``inviter``'s invite, the check word confirmed."""
    import threading

    made = syncing.invite(inviter)
    words: list[str] = []
    ended: dict = {}

    def joining() -> None:
        ended.update(syncing.join(str(path), made["invite"], label, wait_s=60, on_check_word=words.append))

    thread = threading.Thread(target=joining)
    thread.start()
    for _ in range(600):
        if words or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert words, "the joining device showed no check word"
    assert syncing.confirm_invite(inviter, words[0])["check_word"] == words[0]
    thread.join(60)
    assert ended["device_id"]
    return str(path)


def test_a_third_device_added_by_one_is_known_to_the_other(shared_hub, tmp_path):
    _centre_id, code = shared_hub.add_centre("Centre à trois appareils")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    with Centre.open(reception) as centre:
        centre.members.register("Aïcha", "Benali", consent_data=True)
    tablet = invited(reception, tmp_path / "tablet.db", "Tablette")
    laptop = invited(tablet, tmp_path / "laptop.db", "Portable")  # the tablet invites, not the reception
    with Centre.open(laptop) as centre:
        assert [m["first_name"] for m in centre.members.search("aicha")] == ["Aïcha"]
        zoe = centre.members.register("Zoé", "Martin", consent_data=True)["id"]
    syncing.replicate_once(laptop)
    # the reception never met the laptop: it learnt of it from the tablet's blobs
    got = syncing.replicate_once(reception)
    assert got["refused"] == 0
    with Centre.open(reception) as centre:
        assert centre.members.get(zoe)["first_name"] == "Zoé"


def test_a_card_code_given_on_both_devices_at_once_does_not_stop_the_member(pair):
    reception, tablet = pair
    with Centre.open(tablet) as centre:
        here = centre.members.register("Zoé", "Martin", consent_data=True)
    with Centre.open(reception) as centre:
        there = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        # as if the reception had drawn the same random code as the tablet
        centre.store.conn.execute("UPDATE members SET card_code = ? WHERE id = ?", (here["card_code"], there))
        with centre.store.transaction():
            replication.record_member(centre.store, {"id": there, "card_code": here["card_code"]})
    syncing.replicate_once(reception)
    assert syncing.replicate_once(tablet)["members"] == 1
    with Centre.open(tablet) as centre:
        assert centre.members.get(there)["first_name"] == "Aïcha"
        assert centre.members.by_card(here["card_code"])["id"] == here["id"]


def test_workshops_and_sessions_reach_the_other_device_and_edits_come_back(pair):
    from datetime import UTC, datetime, timedelta

    reception, tablet = pair
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with Centre.open(reception) as centre:
        workshop = centre.workshops.create_workshop("Couture", "autre", place="Salle 2")
        session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 8)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        seen = centre.workshops.session(session["id"])
        assert (seen["title"], seen["capacity"], seen["starts_at"]) == ("Couture", 8, session["starts_at"])
        centre.workshops.update_session(session["id"], capacity=12)
    with Centre.open(reception) as centre:
        centre.workshops.update_workshop(workshop["id"], title="Couture et retouches")
    for kiosk in (tablet, reception, tablet):
        syncing.replicate_once(kiosk)
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            seen = centre.workshops.session(session["id"])
            assert (seen["title"], seen["capacity"]) == ("Couture et retouches", 12)
    with Centre.open(reception) as centre:
        centre.workshops.cancel_session(session["id"])
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        assert centre.workshops.session(session["id"])["cancelled_at"] is not None


def test_the_last_seat_given_on_both_devices_goes_to_the_earliest_and_staff_see_the_other(pair):
    from datetime import UTC, datetime, timedelta

    reception, tablet = pair
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with Centre.open(reception) as centre:
        session = centre.workshops.add_session(
            centre.workshops.create_workshop("Couture", "autre")["id"], start, start + timedelta(hours=2), 1
        )["id"]
        aicha = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        zoe = centre.members.register("Zoé", "Martin", consent_data=True)["id"]
        waiting = centre.members.register("Paul", "Leroy", consent_data=True)["id"]
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    # apart: each device gives the one seat left
    with Centre.open(reception) as centre:
        assert centre.workshops.register(session, aicha)["status"] == "booked"
        assert centre.workshops.register(session, waiting)["status"] == "waitlisted"
    with Centre.open(tablet) as centre:
        assert centre.workshops.register(session, zoe)["status"] == "booked"
    for kiosk in (reception, tablet, reception):
        syncing.replicate_once(kiosk)
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            people = {r["member_id"]: r["status"] for r in centre.workshops.registrations(session)}
            assert people == {aicha: "booked", zoe: "waitlisted", waiting: "waitlisted"}
            order = centre.store.conn.execute(
                "SELECT member_id FROM registrations WHERE session_id = ? AND status = 'waitlisted' "
                "ORDER BY queue_seq",
                (session,),
            ).fetchall()
            assert [row[0] for row in order] == [zoe, waiting]  # she goes first on the waiting list
            pending = dict(centre.review.pending())
            (kind,) = [k for k in pending if k.code == "seat_conflict"]
            (item,) = pending[kind]
            assert item.text().startswith("Zoé M. : sa place à « Couture »") and "numéro 1" in item.text()
    # the tablet told the hub « booked » for Zoé: it alone says « waitlisted » now, once
    told = {}
    for kiosk in (reception, tablet):
        with Centre.open(kiosk) as centre:
            events = [
                json.loads(body)["data"]
                for (body,) in centre.store.conn.execute(
                    "SELECT body FROM outbox WHERE type = 'registration.changed' ORDER BY seq"
                )
            ]
            told[kiosk] = [event["status"] for event in events if event["member_id"] == zoe]
    assert told[tablet] == ["booked", "waitlisted"]
    assert told[reception] == []
    # told: gone from « À vérifier »
    with Centre.open(tablet) as centre:
        staff = centre.staff.add("Nadia Ferhat", "staff", "2468")
        centre.review.confirm("seat_conflict", item.item_id, staff)
        assert all(k.code != "seat_conflict" for k, _items in centre.review.pending())


def test_the_roll_call_taken_on_the_tablet_reaches_the_reception(pair):
    from datetime import UTC, datetime, timedelta

    reception, tablet = pair
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)  # the roll call is open
    with Centre.open(reception) as centre:
        session = centre.workshops.add_session(
            centre.workshops.create_workshop("Couture", "autre")["id"], start, start + timedelta(hours=2), 5
        )["id"]
        aicha = centre.members.register("Aïcha", "Benali", consent_data=True)["id"]
        centre.workshops.register(session, aicha)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:  # the roll call, in the workshop room
        staff = centre.staff.add("Nadia Ferhat", "staff", "2468")
        centre.workshops.mark_attendance(session, aicha, True, actor=staff)
        centre.workshops.add_walk_in(session, None, actor=staff)
    syncing.replicate_once(tablet)
    syncing.replicate_once(reception)
    with Centre.open(reception) as centre:
        marks = centre.store.query(
            "SELECT member_id, present, walk_in FROM attendance WHERE session_id = ? ORDER BY walk_in",
            (session,),
        )
        assert marks == [
            {"member_id": aicha, "present": 1, "walk_in": 0},
            {"member_id": None, "present": 1, "walk_in": 1},
        ]
    with Centre.open(reception) as centre:  # corrected at reception: absent after all
        staff = centre.staff.add("Karim Haddad", "staff", "1357")
        centre.workshops.mark_attendance(session, aicha, False, actor=staff)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    with Centre.open(tablet) as centre:
        row = centre.store.one("SELECT present FROM attendance WHERE member_id = ?", (aicha,))
        assert row["present"] == 0


def test_status_json_says_where_each_device_stands(shared_hub, tmp_path, capsys):
    from kiosk import cli

    _centre_id, code = shared_hub.add_centre("Centre aux appareils suivis")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = invited(reception, tmp_path / "tablet.db", "Tablette")

    def standing(path: str) -> dict:
        capsys.readouterr()
        assert cli.main(["status", "--db", path, "--json", "--offline"]) == 0
        return json.loads(capsys.readouterr().out)["replication"]

    syncing.replicate_once(reception)
    with Centre.open(reception) as centre:
        centre.members.register("Aïcha", "Benali", consent_data=True)
        centre.members.register("Zoé", "Martin", consent_data=True)
    before = standing(reception)
    assert before["pending"] == 2
    assert before["last_success"] is not None  # the exchange before the two registrations
    # the tablet's join sent its own audit lines already: heard from
    assert [d["label"] for d in before["devices"]] == ["Tablette"]

    syncing.replicate_once(reception)
    assert standing(reception)["pending"] == 0
    with Centre.open(tablet) as centre:
        centre.members.register("Karim", "Haddad", consent_data=True)
    syncing.replicate_once(tablet)
    syncing.replicate_once(reception)
    after = standing(reception)
    assert after["pending"] == 0 and after["last_success"] >= before["last_success"]
    (tablet_seen,) = after["devices"]
    assert tablet_seen["label"] == "Tablette" and tablet_seen["last_seen"] is not None
    tablet_side = standing(tablet)
    assert [d["device_id"] for d in tablet_side["devices"]] == [after["device_id"]]
    assert tablet_side["devices"][0]["last_seen"] is not None


def test_status_json_of_a_device_that_does_not_replicate(tmp_path, capsys):
    from kiosk import cli

    path = str(tmp_path / "alone.db")
    with Centre.open(path):
        pass
    assert cli.main(["status", "--db", path, "--json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out)["replication"] is None


def test_a_joining_device_does_not_send_the_centre_back_as_its_own_changes(shared_hub, tmp_path):
    _centre_id, code = shared_hub.add_centre("Centre sans écho")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    with Centre.open(reception) as centre:
        for first in ("Aïcha", "Zoé", "Karim"):
            centre.members.register(first, "Benali", consent_data=True)
    tablet = invited(reception, tmp_path / "tablet.db", "Tablette")
    conn = sqlite3.connect(tablet)
    try:
        held = dict(conn.execute("SELECT origin, count(*) FROM replication_log GROUP BY origin").fetchall())
        # its own: only the audit lines of its enrolment (the settings it was given)
        own = {t for (t,) in conn.execute("SELECT DISTINCT tbl FROM replication_log WHERE origin = 'local'")}
    finally:
        conn.close()
    assert held.get("remote", 0) >= 3 and own <= {"audit_log"}, (held, own)
    syncing.replicate_once(reception)
    conn = sqlite3.connect(reception)
    try:  # nothing of the centre came back: the tablet's audit lines only
        found = conn.execute("SELECT DISTINCT tbl FROM replication_log WHERE origin = 'remote'")
        came = {table for (table,) in found}
    finally:
        conn.close()
    assert came <= {"audit_log"}, came
