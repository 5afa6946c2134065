"""The hub's database: engines for both URLs, and the versioned schema."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from federation import store


def test_plain_postgresql_urls_get_the_psycopg_driver():
    assert store.normalise_url("postgresql://hub@db/federation") == "postgresql+psycopg://hub@db/federation"
    assert store.normalise_url("postgresql+psycopg://h/f") == "postgresql+psycopg://h/f"
    assert store.normalise_url("sqlite:///federation.db") == "sqlite:///federation.db"


def test_the_url_comes_from_the_environment_else_the_default(monkeypatch):
    monkeypatch.delenv("FEDERATION_DB", raising=False)
    assert store.database_url() == "sqlite:///federation.db"
    monkeypatch.setenv("FEDERATION_DB", "sqlite:///elsewhere.db")
    assert store.database_url() == "sqlite:///elsewhere.db"
    assert store.database_url("sqlite:///given.db") == "sqlite:///given.db"


def test_other_databases_are_refused():
    with pytest.raises(store.UnsupportedDatabase, match="sqlite"):
        store.create_engine("mysql://localhost/hub")


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path):
    engine = store.open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == store.SQLITE_BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == store.WAL_CHECKPOINT_PAGES
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == store.WAL_SIZE_LIMIT_BYTES
    engine.dispose()


def migrated(url: str) -> tuple[list[int], set[str]]:
    engine = store.open_engine(url)
    with engine.connect() as conn:
        versions = (
            conn.execute(sa.select(store.schema_version.c.version).order_by(store.schema_version.c.version))
            .scalars()
            .all()
        )
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    return versions, tables


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_fresh_database_gets_every_version_once(fresh_url):
    versions, tables = migrated(fresh_url)
    assert versions == sorted(store.MIGRATIONS)
    assert {
        "centres",
        "devices",
        "enrolment_codes",
        "events",
        "conflicts",
        "p_visit_counts",
        "p_presence",
        "p_members",
        "p_workshops",
        "p_sessions",
        "p_registrations",
        "p_attendance",
    } <= tables
    assert "p_visits" not in tables  # replaced by p_presence in step 3
    assert migrated(fresh_url)[0] == versions  # opening again changes nothing


def test_processes_starting_together_migrate_once(fresh_url):
    engines = [store.create_engine(fresh_url) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine):
        try:
            store.migrate(engine)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert migrated(fresh_url)[0] == sorted(store.MIGRATIONS)


def test_a_database_newer_than_the_hub_is_refused(fresh_url):
    engine = store.open_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            store.schema_version.insert().values(
                version=store.LATEST_VERSION + 1, applied_at="2030-01-01T00:00:00.000Z"
            )
        )
    with pytest.raises(RuntimeError, match="newer than this hub"):
        store.migrate(engine)
    engine.dispose()


def at_version(url: str, version: int) -> sa.Engine:
    """A database brought to ``version`` only, as a hub of that release left it."""
    engine = store.create_engine(url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in range(1, version + 1):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
    return engine


def test_step_4_counts_the_held_events_by_type_and_drops_the_type_index(fresh_url):
    engine = at_version(fresh_url, 3)
    event = "('{c}', '{e}', '{t}', '{at}', 'x', NULL, NULL, '{{}}', 'h')"
    held = [
        ("c1", "e1", "visit.recorded", "2026-01-02T10:00:00.000Z"),
        ("c1", "e2", "visit.recorded", "2026-01-01T10:00:00.000Z"),
        ("c1", "e3", "member.created", "2026-01-03T10:00:00.000Z"),
        ("c2", "e1", "visit.recorded", "2026-02-01T10:00:00.000Z"),
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO centres (id, name, created_at) VALUES ('c1', 'A', 'x'), ('c2', 'B', 'x')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO events (centre_id, event_id, type, "
                "occurred_at, received_at, device_id, member_id, "
                "body, content_hash) VALUES "
                + ", ".join(event.format(c=c, e=e, t=t, at=at) for c, e, t, at in held)
            )
        )
    assert store.migrate(engine) == store.LATEST_VERSION
    with engine.connect() as conn:
        counts = sorted(tuple(row) for row in conn.execute(sa.select(store.event_counts)))
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("events")}
    assert counts == [
        ("c1", "member.created", 1, "2026-01-03T10:00:00.000Z", "2026-01-03T10:00:00.000Z"),
        ("c1", "visit.recorded", 2, "2026-01-01T10:00:00.000Z", "2026-01-02T10:00:00.000Z"),
        ("c2", "visit.recorded", 1, "2026-02-01T10:00:00.000Z", "2026-02-01T10:00:00.000Z"),
    ]
    assert "events_centre_type" not in indexes
    engine.dispose()


def test_writers_of_one_sqlite_engine_take_turns(tmp_path):
    engine = store.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    inside, most, guard = [0], [0], threading.Lock()

    def write():
        for _ in range(50):
            with store.write_turn(engine):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_writers_take_no_turn(postgres_url):
    engine = store.create_engine(postgres_url)
    with store.write_turn(engine):
        with store.write_turn(engine):  # would deadlock if it were a lock
            pass
    engine.dispose()
