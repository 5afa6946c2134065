"""The staff sync screen warns when the kiosk's clock and the hub's disagree
by more than 5 minutes (as the last push measured it), in the UI's language."""

from __future__ import annotations

import json

from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.ui.i18n import _
from sync import client, outbox


def measured(app, skew_s: float) -> None:
    """What a push records from the hub's Date header."""
    with app.centre.store.transaction():
        outbox.set_state(
            app.centre.store.conn,
            client.CLOCK_KEY,
            json.dumps({"at": "2026-12-01T08:00:00.000Z", "skew_s": skew_s}),
        )


def open_sync(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["sync"])
    assert app.sm.current == "staff_sync"
    return app.screen("staff_sync")


def test_the_sync_screen_warns_of_a_kiosk_clock_ahead_of_the_hubs(app):
    measured(app, 12 * 60 + 3)
    screen = open_sync(app)
    assert screen.clock_warning.startswith("L'horloge de la borne avance de 12 min sur celle du hub")
    assert screen.ids.clock_warning.height > 0


def test_no_warning_within_five_minutes_and_none_before_any_push(app):
    screen = open_sync(app)
    assert screen.clock_warning == "" and screen.ids.clock_warning.height == 0
    measured(app, -290)
    screen.refresh()
    assert screen.clock_warning == ""


def test_the_warning_follows_the_language(app):
    measured(app, -5 * 86400)
    screen = open_sync(app)
    _.switch("en")
    try:
        screen.refresh()
        assert screen.clock_warning.startswith("The kiosk's clock is 5 days behind the hub's")
    finally:
        _.switch("fr")  # back while the app still runs: every rule re-reads the language
