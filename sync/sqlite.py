"""SQLite set-up shared by the kiosk's store, the outbox and the hub.

Only one thing lives here: putting a database file in WAL mode when several
connections may open it at the same moment (the app, a ``kiosk sync`` timer,
several hub workers starting together). SQLite needs an exclusive lock to
switch a file to WAL, and ``PRAGMA journal_mode=WAL`` answers "database is
locked" at once, without waiting on the busy timeout, when another
connection holds the file. WAL is a property of the file: once one
connection has switched it, the others find it already in WAL.
"""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, timeout_s: float) -> str:
    """Put the file in WAL mode, retrying while another connection holds it,
    for at most ``timeout_s``; return the journal mode now in force ("wal",
    or "memory" for an in-memory database). Other errors are raised at once."""
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        try:
            mode: str = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() == "wal":
                return "wal"
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            return mode.lower()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
