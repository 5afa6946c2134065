"""Hub ingest on PostgreSQL with 1, 2 and 4 hub processes, on the demo's mix.

    python benchmarks/bench_hub_ingest_pg.py [--kiosks 8] [--events 40000]
                                             [--workers 1,2,4] [--runs 3]

A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, as the tests
start it: fsync off, so the figures compare hub processes, not disks). The
backlogs are `kiosk demo`'s mix (kiosk.core.demo: members, visits,
workshops, sessions, registrations, attendance, volunteers' time, ideas),
--events in all over --kiosks kiosks of different centres, each a clone of
a demo kiosk with fresh ids (tests/hub_load.py). For each number of hub
processes, --runs times, on a fresh copy of the hub's database and of the
kiosks: `federation serve --workers N` on 127.0.0.1, every kiosk pushing at
once with sync.client.push as `kiosk sync` does (batches of 1,000, gzip,
four in flight), each in a thread of this process. It prints each run's
events/s and the CPU an event of the hub's processes (/proc, the supervisor
and its workers), of PostgreSQL's and of the kiosks' (this process), then
the medians, the speed-up over one process and the ratio to the goal
(>= 30,000 events/s on the demo's mix, bench_sync.py's goal). Every run
checks the hub holds each event once.

On a machine of 2 cores, more hub processes than cores only share them with
PostgreSQL and the kiosks: the CPU an event says what each part costs,
whatever the load of the moment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import hub_load  # noqa: E402
from tests.conftest_hub import PostgresCluster, postgres_bin_dir  # noqa: E402

GOAL = 30_000  # events/s on the demo's mix


def postgres_pids(cluster: PostgresCluster) -> list[int]:
    """The postmaster and its backends (they come and go with connections:
    read while the hub's pool holds its own)."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split("\n", 1)[0])
    return hub_load.process_tree(postmaster)


def one_run(network: hub_load.Network, cluster: PostgresCluster, folder: Path, workers: int) -> dict:
    db_url = hub_load.copy_database(cluster, network.template_url)
    kiosks = network.copy_kiosks(folder / "kiosks")
    hub = hub_load.Serving(db_url, folder, workers=workers).start()
    try:
        hub_before = hub_load.cpu_seconds(hub.all_pids())
        pg_before = hub_load.cpu_seconds(postgres_pids(cluster))
        client_before = time.process_time()
        report = hub_load.push_all(kiosks, hub.url, batch_size=1000)
        hub_cpu = hub_load.cpu_seconds(hub.all_pids()) - hub_before
        pg_cpu = hub_load.cpu_seconds(postgres_pids(cluster)) - pg_before
        client_cpu = time.process_time() - client_before
    finally:
        hub.stop()
    if report.errors or report.unfinished or set(report.outcomes) != {"ok"}:
        raise RuntimeError(f"the push did not go through: {report}")
    rows, held = hub_load.held_ids(db_url)
    expected = network.expected_ids()
    if rows != len(held) or held != expected:
        raise RuntimeError(f"the hub holds {rows} rows, {len(held)} distinct, for {len(expected)} events")
    shutil.rmtree(folder / "kiosks")
    return {
        "events": rows,
        "seconds": report.seconds,
        "rate": rows / report.seconds,
        "hub_us": hub_cpu / rows * 1e6,
        "pg_us": pg_cpu / rows * 1e6,
        "client_us": client_cpu / rows * 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kiosks", type=int, default=8, help="kiosks pushing at once (default 8)")
    parser.add_argument("--events", type=int, default=40_000, help="events in all (default 40,000)")
    parser.add_argument("--workers", default="1,2,4", help="hub processes to try (default 1,2,4)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    args = parser.parse_args()
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        print("no PostgreSQL server binaries (initdb): run scripts/system-deps.sh test")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-pg-"))
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        per_kiosk = max(1, args.events // args.kiosks)
        members = max(1, per_kiosk * 3 // 23)
        network = hub_load.build_network(
            folder / "network",
            [1] * args.kiosks,
            cluster,
            members=members,
            visits=max(0, per_kiosk - members),
            templates=2,
        )
        total = len(network.expected_ids())
        print(
            f"{args.kiosks} kiosks of the demo's mix, {total:,} events in all; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        medians = {}
        for workers in [int(w) for w in args.workers.split(",") if w.strip()]:
            runs = []
            for run in range(args.runs):
                figures = one_run(network, cluster, folder / f"run-{workers}-{run}", workers)
                runs.append(figures)
                print(
                    f"{workers} hub process{'es' if workers > 1 else ''}, run {run + 1}: "
                    f"{figures['events']:,} events in {figures['seconds']:.2f} s = "
                    f"{figures['rate']:,.0f} events/s; CPU an event: hub {figures['hub_us']:.0f} µs, "
                    f"PostgreSQL {figures['pg_us']:.0f} µs, kiosks {figures['client_us']:.0f} µs "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            medians[workers] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print()
        first = next(iter(medians.values()))["rate"]
        for workers, figures in medians.items():
            label = f"{workers} hub process{'es' if workers > 1 else ''}"
            print(
                f"{label}: median {figures['rate']:>8,.0f} events/s "
                f"(x{figures['rate'] / first:.2f} of the first; {figures['rate'] / GOAL:.2f} of the goal "
                f"of {GOAL:,}); CPU an event: hub {figures['hub_us']:.0f} µs, "
                f"PostgreSQL {figures['pg_us']:.0f} µs, kiosks {figures['client_us']:.0f} µs"
            )
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
