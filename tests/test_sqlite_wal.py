"""Switching a file to WAL while other connections open it at the same moment."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from kiosk.core import store as kiosk_store
from sync.sqlite import enable_wal


def test_waits_for_a_connection_that_holds_the_file(tmp_path):
    path = tmp_path / "k.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, holder.execute, args=("COMMIT",)).start()
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    started = time.monotonic()
    assert enable_wal(conn, timeout_s=5) == "wal"
    assert time.monotonic() - started >= 0.25
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_gives_up_with_the_error_after_the_timeout(tmp_path):
    path = tmp_path / "k.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_wal(conn, timeout_s=0.2)
    holder.execute("COMMIT")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # nothing half-done


def test_other_errors_are_raised_at_once(tmp_path):
    conn = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError):
        enable_wal(conn, timeout_s=5)


def test_an_in_memory_database_says_so():
    assert enable_wal(sqlite3.connect(":memory:", isolation_level=None), timeout_s=1) == "memory"


def test_kiosk_connections_opening_a_new_file_together_all_get_wal(tmp_path):
    # the app and a `kiosk sync` timer (or two) meeting on a file that is new
    for attempt in range(20):
        path = str(tmp_path / f"k{attempt}.db")
        modes: list[str] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def open_it(barrier=barrier, path=path, modes=modes, errors=errors):
            try:
                barrier.wait()
                conn = kiosk_store.connect(path)
                modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
                conn.close()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert modes == ["wal"] * 4
