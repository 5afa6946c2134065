import sqlite3

import pytest

from kiosk.core import migrations
from kiosk.core.store import Store
from sync import outbox


def test_open_sets_the_durability_pragmas(store):
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_open_migrates_to_the_current_version(store):
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    tables = set(store.db.table_names())
    assert {
        "members",
        "visits",
        "workshops",
        "sessions",
        "registrations",
        "attendance",
        "staff",
        "audit_log",
        "settings",
        "outbox",
        "sync_state",
    } <= tables


def test_reopening_does_not_migrate_again(db_path, clock):
    Store.open(db_path, clock=clock).close()
    conn = sqlite3.connect(db_path)
    assert migrations.migrate(conn) == migrations.SCHEMA_VERSION


def test_a_database_from_the_future_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        Store.open(db_path)


def test_transaction_commits_change_and_event_together(store):
    with store.transaction():
        store.conn.execute("INSERT INTO settings VALUES ('x', '1')")
        store.emit("member.erased", {"member_id": "0190a0a0-0000-7000-8000-000000000001"})
    assert store.one("SELECT value FROM settings WHERE key = 'x'") == {"value": "1"}
    assert outbox.counts(store.conn)["pending"] == 1


def test_transaction_rolls_back_change_and_event_together(store):
    with pytest.raises(ZeroDivisionError):
        with store.transaction():
            store.conn.execute("INSERT INTO settings VALUES ('x', '1')")
            store.emit("member.erased", {"member_id": "0190a0a0-0000-7000-8000-000000000001"})
            raise ZeroDivisionError
    assert store.one("SELECT value FROM settings WHERE key = 'x'") is None
    assert outbox.counts(store.conn)["recorded"] == 0


def test_nested_transactions_join_the_outer_one(store):
    with pytest.raises(ZeroDivisionError):
        with store.transaction():
            with store.transaction():
                store.conn.execute("INSERT INTO settings VALUES ('inner', '1')")
            raise ZeroDivisionError
    assert store.one("SELECT value FROM settings WHERE key = 'inner'") is None


def test_emit_outside_a_transaction_is_a_programming_error(store):
    with pytest.raises(RuntimeError):
        store.emit("member.erased", {"member_id": "0190a0a0-0000-7000-8000-000000000001"})


def test_check_ins_leave_the_checkpoint_to_the_rest(store, db_path):
    # SQLite's own checkpoint runs in the commit that crosses its threshold
    # (1,000 WAL pages by default): set far above a busy morning, the app's
    # checkpoint at rest does it instead
    from kiosk.core.store import WAL_AUTOCHECKPOINT_PAGES
    from sync import protocol

    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
    page = store.conn.execute("PRAGMA page_size").fetchone()[0]
    wal = db_path.with_name(db_path.name + "-wal")

    def visit():
        with store.transaction():
            store.emit(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "resident"},
            )

    for _ in range(1200):
        visit()
    size = wal.stat().st_size
    assert size > 1100 * page  # no commit started the WAL over
    assert store.checkpoint() == 0  # all copied now
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    visit()  # the WAL starts over from its beginning: it does not grow
    assert wal.stat().st_size == size
