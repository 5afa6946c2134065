"""How long the staff wait for an export, the summary, cards and a backup on a
busy centre's database (2,000 members, 50,000 visits: about two years).

Baselines, in the same run: for the CSV, dumping ``SELECT * FROM visits`` with
csv.writer and nothing else (no joins, no Paris time, no labels); for the
backup, copying the file with shutil (what the online backup API replaces,
as a raw copy of a live WAL database is not safe).

    python benchmarks/bench_exports.py [--runs 5] [--visits 50000]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import median_ms

from kiosk.core import backup, card_print, exports, report_pdf
from kiosk.core.cards import new_code
from kiosk.core.store import Store
from sync.protocol import new_id, utc_iso

REASONS = ["accueil", "demarches", "rendez_vous", "atelier", "ordinateur", "permanence", "autre"]


def fill(store: Store, members: int, visits: int) -> list[str]:
    rng = random.Random(1)
    start = datetime(2025, 1, 1, 8, tzinfo=UTC)
    ids = [new_id() for _ in range(members)]
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO members (id, first_name, last_name, birth_year, gender, commune, qpv, consent_data, "
            "card_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'Boulogne-sur-Mer', ?, 1, ?, ?, ?)",
            [
                (
                    mid,
                    f"Prénom{n}",
                    f"Nom{n}",
                    rng.randint(1940, 2010),
                    rng.choice(["woman", "man"]),
                    rng.random() < 0.4,
                    new_code(),
                    utc_iso(start),
                    utc_iso(start),
                )
                for n, mid in enumerate(ids)
            ],
        )
        store.conn.executemany(
            "INSERT INTO visits (id, occurred_at, member_id, reason, "
            "recorded_by_role) VALUES (?, ?, ?, ?, 'resident')",
            [
                (
                    new_id(),
                    utc_iso(start + timedelta(minutes=rng.randint(0, 730 * 24 * 60))),
                    rng.choice(ids) if rng.random() < 0.8 else None,
                    rng.choice(REASONS),
                )
                for _ in range(visits)
            ],
        )
    return ids


def raw_dump(store: Store, out: Path) -> None:
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        for row in store.conn.execute("SELECT * FROM visits"):
            writer.writerow(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--visits", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Store.open(tmp / "kiosk.db") as store:
            ids = fill(store, args.members, args.visits)
            print(f"{args.members} members, {args.visits} visits; medians of {args.runs} runs")
            base = median_ms(lambda: raw_dump(store, tmp / "raw.csv"), args.runs)
            print(f"raw SELECT * to csv (baseline): {base:8.1f} ms")
            full = median_ms(lambda: exports.export_visits(store, tmp / "v.csv"), args.runs)
            print(f"export_visits, all:             {full:8.1f} ms  ratio {full / base:.2f}")
            month = median_ms(
                lambda: exports.export_visits(store, tmp / "m.csv", date(2026, 3, 1), date(2026, 3, 31)),
                args.runs,
            )
            print(f"export_visits, one month:       {month:8.1f} ms  ratio {month / base:.2f}")
            members = median_ms(lambda: exports.export_members(store, tmp / "a.csv"), args.runs)
            print(f"export_members:                 {members:8.1f} ms")
            year = median_ms(
                lambda: report_pdf.summary_pdf(store, tmp / "b.pdf", date(2025, 1, 1), date(2025, 12, 31)),
                args.runs,
            )
            print(f"summary_pdf, one year:          {year:8.1f} ms")
            cards = median_ms(lambda: card_print.cards_pdf(store, tmp / "c.pdf", ids[:100]), args.runs)
            print(f"cards_pdf, 100 cards (10 A4):   {cards:8.1f} ms")
            (tmp / "usb").mkdir()
            copy = median_ms(lambda: shutil.copyfile(tmp / "kiosk.db", tmp / "copy.db"), args.runs)
            print(f"shutil.copyfile (baseline):     {copy:8.1f} ms")
            made = median_ms(lambda: backup.backup(store, tmp / "usb"), args.runs)
            size = (tmp / "kiosk.db").stat().st_size / 1e6
            print(f"backup ({size:.1f} MB, checked):     {made:8.1f} ms  ratio {made / copy:.1f}")


if __name__ == "__main__":
    main()
