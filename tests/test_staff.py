"""Staff and volunteers: PINs hashed with scrypt, the lockout that survives a
restart, who may manage people, and the audit log."""

from __future__ import annotations

import pytest
from people import snapshot

from kiosk.core.errors import Conflict, InvalidInput, Locked, NotFound
from kiosk.core.staff import Staff, hash_pin, lock_delay
from kiosk.core.store import Store


@pytest.fixture
def staff(store):
    return Staff(store)


@pytest.fixture
def nadia(staff):
    return staff.add("Nadia Ferhat", "staff", "2468")


def wrong(staff, times: int) -> None:
    for _ in range(times):
        with pytest.raises((InvalidInput, Locked)):
            staff.authenticate("0000")


def test_the_right_pin_names_its_owner_and_is_audited(store, staff, nadia):
    karim = staff.add("Karim", "volunteer", "13579", actor=nadia)
    assert staff.authenticate("13579") == karim == {"id": karim["id"], "name": "Karim", "role": "volunteer"}
    assert staff.authenticate("2468") == nadia
    log = staff.audit_log()
    assert [(e["action"], e["actor_name"]) for e in log[:2]] == [
        ("staff.login", "Nadia Ferhat"),
        ("staff.login", "Karim"),
    ]


def test_pins_are_stored_as_salted_scrypt_hashes(store, staff):
    staff.add("Nadia", "staff", "2468")
    row = store.one("SELECT pin_salt, pin_hash, pin_params FROM staff")
    assert b"2468" not in row["pin_hash"] and len(row["pin_salt"]) == 16
    assert row["pin_params"] == "scrypt:n=16384,r=8,p=1"
    assert hash_pin("2468", row["pin_salt"], row["pin_params"]) == row["pin_hash"]


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "١٢٣٤", 1234, None, " 1234"])
def test_a_pin_is_4_to_8_ascii_digits(store, staff, pin):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        staff.add("Nadia", "staff", pin)
    assert refused.value.field == "pin"
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "field, name, role",
    [
        ("name", "", "staff"),
        ("name", "N" * 101, "staff"),
        ("name", "Na\ndia", "staff"),
        ("role", "Nadia", "admin"),
    ],
)
def test_bad_names_and_roles_are_refused(store, staff, field, name, role):
    with pytest.raises(InvalidInput) as refused:
        staff.add(name, role, "2468")
    assert refused.value.field == field
    assert store.query("SELECT * FROM staff") == []


def test_two_active_people_cannot_share_a_pin(store, staff, nadia):
    before = snapshot(store)
    with pytest.raises(Conflict) as refused:
        staff.add("Karim", "volunteer", "2468")
    assert refused.value.field == "pin"
    assert snapshot(store) == before
    # once Nadia is gone her PIN is free again
    other = staff.add("Claire", "staff", "9999")
    staff.deactivate(nadia["id"], actor=other)
    assert staff.add("Karim", "volunteer", "2468")["name"] == "Karim"


def test_a_wrong_pin_is_refused_and_five_in_a_row_lock_the_kiosk(staff, nadia):
    for _ in range(4):
        with pytest.raises(InvalidInput) as refused:
            staff.authenticate("0000")
        assert refused.value.field == "pin"
    with pytest.raises(Locked) as locked:
        staff.authenticate("0000")
    assert locked.value.retry_after == 30
    # while locked even the right PIN is refused: otherwise the lock would not slow a search
    with pytest.raises(Locked):
        staff.authenticate("2468")


def test_the_lock_lifts_after_its_delay_and_a_right_pin_resets_it(staff, nadia, clock):
    wrong(staff, 5)
    clock.advance(seconds=29)
    assert 0 < staff.lock_remaining() <= 1
    clock.advance(seconds=1)
    assert staff.authenticate("2468") == nadia
    wrong(staff, 5)  # back to a 30 s lock, not 60
    assert staff.lock_remaining() == 30


def test_the_delay_doubles_with_each_lockout_in_a_row(staff, nadia, clock):
    delays = []
    for _ in range(4):
        wrong(staff, 5)
        delays.append(staff.lock_remaining())
        clock.advance(seconds=delays[-1])
    assert delays == [30, 60, 120, 240]
    assert lock_delay(20) == 3600  # capped at an hour


def test_a_restart_does_not_reset_the_lockout(db_path, clock):
    with Store.open(db_path, clock=clock) as store:
        Staff(store).add("Nadia", "staff", "2468")
        wrong(Staff(store), 5)
    with Store.open(db_path, clock=clock) as store:
        with pytest.raises(Locked):
            Staff(store).authenticate("2468")
    # four wrong PINs also survive: the fifth after a restart still locks
    clock.advance(seconds=30)
    with Store.open(db_path, clock=clock) as store:
        wrong(Staff(store), 4)
    with Store.open(db_path, clock=clock) as store:
        with pytest.raises(Locked):
            Staff(store).authenticate("0000")


def test_a_deactivated_person_cannot_log_in(staff, nadia):
    claire = staff.add("Claire", "staff", "9999")
    staff.deactivate(nadia["id"], actor=claire)
    with pytest.raises(InvalidInput):
        staff.authenticate("2468")
    assert [(p["name"], p["active"]) for p in staff.list()] == [("Claire", True), ("Nadia Ferhat", False)]
    assert all("pin_hash" not in p for p in staff.list())


def test_reset_pin_replaces_the_old_one(staff, nadia):
    karim = staff.add("Karim", "volunteer", "1357")
    staff.reset_pin(karim["id"], "8642", actor=nadia)
    assert staff.authenticate("8642") == karim
    with pytest.raises(InvalidInput):
        staff.authenticate("1357")
    with pytest.raises(Conflict) as refused:
        staff.reset_pin(karim["id"], "2468", actor=nadia)
    assert refused.value.field == "new_pin"


def test_a_volunteer_cannot_manage_people(store, staff, nadia):
    karim = staff.add("Karim", "volunteer", "1357")
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        staff.add("Zoé", "volunteer", "5555", actor=karim)
    assert refused.value.field == "actor"
    with pytest.raises(InvalidInput):
        staff.reset_pin(nadia["id"], "5555", actor=karim)
    with pytest.raises(InvalidInput):
        staff.deactivate(nadia["id"], actor=karim)
    assert snapshot(store) == before


def test_the_last_active_staff_member_cannot_be_deactivated(store, staff, nadia):
    before = snapshot(store)
    with pytest.raises(Conflict):
        staff.deactivate(nadia["id"], actor=nadia)
    with pytest.raises(NotFound):
        staff.deactivate("0190a0a0-0000-7000-8000-00000000dead", actor=nadia)
    assert snapshot(store) == before


def test_audit_log_is_newest_first_and_pages(staff, nadia):
    staff.add("Karim", "volunteer", "1357", actor=nadia)
    staff.add("Zoé", "volunteer", "5555", actor=nadia)
    log = staff.audit_log()
    assert [e["action"] for e in log] == ["staff.add"] * 3
    assert [e["detail"]["name"] for e in log] == ["Zoé", "Karim", "Nadia Ferhat"]
    assert log[0]["actor_id"] == nadia["id"] and log[2]["actor_id"] is None
    assert [e["detail"]["name"] for e in staff.audit_log(limit=1, offset=1)] == ["Karim"]
    with pytest.raises(InvalidInput) as refused:
        staff.audit_log(limit=0)
    assert refused.value.field == "limit"


def test_a_lockout_is_audited_without_a_name(staff, nadia):
    wrong(staff, 5)
    entry = staff.audit_log(limit=1)[0]
    assert entry["action"] == "staff.pin_locked" and entry["actor_id"] is None
    assert entry["detail"] == {"seconds": 30, "lockouts": 1}


def test_the_last_person_to_log_in_is_tried_first(monkeypatch, staff, nadia):
    import kiosk.core.staff as module

    for number in range(3):
        staff.add(f"Bénévole {number}", "volunteer", f"100{number}")
    staff.authenticate("1002")
    calls = []
    real = module.hash_pin
    monkeypatch.setattr(module, "hash_pin", lambda *a: calls.append(1) or real(*a))
    assert staff.authenticate("1002")["name"] == "Bénévole 2"
    assert len(calls) == 1


def _attempt_at_once(db_path: str, tested_log: str, barrier, pin: str, results) -> None:
    """One PIN attempt from a process of its own, on its own connection,
    released with the others at the same moment; every PIN hash tested is
    logged to ``tested_log``."""
    import os

    from kiosk.core import staff as staff_module

    real_hash = staff_module.hash_pin

    def counting(*args, **kwargs):
        fd = os.open(tested_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
        return real_hash(*args, **kwargs)

    staff_module.hash_pin = counting
    with Store.open(db_path) as store:
        barrier.wait()
        try:
            Staff(store).authenticate(pin)
            results.put("in")
        except Locked:
            results.put("locked")
        except InvalidInput:
            results.put("wrong")


def test_wrong_pins_tried_at_once_from_many_processes_test_no_more_than_the_limit(db_path, tmp_path):
    import multiprocessing

    from kiosk.core.staff import MAX_FAILURES

    with Store.open(db_path) as store:
        Staff(store).add("Nadia Ferhat", "staff", "2468")
    tested_log = str(tmp_path / "tested")
    context = multiprocessing.get_context("fork")
    crowd = 16
    barrier, results = context.Barrier(crowd), context.Queue()
    workers = [
        context.Process(
            target=_attempt_at_once, args=(str(db_path), tested_log, barrier, f"{1000 + n}", results)
        )
        for n in range(crowd)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    with open(tested_log, "rb") as log:
        tested = len(log.read())
    # one person: one hash a PIN tested; the rest found the kiosk locked
    assert tested == MAX_FAILURES
    assert sorted(outcomes) == ["locked"] * (crowd - MAX_FAILURES + 1) + ["wrong"] * (MAX_FAILURES - 1)
    with Store.open(db_path) as store:
        with pytest.raises(Locked):  # the right PIN too waits for the lock to lift
            Staff(store).authenticate("2468")
