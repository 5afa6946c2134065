"""One sync at a time, across threads and processes: a lock held in the database.

The lock is a row of ``sync_state`` (key ``sync_lock``) holding who has it and
until when. It is taken and released inside ``BEGIN IMMEDIATE`` transactions,
so SQLite's write lock makes the check-and-set atomic between every thread and
process that opens the file. A holder that died (a SIGKILL, a power cut) never
releases it: the row then expires, or is taken over at once when the holder
was a process on this machine that no longer exists.

The holder refreshes its expiry between batches, so the time-to-live only has
to cover one batch, not a whole backlog.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sync import outbox

LOCK_KEY = "sync_lock"
DEFAULT_TTL_S = 120.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class SyncLock:
    """``with SyncLock(conn) as lock: if lock.held: ...`` or acquire()/release().

    ``conn`` must be in autocommit mode (``isolation_level=None``) and must not
    be inside a transaction when the lock is taken or released.
    """

    def __init__(
        self, conn: sqlite3.Connection, ttl: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time
    ):
        self.conn = conn
        self.ttl = ttl
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        # unique per acquirer: two threads of one process are two holders
        self.token = f"{self.host}:{self.pid}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    # ------------------------------------------------------------ state

    def _read(self) -> dict[str, Any] | None:
        text = outbox.get_state(self.conn, LOCK_KEY)
        if not text:
            return None
        try:
            row = json.loads(text)
        except ValueError:
            return None  # a garbled row never locks the kiosk out for good
        return row if isinstance(row, dict) else None  # nor does valid JSON of another shape

    def _stale(self, row: dict[str, Any] | None) -> bool:
        if row is None:
            return True
        if row.get("token") == self.token:
            return True
        if float(row.get("expires", 0)) <= self.clock():
            return True
        # a process of this machine that died cannot release: take over at once
        return row.get("host") == self.host and not _pid_alive(int(row.get("pid", 0)))

    def _write(self) -> None:
        row = {"token": self.token, "host": self.host, "pid": self.pid, "expires": self.clock() + self.ttl}
        outbox.set_state(self.conn, LOCK_KEY, json.dumps(row))

    def _immediate(self, work: Callable[[], bool]) -> bool:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            outcome = work()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return outcome

    # ------------------------------------------------------------ API

    def acquire(self) -> bool:
        """Take the lock if it is free, expired or abandoned. Never waits
        beyond SQLite's busy timeout. Returns whether it is now held."""

        def take() -> bool:
            if not self._stale(self._read()):
                return False
            self._write()
            return True

        self.held = self._immediate(take)
        return self.held

    def extend_in_transaction(self) -> bool:
        """Push the expiry back, inside the caller's write transaction (the
        client does it in the commit that marks a batch sent). False if the
        lock was lost, i.e. another syncer took it after expiry: stop."""
        row = self._read()
        if row is None or row.get("token") != self.token:
            self.held = False
            return False
        self._write()
        return True

    def refresh(self) -> bool:
        """``extend_in_transaction`` in a transaction of its own."""
        self.held = self._immediate(self.extend_in_transaction)
        return self.held

    def release(self) -> None:
        def drop() -> bool:
            row = self._read()
            if row is not None and row.get("token") == self.token:
                outbox.set_state(self.conn, LOCK_KEY, None)
            return True

        if self.held:
            self._immediate(drop)
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now (None if free or expired), for the status screen."""
        row = self._read()
        if row is None or float(row.get("expires", 0)) <= self.clock():
            return None
        return row

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
