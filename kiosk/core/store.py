"""The kiosk's SQLite file: opening it safely, transactions, and events.

A ``Store`` is one connection (SQLite connections are not shared between
threads: the sync scheduler opens its own). Writes go through
``store.transaction()``, which takes the write lock up front (BEGIN IMMEDIATE)
so two writers queue on the busy timeout instead of failing half-way, and
``store.emit()`` appends the change's event to the outbox inside that same
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from kiosk.core import changelog, migrations
from sync import outbox, protocol
from sync.clock import utc_now
from sync.sqlite import enable_wal

BUSY_TIMEOUT_MS = 10_000
#: WAL pages past which a commit copies the WAL into the file itself (SQLite's
#: default is 1,000). The app checkpoints when it is back at rest
#: (``Store.checkpoint``), so a resident's check-in does not pay for it; this
#: only bounds the WAL (~40 MiB) when the kiosk never rests.
WAL_AUTOCHECKPOINT_PAGES = 10_000


class Store:
    """One open kiosk database. ``clock`` returns an aware UTC datetime (tests
    pass their own to travel in time)."""

    def __init__(self, conn: sqlite3.Connection, path: str, clock: Callable[[], datetime] = utc_now):
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path
        self.clock = clock
        self._parsed: dict[str, tuple[str | None, Any]] = {}

    @classmethod
    def open(cls, path: str | Path, clock: Callable[[], datetime] = utc_now) -> Store:
        """Open (creating if needed) and migrate the database at ``path``."""
        path = str(path)
        conn = connect(path)
        migrations.migrate(conn)
        return cls(conn, path, clock)

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> int:
        """Copy the WAL into the database file now (PASSIVE: never waits for
        another connection; what it cannot copy yet waits for the next).
        The app calls it when it is back at rest, so that no check-in
        carries it (see WAL_AUTOCHECKPOINT_PAGES). Returns the WAL pages
        still to copy."""
        _busy, in_wal, copied = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return max(0, in_wal - copied)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ time

    def now(self) -> datetime:
        return self.clock()

    def now_iso(self) -> str:
        """``protocol.utc_iso(self.now())``, formatted without strftime (the check-in's hot path)."""
        moment = self.clock()
        if moment.tzinfo is not UTC:
            if moment.tzinfo is None:
                raise ValueError("naive datetime: times must be timezone-aware")
            moment = moment.astimezone(UTC)
        return (
            f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
        )

    # ------------------------------------------------------------ parsed settings

    def parsed(self, key: str, text: str | None, parse: Callable[[str | None], Any]) -> Any:
        """``parse(text)``, remembered for as long as ``text`` (a stored
        value, read by the caller) stays the same. Exact whoever wrote it —
        this connection, another one, another process — at the price of the
        one read the caller makes anyway, and safe inside a transaction that
        rolls back. Keep immutable values."""
        held = self._parsed.get(key)
        if held is not None and held[0] == text:
            return held[1]
        value = parse(text)
        self._parsed[key] = (text, value)
        return value

    # ------------------------------------------------------------ writes

    def transaction(self) -> Transaction:
        """All-or-nothing: commit at the end, roll back on any exception.
        Nested use joins the outer transaction through a savepoint."""
        return Transaction(self)

    def emit(self, kind: str, data: dict, occurred_at: datetime | None = None) -> str:
        """Record the event of the change being made. Must run inside
        ``transaction()``: the event commits with the change or not at all."""
        if not self.conn.in_transaction:
            raise RuntimeError("emit() outside a transaction would split a change from its event")
        event = protocol.make_event(kind, data, occurred_at or self.clock())
        outbox.append(self.conn, event)
        return event["id"]

    def audit(self, actor: dict | None, action: str, **detail: Any) -> None:
        """Log what was done in a PIN mode, and by whom (inside the change's
        transaction). The line replicates to the centre's other devices
        (append-only: every device ends with every device's lines)."""
        if not self.conn.in_transaction:  # the line and its change commit together
            with self.transaction():
                self.audit(actor, action, **detail)
            return
        at, text = self.now_iso(), json.dumps(detail, ensure_ascii=False, default=str)
        line_id = protocol.new_id()
        self.conn.execute(
            "INSERT INTO audit_log (id, at, actor_id, actor_name, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (line_id, at, actor["id"] if actor else None, actor["name"] if actor else None, action, text),
        )
        changelog.record(self.conn, "audit_log", line_id, changelog.audit_fields(at, actor, action, text))

    # ------------------------------------------------------------ reads

    def query(self, sql: str, params: Any = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def one(self, sql: str, params: Any = ()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


def connect(path: str) -> sqlite3.Connection:
    """A connection with the pragmas the kiosk relies on: WAL, synchronous=FULL
    (a confirmed check-in survives a power cut), foreign keys, a busy timeout.
    Autocommit mode: transactions are explicit (``Store.transaction``)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = enable_wal(conn, BUSY_TIMEOUT_MS / 1000)
    if path != ":memory:" and mode != "wal":
        raise RuntimeError(f"could not put {path} in WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Transaction:
    """``Store.transaction()``'s context manager. A class rather than a
    generator: every check-in enters one, and contextlib's generator
    machinery was a measurable share of its time."""

    __slots__ = ("store", "_savepoint")

    def __init__(self, store: Store):
        self.store = store
        self._savepoint: AbstractContextManager[Any] | None = None

    def __enter__(self) -> Store:
        conn = self.store.conn
        if conn.in_transaction:  # nested: joins the outer one through a savepoint
            self._savepoint = self.store.db.atomic()
            self._savepoint.__enter__()
        else:
            conn.execute("BEGIN IMMEDIATE")
        return self.store

    def __exit__(self, kind, error, traceback) -> Literal[False]:  # never swallows an exception
        if self._savepoint is not None:
            self._savepoint.__exit__(kind, error, traceback)  # sqlite-utils' atomic() re-raises
            return False
        conn = self.store.conn
        if kind is not None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return False
