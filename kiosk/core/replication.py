"""The kiosk's side of replication between a centre's devices.

What it does (docs/replication.md):

- **capture**: a write the other devices must know records a change
  (``sync.replication.Change``) in the same transaction as the write
  (``record``): members, workshops, sessions, registrations, attendance;
  visits, staff accounts, shared settings and audit lines record theirs
  through ``kiosk.core.changelog``, which needs only the connection;
- **seal**: the changes not yet sent go out in blobs sealed with the
  centre's key and signed by this device (``sync.envelope``), kept until the
  relay stored them, so a retry sends the same bytes;
- **apply**: a received blob is opened (refused and kept for staff when
  tampered, replayed or unknown, never applied), its changes join the log,
  and each member they touch is merged (``sync.replication.materialize``
  over that member's changes) and written through kiosk/core: the search
  index follows, an erasure goes through ``Privacy``; the rest is written
  in bulk (``_apply_more``), never emitting an event for the hub.

A device replicates once ``replication_device`` has its row: made by the
schema upgrade for a kiosk already enrolled (the centre's first device), or
by ``set_up``. Without it, ``record`` does nothing. No HTTP here: the
exchange with the hub is ``kiosk.syncing``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sqlite3
import weakref
from collections.abc import Callable
from typing import Any

from kiosk.core import changelog, review, search
from kiosk.core import settings as centre_settings
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.store import Store
from sync import blob as frame
from sync import envelope, protocol, replication
from sync.clock import PARIS
from sync.replication import Change, HybridClock, Stamp

#: the member columns that replicate
MEMBER_FIELDS = tuple(replication.TABLES["members"].fields)
#: the most changes one blob carries
CHANGES_PER_BLOB = 2000

log = logging.getLogger(__name__)


class Refused(Exception):
    """A blob refused (tampered, replayed, from an unknown device or key):
    recorded in ``replication_refused`` for staff, never applied."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def enabled(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM replication_device WHERE id = 1").fetchone() is not None


def set_up(store: Store, keyring: envelope.Keyring | None = None, device_id: str | None = None) -> None:
    """Make this device a replicating one: new keys, and the centre's
    keyring (a new one for a centre's first device, ``baseline`` then puts
    its existing members in the log). Does nothing when already set up."""
    if enabled(store.conn):
        return
    import secrets

    with store.transaction():
        store.conn.execute(
            "INSERT INTO replication_device (id, replica_id, device_id, signing_seed, keyring, baseline, "
            "created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (
                secrets.token_hex(8),
                device_id,
                envelope.DeviceKeys.new().seed,
                json.dumps((keyring or envelope.Keyring.new()).to_json()),
                BASELINE_FIRST if keyring is None else 0,
                store.now_iso(),
            ),
        )
        # a new identity: whatever made the last one untrustworthy is behind
        store.conn.execute("DELETE FROM sync_state WHERE key = ?", (REJOIN_KEY,))


def _device(conn: sqlite3.Connection) -> dict[str, Any]:
    cursor = conn.execute("SELECT * FROM replication_device WHERE id = 1")
    row = cursor.fetchone()
    if row is None:
        raise LookupError("replication is not set up on this device")
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def keys(store: Store) -> envelope.DeviceKeys:
    return envelope.DeviceKeys.from_seed(bytes(_device(store.conn)["signing_seed"]))


def keyring(store: Store) -> envelope.Keyring:
    return envelope.Keyring.from_json(json.loads(_device(store.conn)["keyring"]))


def device_id(store: Store) -> str | None:
    """The id the hub knows this device by, when known."""
    return _device(store.conn)["device_id"]


def set_device_id(store: Store, device_id: str) -> None:
    """The id the hub knows this device by (its blobs' headers carry it)."""
    with store.transaction():
        store.conn.execute("UPDATE replication_device SET device_id = ? WHERE id = 1", (device_id,))


def add_peer(store: Store, device_id: str, verify_key: bytes, label: str | None = None) -> None:
    """A device of the centre whose blobs this device accepts."""
    with store.transaction():
        store.conn.execute(
            "INSERT INTO replication_peers (device_id, verify_key, label, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET verify_key = excluded.verify_key, label = excluded.label",
            (device_id, verify_key, label, store.now_iso()),
        )


def _clock(conn: sqlite3.Connection, device: dict[str, Any]) -> HybridClock:
    last = Stamp.parse(device["clock"]) if device["clock"] else None
    return HybridClock(device["replica_id"], last=last)


# ---------------------------------------------------------------- capture


def record(store: Store, table: str, row: str, fields: dict[str, Any], op: str = "set") -> None:
    """Record a local write for the centre's other devices, inside the
    write's transaction (a crash keeps both or neither). Nothing when this
    device does not replicate."""
    changelog.record(store.conn, table, row, fields, op)


def record_member(store: Store, member: dict[str, Any]) -> None:
    """A member's replicated fields that ``member`` holds (a new member's
    row, or the fields an edit changed)."""
    fields = {name: _plain(member[name]) for name in MEMBER_FIELDS if name in member}
    if fields:
        record(store, "members", member["id"], fields)


def record_row(store: Store, table: str, row: dict[str, Any]) -> None:
    """A workshop's or a session's replicated fields that ``row`` holds (a
    new row, or the fields a change set), with its ``id``."""
    allowed = replication.TABLES[table].fields
    fields = {name: _plain(value) for name, value in row.items() if name in allowed}
    if fields:
        record(store, table, row["id"], fields)


def record_device(store: Store, device_id: str, verify_key: bytes, label: str | None = None) -> None:
    """A device this one added to the centre: known to this device at once,
    and to the others through the log (they accept its blobs from then on)."""
    with store.transaction():
        fields: dict[str, Any] = {"verify_key": verify_key.hex(), "added_at": store.now_iso()}
        if label:
            fields["label"] = label[:200]
        record(store, "devices", device_id, fields)
    add_peer(store, device_id, verify_key, label)


def record_erasure(store: Store, member_id: str) -> None:
    """The erasure, and no name of the person left in this device's log."""
    record(store, "members", member_id, {}, op="erase")
    # every record merged with them is the same person: their names go too
    for member in sorted(_merge_group({member_id}, _merge_links(store))):
        _scrub(store.conn, member)
    if enabled(store.conn):  # the next exchange refreshes the snapshot at once (key_rotation)
        _set_state(store.conn, ERASURES_KEY, str(int(_state(store.conn, ERASURES_KEY) or 0) + 1))


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _save_clock(conn: sqlite3.Connection, stamp: Stamp) -> None:
    conn.execute("UPDATE replication_device SET clock = ? WHERE id = 1", (stamp.text(),))


_insert = changelog.insert


def _scrub(conn: sqlite3.Connection, member_id: str) -> None:
    for change_id, fields in conn.execute(
        "SELECT change_id, fields FROM replication_log WHERE tbl = 'members' AND row_id = ?", (member_id,)
    ).fetchall():
        kept = {k: v for k, v in json.loads(fields).items() if k not in replication.PERSONAL_MEMBER_FIELDS}
        conn.execute(
            "UPDATE replication_log SET fields = ? WHERE change_id = ?",
            (json.dumps(kept, sort_keys=True), change_id),
        )


def baseline(store: Store) -> int:
    """Once, what this device held before its changes were recorded goes
    into the log, so the others receive it; ``replication_device.baseline``
    says which part (flags): ``BASELINE_CORE`` its members, workshops,
    sessions, registrations and attendance, ``BASELINE_MORE`` its staff
    accounts, visits and audit lines, ``BASELINE_SETTINGS`` its shared
    settings (a centre's first device only: a device that joins takes the
    centre's). Written at once (one clock, one insert of them all).
    Returns how many changes were recorded."""
    device = _device(store.conn)
    flags = int(device["baseline"])
    if not flags:
        return 0
    writes: list[tuple[str, str, dict[str, Any], str]] = []
    with store.transaction():
        if flags & BASELINE_CORE:
            columns = ", ".join(["id", "erased_at", *MEMBER_FIELDS])
            for row in store.query(f"SELECT {columns} FROM members ORDER BY created_at"):
                if row["erased_at"] is not None and row["merged_into"] is None:
                    writes.append(("members", row["id"], {"created_at": row["created_at"]}, "set"))
                    writes.append(("members", row["id"], {}, "erase"))
                else:
                    fields = {k: _plain(row[k]) for k in MEMBER_FIELDS if row[k] is not None}
                    writes.append(("members", row["id"], fields, "set"))
            for table in ("workshops", "sessions", "registrations", "attendance"):
                allowed = replication.TABLES[table].fields
                for row in store.query(f"SELECT * FROM {table} ORDER BY rowid"):
                    fields = {k: _plain(v) for k, v in row.items() if k in allowed}
                    writes.append((table, row["id"], fields, "set"))
        if flags & BASELINE_MORE:
            writes.extend(_baseline_more(store))
        if flags & BASELINE_SETTINGS:
            shared = sorted(replication.SHARED_SETTINGS)
            marks = ",".join("?" * len(shared))
            for key, value in store.conn.execute(
                f"SELECT key, value FROM settings WHERE key IN ({marks}) ORDER BY key", shared
            ):
                writes.append(("settings", key, {"value": value}, "set"))
        count = changelog.record_many(store.conn, writes)
        if flags & BASELINE_MORE:
            # what a release that did not apply these tables kept in its log
            _apply_more(store, _log_changes_of(store, MORE_TABLES, origin="remote"), set(), once=True)
        store.conn.execute("UPDATE replication_device SET baseline = 0 WHERE id = 1")
    return count


# ---------------------------------------------------------------- seal


def seal_pending(store: Store, centre_id: str) -> list[int]:
    """Seal the local changes not yet sealed into blobs (kept in
    ``replication_outgoing`` until the relay stored them). Returns their seqs."""
    sealed: list[int] = []
    device = _device(store.conn)
    if not device["device_id"]:
        raise LookupError("this device's hub id is not known yet")
    device_keys, ring = keys(store), keyring(store)
    while True:
        with store.transaction():
            rows = store.conn.execute(
                "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log "
                # rowid order is stamp order for this device's own changes (its
                # clock never goes back, each change recorded in its write's
                # transaction), and the unsealed index gives it without a sort
                "WHERE origin = 'local' AND blob_seq IS NULL ORDER BY rowid LIMIT ?",
                (CHANGES_PER_BLOB,),
            ).fetchall()
            if not rows:
                return sealed
            seq = int(store.conn.execute("SELECT next_seq FROM replication_device").fetchone()[0])
            changes = [_change_json(row) for row in rows]
            header = frame.Header("changes", centre_id, device["device_id"], seq, ring.current)
            blob = envelope.seal(ring, device_keys, header, {"changes": changes})
            store.conn.execute(
                "INSERT INTO replication_outgoing (seq, blob, sealed_at) VALUES (?, ?, ?)",
                (seq, blob, store.now_iso()),
            )
            store.conn.executemany(
                "UPDATE replication_log SET blob_seq = ? WHERE change_id = ?", [(seq, row[0]) for row in rows]
            )
            store.conn.execute("UPDATE replication_device SET next_seq = ? WHERE id = 1", (seq + 1,))
        sealed.append(seq)


def _change_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """A log row as ``Change.to_json`` gives it, without making the Change
    (what the log holds was checked when it was made or received)."""
    change_id, table, row_id, op, stamp, fields = row
    return {
        "id": change_id,
        "table": table,
        "row": row_id,
        "op": op,
        "stamp": stamp,
        "fields": json.loads(fields),
    }


def _row_change(row: tuple[Any, ...]) -> Change:
    change_id, table, row_id, op, stamp, fields = row
    return Change(change_id, table, row_id, Stamp.parse(stamp), op, json.loads(fields))


def outgoing(store: Store) -> list[tuple[int, bytes]]:
    """The sealed blobs the relay has not stored yet, oldest first."""
    return [
        (seq, bytes(blob))
        for seq, blob in store.conn.execute(
            "SELECT seq, blob FROM replication_outgoing WHERE stored_at IS NULL ORDER BY seq"
        )
    ]


def mark_stored(store: Store, seq: int) -> None:
    """The relay stored blob ``seq``: its bytes are no longer needed here."""
    with store.transaction():
        store.conn.execute(
            "UPDATE replication_outgoing SET stored_at = ?, blob = x'' WHERE seq = ?", (store.now_iso(), seq)
        )


# ---------------------------------------------------------------- apply


def receive(
    store: Store, raw: bytes, centre_id: str, erase: Callable[[str], None], relay_seq: int | None = None
) -> list[str]:
    """Open a blob from another device of the centre and apply its changes;
    ``erase(member_id)`` erases a member here (``Privacy.erase_replicated``:
    this module sits below privacy). ``relay_seq``, the blob's place in the
    relay, moves the cursor in the same transaction, so a blob applied is
    never fetched again after a crash: one seen again is a replay.
    Returns the ids of the members it changed. Raises :class:`Refused`
    (recorded for staff, nothing applied) when it cannot be trusted."""
    device = _device(store.conn)
    peers = {
        d: bytes(k) for d, k in store.conn.execute("SELECT device_id, verify_key FROM replication_peers")
    }
    guard = envelope.ReplayGuard.from_json(json.loads(device["guard"]))
    try:
        header, payload = envelope.open_blob(raw, keyring(store), peers, centre_id, guard)
        if not isinstance(payload, dict) or not isinstance(payload.get("changes"), list):
            raise replication.ReplicationError("a changes blob holds {'changes': [...]}")
        changes = [Change.from_json(item) for item in payload["changes"]]
    except (frame.EnvelopeError, replication.ReplicationError) as error:
        _refuse(store, raw, f"{type(error).__name__}: {error}", relay_seq)
        raise Refused(str(error)) from error
    with store.transaction():
        clock = _clock(store.conn, device)
        new = changelog.insert_many(store.conn, changes, "remote")
        for change in changes:
            clock.observe(change.stamp)
        store.conn.execute(
            "UPDATE replication_device SET guard = ?, clock = ? WHERE id = 1",
            (json.dumps(guard.to_json()), clock.last().text()),
        )
        _advance(store.conn, relay_seq)
        stampers = {change.device for change in changes}
        if len(stampers) == 1:
            # a device seals only its own changes: the replica id its clock
            # stamps them with is this peer's (the audit screen names it)
            store.conn.execute(
                "UPDATE replication_peers SET replica_id = ? WHERE device_id = ?",
                (stampers.pop(), header.device),
            )
        _apply_devices(store, {change.row for change in new if change.table == "devices"})
        _apply_rows(store, new)
        touched = _apply_members(store, new, erase)
        _apply_more(store, new, set(touched))
        _apply_seats(store, new)
        _apply_attendance(store, new)
    return touched


def _merged_row(store: Store, table: str, row_id: str) -> dict[str, Any] | None:
    """One row's fields as its changes merge (last writer wins per field), or None."""
    rows = store.conn.execute(
        "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log WHERE tbl = ? AND row_id = ?",
        (table, row_id),
    ).fetchall()
    winners: dict[str, tuple[Stamp, str, Any]] = {}
    for change in (_row_change(row) for row in rows):
        for name, value in change.fields.items():
            if name not in winners or (change.stamp, change.id) > winners[name][:2]:
                winners[name] = (change.stamp, change.id, value)
    merged = {name: value for name, (_stamp, _id, value) in winners.items()}
    required = replication.TABLES[table].required
    return merged if all(merged.get(name) is not None for name in required) else None


def _apply_rows(store: Store, changes: list[Change]) -> None:
    """Write the workshops and sessions received, workshops first; a session
    whose workshop has not arrived waits for it (written when it does)."""
    workshops = {c.row for c in changes if c.table == "workshops"}
    sessions = {c.row for c in changes if c.table == "sessions"}
    for workshop_id in sorted(workshops):
        if _upsert(store, "workshops", workshop_id):
            waiting = store.conn.execute(
                "SELECT DISTINCT row_id FROM replication_log "
                "WHERE tbl = 'sessions' AND json_extract(fields, '$.workshop_id') = ?",
                (workshop_id,),
            )
            sessions.update(row[0] for row in waiting)
    for session_id in sorted(sessions):
        _upsert(store, "sessions", session_id)


def _upsert(store: Store, table: str, row_id: str) -> bool:
    """Write one merged row; False while it lacks what it needs."""
    merged = _merged_row(store, table, row_id)
    if merged is None:
        return False
    if (
        table == "sessions"
        and store.one("SELECT 1 FROM workshops WHERE id = ?", (merged["workshop_id"],)) is None
    ):
        return False
    merged.setdefault("created_at", merged.get("updated_at") or store.now_iso())
    merged.setdefault("updated_at", merged["created_at"])
    if table == "workshops":
        merged.setdefault("description", "")
    if store.one(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)) is None:
        store.db.table(table).insert({"id": row_id, **merged})
    else:
        store.db.table(table).update(row_id, merged)
    return True


def _sessions_touched(store: Store, changes: list[Change], table: str = "registrations") -> set[str]:
    """The sessions a batch of changes touched through ``table``'s rows (and,
    for the seats, those whose capacity it changed)."""
    sessions = set()
    if table == "registrations":
        sessions = {c.row for c in changes if c.table == "sessions" and "capacity" in c.fields}
    for row_id in {c.row for c in changes if c.table == table}:
        found = store.conn.execute(
            "SELECT json_extract(fields, '$.session_id') FROM replication_log "
            "WHERE tbl = ? AND row_id = ? AND json_extract(fields, '$.session_id') IS NOT NULL LIMIT 1",
            (table, row_id),
        ).fetchone()
        if found is not None:
            sessions.add(found[0])
    return sessions


def _session_state(store: Store, table: str, session: dict[str, Any]) -> replication.State:
    """The merged state of one session's ``table`` rows, with what they point at."""
    row_ids = {
        row[0]
        for row in store.conn.execute(
            "SELECT DISTINCT row_id FROM replication_log "
            "WHERE tbl = ? AND json_extract(fields, '$.session_id') = ?",
            (table, session["id"]),
        )
    }
    rows = _log_changes(store, table, row_ids)
    members = {str(c.fields["member_id"]) for c in rows if c.fields.get("member_id")}
    return replication.materialize(
        rows
        + _log_changes(store, "sessions", {session["id"]})
        + _log_changes(store, "workshops", {session["workshop_id"]})
        + _log_changes(store, "members", _merge_group(members, _merge_links(store)))
    )


def _apply_attendance(store: Store, changes: list[Change]) -> None:
    """Merge the attendance of each session the changes touched (one mark a
    person and session, each field last written wins) and write it here."""
    for session_id in sorted(_sessions_touched(store, changes, "attendance")):
        session = store.one("SELECT id, workshop_id FROM sessions WHERE id = ?", (session_id,))
        if session is None:
            continue
        state = _session_state(store, "attendance", session)
        for absorbed in state.absorbed:
            store.conn.execute("DELETE FROM attendance WHERE id = ?", (absorbed,))
        for mark_id, values in sorted(state.rows["attendance"].items()):
            if values["session_id"] != session_id:
                continue
            member = values.get("member_id")
            if member is not None and store.one("SELECT 1 FROM members WHERE id = ?", (member,)) is None:
                continue  # the member has not arrived here: the mark waits for them
            # who marked, when their account is known here (it arrives before
            # their marks, from the device that made it)
            marker = values.get("marked_by")
            known = store.conn.execute("SELECT 1 FROM staff WHERE id = ?", (marker,)).fetchone()
            marker = marker if known else None
            if store.one("SELECT 1 FROM attendance WHERE id = ?", (mark_id,)) is None:
                if member is not None:
                    store.conn.execute(
                        "DELETE FROM attendance WHERE session_id = ? AND member_id = ?", (session_id, member)
                    )
                store.conn.execute(
                    "INSERT INTO attendance (id, session_id, member_id, present, walk_in, marked_at, "
                    "marked_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        mark_id,
                        session_id,
                        member,
                        values["present"],
                        values.get("walk_in") or 0,
                        values["marked_at"],
                        marker,
                    ),
                )
            else:
                store.conn.execute(
                    "UPDATE attendance SET present = ?, walk_in = ?, marked_at = ?, marked_by = ? "
                    "WHERE id = ?",
                    (values["present"], values.get("walk_in") or 0, values["marked_at"], marker, mark_id),
                )


def _log_changes(store: Store, table: str, row_ids: set[str]) -> list[Change]:
    found: list[Change] = []
    for row_id in sorted(row_ids):
        found.extend(
            _row_change(row)
            for row in store.conn.execute(
                "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log "
                "WHERE tbl = ? AND row_id = ?",
                (table, row_id),
            )
        )
    return found


def _apply_seats(store: Store, changes: list[Change]) -> None:
    """Merge the registrations of each session the changes touched (the
    rules of ``sync.replication``: one registration a person, the seats in
    one order on every device) and write them here; a booking the merge
    moved to the waiting list is kept for staff (« À vérifier »)."""
    for session_id in sorted(_sessions_touched(store, changes)):
        session = store.one("SELECT id, workshop_id FROM sessions WHERE id = ?", (session_id,))
        if session is None:
            continue  # not here yet: its registrations wait for it
        _write_seats(store, session_id, _session_state(store, "registrations", session))


def _write_seats(store: Store, session_id: str, state: replication.State) -> None:
    now = store.now_iso()
    for absorbed in state.absorbed:
        store.conn.execute("DELETE FROM registrations WHERE id = ?", (absorbed,))
    merged = {r: v for r, v in state.rows["registrations"].items() if v["session_id"] == session_id}
    order = state.queues.get(session_id, [])
    cancelled = sorted(r for r, v in merged.items() if v["status"] == "cancelled")
    for place, registration_id in enumerate([*order, *cancelled], start=1):
        values = merged[registration_id]
        if store.one("SELECT 1 FROM members WHERE id = ?", (values["member_id"],)) is None:
            continue  # the member has not arrived here: the registration waits for them
        held = store.one("SELECT id FROM registrations WHERE id = ?", (registration_id,))
        if held is None:
            store.conn.execute(
                "DELETE FROM registrations WHERE session_id = ? AND member_id = ?",
                (session_id, values["member_id"]),
            )
            store.conn.execute(
                "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, queued_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (registration_id, session_id, values["member_id"], values["status"], place, now, now, now),
            )
        else:
            store.conn.execute(
                "UPDATE registrations SET status = ?, queue_seq = ?, updated_at = ? WHERE id = ?",
                (values["status"], place, now, registration_id),
            )
    for conflict in state.seat_conflicts:
        if conflict.session_id == session_id:
            found = store.conn.execute(
                "INSERT OR IGNORE INTO replication_conflicts "
                "(registration_id, session_id, member_id, position, found_at) VALUES (?, ?, ?, ?, ?)",
                (conflict.registration_id, session_id, conflict.member_id, conflict.position, now),
            ).rowcount
            if found and _made_here(store, conflict.registration_id):
                # this device told the hub « booked »: it alone tells it
                # the seat went to the waiting list (each device sends only
                # its own events, so the hub hears it once)
                store.emit(
                    "registration.changed",
                    {
                        "registration_id": conflict.registration_id,
                        "session_id": session_id,
                        "member_id": conflict.member_id,
                        "status": "waitlisted",
                    },
                )


def _made_here(store: Store, registration_id: str) -> bool:
    return (
        store.one(
            "SELECT 1 FROM replication_log WHERE tbl = 'registrations' AND row_id = ? AND origin = 'local'",
            (registration_id,),
        )
        is not None
    )


def _apply_devices(store: Store, device_ids: set[str]) -> None:
    """The centre's devices the log names: their blobs are accepted from now on."""
    own = _device(store.conn)["device_id"]
    for device_id in sorted(device_ids - {own}):
        rows = store.conn.execute(
            "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log "
            "WHERE tbl = 'devices' AND row_id = ?",
            (device_id,),
        ).fetchall()
        known = replication.materialize(_row_change(row) for row in rows).rows["devices"].get(device_id)
        if known is not None:
            store.conn.execute(
                "INSERT INTO replication_peers (device_id, verify_key, label, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET verify_key = excluded.verify_key",
                (device_id, bytes.fromhex(known["verify_key"]), known.get("label"), store.now_iso()),
            )


def _advance(conn: sqlite3.Connection, relay_seq: int | None) -> None:
    if relay_seq is not None:
        conn.execute("UPDATE replication_device SET cursor = max(cursor, ?) WHERE id = 1", (relay_seq,))


def _refuse(store: Store, raw: bytes, reason: str, relay_seq: int | None) -> None:
    try:
        header = frame.read_header(raw)
        device_id, seq = header.device, header.seq
    except frame.EnvelopeError:
        device_id, seq = None, None
    with store.transaction():
        store.conn.execute(
            "INSERT INTO replication_refused (at, device_id, seq, reason) VALUES (?, ?, ?, ?)",
            (store.now_iso(), device_id, seq, reason[:500]),
        )
        _advance(store.conn, relay_seq)  # never applied, never asked for again


def refused(store: Store) -> list[dict]:
    """Blobs refused and not yet checked by staff, oldest first: what the
    staff screen reports (« À vérifier »)."""
    return store.query("SELECT * FROM replication_refused WHERE checked_at IS NULL ORDER BY id")


def apply_member(
    store: Store, member_id: str, erase: Callable[[str], None], links: dict[str, set[str]] | None = None
) -> None:
    """Merge one member's changes (local and received), with those of every
    record merged with them (``links``: ``_merge_links``, read here when
    not given), and write the result through kiosk/core, inside the
    caller's transaction."""
    group = _merge_group({member_id}, _merge_links(store) if links is None else links)
    state = replication.materialize(_log_changes(store, "members", group))
    merged = state.rows["members"].get(member_id)
    current = store.one(
        "SELECT id, erased_at, last_seen_at, created_at, merged_into FROM members WHERE id = ?", (member_id,)
    )
    if member_id in state.erased:
        if current is not None and current["erased_at"] is None:
            erase(member_id)
        elif current is None and merged is not None and merged.get("created_at"):
            store.db.table("members").insert(
                {"id": member_id, "created_at": merged["created_at"], "updated_at": merged["erased_at"]}
                | {"erased_at": merged["erased_at"], "consent_data": 0, "qpv": 0}
            )
        _scrub(store.conn, member_id)
        return
    if merged is None:  # held back: its creation has not arrived
        return
    kept = merged.get("merged_into")
    if kept is not None:  # merged into another record: a tombstone whose rows follow the kept one
        if current is None:
            wiped = {k: (0 if k in _FLAGS else None) for k in replication.PERSONAL_MEMBER_FIELDS}
            store.db.table("members").insert(
                {"id": member_id, "created_at": merged["created_at"], "updated_at": merged["created_at"]}
                | wiped
                | {"merged_into": kept, "erased_at": store.now_iso(), "last_seen_at": None}
            )
        elif current["merged_into"] != kept:
            if store.one("SELECT 1 FROM members WHERE id = ?", (kept,)) is None:
                store.conn.execute("UPDATE members SET card_code = NULL WHERE id = ?", (member_id,))
                apply_member(store, kept, erase, links)
            follow_merge(store, member_id, kept)
        return
    # the fields some change set; the others keep what this device holds
    values = {name: merged[name] for name in MEMBER_FIELDS if name in merged}
    values = {k: (0 if v is None and k in _FLAGS else v) for k, v in values.items()}
    code = values.get("card_code")
    if (
        code
        and store.conn.execute(
            "SELECT 1 FROM members WHERE card_code = ? AND id != ? "
            "UNION ALL SELECT 1 FROM revoked_cards WHERE card_code = ? AND member_id != ?",
            (code, member_id, code, member_id),
        ).fetchone()
    ):
        # two devices gave one code at once (or it names someone else here):
        # the member arrives without it rather than not at all; staff give a new card
        values["card_code"] = None
    if current is None:
        new_row = {"id": member_id, **values, "last_seen_at": None, "erased_at": None}
        _insert_plain(store.conn, "members", new_row)
    elif current["erased_at"] is None:
        store.db.table("members").update(member_id, values)
    elif current["merged_into"] is not None:
        # merged here, kept after all (two devices merged the pair both ways:
        # the smaller id stays on every device): its details come back
        store.db.table("members").update(member_id, {**values, "erased_at": None})
    else:
        return  # erased here: erasure wins (its change is on its way to the others)
    row = store.one(
        "SELECT first_name, last_name, created_at, last_seen_at FROM members WHERE id = ?", (member_id,)
    )
    if row and row["first_name"] and row["last_name"]:
        seen = row["last_seen_at"] or row["created_at"]
        search.index_member(store.conn, member_id, row["first_name"], row["last_name"], seen)


_FLAGS = frozenset(("qpv", "consent_data", "consent_photos", "consent_contact"))


def _insert_plain(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> None:
    """One row of plain values: what sqlite-utils' insert does, without its
    look at the table's columns each time (a joining device writes the
    centre's members one after the other)."""
    columns = list(values)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[column] for column in columns],
    )


# ---------------------------------------------------------------- duplicates merged by staff
# A record merged into another (``merged_into``, kiosk/core/duplicates.py)
# keeps its row as a tombstone without details (``erased_at`` set, so every
# list of living members leaves it out), and what this device holds of it
# follows the kept member: visits, registrations, attendance, card, review
# items. The same on the device that merged and on each one that learns it.


#: each open database's merge links, with the log's last row they were read
#: at: a batch merges many sessions, each with its members' merge groups,
#: and the log is read again only once it has grown
_LINKS: weakref.WeakKeyDictionary[Store, tuple[tuple[Any, ...], dict[str, set[str]]]] = (
    weakref.WeakKeyDictionary()
)


def _merge_links(store: Store) -> dict[str, set[str]]:
    """Members linked by any merge the log names, both ways (a superset of
    the merges in force: enough to find who must be merged together)."""
    last = tuple(
        store.conn.execute(
            "SELECT rowid, change_id FROM replication_log ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        or ()
    )
    held = _LINKS.get(store)
    if held is not None and held[0] == last:
        return held[1]
    links: dict[str, set[str]] = {}
    for member, target in store.conn.execute(
        "SELECT DISTINCT row_id, json_extract(fields, '$.merged_into') FROM replication_log "
        "WHERE tbl = 'members' AND fields LIKE '%merged_into%' "
        "AND json_extract(fields, '$.merged_into') IS NOT NULL"
    ):
        links.setdefault(member, set()).add(target)
        links.setdefault(target, set()).add(member)
    _LINKS[store] = (last, links)
    return links


def _merge_group(member_ids: set[str], links: dict[str, set[str]]) -> set[str]:
    """``member_ids`` and every record merged with them, directly or not."""
    group, todo = set(member_ids), list(member_ids)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in group:
                group.add(other)
                todo.append(other)
    return group


def _apply_members(store: Store, changes: list[Change], erase: Callable[[str], None]) -> list[str]:
    """Apply the members a batch of changes touched, with every record merged
    with them; a record merged away first, so the card it gives up is free
    for the kept one. Then the pairs staff dismissed. Returns the members."""
    links = _merge_links(store)
    touched = _merge_group({c.row for c in changes if c.table == "members"}, links)
    merging = {c.row for c in changes if c.table == "members" and c.fields.get("merged_into")}
    for member_id in sorted(touched, key=lambda m: (m not in merging, m)):
        apply_member(store, member_id, erase, links)
    for change in changes:
        if change.table == "duplicate_dismissals":
            row = _merged_row(store, "duplicate_dismissals", change.row)
            if row is not None:
                low, high = sorted((row["member_a"], row["member_b"]))
                store.conn.execute(
                    "INSERT OR IGNORE INTO duplicate_dismissals (member_a, member_b, dismissed_at) "
                    "VALUES (?, ?, ?)",
                    (low, high, row["dismissed_at"]),
                )
    return sorted(touched)


def record_dismissal(store: Store, member_a: str, member_b: str, at: str) -> None:
    """« Pas la même personne », for the centre's other devices too."""
    low, high = sorted((member_a, member_b))
    record(
        store,
        "duplicate_dismissals",
        replication.dismissal_id(low, high),
        {"member_a": low, "member_b": high, "dismissed_at": at},
    )


def follow_merge(store: Store, member_id: str, kept_id: str) -> None:
    """``member_id``'s record was merged into ``kept_id``'s (here or on
    another device): inside the caller's transaction, its details go, its
    card is refused from now on (a scan finds the kept member: see
    ``Members.by_card``) unless the kept member took it, and what this
    device holds of it follows the kept member. Two registrations (or two
    marks) of the person to one session become one, by one rule on every
    device, replicating or not: the better status stays (booked, then
    waiting, then cancelled; among equals the earlier row), so a booked seat
    never gives way to a waiting one (a replicating device applies it
    through the log's merge, ``sync.replication``)."""
    conn, now = store.conn, store.now_iso()
    other = store.one("SELECT card_code, erased_at FROM members WHERE id = ?", (member_id,))
    kept = store.one("SELECT card_code FROM members WHERE id = ?", (kept_id,))
    if other is None or kept is None:
        return
    if other["card_code"] and kept["card_code"] and kept["card_code"] != other["card_code"]:
        conn.execute(
            "INSERT OR IGNORE INTO revoked_cards (card_code, member_id, reason, revoked_at) "
            "VALUES (?, ?, 'replaced', ?)",
            (other["card_code"], member_id, now),
        )
    wiped: dict[str, Any] = {k: (0 if k in _FLAGS else None) for k in replication.PERSONAL_MEMBER_FIELDS}
    wiped |= {"merged_into": kept_id, "erased_at": other["erased_at"] or now, "updated_at": now}
    store.db.table("members").update(member_id, wiped)
    search.unindex_member(conn, member_id)
    conn.execute("UPDATE visits SET member_id = ? WHERE member_id = ?", (kept_id, member_id))
    conn.execute("UPDATE replication_conflicts SET member_id = ? WHERE member_id = ?", (kept_id, member_id))
    conn.execute(
        "DELETE FROM duplicate_dismissals WHERE member_a = ? OR member_b = ?", (member_id, member_id)
    )
    sessions: set[str] = set()
    for table, rank in (("registrations", _registration_rank), ("attendance", _attendance_rank)):
        for row in store.query(f"SELECT * FROM {table} WHERE member_id = ?", (member_id,)):
            sessions.add(row["session_id"])
            twin = store.one(
                f"SELECT * FROM {table} WHERE session_id = ? AND member_id = ?", (row["session_id"], kept_id)
            )
            if twin is None:
                conn.execute(f"UPDATE {table} SET member_id = ? WHERE id = ?", (kept_id, row["id"]))
                continue
            stays, goes = (row, twin) if rank(row) < rank(twin) else (twin, row)
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (goes["id"],))
            conn.execute(f"UPDATE {table} SET member_id = ? WHERE id = ?", (kept_id, stays["id"]))
    if enabled(conn):
        for table, apply in (("registrations", _apply_seats), ("attendance", _apply_attendance)):
            apply(store, _log_changes(store, table, _rows_of_sessions(store, table, sessions)))


def _rows_of_sessions(store: Store, table: str, sessions: set[str]) -> set[str]:
    found: set[str] = set()
    for session_id in sessions:
        found.update(
            row[0]
            for row in store.conn.execute(
                "SELECT DISTINCT row_id FROM replication_log "
                "WHERE tbl = ? AND json_extract(fields, '$.session_id') = ?",
                (table, session_id),
            )
        )
    return found


def _registration_rank(row: dict[str, Any]) -> tuple[int, str, str]:
    # the centre's rule (sync.replication.STATUS_RANK): the better status,
    # then the earlier row, as a replicating device orders them by their
    # first change
    return (replication.STATUS_RANK[row["status"]], row["created_at"], row["id"])


def _attendance_rank(row: dict[str, Any]) -> tuple[int, str, str]:
    # the centre's rule: present before absent, then the earlier mark
    return (0 if row["present"] else 1, row["marked_at"], row["id"])


def advance_cursor(store: Store, relay_seq: int) -> None:
    """The relay's cursor moved past blobs this device need not open (its own)."""
    with store.transaction():
        _advance(store.conn, relay_seq)


def cursor(store: Store) -> int:
    return int(_device(store.conn)["cursor"])


def pending(store: Store) -> int:
    """Local changes not yet stored by the relay."""
    unsealed = store.conn.execute(
        "SELECT count(*) FROM replication_log WHERE origin = 'local' AND blob_seq IS NULL"
    ).fetchone()[0]
    unsent = store.conn.execute(
        "SELECT count(*) FROM replication_log l JOIN replication_outgoing o ON o.seq = l.blob_seq "
        "WHERE l.origin = 'local' AND o.stored_at IS NULL"
    ).fetchone()[0]
    return int(unsealed) + int(unsent)


# ---------------------------------------------------------------- where this device stands

#: sync_state keys: when the last exchange with the relay went through, and
#: (JSON, device id -> UTC time) when a blob of each other device last arrived
LAST_EXCHANGE_KEY = "replication_last_success"
SEEN_KEY = "replication_seen"
#: sync_state key: the centre's devices the hub says were revoked (JSON list)
REVOKED_KEY = "replication_revoked"
#: sync_state key: how many erasures were made on this device
ERASURES_KEY = "replication_erasures"


def _state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def note_exchange(store: Store, senders: set[str]) -> None:
    """An exchange with the relay went through: its time, and that a blob
    of each device in ``senders`` arrived now."""
    now = store.now_iso()
    with store.transaction():
        seen = json.loads(_state(store.conn, SEEN_KEY) or "{}")
        seen.update({device: now for device in senders})
        _set_state(store.conn, SEEN_KEY, json.dumps(seen, sort_keys=True))
        _set_state(store.conn, LAST_EXCHANGE_KEY, now)


def overview(store: Store) -> dict[str, Any] | None:
    """Where this device stands, None when it does not replicate:
    ``{"device_id", "pending", "last_success", "devices": [{"device_id",
    "label", "last_seen"}]}``: the changes the relay has not stored yet,
    the last exchange that went through, and the centre's other devices
    with when a blob of theirs last arrived here (None: not yet)."""
    if not enabled(store.conn):
        return None
    seen = json.loads(_state(store.conn, SEEN_KEY) or "{}")
    own = device_id(store)
    # a device revoked at the hub is no longer one of the centre's (key_rotation.note_active)
    revoked = set(json.loads(_state(store.conn, REVOKED_KEY) or "[]"))
    peers = store.conn.execute(
        "SELECT device_id, label FROM replication_peers ORDER BY coalesce(label, ''), device_id"
    ).fetchall()
    return {
        "device_id": own,
        "pending": pending(store),
        "last_success": _state(store.conn, LAST_EXCHANGE_KEY),
        "devices": [
            {"device_id": peer, "label": label, "last_seen": seen.get(peer)}
            for peer, label in peers
            if peer != own and peer not in revoked
        ],
    }


# ---------------------------------------------------------------- pairing a new device

#: what an invite's text starts with (the rest: base64url of its JSON)
INVITE_PREFIX = "accueil-invite:"
_INVITE_KEYS = {"hub", "code", "invite", "inviter", "key"}


def encode_invite(hub_url: str, code: str, invite_id: str, inviter_id: str, inviter_key: bytes) -> str:
    """The text (or QR code) a new device is given: the hub, the one-time
    code, the invite, and who invites with which key. No secret of the
    centre: its key comes later, sealed to the new device."""
    data = {
        "hub": hub_url,
        "code": code,
        "invite": invite_id,
        "inviter": inviter_id,
        "key": inviter_key.hex(),
    }
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return INVITE_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_invite(text: str) -> dict[str, Any]:
    """An invite's parts; InvalidInput (in French for staff) when the text
    is not one, e.g. a character lost when it was copied."""
    text = "".join(text.split())
    try:
        if not text.startswith(INVITE_PREFIX):
            raise ValueError("no prefix")
        body = text[len(INVITE_PREFIX) :]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(data, dict) or set(data) != _INVITE_KEYS:
            raise ValueError("wrong fields")
        if not all(isinstance(data[key], str) for key in _INVITE_KEYS):
            raise ValueError("wrong types")
        if not (protocol.is_id(data["invite"]) and protocol.is_id(data["inviter"])):
            raise ValueError("wrong ids")
        data["key"] = bytes.fromhex(data["key"])
        if len(data["key"]) != 32 or not data["hub"].startswith(("http://", "https://")):
            raise ValueError("wrong key or hub")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "invite",
            N_(
                "Cette invitation est illisible. Vérifiez le texte recopié, "
                "ou demandez une nouvelle invitation."
            ),
            f"not an invite: {error}",
            value=text[:40],
        ) from error
    return data


#: an invite's short code to type: 8 of these (no 0/O, 1/I/L: the hub's
#: enrolment codes' alphabet), shown « K7P4-QX9M »
SHORT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SHORT_LENGTH = 8


def short_code(text: str) -> str | None:
    """``text`` as an invite's short code (« K7P4-QX9M »; case, spaces and
    dashes ignored), None when it is an invite's whole text. InvalidInput
    (in French) for anything else short: a letter too many or too few, or
    one the codes never hold (O, I, L, 0, 1)."""
    if "".join(text.split()).startswith(INVITE_PREFIX) or len(text.strip()) > 40:
        return None
    typed = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(typed) != SHORT_LENGTH or not set(typed) <= set(SHORT_ALPHABET):
        raise InvalidInput(
            "code",
            N_(
                "Ce code n'a pas la bonne forme : il a 8 lettres et chiffres, comme K7P4-QX9M "
                "(jamais de O, de I, de L, de 0 ni de 1)."
            ),
            f"not a short code: {len(typed)} characters",
            value=text[:40],
        )
    return typed[:4] + "-" + typed[4:]


#: sync_state key: why this device must join its centre again (a backup was
#: restored into it); absent while its identity is its own
REJOIN_KEY = "replication_rejoin"


def forget_identity(store: Store, reason: str) -> None:
    """This device's replication identity (keys, id at the hub, blob counter,
    relay cursor, replay guard) is not to be trusted any more, e.g. it came
    from a backup: the relay and the centre's other devices already hold
    blobs with its counters, so its next ones would be refused as replays,
    or taken for another content. Drop it and what it sealed but did not
    send; its data stays, and goes to the centre again once the device has
    joined as a new one (``adopt``, then ``baseline``)."""
    with store.transaction():
        store.conn.execute("DELETE FROM replication_device")
        store.conn.execute("DELETE FROM replication_outgoing")
        _set_state(store.conn, REJOIN_KEY, json.dumps({"why": reason, "at": store.now_iso()}))


def rejoin_reason(store: Store) -> str | None:
    """Why this device must join its centre again (``backup``: a backup was
    restored into it; ``counter``: the relay holds blobs of its counters
    with another content, a copy of it runs elsewhere), while it has not."""
    held = _state(store.conn, REJOIN_KEY)
    return str(json.loads(held)["why"]) if held else None


def _rejoin_items(store: Store) -> list[review.Item]:
    held = _state(store.conn, REJOIN_KEY)
    if not held:
        return []
    return [
        review.Item(
            kind="replication_rejoin",
            item_id="rejoin",
            day=str(json.loads(held)["at"])[:10],
            template=_REJOIN_WHY.get(rejoin_reason(store) or "", _REJOIN_WHY["backup"]),
        )
    ]


_REJOIN_WHY = {
    "backup": N_(
        "Cette borne a été restaurée depuis une sauvegarde : elle n'échange plus avec les autres "
        "appareils du centre. Sur l'un d'eux, « Ajouter un appareil », puis ici « Rejoindre un centre ». "
        "Sans autre appareil, inscrivez la borne avec un code de la fédération."
    ),
    "counter": N_(
        "Une copie de cette borne fonctionne ailleurs : elle n'échange plus avec les autres appareils "
        "du centre. Sur l'un d'eux, « Ajouter un appareil », puis ici « Rejoindre un centre »."
    ),
}

review.register(
    review.Kind(
        code="replication_rejoin",
        title=N_("Borne à ajouter de nouveau au centre"),
        icon="devices",
        items=_rejoin_items,
        correct_screen="staff_devices",
    )
)


def start_again_in(store: Store) -> None:
    """Before a device that replicated on its own (its own keyring: two
    kiosks of a centre each upgraded as its first device) takes the
    centre's keyring: what it sealed under its own key and has not sent
    would only be refused by the others (its data goes to them again through
    ``baseline``), and the relay's blobs it refused, unable to open them,
    must be fetched again once it can. Its counter goes on."""
    with store.transaction():
        store.conn.execute("DELETE FROM replication_outgoing WHERE stored_at IS NULL")
        store.conn.execute("UPDATE replication_device SET cursor = 0, guard = '{}' WHERE id = 1")
        store.conn.execute("DELETE FROM sync_state WHERE key = ?", (REJOIN_KEY,))


def handover(store: Store) -> dict[str, Any]:
    """What the inviting device seals to the new one: the centre's keyring
    and the devices whose blobs to accept (this one included)."""
    peers = {
        d: bytes(k).hex()
        for d, k in store.conn.execute("SELECT device_id, verify_key FROM replication_peers")
    }
    peers[_device(store.conn)["device_id"]] = bytes(keys(store).verify_key).hex()
    return {"keyring": keyring(store).to_json(), "peers": peers}


def adopt(store: Store, handed: Any) -> None:
    """Take the centre's keyring and devices a new device was handed; what
    it held before (if anything) goes into the log for the others."""
    try:
        ring = envelope.Keyring.from_json(handed["keyring"])
        peers = {str(d): bytes.fromhex(k) for d, k in handed["peers"].items()}
    except (KeyError, TypeError, AttributeError, ValueError, frame.EnvelopeError) as error:
        raise Refused(f"the handed-over keyring is not one: {error}") from error
    with store.transaction():
        store.conn.execute(
            "UPDATE replication_device SET keyring = ?, baseline = ? WHERE id = 1",
            (json.dumps(ring.to_json()), BASELINE_JOINED),
        )
    for device_id, key in peers.items():
        if device_id != _device(store.conn)["device_id"]:
            add_peer(store, device_id, key)


def snapshot(store: Store) -> tuple[dict[str, Any], int]:
    """Everything this device's log holds (scrubbed of the erased), and the
    relay cursor it covers: where a joining device starts."""
    rows = store.conn.execute(
        "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log ORDER BY stamp"
    ).fetchall()
    # the fields' texts parsed in one call, not one each (a centre's snapshot
    # holds a change for every visit)
    fields = json.loads("[" + ",".join(row[5] for row in rows) + "]")
    keys = ("id", "table", "row", "op", "stamp")
    changes = [dict(zip(keys, row[:5], strict=True), fields=f) for row, f in zip(rows, fields, strict=True)]
    return {"changes": changes}, cursor(store)


def seal_snapshot(store: Store, centre_id: str) -> tuple[bytes, int]:
    payload, through = snapshot(store)
    device = _device(store.conn)
    ring = keyring(store)
    header = frame.Header("snapshot", centre_id, device["device_id"], 0, ring.current)
    return envelope.seal(ring, keys(store), header, payload), through


def apply_snapshot(
    store: Store, raw: bytes, through: int, centre_id: str, erase: Callable[[str], None]
) -> list[str]:
    """Start from a snapshot another device of the centre sealed: its
    changes join the log, the members are merged, the cursor moves to the
    one it covers. Raises :class:`Refused` when it cannot be trusted."""
    peers = {
        d: bytes(k) for d, k in store.conn.execute("SELECT device_id, verify_key FROM replication_peers")
    }
    try:
        header, payload = envelope.open_blob(raw, keyring(store), peers, centre_id)
        if header.kind != "snapshot" or not isinstance(payload, dict):
            raise replication.ReplicationError("not a snapshot")
        changes = [Change.from_json(item) for item in payload["changes"]]
    except (frame.EnvelopeError, replication.ReplicationError, KeyError, TypeError) as error:
        _refuse(store, raw, f"{type(error).__name__}: {error}", None)
        raise Refused(str(error)) from error
    with store.transaction():
        new = changelog.insert_many(store.conn, changes, "remote")
        clock = _clock(store.conn, _device(store.conn))
        for change in changes:
            clock.observe(change.stamp)
        _save_clock(store.conn, clock.last())
        _advance(store.conn, through)
        _apply_devices(store, {change.row for change in new if change.table == "devices"})
        _apply_rows(store, new)
        touched = _apply_members(store, new, erase)
        _apply_more(store, new, set(touched))
        _apply_seats(store, new)
        _apply_attendance(store, new)
    return touched


# ---------------------------------------------------------------- visits, staff, settings, the audit log

#: the parts of a device's data ``baseline`` puts into the log (flags)
BASELINE_CORE, BASELINE_MORE, BASELINE_SETTINGS = 1, 2, 4
#: a centre's first device: everything it holds
BASELINE_FIRST = BASELINE_CORE | BASELINE_MORE | BASELINE_SETTINGS
#: a device joining a centre: its rows, not its settings (the centre's stay)
BASELINE_JOINED = BASELINE_CORE | BASELINE_MORE
#: the tables ``_apply_more`` writes
MORE_TABLES = ("staff", "settings", "audit_log", "visits")
_VISIT_COLUMNS = "id, occurred_at, member_id, reason, recorded_by_role, recorded_by"
_STAFF_COLUMNS = "id, name, role, pin_salt, pin_hash, pin_params, active, created_at, updated_at"


def _baseline_more(store: Store) -> list[tuple[str, str, dict[str, Any], str]]:
    """This device's staff accounts, visits and audit lines as changes
    (staff first: a visit names who recorded it)."""
    writes: list[tuple[str, str, dict[str, Any], str]] = []
    for row in store.conn.execute(f"SELECT {_STAFF_COLUMNS} FROM staff ORDER BY created_at, id"):
        staff_id, name, role, salt, pin_hash, params, active, created_at, updated_at = row
        fields = {
            "name": name,
            "role": role,
            "pin_salt": bytes(salt).hex(),
            "pin_hash": bytes(pin_hash).hex(),
            "pin_params": params,
            "active": int(active),
            "created_at": created_at,
            "updated_at": updated_at,
        }
        writes.append(("staff", staff_id, fields, "set"))
    for visit_id, occurred_at, member_id, reason, role, recorder, outreach_id in store.conn.execute(
        f"SELECT {_VISIT_COLUMNS}, outreach_id FROM visits ORDER BY rowid"
    ):
        fields = {
            "occurred_at": occurred_at,
            "member_id": member_id,
            "reason": reason,
            "recorded_by_role": role,
            "recorded_by": recorder,
        }
        if outreach_id is not None:
            fields["outreach_id"] = outreach_id
        writes.append(("visits", visit_id, fields, "set"))
    for line_id, at, actor_id, actor_name, action, detail in store.conn.execute(
        "SELECT id, at, actor_id, actor_name, action, detail FROM audit_log ORDER BY seq"
    ):
        actor = {"id": actor_id, "name": actor_name} if actor_id or actor_name else None
        writes.append(("audit_log", line_id, changelog.audit_fields(at, actor, action, detail), "set"))
    return writes


def record_staff(store: Store, staff_id: str, row: dict[str, Any]) -> None:
    """A staff account's replicated fields that ``row`` holds (PIN salt and
    hash as bytes), inside the write's transaction."""
    allowed = replication.TABLES["staff"].fields
    fields = {k: (bytes(v).hex() if k in ("pin_salt", "pin_hash") else _plain(v)) for k, v in row.items()}
    changelog.record(store.conn, "staff", staff_id, {k: v for k, v in fields.items() if k in allowed})


def _log_changes_of(store: Store, tables: tuple[str, ...], origin: str | None = None) -> list[Change]:
    marks = ",".join("?" * len(tables))
    sql = f"SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log WHERE tbl IN ({marks})"
    params: list[Any] = list(tables)
    if origin is not None:
        sql += " AND origin = ?"
        params.append(origin)
    return [_row_change(row) for row in store.conn.execute(sql, params)]


def _by_row(changes: list[Change]) -> dict[str, dict[str, Any]]:
    """Each row's fields, each last written winning (stamp, then change id)."""
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.row, []).append(change)
    rows: dict[str, dict[str, Any]] = {}
    for row, held in grouped.items():
        if len(held) == 1:  # a visit's or an audit line's usual case: one change
            rows[row] = dict(held[0].fields)
            continue
        fields: dict[str, Any] = {}
        for change in sorted(held, key=Change.sort_key):
            fields.update(change.fields)
        rows[row] = fields
    return rows


def _apply_more(store: Store, changes: list[Change], members: set[str], once: bool = False) -> None:
    """Write the staff accounts, shared settings, audit lines and visits
    among ``changes`` (new to this device), inside the caller's transaction;
    ``members``: those the same batch brought, whose waiting visits can now
    be written. Nothing here emits an event for the hub: each visit reached
    it from the device where it was recorded. ``once``: changes that may
    have been applied here already (the log's, at an upgrade): a visit
    this device holds is not written again."""
    staff = sorted({c.row for c in changes if c.table == "staff"})
    for staff_id in staff:
        _apply_staff(store, staff_id)
    for key in sorted({c.row for c in changes if c.table == "settings"}):
        _apply_setting(store, key)
    _apply_audit(store, [c for c in changes if c.table == "audit_log"])
    visits = [c for c in changes if c.table == "visits"]
    arrived = sorted(members | set(staff))
    waiting: set[str] = set()
    for start in range(0, len(arrived), 500):
        chunk = arrived[start : start + 500]
        marks = ",".join("?" * len(chunk))
        waiting.update(
            row[0]
            for row in store.conn.execute(
                f"SELECT row_id FROM replication_waiting WHERE tbl = 'visits' AND needs IN ({marks})", chunk
            )
        )
    if waiting:
        store.conn.executemany(
            "DELETE FROM replication_waiting WHERE tbl = 'visits' AND row_id = ?", ((v,) for v in waiting)
        )
        visits += _log_changes(store, "visits", waiting)
    if once and visits:  # one pass over the visits' ids: they have no index
        held = {row[0] for row in store.conn.execute("SELECT id FROM visits")}
        visits = [change for change in visits if change.row not in held]
    _apply_visits(store, visits)


def _apply_staff(store: Store, staff_id: str) -> None:
    merged = _merged_row(store, "staff", staff_id)
    if merged is None:  # held back: its creation has not arrived
        return
    values = {k: v for k, v in merged.items() if k in replication.TABLES["staff"].fields}
    for name in ("pin_salt", "pin_hash"):
        values[name] = bytes.fromhex(values[name])
    if values.get("active") is None:
        values["active"] = 1
    values.setdefault("created_at", values.get("updated_at") or store.now_iso())
    values.setdefault("updated_at", values["created_at"])
    if store.conn.execute("SELECT 1 FROM staff WHERE id = ?", (staff_id,)).fetchone() is None:
        _insert_plain(store.conn, "staff", {"id": staff_id, **values})
    else:
        store.db.table("staff").update(staff_id, values)


def _apply_setting(store: Store, key: str) -> None:
    merged = _merged_row(store, "settings", key)
    if merged is None or key not in centre_settings.CHECKS:
        return
    try:
        centre_settings.CHECKS[key](key, json.loads(merged["value"]))
    except (ValueError, InvalidInput) as error:  # made by a newer release? never half-applied
        log.warning("received setting %s not applied: %s", key, error)
        return
    store.conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, merged["value"]),
    )


def _apply_audit(store: Store, changes: list[Change]) -> None:
    """Audit lines are append-only: each is written once, under its id, with
    the device that wrote it (the replica id in its first change's stamp)."""
    writer: dict[str, str] = {}
    for change in sorted(changes, key=Change.sort_key, reverse=True):
        writer[change.row] = change.device
    rows = [
        (
            line_id,
            v["at"],
            v.get("actor_id"),
            v.get("actor_name"),
            v["action"],
            v.get("detail") or "{}",
            writer[line_id],
        )
        for line_id, v in _by_row(changes).items()
        if v.get("at") and v.get("action")
    ]
    store.conn.executemany(
        "INSERT OR IGNORE INTO audit_log (id, at, actor_id, actor_name, action, detail, device) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _members_here(store: Store, member_ids: set[str]) -> dict[str, tuple[str | None, str | None]]:
    """member id -> (erased_at, merged_into) for those this device holds."""
    merged_column = any(
        row[1] == "merged_into" for row in store.conn.execute("PRAGMA table_info(members)").fetchall()
    )
    columns = "id, erased_at, " + ("merged_into" if merged_column else "NULL")
    found: dict[str, tuple[str | None, str | None]] = {}
    wanted = sorted(member_ids)
    while wanted:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for member_id, erased_at, merged_into in store.conn.execute(
                f"SELECT {columns} FROM members WHERE id IN ({marks})", chunk
            ):
                found[member_id] = (erased_at, merged_into)
        # the kept members of those merged, to follow the merge
        wanted = sorted({m for _e, m in found.values() if m is not None} - set(found))
    return found


def _kept_member(member_id: str, here: dict[str, tuple[str | None, str | None]]) -> str | None:
    """The member a visit of ``member_id`` counts for here: the kept one
    after a merge of duplicates, None (an anonymous visit) once erased."""
    seen: set[str] = set()
    current: str | None = member_id
    while current is not None and current not in seen:
        seen.add(current)
        erased_at, merged_into = here.get(current, (None, None))
        if merged_into is not None:
            current = merged_into
        elif erased_at is not None:
            return None
        else:
            return current
    return None


def _apply_visits(store: Store, changes: list[Change]) -> None:
    """Write received visits (append-only facts, new to this device): a
    visit of an erased member is an anonymous count, one of a member merged
    into another counts for the kept one; one whose member or recorder has
    not arrived waits for them (``replication_waiting``)."""
    rows = _by_row(changes)
    if not rows:
        return
    required = replication.TABLES["visits"].required
    here = _members_here(store, {m for v in rows.values() if (m := v.get("member_id"))})
    recorders = sorted({r for v in rows.values() if (r := v.get("recorded_by"))})
    staff_here: set[str] = set()
    for start in range(0, len(recorders), 500):
        chunk = recorders[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found = store.conn.execute(f"SELECT id FROM staff WHERE id IN ({marks})", chunk)
        staff_here.update(row[0] for row in found)
    ready, waiting = [], []
    for visit_id, values in rows.items():
        if any(values.get(name) is None for name in required):
            continue  # never made so; held back like any row lacking a field
        member, recorder = values.get("member_id"), values.get("recorded_by")
        if member is not None and member not in here:
            waiting.append(("visits", visit_id, member))
            continue
        if recorder is not None and recorder not in staff_here:
            waiting.append(("visits", visit_id, recorder))
            continue
        kept = _kept_member(member, here) if member is not None else None
        role, reason = values["recorded_by_role"], values["reason"]
        outreach_id = values.get("outreach_id")
        ready.append((visit_id, values["occurred_at"], kept, reason, role, recorder, outreach_id))
    store.conn.executemany(
        f"INSERT INTO visits ({_VISIT_COLUMNS}, outreach_id) VALUES (?, ?, ?, ?, ?, ?, ?)", ready
    )
    store.conn.executemany(
        "INSERT OR IGNORE INTO replication_waiting (tbl, row_id, needs) VALUES (?, ?, ?)", waiting
    )


# ---------------------------------------------------------------- « À vérifier »
# Two kinds: blobs refused, and seats given twice while two devices were
# apart (``sync.replication.SeatConflict``, kept in replication_conflicts).


def _seat_items(store: Store) -> list[review.Item]:
    if not store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'replication_conflicts'").fetchone():
        return []
    rows = store.query(
        "SELECT c.registration_id, c.position, m.first_name, m.last_name, w.title, s.starts_at "
        "FROM replication_conflicts c JOIN members m ON m.id = c.member_id "
        "JOIN sessions s ON s.id = c.session_id JOIN workshops w ON w.id = s.workshop_id "
        "WHERE c.checked_at IS NULL AND m.erased_at IS NULL ORDER BY c.found_at, c.registration_id"
    )
    return [
        review.Item(
            kind="seat_conflict",
            item_id=row["registration_id"],
            day=paris_day(row["starts_at"]),
            template=N_(
                "%(name)s : sa place à « %(title)s » (%(day)s) avait aussi été donnée sur un autre "
                "appareil. Cette personne est maintenant numéro %(position)d sur la liste d'attente. "
                "Prévenez-la."
            ),
            params={
                "name": f"{row['first_name']} {row['last_name'][:1]}.",
                "title": row["title"],
                "day": paris_day(row["starts_at"]),
                "position": row["position"],
            },
        )
        for row in rows
    ]


def paris_day(utc_text: str) -> str:
    return protocol.parse_utc(utc_text).astimezone(PARIS).strftime("%d/%m/%Y")


def _confirm_seat(store: Store, item_id: str, actor: dict) -> None:
    with store.transaction():
        store.conn.execute(
            "UPDATE replication_conflicts SET checked_at = ? "
            "WHERE registration_id = ? AND checked_at IS NULL",
            (store.now_iso(), item_id),
        )
        store.audit(actor, "replication.seat_conflict_told", registration_id=item_id)


review.register(
    review.Kind(
        code="seat_conflict",
        title=N_("Places données deux fois"),
        icon="event_seat",
        items=_seat_items,
        confirm=_confirm_seat,
        confirm_text=N_("C'est fait"),
    )
)


def _refused_items(store: Store) -> list[review.Item]:
    if not store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'replication_refused'").fetchone():
        return []
    return [
        review.Item(
            kind="replication_refused",
            item_id=str(row["id"]),
            day=row["at"][:10],
            template=N_(
                "Des données reçues d'un autre appareil du centre ont été refusées : "
                "elles n'étaient pas fiables. Si cela revient, prévenez la fédération."
            ),
        )
        for row in refused(store)
    ]


def _confirm_refused(store: Store, item_id: str, actor: dict) -> None:
    with store.transaction():
        store.conn.execute(
            "UPDATE replication_refused SET checked_at = ? WHERE id = ? AND checked_at IS NULL",
            (store.now_iso(), int(item_id)),
        )
        store.audit(actor, "replication.refused_seen", refused_id=int(item_id))


review.register(
    review.Kind(
        code="replication_refused",
        title=N_("Données refusées venant d'un autre appareil"),
        icon="devices",
        items=_refused_items,
        confirm=_confirm_refused,
        confirm_text=N_("C'est vu"),
    )
)
