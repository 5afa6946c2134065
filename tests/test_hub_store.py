"""The hub's database: engines for both URLs, and the versioned schema."""

from __future__ import annotations

import threading

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
    engine.dispose()


def migrated(url: str) -> tuple[list[int], set[str]]:
    engine = store.open_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(sa.select(store.schema_version.c.version)
                                .order_by(store.schema_version.c.version)).scalars().all()
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
    assert {"centres", "devices", "enrolment_codes", "events", "conflicts", "p_visit_counts", "p_presence",
            "p_members", "p_workshops", "p_sessions", "p_registrations", "p_attendance"} <= tables
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
        conn.execute(store.schema_version.insert().values(version=store.LATEST_VERSION + 1,
                                                         applied_at="2030-01-01T00:00:00.000Z"))
    with pytest.raises(RuntimeError, match="newer than this hub"):
        store.migrate(engine)
    engine.dispose()
