"""The hub's backups restored for real: a hub process on PostgreSQL is filled
by real kiosks syncing demo centres, packaging/hub/backup.sh dumps it, the
database is lost, restore.sh brings it back, and the hub's figures, every
table's content and its refusal to store an event twice are what they were."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol
from tests import helpers
from tests.conftest_hub import PostgresCluster, postgres_bin_dir, run_federation, start_hub

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parent.parent
HUB = REPO / "packaging" / "hub"
ROLE, PASSWORD = "hub_owner", "s3cret-pass"


def sh(*command: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command[0]}: {done.stdout}{done.stderr}"
    return done


def kiosk(*args: str) -> str:
    done = helpers.kiosk(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def create_hub_database(cluster, name: str) -> str:
    """The role and database as setup-postgres.sh makes them; the hub's URL."""
    sh(
        "psql",
        "--quiet",
        "-v",
        "ON_ERROR_STOP=1",
        "-v",
        f"role={ROLE}",
        "-v",
        f"dbname={name}",
        "-v",
        f"password={PASSWORD}",
        "-f",
        HUB / "postgres-setup.sql",
        cluster.url(),
    )
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
        names = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {
            name: conn.execute(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM "{name}" t'
            ).fetchone()
            for name in names
        }


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


# ---------------------------------------------------------------- point-in-time recovery


def send_visits(hub, device: dict, n: int) -> set[str]:
    """One batch of ``n`` visits through the hub's API; their event ids."""
    events = [
        {
            "id": protocol.new_id(),
            "type": "visit.recorded",
            "occurred_at": "2026-11-02T09:30:00.000Z",
            "data": {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "volunteer"},
        }
        for _ in range(n)
    ]
    answer = httpx.post(
        f"{hub.url}/api/v1/batches",
        json={"protocol": protocol.PROTOCOL_VERSION, "events": events},
        headers={"Authorization": f"Bearer {device['device_token']}"},
        timeout=30,
    )
    assert answer.status_code == 200 and len(answer.json()["stored"]) == n, answer.text
    return {event["id"] for event in events}


def wait_for(query: str, url: str, expected, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                if conn.execute(query).fetchone()[0] == expected:
                    return
        except psycopg.OperationalError:
            pass  # starting up
        assert time.monotonic() < deadline, f"{query} never gave {expected!r}"
        time.sleep(0.1)


@pytest.fixture
def archiving_cluster():
    """A cluster of its own that archives its WAL with archive-wal.sh (the
    session's cluster runs without archiving, and is stopped here)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb): run scripts/system-deps.sh test")
    cluster = PostgresCluster(bin_dir)
    cluster.archive = cluster.root / "wal-archive"
    cluster._run("mkdir", "-m", "0700", str(cluster.archive))
    cluster._run(
        str(bin_dir / "initdb"),
        "-D",
        str(cluster.data),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    )

    def start(data: Path) -> None:
        options = (
            f"-p {cluster.port} -k {cluster.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c wal_level=replica -c archive_mode=on "
            f"-c archive_command='{HUB / 'archive-wal.sh'} %p %f {cluster.archive}'"
        )
        cluster._run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(cluster.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    cluster.start_on = start
    start(cluster.data)
    yield cluster
    for data in (cluster.data, cluster.root / "restored"):
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*cluster.as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
    shutil.rmtree(cluster.root, ignore_errors=True)


def test_point_in_time_recovery_brings_back_what_was_stored_before_the_moment(archiving_cluster, tmp_path):
    cluster = archiving_cluster
    superuser = cluster.url()
    database = cluster.new_database()
    hub = start_hub(database, tmp_path)
    try:
        device = hub.new_device()
        before_base = send_visits(hub, device, 30)
        as_postgres = cluster.as_user
        base = Path(
            sh(
                *as_postgres,
                HUB / "base-backup.sh",
                "--db",
                superuser,
                "--to",
                cluster.root / "base",
                "--archive",
                cluster.archive,
            ).stdout.strip()
        )
        after_base = send_visits(hub, device, 20)
        with psycopg.connect(superuser) as conn:
            moment = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.5)
        too_late = send_visits(hub, device, 10)  # the mistake to go back before
        with psycopg.connect(superuser, autocommit=True) as conn:
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        wait_for("SELECT last_archived_wal FROM pg_stat_archiver", superuser, segment)
    finally:
        hub.stop()
    sh(*as_postgres, cluster.bin_dir / "pg_ctl", "-D", cluster.data, "-m", "fast", "-w", "stop")

    restored = cluster.root / "restored"
    sh(
        *as_postgres,
        HUB / "restore-pitr.sh",
        "--base",
        base,
        "--archive",
        cluster.archive,
        "--target-time",
        moment.isoformat(sep=" "),
        "--yes",
        restored,
    )
    cluster.start_on(restored)
    wait_for("SELECT pg_is_in_recovery()", superuser, False)

    figures = stats(database)
    assert figures["events_total"] == 50
    with psycopg.connect(database) as conn:
        held = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    assert held == before_base | after_base and not held & too_late


def test_archive_wal_keeps_a_segment_once_and_never_overwrites_another(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    segment = tmp_path / "000000010000000000000003"
    segment.write_bytes(b"wal" * 1000)
    script = [str(HUB / "archive-wal.sh"), str(segment), segment.name, str(archive)]
    assert subprocess.run(script, timeout=30).returncode == 0
    assert (archive / segment.name).read_bytes() == segment.read_bytes()
    assert subprocess.run(script, timeout=30).returncode == 0  # asked again after a crash: the same
    segment.write_bytes(b"other")
    refused = subprocess.run(script, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "another content" in refused.stderr
    assert (archive / segment.name).read_bytes() == b"wal" * 1000
    assert sorted(p.name for p in archive.iterdir()) == [segment.name]  # no partial copy left


def test_base_backups_keep_the_newest_and_the_wal_they_need_only(archiving_cluster):
    cluster = archiving_cluster
    superuser = cluster.url()
    bases = cluster.root / "base"
    made = []
    for n in range(3):
        if n:
            time.sleep(1.05)  # their names are to the second
        with psycopg.connect(superuser, autocommit=True) as conn:  # some WAL between the backups
            conn.execute("CREATE TABLE IF NOT EXISTS filler (n int)")
            conn.execute("INSERT INTO filler SELECT generate_series(1, 1000)")
            conn.execute("SELECT pg_switch_wal()")
        made.append(
            Path(
                sh(
                    *cluster.as_user,
                    HUB / "base-backup.sh",
                    "--db",
                    superuser,
                    "--to",
                    bases,
                    "--keep",
                    "2",
                    "--archive",
                    cluster.archive,
                ).stdout.strip()
            )
        )
    assert sorted(path.name for path in bases.iterdir()) == [made[1].name, made[2].name]
    histories = sorted(path.name for path in cluster.archive.glob("*.backup"))
    assert len(histories) == 3
    # what the older base kept needs (from its start on) is all there; nothing before it is
    oldest_needed = histories[1][:24]
    segments = sorted(path.name for path in cluster.archive.iterdir() if len(path.name) == 24)
    assert segments and segments[0] == oldest_needed
    assert all(name >= oldest_needed for name in segments)


def test_restore_pitr_refuses_a_data_folder_in_use_or_a_folder_that_is_no_base_backup(tmp_path):
    base, archive, data = tmp_path / "base", tmp_path / "wal", tmp_path / "data"
    for folder in (base, archive, data):
        folder.mkdir()
    (data / "PG_VERSION").write_text("15\n")

    def restore(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                str(HUB / "restore-pitr.sh"),
                "--base",
                str(base),
                "--archive",
                str(archive),
                *extra,
                "--yes",
                str(data),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    refused = restore()
    assert refused.returncode == 2 and "holds no base.tar.gz" in refused.stderr
    (base / "base.tar.gz").write_bytes(b"")
    refused = restore()
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    refused = restore("--target-time", "yesterday'; DROP")
    assert refused.returncode == 2
    assert sorted(path.name for path in data.iterdir()) == ["PG_VERSION"]
