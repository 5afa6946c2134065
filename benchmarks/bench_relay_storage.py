"""What a centre's relay holds on the hub, day by day, as devices come and go.

    python benchmarks/bench_relay_storage.py [--days 45] [--changes 300] [--members 2000]

A hub database (SQLite, in a temporary folder, its schema made by
``federation.store.migrate``) and the relay's own functions
(``federation.relay``: store_blob, acknowledge, store_snapshot, prune_all,
the hub's daily upkeep), with blobs and snapshots really sealed
(``sync.envelope``) from changes shaped like the kiosk's. No HTTP: the
figure is the storage, not the speed. One centre lives through:

- day 0: the reception and a tablet; an old kiosk enrolled long ago,
  which never replicates nor comes back, and is never revoked;
- day 3: a laptop joins (a snapshot is uploaded for it);
- day 8: the laptop goes away to a neighbourhood event, silent, until day 20;
- day 10: the tablet is lost and revoked (the key rotates: the snapshot is
  sealed again); day 11: a new tablet joins;
- day 15: an erasure on the reception (a snapshot at once, the blobs it
  covers purged);
- day 26: the laptop is revoked;
- day 35: staff tidy the devices' list: the old kiosk is revoked.

Until then the old kiosk, enrolled and silent, holds back every blob for
``keep_days`` (30): the relay cannot tell it will never come back. The
snapshot holds the whole log (the kiosk's ``replication.snapshot``), so it
grows with the centre's changes, uploads or not.

Every day each device present makes its share of ``--changes`` changes,
sealed in blobs of up to 50, uploads them, fetches and acknowledges; the
reception refreshes the snapshot once a day (it holds every change so far,
``--members`` members to start with); the hub runs its daily upkeep.
Printed: for each day, the devices active at the hub and present, the
blobs the relay holds for the centre, their bytes, the snapshot's bytes,
and the total, beside what all the uploads made so far add up to.
Bounded means the total follows the live data (the snapshot) and the
blobs of the days a silent device holds back (30 days at most), not the
month's uploads.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from federation import centres, relay
from federation import store as db
from sync import envelope
from sync.blob import Header

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FIRSTS = ["Aïcha", "Bernard", "Chloé", "Driss", "Élodie", "Fatou", "Gaston", "Hélène", "Ismaël"]
LASTS = ["Benali", "Ollivier", "Dufresne", "Morel", "Nguyen", "Traoré", "Lantier", "Marchand"]
PER_BLOB = 50


def change(rng: random.Random, n: int, day: int) -> dict:
    """A change as the kiosk seals it: a member's fields, stamped."""
    return {
        "id": f"{day:04d}{n:08d}-0000-7000-8000-000000000000",
        "table": "members",
        "row": f"{rng.getrandbits(64):016x}-0000-7000-8000-000000000000",
        "op": "set",
        "stamp": f"{1764662400000 + day * 86_400_000 + n}-0-{rng.getrandbits(32):08x}",
        "fields": {
            "first_name": rng.choice(FIRSTS),
            "last_name": rng.choice(LASTS),
            "phone": f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} 00",
            "birth_year": rng.randint(1940, 2010),
            "consent_data": 1,
            "created_at": (START + timedelta(days=day)).isoformat(),
        },
    }


class Device:
    def __init__(self, hub: centres.Device, keys: envelope.DeviceKeys):
        self.hub, self.keys, self.seq, self.present = hub, keys, 0, True

    def seal(self, ring: envelope.Keyring, kind: str, payload: dict) -> bytes:
        header = Header(
            kind, self.hub.centre_id, self.hub.id, self.seq if kind == "changes" else 0, ring.current
        )
        if kind == "changes":
            self.seq += 1
        return envelope.seal(ring, self.keys, header, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--changes", type=int, default=300, help="changes a day, all devices together")
    parser.add_argument("--members", type=int, default=2000, help="the centre's changes before day 0")
    args = parser.parse_args()
    rng = random.Random(16)
    limits = relay.Limits()
    with tempfile.TemporaryDirectory() as folder:
        engine = db.create_engine(f"sqlite:///{Path(folder) / 'hub.db'}")
        db.migrate(engine)

        def write(work, *more, now=None):
            with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
                return work(conn, *more, now=now) if now is not None else work(conn, *more)

        def at(day: int, hour: int = 0) -> datetime:
            return START + timedelta(days=day, hours=hour)

        centre_id, code = write(centres.add_centre, "Centre social Les Tilleuls", now=at(0))

        def join(label: str, day: int, code: str | None = None) -> Device:
            if code is None:
                code = write(centres.new_code, centre_id, now=at(day))
            answer = write(centres.enrol, code, label, now=at(day))
            hub = centres.Device(answer["device_id"], centre_id, "Centre social Les Tilleuls", label)
            return Device(hub, envelope.DeviceKeys.new())

        ring = envelope.Keyring.new()
        log = [change(rng, n, -1) for n in range(args.members)]
        devices = {"reception": join("Accueil", 0, code), "tablet": join("Tablette", 0)}
        old_kiosk = join("Ancienne borne", 0)  # never replicates, never revoked
        old_kiosk.present = False
        uploaded = 0

        def snapshot(device: Device, day: int, purge: bool = False) -> None:
            with engine.connect() as conn:
                through = int(
                    conn.execute(
                        sa.select(sa.func.max(db.relay_blobs.c.seq)).where(
                            db.relay_blobs.c.centre_id == centre_id
                        )
                    ).scalar()
                    or 0
                )
                through = max(through, relay._dropped_through(conn, centre_id))
            raw = device.seal(ring, "snapshot", {"changes": log})
            write(relay.store_snapshot, device.hub, raw, through, None, purge, now=None)

        print(
            f"{'day':>3}  {'active':>6}  {'present':>7}  {'blobs':>6}  {'blob KiB':>9}  "
            f"{'snapshot KiB':>12}  {'total KiB':>9}  {'uploaded KiB':>12}  event"
        )
        snapshot(devices["reception"], 0)
        peak = 0
        for day in range(args.days):
            events = []
            if day == 3:
                devices["laptop"] = join("Portable", day)
                snapshot(devices["reception"], day)
                events.append("laptop joins")
            if day == 8:
                devices["laptop"].present = False
                events.append("laptop away")
            if day == 10:
                write(centres.revoke_device, devices.pop("tablet").hub.id, now=at(day))
                ring.rotate()
                snapshot(devices["reception"], day)
                events.append("tablet revoked, key rotated")
            if day == 11:
                devices["tablet2"] = join("Tablette 2", day)
                events.append("new tablet joins")
            if day == 20:
                devices["laptop"].present = True
                events.append("laptop back")
            if day == 26:
                write(centres.revoke_device, devices.pop("laptop").hub.id, now=at(day))
                ring.rotate()
                events.append("laptop revoked, key rotated")
            if day == 35:
                write(centres.revoke_device, old_kiosk.hub.id, now=at(day))
                ring.rotate()
                events.append("old kiosk revoked")
            present = [d for d in devices.values() if d.present]
            share = max(1, args.changes // max(1, len(present)))
            for n, device in enumerate(present):
                made = [change(rng, n * 100_000 + i, day) for i in range(share)]
                log.extend(made)
                for start in range(0, len(made), PER_BLOB):
                    raw = device.seal(ring, "changes", {"changes": made[start : start + PER_BLOB]})
                    uploaded += len(raw)
                    write(relay.store_blob, device.hub, raw, limits, now=at(day, 10))
            if day == 15:
                log[:] = [c for c in log if c["fields"].get("last_name") != "Marchand"]  # erased: scrubbed
                snapshot(devices["reception"], day, purge=True)
                events.append("erasure: snapshot, blobs purged")
            for device in present:  # each fetches (here: up to the newest) and acknowledges
                with engine.connect() as conn:
                    newest = conn.execute(
                        sa.select(sa.func.max(db.relay_blobs.c.seq)).where(
                            db.relay_blobs.c.centre_id == centre_id
                        )
                    ).scalar()
                    newest = max(int(newest or 0), relay._dropped_through(conn, centre_id))
                write(relay.acknowledge, device.hub, newest, limits, now=at(day, 18))
            snapshot(devices["reception"], day)  # the daily refresh
            relay.prune_all(engine, limits, now=at(day, 23))
            with engine.connect() as conn:
                held = relay.usage(conn, centre_id)
                active = conn.execute(
                    sa.select(sa.func.count()).where(
                        db.devices.c.centre_id == centre_id, db.devices.c.revoked_at.is_(None)
                    )
                ).scalar_one()
            total = held["bytes"] + held["snapshot_bytes"]
            peak = max(peak, total)
            kib = [held["bytes"] / 1024, held["snapshot_bytes"] / 1024, total / 1024, uploaded / 1024]
            print(
                f"{day:>3}  {active:>6}  {len(present):>7}  {held['blobs']:>6}  {kib[0]:>9.0f}  "
                f"{kib[1]:>12.0f}  {kib[2]:>9.0f}  {kib[3]:>12.0f}  " + ", ".join(events)
            )
        engine.dispose()
    print(
        f"peak held {peak / 1024:.0f} KiB; held on the last day {total / 1024:.0f} KiB "
        f"(blobs {held['bytes'] / 1024:.0f} KiB); all uploads over {args.days} days {uploaded / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
