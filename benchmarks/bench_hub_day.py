"""A departmental federation's day, compressed: 300 centres syncing every 15
minutes against `federation serve --workers N` on PostgreSQL.

    python benchmarks/bench_hub_day.py [--centres 300] [--events 150]
                                       [--day-seconds 240] [--workers 2]
                                       [--threads 48] [--runs 1] [--burst]

Each centre records --events events in its opening hours (8:30 to 18:30,
Paris), the demo's mix: a demo kiosk (kiosk.core.demo) cloned with fresh ids
for each centre (tests/hub_load.py), --events of its events kept in their
order. Each centre syncs every 15 minutes, at its own minute in the quarter,
all day; a sync sends what was recorded since the last one, as one batch
(gzip, as sync.client does), on a new connection from the centre's own
address (127.1.x.y); a sync with nothing to send sends nothing. The 24
hours are played in --day-seconds (240: a quarter of an hour in 2.5 s, 120
syncs a second in opening hours). --burst plays instead the hub coming
back after a day away: each centre sends its whole day in one batch, all at
the same moment (--threads of them on the wire at once, as many kiosks'
connections as the hub meets at once).

It prints the hub's answer time per batch (from the connection to the last
byte of the answer) at p50, p95, p99 and the worst, against the goal
(p99 < 500 ms), how late the syncs left against their schedule (the
benchmark's own lag: if it grows, the figures measure this process, not the
hub), the busiest second, the CPU an event of the hub's processes and of
PostgreSQL, the time until the last answer, and whether every event is
held exactly once (count by (centre,
event id) on the hub against what was sent).

The PostgreSQL cluster is a throwaway one, as the tests start it (fsync
off): the figures are the hub's processes', not a production disk's.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync import protocol  # noqa: E402
from tests import hub_load  # noqa: E402
from tests.conftest_hub import PostgresCluster, postgres_bin_dir  # noqa: E402

GOAL_P99_MS = 500
DAY = 24 * 3600
SYNC_EVERY = 15 * 60
OPENS, CLOSES = 8.5 * 3600, 18.5 * 3600  # when the desk records, in seconds of the day


@dataclass
class Sync:
    """One centre's sync in the day: when (seconds of the real day), its
    token, and its batch, gzipped, with how many events it carries."""

    at: float
    token: str
    body: bytes
    events: int
    #: the centre's own client address (127.1.x.y: any 127/8 address is this
    #: machine), as each centre's kiosks have theirs: the hub's limits count by address
    address: str


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    lateness_s: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)
    #: from the first sync's moment to the last answer
    seconds: float = 0.0


def day_of_syncs(
    centres: list[tuple[str, str]],
    templates: list[list[str]],
    events: int,
    rng: random.Random,
    burst: bool = False,
) -> tuple[list[Sync], set[tuple[str, str]]]:
    """Every centre's syncs of the day, in time order, and the (centre id,
    event id) of every event they carry. ``burst``: instead, each centre's
    whole day in one batch, all at the day's first moment."""
    syncs, sent = [], set()
    for number, (centre_id, token) in enumerate(centres):
        bodies = hub_load.fresh_ids(templates[number % len(templates)])
        kept = sorted(rng.sample(range(len(bodies)), min(events, len(bodies))))
        day = [bodies[i] for i in kept]
        recorded_at = sorted(rng.uniform(OPENS, CLOSES) for _ in day)
        offset = DAY if burst else rng.uniform(0, SYNC_EVERY)  # a burst: one sync, once all is recorded
        moment, start = offset, 0
        while moment <= DAY:
            end = start
            while end < len(day) and recorded_at[end] < moment:
                end += 1
            if end > start:
                texts = day[start:end]
                body = gzip.compress(protocol.batch_from_texts(texts), compresslevel=1)
                address = f"127.1.{number // 250}.{number % 250 + 1}"
                syncs.append(Sync(0.0 if burst else moment, token, body, len(texts), address))
                sent.update((centre_id, json.loads(text)["id"]) for text in texts)
                start = end
            moment += SYNC_EVERY
    syncs.sort(key=lambda sync: sync.at)
    return syncs, sent


def send(port: int, sync: Sync, scheduled: float, outcome: Outcome, lock: threading.Lock) -> None:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(sync.address, 0))
    try:
        connection.request(
            "POST",
            "/api/v1/batches",
            body=sync.body,
            headers={
                "Authorization": f"Bearer {sync.token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
        )
        response = connection.getresponse()
        answer = response.read()
        elapsed = time.monotonic() - started
    except OSError as error:
        with lock:
            outcome.failures.append(repr(error))
        return
    finally:
        connection.close()
    with lock:
        if response.status != 200:
            outcome.failures.append(f"{response.status}: {answer[:200]!r}")
            return
        figures = json.loads(answer)
        outcome.stored += len(figures["stored"])
        outcome.duplicates += len(figures["duplicates"])
        outcome.latencies_ms.append(elapsed * 1000)
        outcome.lateness_s.append(started - scheduled)
        outcome.started.append(started)


def play(port: int, syncs: list[Sync], day_seconds: float, threads: int) -> Outcome:
    """Send each sync at its moment of the compressed day."""
    outcome, lock = Outcome(), threading.Lock()
    scale = day_seconds / DAY
    with ThreadPoolExecutor(max_workers=threads) as pool:
        begin = time.monotonic()
        for sync in syncs:
            scheduled = begin + sync.at * scale
            wait = scheduled - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pool.submit(send, port, sync, scheduled, outcome, lock)
    outcome.seconds = time.monotonic() - begin
    return outcome


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def busiest_second(started: list[float]) -> int:
    per_second: dict[int, int] = {}
    for moment in started:
        per_second[int(moment)] = per_second.get(int(moment), 0) + 1
    return max(per_second.values(), default=0)


def one_day(args, cluster, template_url, centres, templates, folder: Path, run: int) -> dict:
    rng = random.Random(run)
    syncs, sent = day_of_syncs(centres, templates, args.events, rng, args.burst)
    folder.mkdir(parents=True, exist_ok=True)
    db_url = hub_load.copy_database(cluster, template_url)
    hub = hub_load.Serving(db_url, folder, workers=args.workers).start()
    postmaster = int((cluster.data / "postmaster.pid").read_text().split("\n", 1)[0])
    try:
        hub_before = hub_load.cpu_seconds(hub.all_pids())
        pg_before = hub_load.cpu_seconds(hub_load.process_tree(postmaster))
        outcome = play(hub.port, syncs, args.day_seconds, args.threads)
        hub_cpu = hub_load.cpu_seconds(hub.all_pids()) - hub_before
        pg_cpu = hub_load.cpu_seconds(hub_load.process_tree(postmaster)) - pg_before
    finally:
        hub.stop()
    rows, held = hub_load.held_ids(db_url)
    latencies = outcome.latencies_ms
    figures = {
        "batches": len(syncs),
        "answered": len(latencies),
        "events": len(sent),
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "worst": max(latencies),
        "late_p99": percentile(outcome.lateness_s, 0.99) * 1000,
        "busiest": busiest_second(outcome.started),
        "hub_us": hub_cpu / max(1, rows) * 1e6,
        "hub_batch_ms": hub_cpu / max(1, len(latencies)) * 1000,
        "pg_us": pg_cpu / max(1, rows) * 1e6,
        "once": rows == len(held) and held == sent and outcome.stored == len(sent),
        "rows": rows,
        "failures": outcome.failures,
        "seconds": outcome.seconds,
    }
    print(
        f"run {run + 1}: {figures['answered']:,} of {figures['batches']:,} batches answered, "
        f"{figures['events']:,} events; answer time p50 {figures['p50']:.0f} ms, "
        f"p95 {figures['p95']:.0f} ms, p99 {figures['p99']:.0f} ms (goal < {GOAL_P99_MS} ms: "
        f"{figures['p99'] / GOAL_P99_MS:.2f} of it), worst {figures['worst']:.0f} ms; "
        f"syncs left late by {figures['late_p99']:.0f} ms at p99; busiest second "
        f"{figures['busiest']} batches; hub CPU a batch {figures['hub_batch_ms']:.1f} ms; "
        f"CPU an event: hub {figures['hub_us']:.0f} µs, "
        f"PostgreSQL {figures['pg_us']:.0f} µs; each event held once: "
        f"{'yes' if figures['once'] else 'NO'} ({rows:,} rows, {outcome.duplicates} duplicates); "
        f"all answered in {outcome.seconds:.1f} s; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for failure in outcome.failures[:5]:
        print(f"   failed: {failure}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--centres", type=int, default=300, help="centres (default 300)")
    parser.add_argument("--events", type=int, default=150, help="events a centre a day (default 150)")
    parser.add_argument(
        "--day-seconds", type=float, default=240, help="seconds the 24 hours are played in (default 240)"
    )
    parser.add_argument("--workers", type=int, default=2, help="hub processes (default 2)")
    parser.add_argument("--threads", type=int, default=48, help="syncs on the wire at most (default 48)")
    parser.add_argument("--runs", type=int, default=1, help="days played (default 1)")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="the hub back after a day away: each centre sends its whole day in one batch, all at once",
    )
    args = parser.parse_args()
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        print("no PostgreSQL server binaries (initdb): run scripts/system-deps.sh test")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="bench-hub-day-"))
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        templates = []
        for seed in range(3):
            path = folder / f"demo-{seed}.db"
            hub_load.demo_backlog(path, seed + 1, members=12, visits=80)
            templates.append(hub_load.outbox_bodies(path))
        template_url, centres = hub_load.enrolled_database(
            cluster, [(f"Centre social n° {n + 1:03d}", "Borne accueil") for n in range(args.centres)]
        )
        how = (
            "each its whole day in one batch, all at once"
            if args.burst
            else (f"a sync every 15 min, the day in {args.day_seconds:.0f} s")
        )
        print(
            f"{args.centres} centres, {args.events} events a centre a day, {how}, "
            f"{args.workers} hub process(es); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        days = [
            one_day(args, cluster, template_url, centres, templates, folder / f"day-{run}", run)
            for run in range(args.runs)
        ]
        if len(days) > 1:
            print(
                f"median of {len(days)} days: p50 {statistics.median(d['p50'] for d in days):.0f} ms, "
                f"p95 {statistics.median(d['p95'] for d in days):.0f} ms, "
                f"p99 {statistics.median(d['p99'] for d in days):.0f} ms "
                f"(goal < {GOAL_P99_MS} ms); each event once in every day: "
                f"{'yes' if all(d['once'] for d in days) else 'NO'}"
            )
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
