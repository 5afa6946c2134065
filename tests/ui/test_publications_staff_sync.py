"""The staff sync screen says when the federation's news last came, or that
a page was refused, in the UI's language (kiosk.core.federation_feed)."""

from __future__ import annotations

from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.core import federation_feed
from kiosk.ui.i18n import _
from sync import publications as wire


def open_sync(app):
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["sync"])
    assert app.sm.current == "staff_sync"
    return app.screen("staff_sync")


def test_a_refused_page_is_said_then_cleared_by_the_next_good_one(app):
    store = app.centre.store
    add_people(app.centre)
    screen = open_sync(app)
    assert screen.federation == "Nouvelles de la fédération : pas encore reçues"
    federation_feed.refuse(store, wire.KEY_CHANGED, "the page names another hub key")
    screen.refresh()
    assert "le hub a changé de clé" in screen.federation and screen.federation_refused
    assert screen.ids.federation.height > 0
    _.switch("en")
    try:
        screen.refresh()
        assert "the hub changed its key" in screen.federation
    finally:
        _.switch("fr")
    federation_feed.refuse(store, wire.BAD_SIGNATURE, "the signature does not match")
    screen.refresh()
    assert "elles ne viennent pas du hub" in screen.federation
    federation_feed.apply(store, wire.Page("ab" * 32, 5, False, "", []))
    screen.refresh()
    assert screen.federation.startswith("Nouvelles de la fédération reçues le ")
    assert not screen.federation_refused
