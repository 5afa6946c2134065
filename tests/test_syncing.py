"""kiosk.syncing, the one owner of the kiosk's sync: the enrolment both the
command and the staff screen write, and a sync asked of a scheduler."""

from __future__ import annotations

import threading

from kiosk import syncing
from kiosk.core.settings import DEFAULTS, Settings
from kiosk.core.store import Store
from sync import client

ANSWER = {
    "device_token": "t" * 40,
    "centre_id": "c-1",
    "centre_name": "Centre social du Chemin Vert",
    "device_id": "d-1",
}


def test_an_enrolment_names_a_kiosk_still_named_by_default(db_path):
    with Store.open(db_path) as store:
        settings = Settings(store)
        assert settings.get("centre_name") == DEFAULTS["centre_name"]
        syncing.save_enrolment(settings, "https://hub.example/", ANSWER)
        assert (
            settings.get("hub_url"),
            settings.get("device_token"),
            settings.get("centre_id"),
            settings.get("centre_name"),
        ) == ("https://hub.example", "t" * 40, "c-1", "Centre social du Chemin Vert")


def test_an_enrolment_keeps_the_name_staff_gave(db_path):
    with Store.open(db_path) as store:
        settings = Settings(store)
        settings.set("centre_name", "Maison des Tilleuls")
        syncing.save_enrolment(settings, "https://hub.example", ANSWER, actor={"id": "s", "name": "Nadia"})
        assert settings.get("centre_name") == "Maison des Tilleuls"
        assert settings.get("device_token") == "t" * 40
        logged = store.query("SELECT actor_name FROM audit_log WHERE action = 'settings.set'")
        assert [row["actor_name"] for row in logged][-3:] == ["Nadia"] * 3


def test_a_sync_once_goes_through_a_scheduler_and_words_its_end(db_path):
    Store.open(db_path).close()
    ended = syncing.sync_once(db_path)
    assert ended["syncs"] == 1
    assert ended["last_result"]["error"] == client.NOT_ENROLLED
    assert "pas encore appairée" in syncing.describe(ended)


def test_a_sync_asked_of_an_ended_scheduler_reports_instead_of_waiting(db_path):
    Store.open(db_path).close()
    scheduler = syncing.make_scheduler(db_path, interval=None)
    first: list[dict] = []
    ended = threading.Event()
    syncing.sync_now(scheduler, lambda state: (first.append(state), ended.set()))
    assert ended.wait(30) and first[0]["syncs"] == 1
    scheduler.stop()
    again: list[dict] = []
    syncing.sync_now(scheduler, again.append)
    assert again and again[0]["state"] == "stopped"
