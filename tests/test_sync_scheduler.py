"""The background scheduler and the database-held sync lock: real threads, a
real subprocess, real sockets and a real hub process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import client, outbox, protocol
from sync.lock import LOCK_KEY, SyncLock
from sync.scheduler import Scheduler
from tests.faultproxy import FaultProxy
from tests.scripted_hub import ScriptedHub, accept_all

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
FAST = dict(timeout=(1.0, 2.0), attempts=2, backoff=0.01, retries=1)


def add_events(db_path, n: int) -> None:
    with Store.open(db_path) as store, store.transaction():
        for _ in range(n):
            store.emit("member.erased", {"member_id": protocol.new_id()}, WHEN)


def pending(db_path) -> int:
    conn = outbox.connect(str(db_path))
    try:
        return outbox.counts(conn)["pending"]
    finally:
        conn.close()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def kiosk_settings(db_path):
    """How the kiosk app reads its settings in the scheduler's thread."""
    return lambda conn: Settings(Store(conn, str(db_path))).all()


@pytest.fixture
def enrolled(db_path, shared_hub):
    Store.open(db_path).close()
    _centre, code = shared_hub.add_centre("Centre social Bellevue")
    device = client.enrol(shared_hub.url, code, "Borne")
    with Store.open(db_path) as store:
        Settings(store).set("hub_url", shared_hub.url)
        Settings(store).set("device_token", device["device_token"])
    return device


@pytest.fixture
def scheduler_factory():
    started: list[Scheduler] = []

    def make(*args, **kwargs) -> Scheduler:
        scheduler = Scheduler(*args, **kwargs)
        started.append(scheduler)
        return scheduler.start()

    yield make
    for scheduler in started:
        scheduler.stop()


# ---------------------------------------------------------------- scheduler


def test_syncs_at_start_then_every_interval(db_path, shared_hub, enrolled, scheduler_factory):
    add_events(db_path, 30)
    scheduler = scheduler_factory(
        db_path, kiosk_settings(db_path), interval=0.5, first_delay=0, push_options=FAST
    )
    wait_for(lambda: scheduler.status()["syncs"] >= 1 and pending(db_path) == 0)
    first_round = scheduler.status()["syncs"]
    add_events(db_path, 20)  # nobody presses anything: a later round sends them
    wait_for(lambda: pending(db_path) == 0)
    wait_for(lambda: scheduler.status()["syncs"] > first_round)
    assert scheduler.status()["last_result"]["ok"]
    assert client.hub_status(shared_hub.url, enrolled["device_token"])["events_total"] == 50


def test_trigger_syncs_now_and_never_blocks_the_caller(db_path, shared_hub, enrolled, scheduler_factory):
    add_events(db_path, 10)
    scheduler = scheduler_factory(
        db_path, kiosk_settings(db_path), interval=3600, first_delay=3600, push_options=FAST
    )
    time.sleep(0.2)
    assert pending(db_path) == 10  # the first round is an hour away
    started = time.perf_counter()
    scheduler.trigger()
    assert time.perf_counter() - started < 0.05
    wait_for(lambda: pending(db_path) == 0)


def test_offline_it_probes_health_and_syncs_as_soon_as_the_hub_is_back(db_path, shared_hub, enrolled):
    port = int(shared_hub.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port)) as proxy:
        proxy.plan([], default="reset")  # the box is down
        with Store.open(db_path) as store:
            Settings(store).set("hub_url", proxy.url)
        add_events(db_path, 25)
        states = []
        scheduler = Scheduler(
            db_path,
            kiosk_settings(db_path),
            interval=3600,
            offline_interval=0.2,
            first_delay=0,
            push_options=FAST,
        )
        scheduler.add_listener(lambda status: states.append(status["state"]))
        scheduler.start()
        try:
            wait_for(lambda: "offline" in states)
            wait_for(lambda: proxy.counts["reset"] >= 4)  # /health probes, cheap and frequent
            assert pending(db_path) == 25
            proxy.plan([], default="pass")  # the box is back
            wait_for(lambda: pending(db_path) == 0)  # long before the 1-hour interval
        finally:
            scheduler.stop(timeout=30)
    assert states[-1] == "stopped" and "idle" in states
    assert client.hub_status(shared_hub.url, enrolled["device_token"])["events_total"] == 25


def test_listeners_hear_progress_and_the_plain_words_result(db_path, scheduler_factory):
    Store.open(db_path).close()
    add_events(db_path, 35)
    hub = ScriptedHub(accept_all)
    heard = []
    try:
        scheduler = Scheduler(
            db_path,
            lambda conn: {"hub_url": hub.url, "device_token": "t"},
            interval=3600,
            first_delay=0,
            push_options={**FAST, "batch_size": 10},
        )
        scheduler.add_listener(lambda status: heard.append(status))
        scheduler.start()
        wait_for(lambda: any(s["state"] == "idle" for s in heard))
        scheduler.stop()
    finally:
        hub.close()
    progress = [s["progress"] for s in heard if s["state"] == "syncing"]
    assert progress[-1] == (35, 35) and (10, 35) in progress
    done = next(s for s in heard if s["state"] == "idle")
    assert done["message_fr"] == "35 données envoyées au hub."


def test_not_enrolled_is_a_state_not_a_crash(db_path, scheduler_factory):
    Store.open(db_path).close()
    scheduler = scheduler_factory(db_path, kiosk_settings(db_path), interval=3600, first_delay=0)
    wait_for(lambda: scheduler.status()["state"] == client.NOT_ENROLLED)
    assert "appairée" in scheduler.status()["message_fr"] and scheduler.running


def test_stop_ends_a_long_push_between_batches(db_path):
    Store.open(db_path).close()
    add_events(db_path, 50)

    def slow(batch):
        time.sleep(0.1)
        return accept_all(batch)

    hub = ScriptedHub(slow)
    try:
        scheduler = Scheduler(
            db_path,
            lambda conn: {"hub_url": hub.url, "device_token": "t"},
            first_delay=0,
            push_options={**FAST, "batch_size": 5},
        ).start()
        wait_for(lambda: len(hub.batches) >= 2)
        started = time.monotonic()
        scheduler.stop()
        assert time.monotonic() - started < 2 and not scheduler.running
    finally:
        hub.close()
    left = pending(db_path)
    assert 0 < left < 50 and left % 5 == 0  # whole batches only
    conn = outbox.connect(str(db_path))
    assert outbox.get_state(conn, LOCK_KEY) is None  # the lock was released
    conn.close()


def test_threads_and_a_process_never_sync_at_once(db_path):
    Store.open(db_path).close()
    add_events(db_path, 400)

    def slow(batch):
        time.sleep(0.02)
        return accept_all(batch)

    hub = ScriptedHub(slow)
    with Store.open(db_path) as store:
        Settings(store).set("hub_url", hub.url)
        Settings(store).set("device_token", "t" * 40)
    try:
        cli = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "sync", "--db", str(db_path), "--batch-size", "10"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # a token each: the hub tells the syncers apart (each may have two batches in flight)
        threads = [
            threading.Thread(
                target=client.push,
                args=(str(db_path), hub.url, f"thread-{n}"),
                kwargs={**FAST, "batch_size": 10},
            )
            for n in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cli.wait(timeout=60)
        # whoever lost the race for the lock sees "busy"; one more push ends the queue
        client.push(str(db_path), hub.url, "t", **FAST)
    finally:
        hub.close()
    assert hub.max_tokens_in_flight == 1  # never two syncers at once
    assert hub.max_in_flight <= client.IN_FLIGHT
    sent = [event["id"] for batch in hub.batches for event in batch["batch"]["events"]]
    assert len(sent) == len(set(sent)) == 400  # no batch was ever sent twice
    assert pending(db_path) == 0


# ---------------------------------------------------------------- the lock

HOLDER = """
import sys, time
from sync import outbox
from sync.lock import SyncLock
conn = outbox.connect(sys.argv[1])
lock = SyncLock(conn, ttl=3600)
print("held" if lock.acquire() else "busy", flush=True)
time.sleep(60)
"""


def test_the_lock_is_exclusive_across_processes_and_taken_over_when_its_holder_dies(db_path):
    Store.open(db_path).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        conn = outbox.connect(str(db_path))
        mine = SyncLock(conn)
        assert not mine.acquire()
        assert mine.holder()["pid"] == holder.pid
        holder.kill()  # SIGKILL: it never releases
        holder.wait()
        assert mine.acquire()  # its process is gone: no need to wait an hour
        mine.release()
        assert outbox.get_state(conn, LOCK_KEY) is None
        conn.close()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_held_elsewhere_is_respected_until_it_expires(db_path):
    Store.open(db_path).close()
    conn = outbox.connect(str(db_path))
    now = [1000.0]
    other_machine = {"token": "x", "host": "another-kiosk", "pid": 1, "expires": 1060.0}
    conn.execute("BEGIN IMMEDIATE")
    outbox.set_state(conn, LOCK_KEY, json.dumps(other_machine))
    conn.execute("COMMIT")
    lock = SyncLock(conn, clock=lambda: now[0])
    assert not lock.acquire()
    now[0] = 1061.0
    assert lock.acquire()
    conn.close()


def test_a_holder_whose_lock_was_taken_over_knows_it(db_path):
    Store.open(db_path).close()
    conn = outbox.connect(str(db_path))
    now = [0.0]
    first = SyncLock(conn, ttl=10, clock=lambda: now[0])
    second = SyncLock(conn, ttl=10, clock=lambda: now[0])
    assert first.acquire() and not second.acquire()
    assert first.refresh()
    now[0] = 11.0
    assert second.acquire()
    assert not first.refresh() and not first.held
    first.release()  # must not release someone else's lock
    assert json.loads(outbox.get_state(conn, LOCK_KEY))["token"] == second.token
    conn.close()


def test_an_unexpected_failure_is_a_state_and_the_thread_lives_on(db_path, scheduler_factory):
    Store.open(db_path).close()

    def broken_settings(conn):
        conn.execute("DROP TABLE IF EXISTS outbox")  # a damaged database: push itself fails
        return {"hub_url": "http://127.0.0.1:9", "device_token": "t"}

    scheduler = scheduler_factory(db_path, broken_settings, first_delay=0, offline_interval=0.1)
    wait_for(lambda: scheduler.status()["state"] == "error")
    assert "support" in scheduler.status()["message_fr"] and scheduler.running
