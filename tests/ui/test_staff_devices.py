"""« Appareils du centre » driven offscreen against a real hub process: the
staff's « Ajouter un appareil » with a new device joining through `kiosk
join`, and « Rejoindre un centre » on a kiosk not enrolled with the invite
of a device running `kiosk invite`; and the bad invites in French."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import sqlalchemy as sa
from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, sign_in, wait_for

from federation import store as hub_store
from kiosk.core.centre import Centre
from kiosk.core.store import Store
from tests.helpers import KIOSK, kiosk, kiosk_environment

WORD = re.compile(r"Mots de contrôle : ([a-z]+-[a-z]+-[a-z]+)")
SHORT = re.compile(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")


def enrolled_reception(hub, path) -> None:
    """A centre's first kiosk at ``path``, enrolled with the federation's code, one member."""
    Store.open(path).close()
    _centre, code = hub.add_centre("Centre social Les Tilleuls")
    done = kiosk("enrol", "--db", path, "--hub", hub.url, "--code", code)
    assert done.returncode == 0, done.stderr
    with Centre.open(path) as centre:
        centre.members.register("Aïcha", "Benali", birth_year=1985, consent_data=True)


def open_devices(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["devices"])
    assert app.sm.current == "staff_devices"
    return app.screen("staff_devices")


# ---------------------------------------------------------------- « Ajouter un appareil »


@pytest.fixture
def reception(hub, db_path, clock):
    """The app's kiosk is the centre's enrolled first device."""
    enrolled_reception(hub, str(db_path))
    centre = Centre.open(db_path, clock=clock)
    return centre


@pytest.fixture
def reception_app(reception, mono):
    from kiosk.app import KioskApp
    from kiosk.ui import offscreen
    from kiosk.ui.i18n import _

    app = KioskApp(reception, kiosk_mode=False, monotonic=mono, confirm_s=0.2)
    offscreen.start(app)
    yield app
    offscreen.stop(app)
    _.switch("fr")


def test_staff_add_a_device_shown_as_a_qr_code_then_hand_the_key_to_the_word_compared(
    reception_app, tmp_path
):
    screen = open_devices(reception_app)
    assert screen.side == "invite" and screen.ids.title.text == "Ajouter un appareil"
    tap(screen.ids.make_invite)
    assert screen.busy
    wait_for(lambda: screen.step == "shown" or screen.failed)
    assert not screen.failed, screen.message
    assert screen.invite_text.startswith("accueil-invite:")
    assert screen.ids.qr.texture is not None and screen.ids.qr.texture.width > 0
    assert re.fullmatch(r"Valable encore (9|10) min \d\d s", screen.time_left), screen.time_left
    # the short code to type beside it, with the hub's address to type it with
    assert SHORT.fullmatch(screen.short_code) and screen.ids.short_code.text == screen.short_code
    assert screen.ids.hub_line.text == f"Adresse du hub : {reception_app.centre.settings.get('hub_url')}"

    tablet = str(tmp_path / "tablet.db")
    joining = subprocess.Popen(
        [KIOSK, "join", "--db", tablet, "--invite", screen.invite_text, "--wait", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kiosk_environment(),
    )
    try:
        line = joining.stdout.readline()
        shown = WORD.search(line)
        assert shown, line
        # the screen asks the hub until the new device joined, then shows its word
        wait_for(lambda: screen.step == "check", seconds=30)
        assert screen.word == shown.group(1)
        assert screen.ids.word.text == shown.group(1).replace("-", " ")
        assert screen.ids.compare.parent is not None and screen.ids.make_invite.parent is None
        tap(screen.ids.same_word)
        wait_for(lambda: screen.step == "done", seconds=60)
        assert screen.message.startswith("Appareil ajouté.")
        out, err = joining.communicate(timeout=60)
    finally:
        if joining.poll() is None:
            joining.kill()
    assert joining.returncode == 0, err
    assert "1 adhérent reçu." in out
    with Centre.open(tablet) as centre:
        assert [m["first_name"] for m in centre.members.search("aicha ben")] == ["Aïcha"]


def test_staff_who_see_another_word_hand_nothing_over(reception_app, tmp_path):
    screen = open_devices(reception_app)
    tap(screen.ids.make_invite)
    wait_for(lambda: screen.step == "shown")
    text = screen.invite_text
    joined = kiosk("join", "--db", tmp_path / "other.db", "--invite", text, "--wait", "0")
    assert "Mots de contrôle" in joined.stdout
    wait_for(lambda: screen.step == "check", seconds=30)
    tap(screen.ids.other_word)
    assert screen.step == "" and screen.failed
    assert screen.message.startswith("Les mots sont différents : la clé n'a pas été remise.")
    # the device that joined is still waiting: nothing was handed over
    from kiosk import syncing

    assert syncing.invite_word(reception_app.centre.store.path, text) is not None


# ---------------------------------------------------------------- « Rejoindre un centre »


def invite_from(path) -> str:
    done = kiosk("invite", "--db", path, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["invite"]


def test_a_new_kiosk_joins_a_centre_shows_the_word_and_is_added(app, hub, tmp_path):
    first = str(tmp_path / "reception.db")
    enrolled_reception(hub, first)
    screen = open_devices(app)
    assert screen.side == "join" and screen.ids.title.text == "Rejoindre un centre"
    screen.ids.invite.text = invite_from(first)  # as a USB scanner types it
    tap(screen.ids.join)
    wait_for(lambda: screen.step == "check", seconds=30)
    assert re.fullmatch(r"[a-z]+-[a-z]+-[a-z]+", screen.word)
    assert screen.ids.word.text == screen.word.replace("-", " ")
    assert screen.message.startswith("Vérifiez que l'appareil qui invite montre les mêmes mots")
    confirmed = kiosk("invite", "--db", first, "--confirm", screen.word)
    assert confirmed.returncode == 0, confirmed.stderr
    wait_for(lambda: screen.step == "done", seconds=60)
    assert screen.message == "Appareil ajouté au centre : 1 adhérent reçu.", screen.message
    assert [m["first_name"] for m in app.centre.members.search("aicha ben")] == ["Aïcha"]
    assert app.centre.settings.get("device_token")


def join_refused(app, text: str) -> str:
    screen = open_devices(app)
    screen.ids.invite.text = text
    tap(screen.ids.join)
    wait_for(lambda: not screen.busy, seconds=30)
    assert screen.failed and screen.step == ""
    return screen.message


def test_a_mistyped_invite_is_refused_in_french(app):
    message = join_refused(app, "accueil-invite:eyJodWIiOiJodHRwOi8v")
    assert message.startswith("Cette invitation est illisible.")


def test_an_invite_used_twice_is_refused_in_french(app, hub, tmp_path):
    first = str(tmp_path / "reception.db")
    enrolled_reception(hub, first)
    text = invite_from(first)
    once = kiosk("join", "--db", tmp_path / "one.db", "--invite", text, "--wait", "0")
    assert "Mots de contrôle" in once.stdout
    message = join_refused(app, text)
    assert message.startswith("Cette invitation a déjà servi pour un autre appareil.")


def test_an_expired_invite_is_refused_in_french(app, hub, tmp_path):
    first = str(tmp_path / "reception.db")
    enrolled_reception(hub, first)
    text = invite_from(first)
    engine = hub_store.create_engine(hub.db_url)
    with hub_store.writer(engine) as conn, conn.begin():  # eleven minutes later
        past = "2020-01-01T00:00:00.000Z"
        conn.execute(
            sa.update(hub_store.enrolment_codes)
            .where(hub_store.enrolment_codes.c.used_at.is_(None))
            .values(expires_at=past)
        )
        conn.execute(sa.update(hub_store.relay_invites).values(expires_at=past))
    engine.dispose()
    message = join_refused(app, text)
    assert message.startswith("Cette invitation a expiré : elle vaut dix minutes.")


def test_the_sync_screen_where_a_kiosk_is_enrolled_leads_to_joining_a_centre(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["sync"])
    tap(app.screen("staff_sync").ids["devices"])
    assert app.sm.current == "staff_devices"
    assert app.screen("staff_devices").side == "join"


# ---------------------------------------------------------------- the short code; kiosks joining again


def invite_made(path) -> dict:
    done = kiosk("invite", "--db", path, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_new_kiosk_joins_with_the_short_code_typed_and_the_hub_s_address(app, hub, tmp_path):
    first = str(tmp_path / "reception.db")
    enrolled_reception(hub, first)
    screen = open_devices(app)
    assert screen.ids.hub.text == ""  # a kiosk never enrolled knows no hub
    code = invite_made(first)["short_code"]
    screen.ids.invite.text = code.lower()
    screen.ids.hub.text = hub.url
    tap(screen.ids.join)
    wait_for(lambda: screen.step == "check" or screen.failed, seconds=30)
    assert not screen.failed, screen.message
    confirmed = kiosk("invite", "--db", first, "--confirm", screen.word)
    assert confirmed.returncode == 0, confirmed.stderr
    wait_for(lambda: screen.step == "done", seconds=60)
    assert [m["first_name"] for m in app.centre.members.search("aicha ben")] == ["Aïcha"]


def test_short_codes_refused_on_screen_say_why_in_french(app, hub, tmp_path):
    first = str(tmp_path / "reception.db")
    enrolled_reception(hub, first)
    code = invite_made(first)["short_code"]
    screen = open_devices(app)

    def refused(text: str, address: str) -> str:
        screen.ids.invite.text, screen.ids.hub.text = text, address
        tap(screen.ids.join)
        wait_for(lambda: not screen.busy, seconds=30)
        assert screen.failed and screen.step == ""
        return screen.message

    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert refused(typo, hub.url).startswith("Code inconnu.")
    assert refused(code, "").startswith("Tapez aussi l'adresse du hub")
    assert refused(code, "http://127.0.0.1:9").startswith("Aucun hub Accueil ne répond à l'adresse")
    once = kiosk("join", "--db", tmp_path / "one.db", "--invite", code, "--hub", hub.url, "--wait", "0")
    assert "Mots de contrôle" in once.stdout
    assert refused(code, hub.url).startswith("Code déjà utilisé par un autre appareil.")


def test_a_kiosk_restored_from_a_backup_is_asked_to_join_its_centre_again(reception_app):
    from kiosk.core import replication

    replication.forget_identity(reception_app.centre.store, "backup")
    screen = open_devices(reception_app)
    assert screen.side == "join" and screen.rejoin == "backup"
    assert screen.ids.explain.text.startswith("Cette borne vient d'une sauvegarde.")
    # the hub it knows is filled in: staff type the code only
    assert screen.ids.hub.text == reception_app.centre.settings.get("hub_url")


def test_a_kiosk_that_became_its_centre_s_first_device_can_join_another(reception_app):
    screen = open_devices(reception_app)
    assert screen.side == "invite" and screen.ids.join_instead.parent is not None
    tap(screen.ids.join_instead)
    assert screen.side == "join" and screen.ids.join_form.parent is not None
    assert screen.ids.make_invite.parent is None
