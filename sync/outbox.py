"""The outbox: events waiting to reach the hub, inside the kiosk's own SQLite.

``append`` runs in the caller's transaction, so a domain row and its event are
committed together or not at all. Rows are never deleted when sent: they are
marked sent (and kept for the retention period, so a hub restored from an old
backup can be sent them again), or parked with the hub's reason when refused.

Every function takes a plain ``sqlite3.Connection`` and never commits: the
caller owns the transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Iterator

from sync import protocol

#: The DDL of the outbox, run by the kiosk's schema migration 1. A later
#: change to these tables is a new kiosk migration, never an edit here.
SCHEMA_V1 = (
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sent', 'parked')),
        sent_at TEXT,
        parked_reason TEXT
    )
    """,
    "CREATE INDEX outbox_state_seq ON outbox (state, seq)",
    # key/value state of the sync: last success, last error, enrolment, lock
    "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT)",
)


def create_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1:
        conn.execute(statement)


def append(conn: sqlite3.Connection, event: dict) -> None:
    """Queue a validated event (see ``sync.protocol.make_event``)."""
    conn.execute(
        "INSERT INTO outbox (event_id, type, occurred_at, body) VALUES (?, ?, ?, ?)",
        (event["id"], event["type"], event["occurred_at"], protocol.canonical_json(event)),
    )


def pending(conn: sqlite3.Connection, limit: int, after_seq: int = 0) -> list[tuple[int, str, str]]:
    """Up to ``limit`` pending events after ``after_seq``, oldest first, as
    (seq, event_id, body) tuples: one batch's worth, never the whole backlog."""
    return conn.execute(
        "SELECT seq, event_id, body FROM outbox WHERE state = 'pending' AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()


def iter_pending(conn: sqlite3.Connection, batch_size: int) -> Iterator[list[tuple[int, str, str]]]:
    """Pending events in batches, oldest first, reading one batch at a time."""
    after = 0
    while True:
        rows = pending(conn, batch_size, after)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def mark_sent(conn: sqlite3.Connection, event_ids: list[str], at: str) -> int:
    """Mark events the hub said it stored (or already had). Returns how many."""
    changed = 0
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        changed += conn.execute(
            f"UPDATE outbox SET state = 'sent', sent_at = ? "
            f"WHERE state = 'pending' AND event_id IN ({marks})",
            [at, *chunk],
        ).rowcount
    return changed


def mark_sent_seqs(conn: sqlite3.Connection, seqs: list[int], at: str) -> int:
    """``mark_sent`` by outbox row number: the client knows each sent event's
    seq, and finding rows by rowid costs half the CPU of the event_id index."""
    changed = 0
    for start in range(0, len(seqs), 500):
        chunk = seqs[start:start + 500]
        marks = ",".join("?" * len(chunk))
        changed += conn.execute(
            f"UPDATE outbox SET state = 'sent', sent_at = ? "
            f"WHERE state = 'pending' AND seq IN ({marks})",
            [at, *chunk],
        ).rowcount
    return changed


def park(conn: sqlite3.Connection, event_id: str, reason: str) -> None:
    """Set aside an event the hub refused, with its reason, so it never blocks the rest."""
    conn.execute(
        "UPDATE outbox SET state = 'parked', parked_reason = ? WHERE event_id = ?",
        (reason[:1000], event_id),
    )


def retry_parked(conn: sqlite3.Connection) -> int:
    """Put every parked event back in the queue (after the cause was fixed)."""
    return conn.execute(
        "UPDATE outbox SET state = 'pending', parked_reason = NULL WHERE state = 'parked'"
    ).rowcount


def requeue_sent_since(conn: sqlite3.Connection, since_iso: str) -> int:
    """Queue again the sent events that occurred at or after ``since_iso``
    (for a hub restored from an older backup; the hub keeps each once)."""
    return conn.execute(
        "UPDATE outbox SET state = 'pending', sent_at = NULL "
        "WHERE state = 'sent' AND occurred_at >= ?",
        (since_iso,),
    ).rowcount


def purge_sent_before(conn: sqlite3.Connection, before_iso: str) -> int:
    """Forget sent events whose sending is older than the retention period.
    They are still counted (``PURGED_KEY``), so "recorded" and "sent" stay the
    totals ever, and a hub that lost them shows as a gap."""
    purged = conn.execute(
        "DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?", (before_iso,)
    ).rowcount
    if purged:
        set_state(conn, PURGED_KEY, str(purged_count(conn) + purged))
    return purged


#: sync_state key counting the sent events deleted after the retention period
PURGED_KEY = "purged_sent"


def purged_count(conn: sqlite3.Connection) -> int:
    return int(get_state(conn, PURGED_KEY) or 0)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many events were ever recorded and sent (purged ones included), and
    how many are pending, sent (still kept) and parked now."""
    result = {"recorded": 0, "pending": 0, "sent": 0, "parked": 0}
    for state, number in conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"):
        result[state] = number
        result["recorded"] += number
    purged = purged_count(conn)
    result["purged"] = purged
    result["recorded"] += purged
    result["sent_total"] = result["sent"] + purged
    return result


def connect(path: str) -> sqlite3.Connection:
    """Open an existing kiosk database for syncing, on a connection of its own:
    autocommit (transactions are explicit), WAL, synchronous=FULL, a busy
    timeout so a sync waits for the desk's writes instead of failing.
    Refuses a file that has no outbox (not a kiosk database, or not migrated)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=True)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        found = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('outbox', 'sync_state')"
        ).fetchone()[0]
        if found != 2:
            raise FileNotFoundError(f"{path} is not a kiosk database (no outbox): open it with the kiosk first")
    except BaseException:
        conn.close()
        raise
    return conn


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_state(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM sync_state WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
