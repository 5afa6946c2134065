"""The centre's key after a device is revoked, and when to refresh the snapshot.

Both are the kiosk's side of rules in docs/replication.md; the exchange
with the hub is ``kiosk.syncing``'s (no HTTP here).

**Rotation.** The hub counts the centre's revoked devices (the *epoch*)
and keeps one rotation per epoch, the first posted. A device that learns a
rotation is due makes a new key, seals it to itself and to each remaining
active device it knows the key of (``envelope.make_rotation``), and posts
it; it seals nothing with that key until it adopts it from the hub's list,
like every other device. So two devices rotating at once end with the same
key: the hub kept one, the other adopts it. Every key adopted stays in the
keyring, so blobs sealed before the rotation still open; the revoked device
was sealed nothing and cannot open what follows.

**Snapshot.** A device uploads a fresh snapshot of the centre's log when the
relay holds none, when the one held is a day old, after ``SNAPSHOT_CHANGES``
changes joined its log since its last one, after the key rotated, and at
once after an erasure made here, then asking the relay to drop the blobs
the snapshot covers: the erased person's sealed history leaves the relay.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from kiosk.core import replication
from kiosk.core.store import Store
from sync import blob as frame
from sync import envelope, protocol

log = logging.getLogger(__name__)

#: sync_state keys (this device's own bookkeeping, never replicated): the
#: newest rotation epoch this device has seen, and its last snapshot upload
EPOCH_KEY = "replication_key_epoch"
SNAPSHOT_KEY = "replication_snapshot"
#: a snapshot older than this is refreshed
SNAPSHOT_EVERY = timedelta(days=1)
#: changes joining the log since this device's last snapshot that call for a new one
SNAPSHOT_CHANGES = 1000


def key_epoch(store: Store) -> int:
    """The newest rotation epoch this device has seen (0: none)."""
    return int(replication._state(store.conn, EPOCH_KEY) or 0)


def _verify_keys(store: Store) -> dict[str, bytes]:
    """The centre's devices' verify keys, this device's own included."""
    known = {
        str(device): bytes(key)
        for device, key in store.conn.execute("SELECT device_id, verify_key FROM replication_peers")
    }
    own = replication.device_id(store)
    if own:
        known[own] = bytes(replication.keys(store).verify_key)
    return known


def adopt(store: Store, rotations: list[dict[str, Any]], centre_id: str) -> int:
    """Take the rotations the hub lists (``{"epoch", "device_id", "key_id",
    "body"}``, any order): each key sealed to this device joins the keyring,
    and the newest epoch's key becomes the current one. A rotation that
    cannot be trusted is refused for staff and never adopted. Returns how
    many keys were added."""
    if not rotations:
        return 0
    own = replication.device_id(store) or ""
    device_keys, verify_keys = replication.keys(store), _verify_keys(store)
    ring = replication.keyring(store)
    added, newest, newest_key = 0, key_epoch(store), None
    for item in sorted(rotations, key=lambda r: r["epoch"]):
        try:
            rotation = envelope.open_rotation(item["body"], device_keys, own, verify_keys, centre_id)
            if rotation.epoch != item["epoch"] or rotation.key_id != item["key_id"]:
                raise frame.TamperedBlob("the relay's listing does not match the rotation it holds")
        except frame.EnvelopeError as error:
            log.warning("key rotation %s refused: %s", item.get("epoch"), error)
            replication._refuse(store, item["body"], f"{type(error).__name__}: {error}", None)
            newest = max(newest, int(item["epoch"]))
            continue
        if rotation.key is not None:
            if rotation.key_id not in ring.keys:
                added += 1
            ring.add(rotation.key)
        if rotation.epoch >= newest:
            newest, newest_key = rotation.epoch, rotation.key_id
    if newest_key is not None:
        if newest_key in ring.keys:
            ring.current = newest_key
        else:  # sealed before this device joined, and not handed over: the others' blobs say so
            log.warning("the centre's key of epoch %s is not held here", newest)
    with store.transaction():
        store.conn.execute(
            "UPDATE replication_device SET keyring = ? WHERE id = 1", (json.dumps(ring.to_json()),)
        )
        replication._set_state(store.conn, EPOCH_KEY, str(newest))
    return added


def note_active(store: Store, active: list[str]) -> None:
    """The centre's devices the hub counts as active: the peers it does not
    name were revoked, and the staff's list of devices leaves them out."""
    if not active:
        return
    peers = {str(row[0]) for row in store.conn.execute("SELECT device_id FROM replication_peers")}
    gone = sorted(peers - set(active))
    with store.transaction():
        replication._set_state(store.conn, replication.REVOKED_KEY, json.dumps(gone))


def make_rotation(store: Store, centre_id: str, epoch: int, active: list[str]) -> bytes:
    """A new centre key for ``epoch``, sealed to this device and to each of
    the centre's ``active`` devices it knows the verify key of: the body to
    post. The keyring is unchanged until the hub lists it (``adopt``)."""
    own = replication.device_id(store)
    if not own:
        raise LookupError("this device's hub id is not known yet")
    recipients = {device: key for device, key in _verify_keys(store).items() if device in set(active)}
    recipients[own] = bytes(replication.keys(store).verify_key)
    return envelope.make_rotation(
        replication.keys(store), own, centre_id, epoch, envelope.new_key(), recipients
    )


# ---------------------------------------------------------------- the snapshot


def counts(store: Store) -> dict[str, int]:
    """What ``snapshot_due`` compares: the log's size, the erasures made
    here, the key epoch; taken before a snapshot is sealed."""
    # the log's rows are never deleted: its last rowid counts them without a scan
    log_rows = store.conn.execute("SELECT coalesce(max(rowid), 0) FROM replication_log").fetchone()[0]
    erasures = replication._state(store.conn, replication.ERASURES_KEY) or 0
    return {"log": int(log_rows), "erasures": int(erasures), "epoch": key_epoch(store)}


def snapshot_due(store: Store, held: dict[str, Any] | None) -> tuple[bool, bool]:
    """(upload a snapshot now, purge the blobs it covers): ``held`` is the
    relay's snapshot (``{"through", "uploaded_at"}``, None when none)."""
    last = json.loads(replication._state(store.conn, SNAPSHOT_KEY) or "{}")
    now = counts(store)
    if not last and held is not None:
        # this device's first exchange beside a snapshot: it counts from here
        snapshot_sent(store, now)
        return False, False
    purge = now["erasures"] > int(last.get("erasures", 0))
    if purge or held is None or now["epoch"] > int(last.get("epoch", 0)):
        return True, purge
    if now["log"] - int(last.get("log", 0)) >= SNAPSHOT_CHANGES:
        return True, False
    age = protocol.parse_utc(store.now_iso()) - protocol.parse_utc(held["uploaded_at"])
    return age >= SNAPSHOT_EVERY, False


def snapshot_sent(store: Store, held: dict[str, int]) -> None:
    """The relay has this device's snapshot, sealed when the log stood at
    ``held`` (``counts``): for ``snapshot_due`` next time."""
    with store.transaction():
        replication._set_state(store.conn, SNAPSHOT_KEY, json.dumps(held, sort_keys=True))
