"""Restoring from the staff backups screen: a doctored file is refused on
screen, and staff choose whose hub enrolment the kiosk keeps."""

from __future__ import annotations

import sqlite3

import pytest
from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, register, sign_in

from kiosk.core import backup


@pytest.fixture
def backups_screen(app, tmp_path):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    folder = tmp_path / "usb"
    folder.mkdir()
    app.centre.settings.set("backup_dir", str(folder))
    app.centre.settings.set("hub_url", "https://hub-de-la-sauvegarde.example")
    tap(app.screen("staff_home").ids["backups"])
    screen = app.screen("staff_backups")
    tap(screen.ids.now)
    app.centre.settings.set("hub_url", "https://hub-actuel.example")
    return screen


def test_a_doctored_backup_is_refused_on_screen_and_nothing_changes(app, backups_screen):
    made = backup.backups(backups_screen.folder)[0]
    conn = sqlite3.connect(made, isolation_level=None)
    conn.execute("CREATE TRIGGER leak AFTER INSERT ON outbox BEGIN SELECT 1; END")
    conn.close()
    register(app.centre, "Après", "Sauvegarde")
    tap(backups_screen.ids.files.children[-1])
    tap(backups_screen.popup.ids.yes)
    assert "leak" in backups_screen.result and "modifié" in backups_screen.result
    assert len(app.centre.store.query("SELECT * FROM members")) == 1


def test_the_kiosk_keeps_its_enrolment_unless_staff_choose_the_backups(app, backups_screen):
    tap(backups_screen.ids.files.children[-1])
    tap(backups_screen.popup.ids.yes)
    assert app.centre.settings.get("hub_url") == "https://hub-actuel.example"
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["backups"])
    assert not backups_screen.enrolment_from_backup  # the choice never outlives a visit
    tap(backups_screen.ids.enrolment_choice)
    assert "celle de la sauvegarde" in backups_screen.ids.enrolment_choice.text
    tap(backups_screen.ids.files.children[-1])
    tap(backups_screen.popup.ids.yes)
    assert app.centre.settings.get("hub_url") == "https://hub-de-la-sauvegarde.example"
