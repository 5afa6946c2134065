"""The outbox: events waiting to reach the hub, inside the kiosk's own SQLite.

``append`` runs in the caller's transaction, so a domain row and its event are
committed together or not at all. Rows are never deleted when sent: they are
marked sent (and kept for the retention period, so a hub restored from an old
backup can be sent them again), or parked with the hub's reason when refused.

Every function takes a plain ``sqlite3.Connection`` and never commits: the
caller owns the transaction.

The outbox's tables have their own schema version, ``SCHEMA_VERSION``, kept
in ``sync_state`` (the kiosk's ``PRAGMA user_version`` numbers the kiosk's
schema, not this one). The host database calls ``migrate(conn, target)`` from
its own migrations, in its transaction: a kiosk migration that changes the
outbox says which outbox version it brings, so a new outbox step is a new
function in ``MIGRATIONS`` here and one call in a new kiosk migration.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sync import protocol
from sync.sqlite import enable_wal

#: The DDL of the outbox's version 1. A later change to these tables is a
#: new step in ``MIGRATIONS``, never an edit here.
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


def _v1(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1:
        conn.execute(statement)


def append(conn: sqlite3.Connection, event: dict[str, Any]) -> None:
    """Queue a validated event (see ``sync.protocol.make_event``)."""
    conn.execute(
        "INSERT INTO outbox (event_id, type, occurred_at, body) VALUES (?, ?, ?, ?)",
        (event["id"], event["type"], event["occurred_at"], protocol.canonical_json(event)),
    )


# ---------------------------------------------------------------- the sent watermark
#
# A batch the hub stored or already had in full (the usual case) is marked
# sent in O(1): ``sent_through`` (a sync_state key) moves to its last seq and
# one ``outbox_sent`` row says when. A row is therefore
#   parked   if state = 'parked';
#   sent     if state = 'sent' (marked one by one: a batch with refusals), or
#            if state = 'pending' and seq <= sent_through (sent_at: that of
#            the first outbox_sent row at or after its seq);
#   pending  if state = 'pending' and seq > sent_through.
# Seqs only grow (``purge_sent_before`` keeps the last row), so a new event
# is always above the watermark. The rare operations that need to put an event
# below the watermark back in the queue (retry_parked, requeue_sent_since)
# first write the watermark's rows out one by one (``_settle``), then lower it.

#: sync_state key: every 'pending' row at or below this seq was sent
SENT_THROUGH_KEY = "sent_through"

#: The outbox's version 2: the watermark's table, and the (state, seq) index
#: only for the rows that left the queue, so recording an event writes no
#: index of state (the queue is read by seq from the watermark).
SCHEMA_V2 = (
    "DROP INDEX outbox_state_seq",
    "CREATE INDEX outbox_settled ON outbox (state, seq) WHERE state <> 'pending'",
    """
    CREATE TABLE outbox_sent (
        through_seq INTEGER PRIMARY KEY,
        sent_at TEXT NOT NULL,
        events INTEGER NOT NULL
    )
    """,
)

#: A query on sent or parked rows repeats the partial index's condition so
#: SQLite may use it (it does not infer it from state = 'sent').
SETTLED = "state <> 'pending'"


def _v2(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_V2:
        conn.execute(statement)
    first_pending = conn.execute("SELECT min(seq) FROM outbox WHERE state = 'pending'").fetchone()[0]
    through = (
        first_pending - 1
        if first_pending is not None
        else conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    )
    set_state(conn, SENT_THROUGH_KEY, str(through))


def _v3(conn: sqlite3.Connection) -> None:
    """The outbox's version 3: the outbox rebuilt without
    AUTOINCREMENT and without a unique index of event_id, two B-trees fewer
    written by every event. Event ids are unique by construction (time-ordered
    UUIDs) and the hub keeps each once anyway; the client finds rows by seq.
    Seqs still never go back: ``purge_sent_before`` always keeps the last row."""
    conn.execute(
        """
        CREATE TABLE outbox_v4 (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'parked')),
            sent_at TEXT,
            parked_reason TEXT
        )
        """
    )
    conn.execute(
        "INSERT INTO outbox_v4 (seq, event_id, type, occurred_at, body, state, sent_at, parked_reason) "
        "SELECT seq, event_id, type, occurred_at, body, state, sent_at, parked_reason FROM outbox"
    )
    conn.execute("DROP TABLE outbox")
    conn.execute("ALTER TABLE outbox_v4 RENAME TO outbox")
    conn.execute("CREATE INDEX outbox_settled ON outbox (state, seq) WHERE state <> 'pending'")
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
    # a purge by release 3 may have removed the highest seqs: the next event
    # must still come above the watermark
    last = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    if sent_through(conn) > last:
        set_state(conn, SENT_THROUGH_KEY, str(last))


MIGRATIONS = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)
#: sync_state key: the version of the outbox's tables
VERSION_KEY = "outbox_schema_version"


def schema_version(conn: sqlite3.Connection) -> int:
    """The version of the outbox's tables in this database (0: none yet).
    A database migrated before the outbox kept its own number is read from
    its tables: the watermark's table came with 2, the rebuilt outbox
    (no AUTOINCREMENT) with 3."""
    tables = {
        name: sql
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('outbox', 'sync_state', 'outbox_sent')"
        )
    }
    if "sync_state" not in tables:
        return 0
    recorded = get_state(conn, VERSION_KEY)
    if recorded is not None:
        return int(recorded)
    if "outbox_sent" not in tables:
        return 1
    return 2 if "AUTOINCREMENT" in tables["outbox"].upper() else 3


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the outbox's tables up to ``target``, inside the caller's
    transaction (never commits). Returns the version it started from;
    refuses tables from a newer program."""
    start = schema_version(conn)
    if start > SCHEMA_VERSION:
        raise RuntimeError(
            f"outbox schema version {start} is newer than this program's "
            f"({SCHEMA_VERSION}): upgrade Accueil before opening it"
        )
    for version in range(start, target):
        MIGRATIONS[version](conn)
    if target > start:
        set_state(conn, VERSION_KEY, str(target))
    return start


def sent_through(conn: sqlite3.Connection) -> int:
    return int(get_state(conn, SENT_THROUGH_KEY) or 0)


def pending(conn: sqlite3.Connection, limit: int, after_seq: int = 0) -> list[tuple[int, str, str]]:
    """Up to ``limit`` pending events after ``after_seq``, oldest first, as
    (seq, event_id, body) tuples: one batch's worth, never the whole backlog.
    Read by rowid from the sent watermark: no index of state needed."""
    return _pending(conn, "body", limit, after_seq)


def pending_bodies(conn: sqlite3.Connection, limit: int, after_seq: int = 0) -> list[tuple[int, str, bytes]]:
    """``pending``, each body as its stored UTF-8 bytes (``CAST … AS BLOB``
    skips decoding a text that only goes on the wire): the client's read."""
    return _pending(conn, "CAST(body AS BLOB)", limit, after_seq)


def _pending(conn: sqlite3.Connection, body: str, limit: int, after_seq: int) -> list[tuple[int, str, Any]]:
    rows: list[tuple[int, str, Any]] = conn.execute(
        f"SELECT seq, event_id, {body} FROM outbox WHERE seq > ? AND state = 'pending' ORDER BY seq LIMIT ?",
        (max(after_seq, sent_through(conn)), limit),
    ).fetchall()
    return rows


def pending_extent(conn: sqlite3.Connection) -> tuple[int, int]:
    """(how many events are pending, the last pending seq or 0)."""
    extent: tuple[int, int] = conn.execute(
        "SELECT count(*), coalesce(max(seq), 0) FROM outbox WHERE seq > ? AND state = 'pending'",
        (sent_through(conn),),
    ).fetchone()
    return extent


def mark_sent_through(conn: sqlite3.Connection, seqs: list[int], at: str) -> int:
    """Mark sent a batch the hub stored or already had in full: ``seqs`` are
    its events' seqs, ascending, as ``pending`` read them. When they are all
    the pending events from the watermark to the last of them (a count
    proves it), the watermark moves there: O(1) writes. Otherwise (a queue
    changed meanwhile) they are marked one by one. Returns how many."""
    if not seqs:
        return 0
    through = sent_through(conn)
    if seqs[0] > through and conn.execute(
        "SELECT count(*) FROM outbox WHERE seq > ? AND seq <= ? AND state = 'pending'", (through, seqs[-1])
    ).fetchone()[0] == len(seqs):
        conn.execute(
            "INSERT INTO outbox_sent (through_seq, sent_at, events) VALUES (?, ?, ?)",
            (seqs[-1], at, len(seqs)),
        )
        set_state(conn, SENT_THROUGH_KEY, str(seqs[-1]))
        return len(seqs)
    return mark_sent_seqs(conn, seqs, at)


def mark_sent(conn: sqlite3.Connection, event_ids: list[str], at: str) -> int:
    """Mark events the hub said it stored (or already had), one by one. Returns how many."""
    changed = 0
    through = sent_through(conn)
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        changed += conn.execute(
            f"UPDATE outbox SET state = 'sent', sent_at = ? "
            f"WHERE state = 'pending' AND seq > ? AND event_id IN ({marks})",
            [at, through, *chunk],
        ).rowcount
    return changed


def mark_sent_seqs(conn: sqlite3.Connection, seqs: list[int], at: str) -> int:
    """``mark_sent`` by outbox row number: the client knows each sent event's
    seq, and finding rows by rowid costs half the CPU of the event_id index."""
    changed = 0
    through = sent_through(conn)
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        marks = ",".join("?" * len(chunk))
        changed += conn.execute(
            f"UPDATE outbox SET state = 'sent', sent_at = ? "
            f"WHERE state = 'pending' AND seq > ? AND seq IN ({marks})",
            [at, through, *chunk],
        ).rowcount
    return changed


def park(conn: sqlite3.Connection, event_id: str, reason: str) -> None:
    """Set aside an event the hub refused, with its reason, so it never blocks the rest."""
    conn.execute(
        "UPDATE outbox SET state = 'parked', parked_reason = ? "
        "WHERE event_id = ? AND NOT (state = 'pending' AND seq <= ?)",
        (reason[:1000], event_id, sent_through(conn)),
    )


def park_seq(conn: sqlite3.Connection, seq: int, reason: str) -> None:
    """``park`` by outbox row number (what the client knows of each event it sent)."""
    conn.execute(
        "UPDATE outbox SET state = 'parked', parked_reason = ? "
        "WHERE seq = ? AND NOT (state = 'pending' AND seq <= ?)",
        (reason[:1000], seq, sent_through(conn)),
    )


def _settle(conn: sqlite3.Connection) -> None:
    """Write the watermark's sent rows out one by one (state 'sent' and their
    sent_at), so the watermark may go down. O(rows): for rare operations only."""
    conn.execute(
        "UPDATE outbox SET state = 'sent', sent_at = (SELECT m.sent_at FROM outbox_sent m "
        "WHERE m.through_seq >= outbox.seq ORDER BY m.through_seq LIMIT 1) "
        "WHERE seq <= ? AND state = 'pending'",
        (sent_through(conn),),
    )
    conn.execute("DELETE FROM outbox_sent")


def _requeue_from(conn: sqlite3.Connection, first_seq: int | None) -> None:
    """Before rows from ``first_seq`` on go back in the queue: keep the
    watermark below them."""
    if first_seq is not None and first_seq <= sent_through(conn):
        _settle(conn)
        set_state(conn, SENT_THROUGH_KEY, str(first_seq - 1))


def retry_parked(conn: sqlite3.Connection) -> int:
    """Put every parked event back in the queue (after the cause was fixed)."""
    _requeue_from(
        conn, conn.execute(f"SELECT min(seq) FROM outbox WHERE {SETTLED} AND state = 'parked'").fetchone()[0]
    )
    return conn.execute(
        f"UPDATE outbox SET state = 'pending', parked_reason = NULL WHERE {SETTLED} AND state = 'parked'"
    ).rowcount


def requeue_sent_since(conn: sqlite3.Connection, since_iso: str) -> int:
    """Queue again the sent events that occurred at or after ``since_iso``
    (for a hub restored from an older backup; the hub keeps each once)."""
    _settle(conn)
    _requeue_from(
        conn,
        conn.execute(
            f"SELECT min(seq) FROM outbox WHERE {SETTLED} AND state = 'sent' AND occurred_at >= ?",
            (since_iso,),
        ).fetchone()[0],
    )
    return conn.execute(
        f"UPDATE outbox SET state = 'pending', sent_at = NULL "
        f"WHERE {SETTLED} AND state = 'sent' AND occurred_at >= ?",
        (since_iso,),
    ).rowcount


def purge_sent_before(conn: sqlite3.Connection, before_iso: str) -> int:
    """Forget sent events whose sending is older than the retention period.
    They are still counted (``PURGED_KEY``), so "recorded" and "sent" stay the
    totals ever, and a hub that lost them shows as a gap."""
    # the last row stays whatever its age: seqs (rowids) then never go back,
    # so an event recorded later always comes above the watermark
    last = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    purged = conn.execute(
        f"DELETE FROM outbox WHERE {SETTLED} AND state = 'sent' AND sent_at < ? AND seq < ?",
        (before_iso, last),
    ).rowcount
    previous = 0
    for through, sent_at in conn.execute(
        "SELECT through_seq, sent_at FROM outbox_sent ORDER BY through_seq"
    ).fetchall():
        if sent_at < before_iso:  # the watermark's rows of that batch: a range of rowids
            purged += conn.execute(
                "DELETE FROM outbox WHERE seq > ? AND seq <= ? AND seq < ? AND state = 'pending'",
                (previous, through, last),
            ).rowcount
            if through < last:
                conn.execute("DELETE FROM outbox_sent WHERE through_seq = ?", (through,))
            else:  # the batch holding the last row: it alone is left of it
                conn.execute("UPDATE outbox_sent SET events = 1 WHERE through_seq = ?", (through,))
        previous = through
    if purged:
        set_state(conn, PURGED_KEY, str(purged_count(conn) + purged))
    return purged


#: sync_state key counting the sent events deleted after the retention period
PURGED_KEY = "purged_sent"


def purged_count(conn: sqlite3.Connection) -> int:
    return int(get_state(conn, PURGED_KEY) or 0)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many events were ever recorded and sent (purged ones included),
    and how many are pending, sent (still kept) and parked now."""
    result = {"recorded": 0, "pending": 0, "sent": 0, "parked": 0}
    for state, number in conn.execute(f"SELECT state, count(*) FROM outbox WHERE {SETTLED} GROUP BY state"):
        result[state] = number
    result["sent"] += conn.execute("SELECT coalesce(sum(events), 0) FROM outbox_sent").fetchone()[0]
    result["pending"] = pending_extent(conn)[0]
    purged = purged_count(conn)
    result["purged"] = purged
    result["recorded"] = result["pending"] + result["sent"] + result["parked"] + purged
    result["sent_total"] = result["sent"] + purged
    return result


def connect(path: str) -> sqlite3.Connection:
    """Open an existing kiosk database for syncing, on a connection of its own:
    autocommit (transactions are explicit), WAL, synchronous=FULL, a busy
    timeout so a sync waits for the desk's writes instead of failing.
    Refuses a file that has no outbox (not a kiosk database, or not migrated
    to the outbox's current schema)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=True)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        enable_wal(conn, 10.0)
        conn.execute("PRAGMA synchronous = FULL")
        found = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('outbox', 'sync_state', 'outbox_sent')"
        ).fetchone()[0]
        if found != 3:
            raise FileNotFoundError(
                f"{path} is not a kiosk database (no outbox): open it with the kiosk first"
            )
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
