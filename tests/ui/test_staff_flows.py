"""Staff mode, driven by taps and checked in the database: a weekly series,
a cancelled session with who to tell, the sync panel against a real hub,
CSV and PDF exports, erasing a member, the retention purge, backups."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime

import pytest
from kivyhelp import screen_text, tap, texts
from modehelp import STAFF_PIN, add_people, keys_in, register, sign_in, wait_for

from kiosk.core import backup
from sync import client
from sync.protocol import parse_utc


@pytest.fixture
def staff(app):
    _volunteer, person = add_people(app.centre)
    sign_in(app, STAFF_PIN)
    assert app.sm.current == "staff_home"
    return person


def open_tile(app, tile: str, screen: str):
    tap(app.screen("staff_home").ids[tile])
    assert app.sm.current == screen
    return app.screen(screen)


def fill(screen, **values):
    for name, value in values.items():
        screen.ids[name].text = value


def test_staff_create_a_weekly_series_in_one_go(app, staff):
    screen = open_tile(app, "workshops", "staff_workshops")
    fill(
        screen,
        title="Français à l'oral",
        facilitator="Nadia",
        place="Salle 1",
        day="03/12/2026",
        start="14:00",
        end="16:00",
        capacity="12",
        weeks="4",
    )
    screen.ids.theme.text = "Éducation"
    tap(screen.ids.save)
    sessions = app.centre.store.query(
        "SELECT starts_at, capacity, series_id FROM sessions ORDER BY starts_at"
    )
    assert len(sessions) == 4
    assert len({s["series_id"] for s in sessions}) == 1 and sessions[0]["series_id"]
    assert [parse_utc(s["starts_at"]).day for s in sessions] == [3, 10, 17, 24]
    assert parse_utc(sessions[0]["starts_at"]).hour == 13  # 14:00 in Paris
    workshop = app.centre.store.one("SELECT title, theme, facilitator, place FROM workshops")
    assert workshop == {
        "title": "Français à l'oral",
        "theme": "education",
        "facilitator": "Nadia",
        "place": "Salle 1",
    }
    assert len(screen.ids.sessions_view.data) == 4
    assert app.centre.staff.audit_log(limit=1)[0]["action"] == "session.create_series"


def test_a_bad_date_names_the_field_and_stores_nothing(app, staff):
    screen = open_tile(app, "workshops", "staff_workshops")
    fill(screen, title="Atelier", day="31/02/2026", start="14:00", end="16:00", capacity="10")
    tap(screen.ids.save)
    assert "Date ou heure invalide" in screen.message
    assert app.centre.store.query("SELECT * FROM workshops") == []


def test_staff_edit_then_cancel_a_session_and_see_who_to_tell(app, staff):
    workshop = app.centre.workshops.create_workshop("Café des parents", "parentalite")
    session = app.centre.workshops.add_session(
        workshop["id"], datetime(2026, 12, 3, 13, tzinfo=UTC), datetime(2026, 12, 3, 15, tzinfo=UTC), 1
    )
    aicha = register(app.centre, phone="0612345678")
    bernard = register(app.centre, "Bernard", "Martin")
    for member in (aicha, bernard):
        app.centre.workshops.register(session["id"], member["id"])
    screen = open_tile(app, "workshops", "staff_workshops")
    tap(screen.ids.sessions.children[-1])
    assert screen.editing == session["id"] and screen.ids.day.text == "03/12/2026"
    fill(screen, capacity="8", place="Salle verte")
    tap(screen.ids.save)
    edited = app.centre.workshops.session(session["id"])
    assert (edited["capacity"], edited["place"], edited["booked"]) == (8, "Salle verte", 2)
    tap(screen.ids.sessions.children[-1])
    tap(screen.ids.cancel)
    tap(screen.popup.ids.yes)
    assert app.centre.workshops.session(session["id"])["cancelled"]
    assert "À prévenir" in screen.told
    assert "Aïcha Benali  06 12 34 56 78" in screen.told
    assert "Bernard Martin" in screen.told


def test_the_sync_panel_enrols_and_syncs_with_a_real_hub(app, staff, hub, clock):
    clock.set(datetime.now(UTC))  # the hub refuses events from the future
    _centre_id, code = hub.add_centre("Centre social du Chemin Vert")
    screen = open_tile(app, "sync", "staff_sync")
    assert "Borne pas encore appairée." in screen_text(app)
    fill(screen, hub_url=hub.url, code=code)
    tap(screen.ids.enrol)
    wait_for(lambda: not screen.busy)
    assert "Borne appairée" in screen.result, screen.result
    assert app.centre.settings.get("device_token")
    app.centre.visits.check_in("accueil")
    screen.refresh()
    assert "Données en attente d'envoi : " in screen.waiting and not screen.waiting.endswith(": 0")
    tap(screen.ids.sync_now)
    assert screen.busy and "Envoi en cours" in screen.result
    wait_for(lambda: not screen.busy)
    assert "envoyée" in screen.result, screen.result
    assert screen.waiting.endswith(": 0")
    assert "jamais" not in screen.last_success
    held = client.hub_status(hub.url, app.centre.settings.get("device_token"))
    assert held["events_total"] == 1  # the visit (logins and settings stay on the kiosk)
    assert screen.ids.bar.value == 1


def test_a_wrong_enrolment_code_is_refused_in_words(app, staff, hub):
    screen = open_tile(app, "sync", "staff_sync")
    fill(screen, hub_url=hub.url, code="PAS-LE-BON-CODE")
    tap(screen.ids.enrol)
    wait_for(lambda: not screen.busy)
    assert screen.result.startswith("Appairage impossible : "), screen.result
    assert app.centre.settings.get("device_token") is None


def test_the_sync_panel_says_in_words_when_the_hub_is_unreachable(app, staff):
    app.centre.settings.set("hub_url", "http://127.0.0.1:9")
    app.centre.settings.set("device_token", "x" * 40)
    app.centre.visits.check_in("accueil")
    screen = open_tile(app, "sync", "staff_sync")
    tap(screen.ids.sync_now)
    wait_for(lambda: not screen.busy, 60)
    assert screen.result and "envoyée" not in screen.result
    assert screen.last_error.startswith("Dernière erreur : ")
    # the button asked the app's scheduler, the one way every push goes
    assert app.scheduler is not None and app.scheduler.status()["syncs"] == 1


def test_the_sync_result_is_worded_in_the_language_on_screen(app, staff):
    from kiosk.ui.i18n import _

    app.centre.settings.set("hub_url", "http://127.0.0.1:9")
    app.centre.settings.set("device_token", "x" * 40)
    app.centre.visits.check_in("accueil")
    screen = open_tile(app, "sync", "staff_sync")
    _.switch("en")
    try:
        tap(screen.ids.sync_now)
        wait_for(lambda: not screen.busy, 60)
        assert screen.result.startswith("The federation's hub"), screen.result
        assert "ne répond pas" not in screen.result
    finally:
        _.switch("fr")


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_export_buttons_write_csv_files_excel_reads(app, staff, tmp_path):
    out = tmp_path / "usb"
    out.mkdir()
    app.centre.settings.set("backup_dir", str(out))
    aicha = register(app.centre)
    app.centre.visits.check_in("demarches", member_id=aicha["id"])
    app.centre.visits.check_in("accueil")
    screen = open_tile(app, "exports", "staff_exports")
    assert screen.ids.start.text == "01/12/2026" and screen.ids.end.text == "01/12/2026"
    for tile in ("visits", "attendance", "members"):
        tap(screen.ids[tile])
        # plural forms: « 1 ligne écrite », « 3 lignes écrites »
        assert re.search(r"^\d+ lignes? écrites? dans ", screen.result), screen.result
    visits = read_csv(next(out.glob("visits-*.csv")))
    assert len(visits) == 3  # header and two visits
    assert (out / "visits-20261201-20261201.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    members = read_csv(next(out.glob("members-*.csv")))
    assert any("Benali" in cell for row in members[1:] for cell in row)
    assert len(read_csv(next(out.glob("attendance-*.csv")))) == 1  # header only
    tap(screen.ids.summary)
    from pypdf import PdfReader

    text = PdfReader(next(out.glob("bilan-*.pdf"))).pages[0].extract_text()
    assert "Chemin Vert" in text


def test_an_export_without_the_stick_says_so(app, staff, tmp_path):
    app.centre.settings.set("backup_dir", str(tmp_path / "absent"))
    screen = open_tile(app, "exports", "staff_exports")
    tap(screen.ids.visits)
    assert "La clé USB est-elle branchée ?" in screen.result


def test_staff_erase_a_member_after_confirming(app, staff):
    aicha = register(app.centre)
    screen = open_tile(app, "privacy", "staff_privacy")
    tap(screen.ids.find)
    keys_in(screen, "benal")
    tap(screen.ids.picker.ids.results.children[-1])
    assert "Nom : Benali" in screen.details and "Année de naissance : 1980" in screen.details
    assert "Inscrit le : 01/12/2026 09:00" in screen.details
    tap(screen.ids.erase)
    tap(screen.popup.ids.yes)
    row = app.centre.store.one("SELECT first_name, erased_at FROM members WHERE id = ?", (aicha["id"],))
    assert row["erased_at"] and row["first_name"] != "Aïcha"
    assert "La personne est effacée." in screen.result
    assert app.centre.staff.audit_log(limit=1)[0]["action"] == "member.erase"


def test_staff_export_a_members_data(app, staff, tmp_path):
    import json

    app.centre.settings.set("backup_dir", str(tmp_path))
    aicha = register(app.centre)
    screen = open_tile(app, "privacy", "staff_privacy")
    tap(screen.ids.find)
    keys_in(screen, "aic")
    tap(screen.ids.picker.ids.results.children[-1])
    tap(screen.ids.export)
    held = json.loads((tmp_path / f"donnees-{aicha['id']}.json").read_text(encoding="utf-8"))
    assert held["member"]["last_name"] == "Benali"


def test_the_retention_purge_is_previewed_then_run(app, staff, clock):
    old = register(app.centre, "Odile", "Ancienne")
    clock.advance(days=800)
    recent = register(app.centre)
    screen = open_tile(app, "privacy", "staff_privacy")
    tap(screen.ids.preview)
    assert [m["id"] for m in screen.candidates] == [old["id"]]
    assert "Odile Ancienne" in screen.result and screen.result.startswith("1 personne n'est pas venue")
    assert (
        app.centre.store.one("SELECT erased_at FROM members WHERE id = ?", (old["id"],))["erased_at"] is None
    )
    tap(screen.ids.purge)
    tap(screen.popup.ids.yes)
    assert app.centre.store.one("SELECT erased_at FROM members WHERE id = ?", (old["id"],))["erased_at"]
    assert (
        app.centre.store.one("SELECT erased_at FROM members WHERE id = ?", (recent["id"],))["erased_at"]
        is None
    )


def test_backup_now_writes_a_checked_copy_and_restore_brings_it_back(app, staff, tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()
    app.centre.settings.set("backup_dir", str(folder))
    screen = open_tile(app, "backups", "staff_backups")
    tap(screen.ids.now)
    made = backup.backups(folder)
    assert len(made) == 1 and "Sauvegarde faite" in screen.result
    assert backup.check_backup_file(made[0]) >= 0
    register(app.centre, "Après", "Sauvegarde")
    tap(screen.ids.files.children[-1])
    tap(screen.popup.ids.yes)
    assert app.sm.current == "home" and not app.pin_mode  # everyone signs in again
    assert app.centre.store.query("SELECT * FROM members") == []


def test_the_daily_backup_runs_once_a_day(app, tmp_path, clock):
    app.centre.settings.set("backup_dir", str(tmp_path))
    app.daily_backup()
    app.daily_backup()
    assert len(backup.backups(tmp_path)) == 1
    clock.advance(days=1)
    app.daily_backup()
    assert len(backup.backups(tmp_path)) == 2


def test_the_hourly_backup_check_runs_off_the_ui_thread(app, tmp_path):
    app.centre.settings.set("backup_dir", str(tmp_path))
    app._daily_backup_in_background()
    wait_for(lambda: len(backup.backups(tmp_path)) == 1)


def test_settings_accounts_and_audit_log(app, staff):
    screen = open_tile(app, "settings", "staff_settings")
    fill(screen, centre_name="Centre social Audrey Bartier", pin_idle_timeout_s="45")
    tap(screen.ids.save)
    assert screen.result == "Réglages enregistrés."
    assert app.centre.settings.get("centre_name") == "Centre social Audrey Bartier"
    assert app.centre_name == "Centre social Audrey Bartier"
    assert app.centre.settings.get("pin_idle_timeout_s") == 45
    fill(screen, idle_timeout_s="5")
    tap(screen.ids.save)
    assert screen.result.startswith(
        "Retour à l'écran d'accueil après (secondes) — Ce réglage n'est pas valable"
    )
    assert app.centre.settings.get("idle_timeout_s") == 60
    tap(app.root.ids.mode_banner.ids.mode_home)
    accounts = open_tile(app, "accounts", "staff_accounts")
    fill(accounts, name="Julie Roger", pin="8642")
    tap(accounts.ids.add_volunteer)
    assert any(p["name"] == "Julie Roger" and p["role"] == "volunteer" for p in app.centre.staff.list())
    assert app.centre.staff.authenticate("8642")["name"] == "Julie Roger"
    tap(app.root.ids.mode_banner.ids.mode_home)
    open_tile(app, "audit", "staff_audit")
    shown = "\n".join(texts(app.sm.current_screen))
    assert "Personne ajoutée à l'équipe (name=Julie Roger, role=volunteer)" in shown
    assert "Karim Haddad : Réglage changé (key=centre_name" in shown
