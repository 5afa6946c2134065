"""`federation serve --read-db`: the dashboard's figures come from a real
streaming replica of the hub's PostgreSQL, while the kiosks' batches and
sign-in go to the database itself. Replay on the replica is paused to tell
the two apart: the batches are stored, the dashboard still shows the figures
of before, and catches up when replay resumes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time

import httpx
import psycopg
import pytest

from federation import store, users
from sync import protocol
from tests.conftest_hub import PostgresCluster, run_federation, start_hub
from tests.hub_sample import EMAIL, PASSWORD, sign_in

pytestmark = pytest.mark.postgres

NOVEMBER = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def replica(postgres_cluster):
    """A hot standby of the session's cluster, made with pg_basebackup -R and
    streaming from it; its URL for a database name."""
    standby = PostgresCluster(postgres_cluster.bin_dir)
    standby._run(
        str(postgres_cluster.bin_dir / "pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        str(postgres_cluster.port),
        "-U",
        "postgres",
        "-D",
        str(standby.data),
        "-R",
        "--wal-method=stream",
        "--checkpoint=fast",
    )
    standby.serve("-c hot_standby=on -c max_connections=200")
    yield standby
    subprocess.run(
        [
            *standby.as_user,
            str(standby.bin_dir / "pg_ctl"),
            "-D",
            str(standby.data),
            "-m",
            "immediate",
            "stop",
        ],
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(standby.root, ignore_errors=True)


def send_visits(hub, device: dict, n: int) -> None:
    events = [
        {
            "id": protocol.new_id(),
            "type": "visit.recorded",
            "occurred_at": "2026-11-02T09:30:00.000Z",
            "data": {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "volunteer"},
        }
        for _ in range(n)
    ]
    answer = httpx.post(
        f"{hub.url}/api/v1/batches",
        json={"protocol": protocol.PROTOCOL_VERSION, "events": events},
        headers={"Authorization": f"Bearer {device['device_token']}"},
        timeout=30,
    )
    assert answer.status_code == 200 and len(answer.json()["stored"]) == n, answer.text


def dashboard_visits(client: httpx.Client) -> int:
    answer = client.get(f"/exports/visits-per-week.csv?{NOVEMBER}")
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    return sum(int(row[-1]) for row in rows[1:])


def replayed_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def wait_until(check, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def test_dashboard_reads_its_figures_from_the_read_replica(postgres_cluster, replica, tmp_path):
    database = postgres_cluster.new_database()
    engine = store.open_engine(database)
    users.add_user(engine, EMAIL, PASSWORD)
    engine.dispose()
    replica_url = replica.url(database.rsplit("/", 1)[1])
    wait_until(lambda: _has_table(replica_url, "events"))

    hub = start_hub(database, tmp_path, read_db=replica_url)
    try:
        device = hub.new_device()
        send_visits(hub, device, 12)
        wait_until(lambda: replayed_events(replica_url) == 12)
        with hub.client(follow_redirects=False) as client:
            assert sign_in(client).status_code == 303  # the session is written on the database itself
            assert dashboard_visits(client) == 12

            with psycopg.connect(replica.url(), autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_pause()")
            send_visits(hub, device, 8)  # stored, whatever the replica does
            assert json.loads(run_federation("stats", "--json", db_url=database).stdout)["events_total"] == 20
            assert dashboard_visits(client) == 12  # read on the replica, paused before them

            with psycopg.connect(replica.url(), autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
            wait_until(lambda: replayed_events(replica_url) == 20)
            assert dashboard_visits(client) == 20
    finally:
        hub.stop()


def _has_table(url: str, name: str) -> bool:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
    except psycopg.OperationalError:
        return False
