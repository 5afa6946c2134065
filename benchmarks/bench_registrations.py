"""Sign-up latency: ``Workshops.register`` (checks, queue position, its event,
its durable commit) beside the baseline, a raw single-row ``sqlite3`` insert
committed with the same pragmas (WAL, synchronous=FULL) in the same run.

    python benchmarks/bench_registrations.py [--members 2000] [--sessions 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.core.store import Store, connect
from kiosk.core.workshops import Workshops


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fill_members(store: Store, count: int) -> list[str]:
    """Plain rows: this measures sign-ups, not member registration."""
    now = store.now_iso()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO members (id, first_name, last_name, created_at, updated_at) "
            "VALUES (?, 'Prénom', 'Nom', ?, ?)",
            [(i, now, now) for i in ids],
        )
    return ids


def measure(args: argparse.Namespace, seed: int) -> tuple[float, float, float, float]:
    """One run: (service p50, p99, raw p50, p99) in ms, the two interleaved so
    a busy machine slows both alike."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "kiosk.db")
        workshops = Workshops(store)
        workshop = workshops.create_workshop("Atelier", "numerique")
        start = store.now() + timedelta(days=1)
        sessions = [
            workshops.add_session(
                workshop["id"], start + timedelta(hours=i), start + timedelta(hours=i, minutes=90), 12
            )["id"]
            for i in range(args.sessions)
        ]
        members = fill_members(store, args.members)
        pairs = rng.sample([(s, m) for s in sessions for m in members[:100]], args.signups)
        raw_conn = connect(str(Path(tmp) / "raw.db"))
        raw_conn.execute("CREATE TABLE r (id TEXT PRIMARY KEY, session_id TEXT, member_id TEXT)")
        service, raw = [], []
        for session_id, member_id in pairs:
            began = time.perf_counter()
            workshops.register(session_id, member_id)
            service.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            raw_conn.execute("BEGIN IMMEDIATE")
            raw_conn.execute("INSERT INTO r VALUES (?, ?, ?)", (str(uuid.uuid4()), session_id, member_id))
            raw_conn.execute("COMMIT")
            raw.append((time.perf_counter() - began) * 1000)
        raw_conn.close()
        store.close()
    return (
        statistics.median(service),
        percentile(service, 0.99),
        statistics.median(raw),
        percentile(raw, 0.99),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--signups", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [measure(args, seed) for seed in range(args.runs)]
    p50, p99, b50, b99 = (statistics.median(column) for column in zip(*runs, strict=True))
    print(
        f"{args.signups} sign-ups over {args.sessions} sessions, {args.members} members, "
        f"median of {args.runs} runs"
    )
    print(f"Workshops.register : p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    print(f"raw sqlite3 insert : p50 {b50:6.2f} ms  p99 {b99:6.2f} ms  (baseline)")
    print(f"ratio              : p50 {p50 / b50:6.2f}     p99 {p99 / b99:6.2f}")


if __name__ == "__main__":
    main()
