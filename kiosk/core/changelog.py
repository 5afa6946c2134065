"""Recording a local write in the replication log, on a bare connection.

The lowest part of the kiosk's replication (kiosk/core/replication.py holds
the rest): it needs only the SQLite connection, so that ``Store`` records
its audit lines through it, and the visits, staff and settings modules
their writes, without importing the replication module (which imports them).

A change is recorded only once this device replicates (``replication_device``
has its row), inside the write's transaction: a crash keeps both or neither.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from sync import replication
from sync.replication import Change, HybridClock, Stamp

_DEVICE = "SELECT replica_id, clock FROM replication_device WHERE id = 1"
_SAVE_CLOCK = "UPDATE replication_device SET clock = ? WHERE id = 1"
_INSERT = (
    "INSERT OR IGNORE INTO replication_log (change_id, tbl, row_id, op, stamp, fields, origin) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _clock(conn: sqlite3.Connection) -> HybridClock | None:
    device = conn.execute(_DEVICE).fetchone()
    if device is None:
        return None
    return HybridClock(device[0], last=Stamp.parse(device[1]) if device[1] else None)


def _row(change: Change, origin: str) -> tuple[Any, ...]:
    return (
        change.id,
        change.table,
        change.row,
        change.op,
        change.stamp.text(),
        json.dumps(dict(change.fields), ensure_ascii=False, sort_keys=True),
        origin,
    )


def insert(conn: sqlite3.Connection, change: Change, origin: str) -> bool:
    """Keep ``change`` in the log; False when it was already there."""
    return bool(conn.execute(_INSERT, _row(change, origin)).rowcount)


def insert_many(conn: sqlite3.Connection, changes: list[Change], origin: str) -> list[Change]:
    """Keep ``changes`` in the log at once; returns those not already there."""
    if not changes:
        return []
    ids = [change.id for change in changes]
    held: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        held.update(
            row[0]
            for row in conn.execute(
                f"SELECT change_id FROM replication_log WHERE change_id IN ({marks})", chunk
            )
        )
    new: list[Change] = []
    for change in changes:
        if change.id not in held:
            held.add(change.id)  # the same change twice in one batch is one
            new.append(change)
    conn.executemany(_INSERT, (_row(change, origin) for change in new))
    return new


def record(
    conn: sqlite3.Connection, table: str, row: str, fields: Mapping[str, Any], op: str = "set"
) -> Change | None:
    """Record a local write for the centre's other devices, inside the
    write's transaction. None (nothing recorded) when this device does not
    replicate. ``ReplicationError`` when a field breaks the allow-list."""
    if not conn.in_transaction:
        raise RuntimeError("record() outside a transaction would split a write from its change")
    clock = _clock(conn)
    if clock is None:
        return None
    change = replication.make_change(clock, table, row, fields, op)
    conn.execute(_SAVE_CLOCK, (change.stamp.text(),))
    insert(conn, change, "local")
    return change


def record_many(conn: sqlite3.Connection, writes: Iterable[tuple[str, str, Mapping[str, Any], str]]) -> int:
    """Record many local writes ``(table, row, fields, op)`` at once, in
    their order (one clock, one insert of them all): the baseline of a
    device's existing data. Returns how many; 0 when it does not replicate."""
    if not conn.in_transaction:
        raise RuntimeError("record_many() outside a transaction would split writes from their changes")
    clock = _clock(conn)
    if clock is None:
        return 0
    changes = [replication.make_change(clock, table, row, fields, op) for table, row, fields, op in writes]
    if changes:
        conn.executemany(_INSERT, (_row(change, "local") for change in changes))
        conn.execute(_SAVE_CLOCK, (changes[-1].stamp.text(),))
    return len(changes)


def audit_fields(at: str, actor: Mapping[str, Any] | None, action: str, detail: str) -> dict[str, Any]:
    """An audit line's replicated fields. What the allow-list cannot carry
    travels as None (an actor id that is no UUID), cut (an actor's name),
    or as ``{"truncated": true}`` (a detail longer than the bound): the
    line itself is never refused for it."""
    table = replication.TABLES["audit_log"].fields
    actor_id = actor.get("id") if actor else None
    actor_name = actor.get("name") if actor else None
    fields: dict[str, Any] = {
        "at": at,
        "actor_id": actor_id if table["actor_id"](actor_id) is None else None,
        "actor_name": actor_name[:100] if isinstance(actor_name, str) else None,
        "action": action[:64],
        "detail": detail,
    }
    if fields["actor_name"] is not None and table["actor_name"](fields["actor_name"]) is not None:
        fields["actor_name"] = None
    if table["detail"](detail) is not None:
        fields["detail"] = '{"truncated": true}'
    return fields
