"""Soak: hundreds of pushes under random faults, with syncing processes
killed by SIGKILL mid-batch and the desk recording all along. It must end
with the hub holding every event exactly once and nothing pending."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from sync import client, outbox, protocol
from tests.faultproxy import FaultProxy

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PUSHES = 250
KILLS = 6
OPTIONS = dict(timeout=(1.0, 0.8), attempts=2, backoff=0.01, retries=1)
WEIGHTS = {
    "pass": 0.55,
    "reset": 0.08,
    "swallow": 0.03,
    "delay": 0.1,
    "cut": 0.08,
    "drop": 0.1,
    "portal": 0.06,
}

SYNCER = """
import sys
from sync import client
db, url, token = sys.argv[1:4]
def progress(sent, total):
    print(sent, total, flush=True)
while True:
    client.push(db, url, token, batch_size=10, progress=progress, timeout=(1.0, 0.8),
                attempts=2, backoff=0.01, retries=1)
"""


def record(store, rng: random.Random) -> int:
    n = rng.randint(0, 25)
    with store.transaction():
        for _ in range(n):
            store.emit(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "resident"},
                WHEN,
            )
    return n


def kill_a_syncer_mid_batch(db_path, proxy, token, rng: random.Random) -> bool:
    """Start `push` in a child process and SIGKILL it once it is sending.
    Returns whether it had started a batch when killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", SYNCER, str(db_path), proxy.url, token],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        started = child.stdout.readline() != ""  # progress(0, total): the first batch is leaving
        time.sleep(rng.uniform(0, 0.05))
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    return started


@pytest.mark.slow
def test_soak_random_faults_and_killed_syncers_end_with_each_event_once(store, db_path, hub):
    rng = random.Random(20261126)
    device = hub.new_device("Centre social du Chemin Vert")
    token = device["device_token"]
    port = int(hub.url.rsplit(":", 1)[1])
    recorded = record(store, rng) + 200
    with store.transaction():
        for _ in range(200):
            store.emit("member.erased", {"member_id": protocol.new_id()}, WHEN)
    kill_rounds = set(rng.sample(range(10, PUSHES - 10), KILLS))
    kills_mid_batch = 0
    outcomes: dict[str, int] = {}
    with FaultProxy(
        ("127.0.0.1", port), delay_s=0.2, applies_to=lambda method, path: path.endswith("/batches")
    ) as proxy:
        proxy.randomize(seed=7, weights=WEIGHTS)
        for round_ in range(PUSHES):
            recorded += record(store, rng)
            if round_ in kill_rounds:
                kills_mid_batch += kill_a_syncer_mid_batch(db_path, proxy, token, rng)
                continue
            result = client.push(
                store.conn, proxy.url, token, batch_size=rng.choice([5, 10, 25, 50]), **OPTIONS
            )
            outcomes[result.error or "ok"] = outcomes.get(result.error or "ok", 0) + 1
        proxy.plan([], default="pass")
        for _ in range(5):  # the network is back: drain
            if client.push(store.conn, proxy.url, token, **OPTIONS).pending == 0:
                break
    assert kills_mid_batch >= KILLS - 1
    assert all(proxy.counts[fault] > 0 for fault in WEIGHTS), proxy.counts
    assert outcomes.get("ok", 0) > 50 and len(outcomes) > 1, outcomes  # faults did fail some pushes

    counts = outbox.counts(store.conn)
    assert counts["pending"] == 0 and counts["parked"] == 0
    assert counts["recorded"] == counts["sent"] == recorded
    status = client.hub_status(hub.url, token)
    assert status["events_total"] == recorded
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as hub_db:
        rows, distinct = hub_db.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM events WHERE centre_id = ?",
            (device["centre_id"],),
        ).fetchone()
    assert rows == distinct == recorded
    kiosk_ids = {row[0] for row in store.conn.execute("SELECT event_id FROM outbox")}
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as hub_db:
        hub_ids = {
            row[0]
            for row in hub_db.execute(
                "SELECT event_id FROM events WHERE centre_id = ?", (device["centre_id"],)
            )
        }
    assert hub_ids == kiosk_ids
