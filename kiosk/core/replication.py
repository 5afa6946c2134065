"""The kiosk's side of replication between a centre's devices.

What it does (docs/replication.md):

- **capture**: a write the other devices must know records a change
  (``sync.replication.Change``) in the same transaction as the write
  (``record``), members first: registration, edits, a new card, erasure;
- **seal**: the changes not yet sent go out in blobs sealed with the
  centre's key and signed by this device (``sync.envelope``), kept until the
  relay stored them, so a retry sends the same bytes;
- **apply**: a received blob is opened (refused and kept for staff when
  tampered, replayed or unknown, never applied), its changes join the log,
  and each member they touch is merged (``sync.replication.materialize``
  over that member's changes) and written through kiosk/core: the search
  index follows, an erasure goes through ``Privacy``.

A device replicates once ``replication_device`` has its row: made by the
schema upgrade for a kiosk already enrolled (the centre's first device), or
by ``set_up``. Without it, ``record`` does nothing. No HTTP here: the
exchange with the hub is ``kiosk.syncing``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from kiosk.core import review, search
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.store import Store
from sync import blob as frame
from sync import envelope, protocol, replication
from sync.clock import PARIS
from sync.replication import Change, HybridClock, Stamp

#: the member columns that replicate (the kiosk has no ``merged_into`` yet)
MEMBER_FIELDS = tuple(name for name in replication.TABLES["members"].fields if name != "merged_into")
#: the most changes one blob carries
CHANGES_PER_BLOB = 2000


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
                1 if keyring is None else 0,
                store.now_iso(),
            ),
        )


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
    if not store.conn.in_transaction:
        raise RuntimeError("record() outside a transaction would split a write from its change")
    try:
        device = _device(store.conn)
    except LookupError:
        return
    clock = _clock(store.conn, device)
    change = replication.make_change(clock, table, row, fields, op)
    _save_clock(store.conn, change.stamp)
    _insert(store.conn, change, "local")


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
    _scrub(store.conn, member_id)


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _save_clock(conn: sqlite3.Connection, stamp: Stamp) -> None:
    conn.execute("UPDATE replication_device SET clock = ? WHERE id = 1", (stamp.text(),))


def _insert(conn: sqlite3.Connection, change: Change, origin: str) -> bool:
    return bool(
        conn.execute(
            "INSERT OR IGNORE INTO replication_log (change_id, tbl, row_id, op, stamp, fields, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                change.id,
                change.table,
                change.row,
                change.op,
                change.stamp.text(),
                json.dumps(dict(change.fields), ensure_ascii=False, sort_keys=True),
                origin,
            ),
        ).rowcount
    )


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
    """Once, on the centre's first device: its existing members, workshops,
    sessions, registrations and attendance into the log, so the others
    receive them. Returns how many were recorded."""
    device = _device(store.conn)
    if not device["baseline"]:
        return 0
    count = 0
    with store.transaction():
        columns = ", ".join(["id", "erased_at", *MEMBER_FIELDS])
        for row in store.query(f"SELECT {columns} FROM members ORDER BY created_at"):
            if row["erased_at"] is not None:
                record(store, "members", row["id"], {"created_at": row["created_at"]})
                record(store, "members", row["id"], {}, op="erase")
            else:
                record_member(store, {k: v for k, v in row.items() if v is not None or k == "id"})
            count += 1
        for table in ("workshops", "sessions", "registrations", "attendance"):
            for row in store.query(f"SELECT * FROM {table} ORDER BY rowid"):
                record_row(store, table, row)
                count += 1
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
                "WHERE origin = 'local' AND blob_seq IS NULL ORDER BY stamp LIMIT ?",
                (CHANGES_PER_BLOB,),
            ).fetchall()
            if not rows:
                return sealed
            seq = int(store.conn.execute("SELECT next_seq FROM replication_device").fetchone()[0])
            changes = [_row_change(row).to_json() for row in rows]
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
        _header, payload = envelope.open_blob(raw, keyring(store), peers, centre_id, guard)
        if not isinstance(payload, dict) or not isinstance(payload.get("changes"), list):
            raise replication.ReplicationError("a changes blob holds {'changes': [...]}")
        changes = [Change.from_json(item) for item in payload["changes"]]
    except (frame.EnvelopeError, replication.ReplicationError) as error:
        _refuse(store, raw, f"{type(error).__name__}: {error}", relay_seq)
        raise Refused(str(error)) from error
    with store.transaction():
        clock = _clock(store.conn, device)
        new = [change for change in changes if _insert(store.conn, change, "remote")]
        for change in changes:
            clock.observe(change.stamp)
        store.conn.execute(
            "UPDATE replication_device SET guard = ?, clock = ? WHERE id = 1",
            (json.dumps(guard.to_json()), clock.last().text()),
        )
        _advance(store.conn, relay_seq)
        _apply_devices(store, {change.row for change in new if change.table == "devices"})
        _apply_rows(store, new)
        touched = sorted({change.row for change in new if change.table == "members"})
        for member_id in touched:
            apply_member(store, member_id, erase)
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
        + _log_changes(store, "members", members)
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
            if store.one("SELECT 1 FROM attendance WHERE id = ?", (mark_id,)) is None:
                if member is not None:
                    store.conn.execute(
                        "DELETE FROM attendance WHERE session_id = ? AND member_id = ?", (session_id, member)
                    )
                store.conn.execute(
                    "INSERT INTO attendance (id, session_id, member_id, present, walk_in, marked_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        mark_id,
                        session_id,
                        member,
                        values["present"],
                        values.get("walk_in") or 0,
                        values["marked_at"],
                    ),
                )
            else:
                store.conn.execute(
                    "UPDATE attendance SET present = ?, walk_in = ?, marked_at = ? WHERE id = ?",
                    (values["present"], values.get("walk_in") or 0, values["marked_at"], mark_id),
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
            store.conn.execute(
                "INSERT OR IGNORE INTO replication_conflicts "
                "(registration_id, session_id, member_id, position, found_at) VALUES (?, ?, ?, ?, ?)",
                (conflict.registration_id, session_id, conflict.member_id, conflict.position, now),
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


def apply_member(store: Store, member_id: str, erase: Callable[[str], None]) -> None:
    """Merge one member's changes (local and received) and write the result
    through kiosk/core, inside the caller's transaction."""
    rows = store.conn.execute(
        "SELECT change_id, tbl, row_id, op, stamp, fields FROM replication_log "
        "WHERE tbl = 'members' AND row_id = ?",
        (member_id,),
    ).fetchall()
    state = replication.materialize(_row_change(row) for row in rows)
    merged = state.rows["members"].get(member_id)
    current = store.one(
        "SELECT id, erased_at, last_seen_at, created_at FROM members WHERE id = ?", (member_id,)
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
        store.db.table("members").insert({"id": member_id, **values, "last_seen_at": None, "erased_at": None})
    elif current["erased_at"] is None:
        store.db.table("members").update(member_id, values)
    else:
        return  # erased here: erasure wins (its change is on its way to the others)
    row = store.one(
        "SELECT first_name, last_name, created_at, last_seen_at FROM members WHERE id = ?", (member_id,)
    )
    if row and row["first_name"] and row["last_name"]:
        seen = row["last_seen_at"] or row["created_at"]
        search.index_member(store.conn, member_id, row["first_name"], row["last_name"], seen)


_FLAGS = frozenset(("qpv", "consent_data", "consent_photos", "consent_contact"))


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
            if peer != own
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
            "UPDATE replication_device SET keyring = ?, baseline = 1 WHERE id = 1",
            (json.dumps(ring.to_json()),),
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
    return {"changes": [_row_change(row).to_json() for row in rows]}, cursor(store)


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
        new = [change for change in changes if _insert(store.conn, change, "remote")]
        clock = _clock(store.conn, _device(store.conn))
        for change in changes:
            clock.observe(change.stamp)
        _save_clock(store.conn, clock.last())
        _advance(store.conn, through)
        _apply_devices(store, {change.row for change in new if change.table == "devices"})
        _apply_rows(store, new)
        touched = sorted({change.row for change in new if change.table == "members"})
        for member_id in touched:
            apply_member(store, member_id, erase)
        _apply_seats(store, new)
        _apply_attendance(store, new)
    return touched


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
