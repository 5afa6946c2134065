"""The hub's backups restored for real: a hub process on PostgreSQL is filled
by real kiosks syncing demo centres, packaging/hub/backup.sh dumps it, the
database is lost, restore.sh brings it back, and the hub's figures, every
table's content and its refusal to store an event twice are what they were."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from kiosk.core.settings import Settings
from kiosk.core.store import Store
from tests.conftest_hub import run_federation, start_hub

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parent.parent
HUB = REPO / "packaging" / "hub"
ROLE, PASSWORD = "hub_owner", "s3cret-pass"


def sh(*command: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command[0]}: {done.stdout}{done.stderr}"
    return done


def kiosk(*args: str) -> str:
    return sh(sys.executable, "-m", "kiosk.cli", *args).stdout


def create_hub_database(cluster, name: str) -> str:
    """The role and database as setup-postgres.sh makes them; the hub's URL."""
    sh("psql", "--quiet", "-v", "ON_ERROR_STOP=1", "-v", f"role={ROLE}", "-v", f"dbname={name}",
       "-v", f"password={PASSWORD}", "-f", HUB / "postgres-setup.sql", cluster.url())
    return f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{cluster.port}/{name}"


def demo_kiosk(tmp_path: Path, hub, centre: str, seed: int) -> Path:
    """A demo centre's kiosk (members, visits, workshops, sign-ups), enrolled
    on the hub and synced: every event went through the hub's ingest."""
    db = tmp_path / f"kiosk-{seed}.db"
    kiosk("demo", "--db", str(db), "--members", "40", "--visits", "200", "--seed", str(seed))
    _centre_id, code = hub.add_centre(centre)
    kiosk("enrol", "--db", str(db), "--hub", hub.url, "--code", code)
    kiosk("sync", "--db", str(db))
    return db


def stats(db_url: str) -> dict:
    return json.loads(run_federation("stats", "--json", db_url=db_url).stdout)


def tables_content(db_url: str) -> dict[str, tuple[int, str]]:
    """Each table of the hub's schema: its row count and a digest of its rows."""
    with psycopg.connect(db_url) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        return {name: conn.execute(
            f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) FROM "{name}" t'
        ).fetchone() for name in names}


def test_pg_dump_backup_restores_the_hub_after_its_database_is_lost(postgres_cluster, tmp_path):
    hub_url = create_hub_database(postgres_cluster, "hub_lost")
    hub = start_hub(hub_url, tmp_path)
    try:
        first = demo_kiosk(tmp_path, hub, "Centre social Les Tilleuls", seed=1)
        demo_kiosk(tmp_path, hub, "Maison pour tous Bellevue", seed=2)
    finally:
        hub.stop()
    figures, content = stats(hub_url), tables_content(hub_url)
    assert figures["events_total"] > 500 and len(figures["centres"]) == 2
    assert content["events"][0] == figures["events_total"]

    dump = Path(sh(HUB / "backup.sh", "--db", hub_url, "--to", tmp_path / "backups").stdout.strip())

    # the disaster: the database is gone; it is made again as on a new server
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("DROP DATABASE hub_lost")
    create_hub_database(postgres_cluster, "hub_lost")
    sh(HUB / "restore.sh", "--db", hub_url, "--yes", dump)

    assert stats(hub_url) == figures
    assert tables_content(hub_url) == content
    # the hub serves the restored database, whose keys still refuse a second copy
    hub = start_hub(hub_url, tmp_path)
    try:
        with Store.open(first) as kiosk_store:  # the same hub, now on another port
            Settings(kiosk_store).set("hub_url", hub.url)
        out = kiosk("sync", "--db", str(first), "--resend-since", "2000-01-01")
        assert "remis en file" in out
    finally:
        hub.stop()
    after = stats(hub_url)
    assert after["events_total"] == figures["events_total"]
    assert [c["events"] for c in after["centres"]] == [c["events"] for c in figures["centres"]]
    assert after["centres"][0]["last_sync"] > figures["centres"][0]["last_sync"]  # it did sync
