"""The kiosk app runs the sync in the background: a check-in tapped at the
kiosk reaches a real hub with nobody pressing anything, and the app's
sync_state follows (set on the UI thread)."""

from __future__ import annotations

from datetime import UTC, datetime

from kivyhelp import tap
from modehelp import wait_for

from kiosk.ui import offscreen
from sync import client, scheduler


def test_a_check_in_reaches_the_hub_by_itself(centre, mono, clock, hub, db_path):
    from kiosk.app import KioskApp

    clock.set(datetime.now(UTC))  # the hub refuses events from the future
    answer = hub.new_device("Centre social du Chemin Vert")
    centre.settings.set("hub_url", hub.url)
    centre.settings.set("device_token", answer["device_token"])
    background = scheduler.Scheduler(
        str(db_path), _settings(db_path), interval=0.5, first_delay=0.1, offline_interval=0.5
    )
    app = KioskApp(centre, kiosk_mode=False, monotonic=mono, confirm_s=0.2, scheduler=background)
    offscreen.start(app)
    try:
        tap(app.screen("home").ids.checkin)
        tap(app.screen("checkin").ids.anonymous)
        tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil")
        tap(tile)
        wait_for(lambda: client.hub_status(hub.url, answer["device_token"])["events_total"] == 1)
        wait_for(lambda: app.sync_state == "idle")
        assert app.sync_message
    finally:
        offscreen.stop(app)
    assert not background.running  # on_stop ended the thread


def test_the_app_reads_the_sync_settings_with_the_threads_connection(centre, db_path):
    from kiosk.syncing import sync_settings

    centre.settings.set("hub_url", "http://127.0.0.1:9")
    read = sync_settings(str(db_path))
    from sync import outbox

    conn = outbox.connect(str(db_path))
    try:
        assert read(conn) == {
            "hub_url": "http://127.0.0.1:9",
            "device_token": None,
            "sent_events_kept_days": 90,
        }
    finally:
        conn.close()


def _settings(db_path):
    from kiosk.syncing import sync_settings

    return sync_settings(str(db_path))
