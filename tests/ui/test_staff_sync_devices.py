"""The staff sync screen says where the device stands with the centre's
other devices (kiosk.core.replication.overview), in plain words and in the
UI's language; a device that does not replicate shows nothing of it."""

from __future__ import annotations

from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.core import replication
from kiosk.ui.i18n import _
from sync.envelope import DeviceKeys


def open_sync(app):
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["sync"])
    assert app.sm.current == "staff_sync"
    return app.screen("staff_sync")


def replicating(app) -> None:
    """This kiosk replicates, with a tablet it heard from and a laptop it did not."""
    store = app.centre.store
    replication.set_up(store, device_id="reception")
    tablet, laptop = DeviceKeys.new(), DeviceKeys.new()
    replication.add_peer(store, "tablet", bytes(tablet.verify_key), "Tablette atelier")
    replication.add_peer(store, "laptop", bytes(laptop.verify_key), "Portable hors les murs")
    replication.note_exchange(store, {"tablet"})


def test_the_sync_screen_shows_each_device_and_what_is_left_to_send(app):
    replicating(app)
    add_people(app.centre)
    app.centre.members.register("Aïcha", "Benali", consent_data=True)  # a change to send
    screen = open_sync(app)
    # the sign-in's audit line is one more: read once the screen is open
    waiting = replication.pending(app.centre.store)
    assert waiting > 0
    lines = screen.peers.split("\n")
    assert lines[0] == f"Changements à envoyer aux autres appareils : {waiting}"
    assert lines[1].startswith("Dernier échange avec les autres appareils : ") and "jamais" not in lines[1]
    assert lines[2] == "Portable hors les murs : pas encore de nouvelles"
    assert lines[3].startswith("Tablette atelier : nouvelles reçues le ")
    assert screen.ids.peers.height > 0


def test_the_device_lines_follow_the_language(app):
    replicating(app)
    add_people(app.centre)
    screen = open_sync(app)
    _.switch("en")
    try:
        screen.refresh()
        # the people added and the sign-in (staff accounts, audit lines) are to send
        waiting = replication.pending(app.centre.store)
        assert screen.peers.startswith(f"Changes to send to the other devices: {waiting}\n")
        assert "Portable hors les murs: no news yet" in screen.peers
    finally:
        _.switch("fr")


def test_a_device_that_does_not_replicate_shows_no_device_lines(app):
    add_people(app.centre)
    screen = open_sync(app)
    assert screen.peers == "" and screen.ids.peers.height == 0
