"""« Doublons possibles » on a large centre: the demo's members (its names
and years of birth, as diverse as the Boulonnais'), plus a share registered
a second time with a typo, swapped names or other spacing, as two devices
apart would have. Prints the time to list the pairs (the database read and
the comparison, as the staff screen and « À vérifier » do) in wall and CPU
time (a loaded machine stretches the first), the comparison alone, the
count when nothing was written since, and how many of the planted
duplicates were found.

    python benchmarks/bench_duplicates.py [--members 100000] [--planted 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import median_ms

from kiosk.core import demo
from kiosk.core import duplicates as dups
from kiosk.core.duplicates import Duplicates, Pair, find_pairs
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol


def typo(name: str, rng: random.Random) -> str:
    """The same name as someone types it on another device."""
    kind = rng.randrange(4)
    if kind == 0 and len(name) > 4:  # a letter doubled
        i = rng.randrange(1, len(name))
        return name[:i] + name[i - 1] + name[i:]
    if kind == 1 and len(name) > 4:  # two letters swapped
        i = rng.randrange(1, len(name) - 1)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == 2:
        return name.upper().replace("É", "E").replace("È", "E").replace("Ï", "I")
    return name.replace("-", " ")


def plant(store: Store, count: int, rng: random.Random) -> set[Pair]:
    """``count`` members registered a second time, with what tells them apart."""
    originals = store.conn.execute(
        "SELECT id, first_name, last_name, birth_year, created_at FROM members "
        "WHERE birth_year IS NOT NULL ORDER BY random() LIMIT ?",
        (count,),
    ).fetchall()
    planted = set()
    with store.transaction():
        for member_id, first, last, year, created in originals:
            first, last = typo(first, rng), last
            if rng.random() < 0.2:
                first, last = last, first
            copy = protocol.new_id()
            store.conn.execute(
                "INSERT INTO members (id, first_name, last_name, birth_year, consent_data, qpv, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 1, 0, ?, ?)",
                (copy, first, last, year, created, created),
            )
            planted.add(Pair(*sorted((member_id, copy))))
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--planted", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kiosk.db"
        started = time.perf_counter()
        demo.build(path, members=args.members, visits=0)
        print(f"demo centre of {args.members:,} members built in {time.perf_counter() - started:.1f} s")
        with Store.open(path) as store:
            planted = plant(store, args.planted, random.Random(7))
            duplicates = Duplicates(store, Settings(store))
            rows = store.conn.execute(
                "SELECT id, first_name, last_name, birth_year FROM members WHERE erased_at IS NULL"
            ).fetchall()
            found = set(duplicates.pairs(limit=10**9))

            def afresh() -> None:
                dups._FOUND.clear()
                dups.normalise.cache_clear()
                dups._close.cache_clear()
                duplicates.pairs()

            cpu = time.process_time()
            listing = median_ms(afresh, args.runs)
            cpu = (time.process_time() - cpu) * 1000 / args.runs
            comparing = median_ms(lambda: find_pairs(rows, set()), args.runs)
            review = median_ms(lambda: duplicates.count(), args.runs)
    caught = len(planted & found)
    print(f"members: {len(rows):,} ({args.planted:,} registered twice, with a typo, a swap or other spacing)")
    print(
        f"pairs listed from nothing (database read and comparison): {listing:.0f} ms median of "
        f"{args.runs}, {cpu:.0f} ms of CPU each"
    )
    print(f"comparison alone, names already folded (blocks by year and initials): {comparing:.0f} ms")
    print(f"« À vérifier »'s count, nothing written since: {review:.1f} ms")
    print(f"planted duplicates found: {caught:,} of {len(planted):,}")
    print(
        f"other pairs offered: {len(found) - caught:,} (same year and names within the tolerance: "
        "in the demo's small name lists, many are namesakes staff dismiss)"
    )


if __name__ == "__main__":
    main()
