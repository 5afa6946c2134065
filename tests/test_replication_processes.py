"""Three kiosk databases of one centre, a real hub process and the fault
proxy between them, `kiosk sync` processes SIGKILLed at random points of
their exchanges: once everyone comes back, every device holds the same
data, and each pseudonymised event is on the hub exactly once."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk import syncing
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import client
from tests.faultproxy import FaultProxy
from tests.test_key_rotation import join_all, token_of
from tests.test_kiosk_replication import enrolled_kiosk, second_kiosk

pytest_plugins = ["tests.conftest_hub"]

KIOSK = [str(Path(sys.executable).with_name("kiosk"))]
FIRSTS = ["Aïcha", "Bernard", "Chloé", "Driss", "Élodie", "Fatou", "Gaston", "Hélène", "Ismaël", "Jeanne"]
LASTS = ["Benali", "Ollivier", "Dufresne", "Morel", "Nguyen", "Traoré", "Lantier", "Marchand"]


def only_the_hub_s_api(method: str, path: str) -> bool:
    return path.startswith("/api/v1/relay") or path.endswith("/batches")


def sync_process(path: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*KIOSK, "sync", "--db", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def members_of(path: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT id, first_name, last_name, phone, card_code IS NOT NULL, erased_at IS NOT NULL "
            "FROM members ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def log_of(path: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()


def events_made(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def test_three_devices_converge_through_sigkills_and_network_faults(shared_hub, tmp_path):
    rng = random.Random(20261205)
    centre_id, code = shared_hub.add_centre("Centre social Les Tilleuls")
    paths = [enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)]
    paths += [second_kiosk(shared_hub, centre_id, tmp_path / f"{name}.db") for name in ("tablet", "laptop")]
    join_all(paths)
    port = int(shared_hub.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port), delay_s=0.2, applies_to=only_the_hub_s_api) as proxy:
        for path in paths:  # every device goes through the proxy
            with Store.open(path) as kiosk:
                Settings(kiosk).set("hub_url", proxy.url, actor=None)
        proxy.randomize(7, {"pass": 0.8, "reset": 0.07, "drop": 0.08, "cut": 0.05})
        registered: list[tuple[str, str]] = []  # (device path, member id)
        killed, gone = 0, None
        for _round in range(5):
            for path in paths:  # the desks keep working between exchanges
                with Centre.open(path) as centre:
                    for _ in range(rng.randint(1, 3)):
                        member = centre.members.register(
                            rng.choice(FIRSTS), rng.choice(LASTS), consent_data=True
                        )
                        registered.append((path, member["id"]))
                    mine = [m for p, m in registered if p == path and m != gone]
                    centre.members.update(rng.choice(mine), phone=f"06 {rng.randint(10, 99)} 00 00 00")
            if _round == 2:  # an erasure on the tablet, of someone another device registered if it has one
                with Centre.open(paths[1]) as centre:
                    held_here = {row["id"] for row in centre.store.query("SELECT id FROM members")}
                    others = [m for p, m in registered if p != paths[1] and m in held_here]
                    gone = (others or [m for p, m in registered if p == paths[1]])[0]
                    centre.privacy.erase(gone, None)
            running = [sync_process(path) for path in paths]
            for process in rng.sample(running, 2):  # two of the three die mid-exchange
                time.sleep(rng.uniform(0.2, 1.2))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    killed += 1
            for process in running:
                process.wait(timeout=60)
        assert killed >= 4 and proxy.counts["pass"] > 0

        # everyone comes back, the network mended
        proxy.randomize(8, {"pass": 1.0})
        for _ in range(3):
            for path in paths:
                done = subprocess.run(
                    [*KIOSK, "sync", "--db", path], capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, done.stderr

    held = [members_of(path) for path in paths]
    assert held[0] == held[1] == held[2]
    logs = [log_of(path) for path in paths]  # every change, made here or received, once
    assert logs[0] == logs[1] == logs[2]
    assert len(held[0]) == len(registered)
    erased = [row for row in held[0] if row[5]]
    assert [row[0] for row in erased] == [gone] and erased[0][1] is None and erased[0][3] is None
    for path in paths:
        with Store.open(path) as kiosk:
            assert syncing.replication.pending(kiosk) == 0
    # each device's pseudonymised events reached the hub once: the hub's count is the sum
    status = client.hub_status(shared_hub.url, token_of(paths[0]))
    assert status["events_total"] == sum(events_made(path) for path in paths)
    assert status["events_by_type"]["member.created"] == len(registered)
