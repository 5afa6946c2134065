"""Hub-to-hub roll-up: how long a departmental hub takes to send its parent
a year of figures, then a day's, and how fast the parent reads them.

The child: ``--centres`` centres with a year of data, built directly in the
reporting projections as bench_hub_dashboard builds them (``--events``
events' worth: visits, members in households, workshops, sessions,
registrations, attendance, volunteers' time, ideas), and each centre's
first and last event in event_counts. The parent: a real `federation serve`
on SQLite; the child links to it over HTTP and sends with
federation.parent_sync, in this process.

Prints, for the first send (the whole year), a send with nothing changed, and
a send after one new event a centre today (each centre's month and year
recomputed): the wall time, the sets computed and sent, the requests, and
this process's CPU time. Then the parent's reading of the year for its
network page and `federation stats` (network.children), median of runs.

    python benchmarks/bench_rollup.py                       # 300 centres, 1,000,000 events
    python benchmarks/bench_rollup.py --centres 50 --events 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_hub_dashboard  # noqa: E402
from timing import median_ms  # noqa: E402

from federation import network, parent_sync, projections, reports, store  # noqa: E402
from sync import protocol  # noqa: E402
from tests.conftest_hub import run_federation, start_hub  # noqa: E402


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fill_event_counts(engine, today: date) -> None:
    """What ingest keeps beside the events: each centre's first and last, so
    the first send knows each centre's history."""
    first = protocol.utc_iso(datetime.combine(today - timedelta(days=364), datetime.min.time(), UTC))
    last = protocol.utc_iso(datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12))
    with engine.begin() as conn:
        centre_ids = [row.id for row in conn.execute(sa.select(store.centres.c.id))]
        conn.execute(
            store.event_counts.insert(),
            [
                {"centre_id": c, "type": "visit.recorded", "events": 1}
                | {"first_occurred_at": first, "last_occurred_at": last}
                for c in centre_ids
            ],
        )


def one_event_a_centre(engine) -> None:
    """A visit today in every centre, stored as ingest stores an event (the
    send finds the days to recompute from the events after its cursor)."""
    now = protocol.utc_iso(datetime.now(UTC))
    with engine.begin() as conn:
        centre_ids = [row.id for row in conn.execute(sa.select(store.centres.c.id))]
        rows = []
        for centre_id in centre_ids:
            event = protocol.make_event(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "staff"},
                datetime.now(UTC),
            )
            projections.update(conn, centre_id, [(event["occurred_at"], event)])
            rows.append(
                {
                    "centre_id": centre_id,
                    "event_id": event["id"],
                    "type": event["type"],
                    "occurred_at": event["occurred_at"],
                    "received_at": now,
                    "body": protocol.canonical_json(event),
                    "content_hash": "0" * 64,
                }
            )
        conn.execute(store.events.insert(), rows)


def timed_send(engine, label: str) -> parent_sync.Result:
    requests_made = []
    start, cpu = time.perf_counter(), cpu_s()
    result = parent_sync.sync_parent(engine, progress=lambda r: requests_made.append(r.sent))
    wall, used = time.perf_counter() - start, cpu_s() - cpu
    assert result.ok, result.summary()
    print(
        f"{label:<34} {wall:8.1f} s wall {used:8.1f} s CPU   {result.sent:>9,} sets sent "
        f"in {len(requests_made):>5,} requests, {result.centres:>4} centres"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centres", type=int, default=300)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-rollup-"))
    today = reports.paris_today()
    child_url = f"sqlite:///{folder / 'child.db'}"
    child = store.open_engine(child_url)
    start = time.perf_counter()
    bench_hub_dashboard.build(child, args.events, args.centres, today)
    fill_event_counts(child, today)
    built = time.perf_counter() - start
    print(f"child built: {args.centres} centres, {args.events:,} events' worth ({built:.0f} s)")
    parent_url = f"sqlite:///{folder / 'parent.db'}"
    parent = start_hub(parent_url, folder, parent_interval=0)
    try:
        code = json.loads(run_federation("add-child", "Fédération", "--json", db_url=parent_url).stdout)
        parent_sync.link_parent(child, parent.url, code["link_code"])
        timed_send(child, "first send (the whole year)")
        timed_send(child, "again, nothing changed")
        one_event_a_centre(child)
        timed_send(child, "after one new event a centre")
        engine = store.create_engine(parent_url)
        with engine.connect() as conn:
            sets = conn.execute(sa.select(sa.func.count()).select_from(store.child_figure_sets)).scalar()
            rows = conn.execute(sa.select(sa.func.count()).select_from(store.child_figures)).scalar()

            def read() -> None:
                network.children(conn, today.year)

            ms = median_ms(read, args.runs)
        size = os.path.getsize(folder / "parent.db")
        print(f"parent holds {sets:,} sets, {rows:,} figures, {size / 1e6:.0f} MB")
        print(f"parent reads the year for its page and stats: {ms:.0f} ms (median of {args.runs})")
        engine.dispose()
    finally:
        parent.stop()
        child.dispose()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
