"""/healthz and /metrics on a real `federation serve` process: health with
and without its database, the ingest figures moving after a real kiosk sync,
and /metrics closed to anyone without the metrics token."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from federation import metrics, store
from kiosk.core.store import Store
from sync import protocol
from tests import helpers
from tests.conftest_hub import PostgresCluster, postgres_bin_dir, run_federation, start_hub

TOKEN = "metrics-" + "k" * 32
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def kiosk(*args: str) -> subprocess.CompletedProcess:
    done = helpers.kiosk(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def add_visits(db_path, n: int) -> None:
    with Store.open(db_path) as kiosk_store, kiosk_store.transaction():
        for _ in range(n):
            kiosk_store.emit(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "volunteer"},
                WHEN,
            )


def scrape(hub) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser:
    {(name, sorted labels): value}."""
    answer = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered_hub(hub_server, monkeypatch):
    """A hub process whose /metrics opens with TOKEN (from its environment,
    as hub.env gives it)."""
    monkeypatch.setenv(metrics.TOKEN_VARIABLE, TOKEN)
    return hub_server()


# ---------------------------------------------------------------- /healthz


def test_healthz_answers_ok_without_a_token_and_nothing_more(hub):
    answer = httpx.get(f"{hub.url}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.postgres
def test_healthz_answers_503_when_postgresql_is_gone_and_200_when_it_is_back(tmp_path):
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb): run scripts/system-deps.sh test")
    # a cluster of its own: the session's is shared by every other test
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    hub = None
    try:
        hub = start_hub(cluster.new_database(), tmp_path)
        assert httpx.get(f"{hub.url}/healthz", timeout=10).status_code == 200
        pg_ctl = str(bin_dir / "pg_ctl")
        cluster._run(pg_ctl, "-D", str(cluster.data), "-m", "immediate", "-w", "stop")

        down = httpx.get(f"{hub.url}/healthz", timeout=30)
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable"}  # no host, port, user or error text
        assert down.headers["retry-after"]
        assert hub.process.poll() is None  # the process itself lives on

        cluster._run(
            pg_ctl,
            "-D",
            str(cluster.data),
            "-l",
            str(cluster.root / "log"),
            "-o",
            f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "-t",
            "60",
            "start",
        )
        assert httpx.get(f"{hub.url}/healthz", timeout=30).json() == {"status": "ok"}
    finally:
        if hub is not None:
            hub.stop()
        cluster.stop()


# ---------------------------------------------------------------- /metrics


def test_metrics_count_a_real_kiosk_sync(metered_hub, db_path):
    hub = metered_hub
    before = scrape(hub)
    assert value(before, "accueil_hub_events_total", outcome="stored") == 0
    assert value(before, "accueil_hub_database_up") == 1

    Store.open(db_path).close()
    centre_id, code = hub.add_centre("Centre social Les Tilleuls")
    kiosk("enrol", "--db", str(db_path), "--hub", hub.url, "--code", code)
    add_visits(db_path, 40)
    synced_at = time.time()
    kiosk("sync", "--db", str(db_path))
    after = scrape(hub)
    accepted = value(after, "accueil_hub_batches_total", outcome="accepted", status="200")
    assert accepted >= 1
    assert value(after, "accueil_hub_events_total", outcome="stored") == 40
    assert value(after, "accueil_hub_events_total", outcome="duplicate") == 0
    assert value(after, "accueil_hub_batch_duration_seconds_count") == accepted
    assert value(after, "accueil_hub_batch_duration_seconds_sum") > 0
    assert value(after, "accueil_hub_batches_in_progress") == 0
    last = value(after, "accueil_hub_centre_last_batch_timestamp_seconds", centre_id=centre_id)
    assert synced_at - 5 <= last <= time.time() + 1
    assert ("accueil_hub_db_pool_connections", (("state", "idle"),)) in after

    # the same events again: the hub holds them, and says so
    kiosk("sync", "--db", str(db_path), "--resend-since", "2026-11-01")
    again = scrape(hub)
    assert value(again, "accueil_hub_events_total", outcome="stored") == 40
    assert value(again, "accueil_hub_events_total", outcome="duplicate") == 40
    assert value(again, "accueil_hub_batches_total", outcome="accepted", status="200") > accepted
    stats = json.loads(run_federation("stats", "--json", db_url=hub.db_url).stdout)
    assert stats["events_total"] == 40


def test_metrics_count_refused_batches_by_status(metered_hub):
    hub = metered_hub
    answer = httpx.post(
        f"{hub.url}/api/v1/batches",
        json={"protocol": protocol.PROTOCOL_VERSION, "events": []},
        headers={"Authorization": "Bearer " + "x" * 40},
        timeout=10,
    )
    assert answer.status_code == 401
    samples = scrape(hub)
    assert value(samples, "accueil_hub_batches_total", outcome="refused", status="401") == 1
    assert value(samples, "accueil_hub_batches_total", outcome="accepted", status="200") == 0


def test_metrics_refused_without_the_token_or_with_another(metered_hub):
    for headers in (
        {},
        {"Authorization": "Bearer " + "w" * 40},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        answer = httpx.get(f"{metered_hub.url}/metrics", headers=headers, timeout=10)
        assert answer.status_code == 401, headers
        assert "accueil_hub" not in answer.text
        assert answer.headers["www-authenticate"] == "Bearer"


def test_metrics_are_off_when_the_hub_has_no_token(hub, monkeypatch):
    answer = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 404
    assert metrics.TOKEN_VARIABLE in answer.json()["error"]


def test_a_short_metrics_token_is_refused_at_start(tmp_path):
    engine = store.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(ValueError, match="at least 16 characters"):
        metrics.HubMetrics(engine, "too-short")
    engine.dispose()


@pytest.mark.slow
def test_several_workers_each_report_the_sum_of_all(hub_server, monkeypatch, tmp_path):
    monkeypatch.setenv(metrics.TOKEN_VARIABLE, TOKEN)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    hub = hub_server(workers=2)
    devices = [hub.new_device(f"Centre {n}") for n in range(6)]
    for n, device in enumerate(devices):
        events = [
            {
                "id": protocol.new_id(),
                "type": "visit.recorded",
                "occurred_at": protocol.utc_iso(WHEN),
                "data": {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "volunteer"},
            }
            for _ in range(n + 1)
        ]
        # a new connection each time: the two workers share the listening socket
        answer = httpx.post(
            f"{hub.url}/api/v1/batches",
            timeout=30,
            json={"protocol": protocol.PROTOCOL_VERSION, "events": events},
            headers={"Authorization": f"Bearer {device['device_token']}"},
        )
        assert answer.status_code == 200, answer.text
    for _ in range(6):  # whichever worker answers
        samples = scrape(hub)
        assert value(samples, "accueil_hub_events_total", outcome="stored") == 21
        assert value(samples, "accueil_hub_batches_total", outcome="accepted", status="200") == 6


def test_a_database_that_hangs_holds_one_thread_however_often_health_is_asked():
    import asyncio
    import threading

    release, calls = threading.Event(), []

    def hanging_ping() -> str:
        calls.append(1)
        release.wait(10)
        return "answered"

    async def main() -> list:
        flight = metrics.SingleFlight()
        probes = [flight.run(hanging_ping, timeout=0.2) for _ in range(20)]
        timed_out = await asyncio.gather(*probes, return_exceptions=True)
        started = len(calls)
        release.set()
        return timed_out + [started, await flight.run(hanging_ping, timeout=5)]

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, asyncio.TimeoutError) for outcome in outcomes[:20])
    assert outcomes[20] == 1  # the twenty probes shared one call
    assert outcomes[21] == "answered"


def test_guessing_the_metrics_token_meets_the_pre_authentication_limit(hub_server, monkeypatch):
    monkeypatch.setenv(metrics.TOKEN_VARIABLE, TOKEN)
    hub = hub_server(pre_auth_rate_limit=3)
    statuses = [
        httpx.get(
            f"{hub.url}/metrics", headers={"Authorization": f"Bearer guess-{n:020d}"}, timeout=10
        ).status_code
        for n in range(5)
    ]
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
