"""Hub ingest throughput (events/s) at 1, 100 and 1,000 events a batch, on
SQLite and on PostgreSQL, beside a raw INSERT … ON CONFLICT DO NOTHING of the
same rows in the same run.

    python benchmarks/bench_hub_ingest.py [--runs 5] [--skip-postgres]

For each database and batch size it prints the median of several runs of:
  http     POST /api/v1/batches to a real `federation serve` on 127.0.0.1
           (validation, dedupe, projections, commit, answer: end to end)
  ingest   federation.ingest.ingest in-process (no HTTP), one commit a batch
  raw      the driver's executemany INSERT … ON CONFLICT DO NOTHING of the
           same rows into a table of the same shape, one commit a batch
and the ratios http/raw and ingest/raw, and the hub process's CPU time per
event in the http runs (a steadier figure than rates on a shared machine).
A last line compares raw inserts with time-ordered (UUIDv7) keys against
random UUIDv4 keys.

The PostgreSQL cluster is a throwaway one (initdb + pg_ctl in a temp dir, as
the tests start it), with fsync off: its figures compare code paths, they are
not a production server's.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from federation import centres, ingest, store  # noqa: E402
from sync import protocol  # noqa: E402
from tests.conftest_hub import PostgresCluster, postgres_bin_dir, start_hub  # noqa: E402

#: events sent per run, by batch size (a batch of 1 commits per event)
EVENTS_PER_RUN = {1: 300, 100: 5_000, 1000: 20_000}
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def make_events(n: int, random_ids: bool = False) -> list[dict]:
    """Visits and a few members, the mix a centre sends on a normal day."""
    events = []
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        event_id = str(uuid.uuid4()) if random_ids else protocol.new_id()
        if i % 10 == 0:
            events.append(
                protocol.make_event(
                    "member.created",
                    {
                        "member_id": protocol.new_id(),
                        "age_band": "25-54",
                        "gender": "woman",
                        "commune": "Lyon",
                        "neighbourhood": "Les Minguettes",
                        "qpv": True,
                    },
                    at,
                    event_id,
                )
            )
        else:
            events.append(
                protocol.make_event(
                    "visit.recorded",
                    {
                        "visit_id": protocol.new_id(),
                        "member_id": None,
                        "reason": "accueil",
                        "recorded_by": "resident",
                    },
                    at,
                    event_id,
                )
            )
    return events


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------- the three measures


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_http(server, token: str, events: list[dict], size: int) -> tuple[float, float]:
    """(events/s, hub CPU µs per event): the CPU figure holds on a busy machine
    where wall-clock rates mostly measure the other processes."""
    bodies = [
        protocol.batch_from_texts([protocol.canonical_json(e) for e in chunk])
        for chunk in chunks(events, size)
    ]
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    cpu_before = process_cpu_seconds(server.process.pid)
    started = time.perf_counter()
    for body in bodies:
        conn.request("POST", "/api/v1/batches", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"hub answered {response.status}: {answer[:300]!r}")
    elapsed = time.perf_counter() - started
    cpu = process_cpu_seconds(server.process.pid) - cpu_before
    conn.close()
    return len(events) / elapsed, cpu / len(events) * 1e6


def run_ingest(engine, centre_id: str, events: list[dict], size: int) -> float:
    batches = [{"protocol": "1.0", "events": chunk} for chunk in chunks(events, size)]
    started = time.perf_counter()
    for body in batches:
        with store.writer(engine) as conn, conn.begin():
            ingest.ingest(conn, body, centre_id, None, centres.now_iso())
    return len(events) / (time.perf_counter() - started)


RAW_TABLE = sa.Table(
    "bench_raw_events",
    sa.MetaData(),
    sa.Column("centre_id", sa.String(36), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("occurred_at", sa.String(32), nullable=False),
    sa.Column("received_at", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("centre_id", "event_id"),
)
RAW_SQL = (
    "INSERT INTO bench_raw_events (centre_id, event_id, type, occurred_at, received_at, body, content_hash) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (centre_id, event_id) DO NOTHING"
)


def raw_rows(events: list[dict], centre_id: str) -> list[tuple]:
    now = centres.now_iso()
    return [
        (
            centre_id,
            e["id"],
            e["type"],
            e["occurred_at"],
            now,
            protocol.canonical_json(e),
            protocol.content_hash(e),
        )
        for e in events
    ]


def run_raw(engine, centre_id: str, events: list[dict], size: int) -> float:
    """The floor: the driver inserting ready rows, nothing else."""
    rows = raw_rows(events, centre_id)
    sql = RAW_SQL.format(p="?" if engine.dialect.name == "sqlite" else "%s")
    with store.writer(engine) as conn:
        dbapi = conn.connection.dbapi_connection
        started = time.perf_counter()
        for chunk in chunks(rows, size):
            with conn.begin():
                cursor = dbapi.cursor()
                cursor.executemany(sql, chunk)
                cursor.close()
        elapsed = time.perf_counter() - started
    return len(events) / elapsed


# ---------------------------------------------------------------- driver


def measure(label: str, db_url: str, runs: int, log_dir: Path) -> list[tuple]:
    engine = store.open_engine(db_url)
    RAW_TABLE.create(engine, checkfirst=True)
    server = start_hub(db_url, log_dir, rate_limit=0)
    results = []
    try:
        device = server.new_device(f"Bench {label}")
        for size, n in EVENTS_PER_RUN.items():
            figures = {"http": [], "ingest": [], "raw": [], "cpu": []}
            for _ in range(runs):
                rate, cpu = run_http(server, device["device_token"], make_events(n), size)
                figures["http"].append(rate)
                figures["cpu"].append(cpu)
                figures["ingest"].append(run_ingest(engine, device["centre_id"], make_events(n), size))
                figures["raw"].append(run_raw(engine, device["centre_id"], make_events(n), size))
            medians = {k: statistics.median(v) for k, v in figures.items()}
            results.append((label, size, medians))
            print(
                f"{label:<10} batch {size:>5}: http {medians['http']:>9,.0f} ev/s   "
                f"ingest {medians['ingest']:>9,.0f} ev/s   raw {medians['raw']:>9,.0f} ev/s   "
                f"http/raw {medians['http'] / medians['raw']:.2f}   "
                f"ingest/raw {medians['ingest'] / medians['raw']:.2f}   "
                f"hub CPU {medians['cpu']:.0f} µs/event",
                flush=True,
            )
        ordered = statistics.median(
            run_raw(engine, device["centre_id"], make_events(20_000), 1000) for _ in range(runs)
        )
        shuffled = statistics.median(
            run_raw(engine, device["centre_id"], make_events(20_000, random_ids=True), 1000)
            for _ in range(runs)
        )
        print(
            f"{label:<10} raw batch 1000: UUIDv7 keys {ordered:,.0f} ev/s, UUIDv4 keys {shuffled:,.0f} ev/s "
            f"(v4/v7 {shuffled / ordered:.2f})",
            flush=True,
        )
    finally:
        server.stop()
        engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per figure; the median is printed (default 5)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        tmp_path = Path(tmp)
        print(f"hub ingest, median of {args.runs} runs; events per run by batch size: {EVENTS_PER_RUN}")
        measure("sqlite", f"sqlite:///{tmp_path / 'federation.db'}", args.runs, tmp_path)
        bin_dir = postgres_bin_dir()
        if args.skip_postgres or bin_dir is None:
            print("postgresql: skipped" + ("" if args.skip_postgres else " (no initdb found)"))
            return 0
        cluster = PostgresCluster(bin_dir)
        cluster.start()
        try:
            measure("postgresql", cluster.new_database(), args.runs, tmp_path)
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
