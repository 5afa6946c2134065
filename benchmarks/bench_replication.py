"""Replication between a centre's devices through a real hub's relay.

    python benchmarks/bench_replication.py [--members 10000] [--visits 200000]
                                           [--changes 300] [--runs 3]

Starts `federation serve` on 127.0.0.1 (SQLite, its defaults), builds the
reception's database with the demo (kiosk.core.demo: --members members,
--visits visits, its staff, workshops, sessions, registrations and
attendance),
enrols it (the centre's first device) and makes its first exchange (the
baseline: everything that replicates goes into the log, sealed, uploaded).
Then, --runs rounds of:

1. **a new device joins**: `kiosk invite` on the reception, `kiosk join` on
   a new database, the check word confirmed (kiosk.syncing.invite / join /
   confirm_invite): timed from the invite to the new device holding every
   member, visit, staff account, workshop, session, registration,
   attendance mark and audit line (the
   reception seals a fresh snapshot, the relay carries it, the new device
   opens and applies it, then exchanges once). Goal: <= 30 s.
2. **a day's changes**: --changes changes made on the reception (new
   members, edits, registrations to the coming sessions, check-ins), then
   exchanged end
   to end: the reception seals and uploads, the newest device fetches, opens
   and applies. Goal: <= 1 s.
3. **devices come and go**: every device exchanges and acknowledges, the
   device that joined the round before is revoked at the hub; the relay's
   storage for the centre is printed (blobs held, their bytes, the
   snapshot's bytes). Goal: bounded (no growth with the rounds).

The figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from federation import centres, relay, store  # noqa: E402
from kiosk import syncing  # noqa: E402
from kiosk.core import demo, replication  # noqa: E402
from kiosk.core.centre import Centre  # noqa: E402
from kiosk.core.settings import Settings  # noqa: E402
from kiosk.core.store import Store  # noqa: E402
from tests.conftest_hub import start_hub  # noqa: E402

REPLICATED = ("members", "visits", "staff", "workshops", "sessions", "registrations", "attendance")


def counts(path: str) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in REPLICATED}
    finally:
        conn.close()


def audit_lines(path: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {line_id for (line_id,) in conn.execute("SELECT id FROM audit_log")}
    finally:
        conn.close()


def hub_write(db_url: str, action):
    engine = store.create_engine(db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            return action(conn)
    finally:
        engine.dispose()


def usage(db_url: str, centre_id: str) -> dict:
    engine = store.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return relay.usage(conn, centre_id)
    finally:
        engine.dispose()


def join(reception: str, path: str, label: str) -> float:
    """A new device joins through the reception's invite; seconds until it is ready."""
    start = time.perf_counter()
    made = syncing.invite(reception)
    words: list[str] = []
    ended: dict = {}
    failed: list[Exception] = []

    def joining() -> None:
        try:
            ended.update(syncing.join(path, made["invite"], label, wait_s=120, on_check_word=words.append))
        except Exception as error:  # noqa: BLE001 (raised again in the main thread)
            failed.append(error)

    thread = threading.Thread(target=joining)
    thread.start()
    while not words and thread.is_alive():
        time.sleep(0.01)
    if not words:
        raise SystemExit(f"the new device showed no check word: {failed}")
    syncing.confirm_invite(reception, words[0])
    thread.join()
    if failed:
        raise failed[0]
    return time.perf_counter() - start


def day_of_changes(reception: str, count: int, round_: int) -> int:
    """``count`` changes on the reception, the demo's kinds; returns how many the log holds to send."""
    rng = random.Random(round_)
    with Centre.open(reception) as centre:
        sessions = [s["id"] for s in centre.workshops.week_sessions()] or [None]
        made: list[str] = []
        for n in range(count // 3):
            member = centre.members.register(
                rng.choice(demo.WOMEN + demo.MEN),
                rng.choice(demo.LAST_NAMES),
                birth_year=1950 + n % 60,
                consent_data=True,
            )
            made.append(member["id"])
        for member_id in made[: count // 6]:
            centre.members.update(member_id, phone="06 12 34 56 78")
        for booked, member_id in enumerate(made[: count // 6]):
            if sessions == [None]:
                break
            centre.workshops.register(sessions[booked % len(sessions)], member_id)
        for n in range(count - count // 3 - 2 * (count // 6)):  # the day's check-ins
            centre.visits.check_in("accueil", member_id=made[n % len(made)] if n % 4 else None)
        return replication.pending(centre.store)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    db_url = f"sqlite:///{work / 'hub.db'}"
    hub = start_hub(db_url, work)
    try:
        centre_id, code = hub.add_centre("Centre social du Chemin Vert")
        reception = str(work / "reception.db")
        built = time.perf_counter()
        demo.build(reception, members=args.members, visits=args.visits)
        print(f"reception built by the demo in {time.perf_counter() - built:.1f} s: {counts(reception)}")
        answer = syncing.enrol(hub.url, code, "Borne de l'accueil")
        with Store.open(reception) as kiosk_store:
            syncing.save_enrolment(Settings(kiosk_store), hub.url, answer)
        start = time.perf_counter()
        first = syncing.replicate_once(reception)
        print(
            f"first device's first exchange (baseline sealed and uploaded): "
            f"{time.perf_counter() - start:.2f} s, {first['sent']} blobs"
        )
        wanted = counts(reception)
        print()

        joins, exchanges, held = [], [], []
        devices: list[str] = []
        for round_ in range(args.runs):
            path = str(work / f"device-{round_}.db")
            seconds = join(reception, path, f"Tablette {round_}")
            got = counts(path)
            if got != wanted or not audit_lines(reception) <= audit_lines(path):
                raise SystemExit(f"round {round_}: the new device holds {got}, the reception {wanted}")
            joins.append(seconds)
            devices.append(path)

            pending = day_of_changes(reception, args.changes, round_)
            start = time.perf_counter()
            sent = syncing.replicate_once(reception)
            got_day = syncing.replicate_once(path)
            exchanges.append(time.perf_counter() - start)
            wanted = counts(reception)
            if counts(path) != wanted:
                raise SystemExit(f"round {round_}: the day's changes did not all arrive")

            for other in [reception, *devices]:
                syncing.replicate_once(other)
            if len(devices) > 1:  # the device of the round before goes away: revoked at the hub
                gone = devices.pop(0)
                with Store.open(gone) as kiosk_store:
                    gone_id = replication.device_id(kiosk_store)
                hub_write(db_url, lambda conn, d=gone_id: centres.revoke_device(conn, d))
                for other in [reception, *devices]:
                    syncing.replicate_once(other)
            held.append(usage(db_url, centre_id))
            print(
                f"round {round_ + 1}: joined in {seconds:.2f} s; {pending} changes "
                f"({sent['sent']} blobs sent, {got_day['received']} received) in "
                f"{exchanges[-1] * 1000:.0f} ms; relay holds {held[-1]['blobs']} blobs, "
                f"{held[-1]['bytes'] / 1024:.0f} KiB, snapshot {held[-1]['snapshot_bytes'] / 1024:.0f} KiB"
            )

        join_s, exchange_s = statistics.median(joins), statistics.median(exchanges)
        print()
        print(
            f"new device ready (centre of {wanted['members']} members, {wanted['visits']} visits, "
            f"{wanted['staff']} staff accounts, {wanted['workshops']} workshops, "
            f"{wanted['sessions']} sessions, {wanted['registrations']} registrations, "
            f"{wanted['attendance']} attendance marks): median {join_s:.2f} s over {len(joins)} runs, "
            f"{join_s / 30:.2f} of the 30 s goal"
        )
        print(
            f"a day's {args.changes} changes end to end: median {exchange_s * 1000:.0f} ms over "
            f"{len(exchanges)} runs, {exchange_s:.2f} of the 1 s goal"
        )
        sizes = [h["bytes"] + h["snapshot_bytes"] for h in held]
        print(
            f"relay storage for the centre after each round (blobs + snapshot): "
            f"{', '.join(f'{s / 1024:.0f} KiB' for s in sizes)}; blobs held: "
            f"{', '.join(str(h['blobs']) for h in held)}"
        )
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
