"""`kiosk enrol`, `kiosk sync`, `kiosk status`: the real commands, as
subprocesses, against a real hub process."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol
from tests.conftest_hub import free_port, run_federation
from tests.helpers import kiosk

DAY1 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
DAY2 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def add_visits(db_path, n: int, when: datetime) -> None:
    with Store.open(db_path) as store, store.transaction():
        for _ in range(n):
            store.emit(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "volunteer"},
                when,
            )


def enrol(db_path, hub) -> None:
    _centre, code = hub.add_centre("Centre social Les Tilleuls")
    done = kiosk("enrol", "--db", str(db_path), "--hub", hub.url, "--code", code)
    assert done.returncode == 0, done.stderr
    assert "appairée" in done.stdout


def status_json(db_path) -> dict:
    done = kiosk("status", "--db", str(db_path), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_enrol_stores_the_hub_and_token_then_sync_sends_everything(db_path, hub):
    Store.open(db_path).close()
    enrol(db_path, hub)
    with Store.open(db_path) as store:
        settings = Settings(store)
        assert settings.get("hub_url") == hub.url
        assert settings.get("device_token") and settings.get("centre_id")
        assert settings.get("centre_name") == "Centre social Les Tilleuls"
    add_visits(db_path, 1200, DAY1)
    done = kiosk("sync", "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert "1200 données envoyées au hub" in done.stdout
    status = status_json(db_path)
    assert {k: status[k] for k in ("recorded", "pending", "parked")} == {
        "recorded": 1200,
        "pending": 0,
        "parked": 0,
    }
    assert status["last_success"] and status["last_error"] is None
    assert status["hub"]["events_total"] == 1200 and status["gap"] is None
    stats = json.loads(run_federation("stats", "--json", db_url=hub.db_url).stdout)
    assert "1200" in json.dumps(stats)


def test_sync_without_enrolment_exits_3_and_says_what_to_do(db_path):
    Store.open(db_path).close()
    add_visits(db_path, 2, DAY1)
    done = kiosk("sync", "--db", str(db_path))
    assert done.returncode == 3
    assert "pas encore appairée" in done.stdout and "kiosk enrol" in done.stdout


def test_sync_and_status_speak_english_under_an_english_locale(db_path):
    add_visits(db_path, 2, DAY1)
    done = kiosk("sync", "--db", str(db_path), env={"LANG": "en_GB.UTF-8"})
    assert done.returncode == 3
    assert "not paired with the hub yet" in done.stdout and "pas encore" not in done.stdout
    shown = kiosk("status", "--db", str(db_path), "--offline", env={"LANGUAGE": "en"}).stdout
    assert "Events recorded: 2" in shown and "Waiting to be sent: 2" in shown
    assert "Kiosk not paired with the hub" in shown and "Événements" not in shown


def test_sync_with_the_hub_unreachable_exits_1_and_status_shows_the_error(db_path):
    with Store.open(db_path) as store:
        Settings(store).set("hub_url", f"http://127.0.0.1:{free_port()}")
        Settings(store).set("device_token", "t" * 40)
    add_visits(db_path, 3, DAY1)
    done = kiosk("sync", "--db", str(db_path))
    assert done.returncode == 1
    assert "ne répond pas" in done.stdout
    status = status_json(db_path)
    assert status["pending"] == 3 and status["last_error"]["code"] == "unreachable"
    assert status["hub"] is None and status["hub_error"]
    text = kiosk("status", "--db", str(db_path)).stdout
    assert "En attente d'envoi : 3" in text and "Dernière erreur" in text


def test_revoked_token_exits_3_asking_for_a_new_enrolment(db_path, hub):
    Store.open(db_path).close()
    enrol(db_path, hub)
    add_visits(db_path, 5, DAY1)
    device_id = json.loads(run_federation("list-centres", "--json", db_url=hub.db_url).stdout)
    device_ids = [d["id"] for c in device_id for d in c.get("devices", [])]
    run_federation("revoke-device", device_ids[0], db_url=hub.db_url)
    done = kiosk("sync", "--db", str(db_path))
    assert done.returncode == 3
    assert "appairer de nouveau" in done.stdout


def test_a_hub_restored_from_an_older_backup_shows_a_gap_and_resend_fills_it(
    db_path, hub, hub_server, tmp_path
):
    Store.open(db_path).close()
    enrol(db_path, hub)
    add_visits(db_path, 100, DAY1)
    assert kiosk("sync", "--db", str(db_path)).returncode == 0
    backup = tmp_path / "hub-backup.db"
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    add_visits(db_path, 50, DAY2)
    assert kiosk("sync", "--db", str(db_path)).returncode == 0
    hub.stop()

    restored = hub_server(f"sqlite:///{backup}")
    with Store.open(db_path) as store:
        Settings(store).set("hub_url", restored.url)  # same hub, new port in this test
    status = status_json(db_path)
    assert status["hub"]["events_total"] == 100
    assert status["gap"]["missing"] == 50 and status["gap"]["resend_since"] == "2026-11-02"
    text = kiosk("status", "--db", str(db_path)).stdout
    assert (
        "Le hub a 50 événements de moins que la borne n'en a envoyé : relancez avec --resend-since 2026-11-02"
    ) in text

    done = kiosk("sync", "--db", str(db_path), "--resend-since", "2026-11-02")
    assert done.returncode == 0, done.stderr
    assert "150 événements envoyés depuis le 2026-11-02 remis en file" in done.stdout
    status = status_json(db_path)
    assert status["hub"]["events_total"] == 150 and status["gap"] is None
    assert status["recorded"] == 150 and status["pending"] == 0


def test_resend_since_refuses_a_bad_date(db_path):
    Store.open(db_path).close()
    done = kiosk("sync", "--db", str(db_path), "--resend-since", "yesterday")
    assert done.returncode == 2 and "--resend-since" in done.stderr


# ---------------------------------------------------------------- sync.status, in process


def test_parse_since_reads_a_day_in_paris_or_an_iso_time():
    from sync import status

    assert status.parse_since("2026-11-02") == "2026-11-01T23:00:00.000Z"  # midnight in Paris
    assert status.parse_since("2026-07-14") == "2026-07-13T22:00:00.000Z"  # summer time
    assert status.parse_since("2026-11-02T08:30:00Z") == "2026-11-02T08:30:00.000Z"


def test_compare_flags_only_a_shortfall_and_warns_about_purged_events():
    from sync import status

    local = {"sent": 300, "purged": 0}
    assert status.compare(local, {"events_total": 300}) is None
    assert status.compare(local, {"events_total": 450}) is None  # other kiosks of the centre
    gap = status.compare(
        {"sent": 300, "purged": 40}, {"events_total": 180, "last_occurred_at": "2026-11-01T23:30:00.000Z"}
    )
    assert gap["missing"] == 120 and gap["resend_since"] == "2026-11-02"
    assert gap["message_fr"].startswith("Le hub a 120 événements de moins que la borne n'en a envoyé")
    assert "40 envois les plus anciens" in gap["message_fr"]


def test_local_status_lists_parked_events_with_the_hubs_reason(store):
    from sync import outbox, status

    with store.transaction():
        event_id = store.emit("member.erased", {"member_id": protocol.new_id()}, DAY1)
        outbox.park(store.conn, event_id, "conflict: the hub already holds another content")
    local = status.local_status(store.conn)
    assert (local["recorded"], local["pending"], local["parked"]) == (1, 0, 1)
    assert local["parked_events"][0]["reason"].startswith("conflict")
    assert "Mis de côté (refusés par le hub) : 1" in status.describe_fr(local)
