"""« Écouter »: what each resident screen sends to the speech engine, in each
language, read from the logical text; no button without an engine; a tap on
a choice stops the reading and still acts.

The engine is a stand-in program on PATH's place (a shell script): it writes
its arguments and the text it got on stdin to a file, as espeak-ng would read
them, so the whole path runs: the button, the worker thread, the process."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from kivyhelp import settle, tap

from kiosk.core.settings import DEFAULT_REASONS
from kiosk.ui import offscreen, speech
from kiosk.ui.consent import CONSENT_ITEMS
from kiosk.ui.i18n import _, fill

LANGS = ("fr", "en", "ar")


def engine(tmp_path, then: str = "") -> tuple[str, object]:
    """A stand-in espeak-ng: records each run (arguments, stdin) as a JSON line."""
    log = tmp_path / "spoken.jsonl"
    program = tmp_path / "fake-espeak-ng"
    program.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys, time\n"
        "text = sys.stdin.read()\n"
        f"with open({str(log)!r}, 'a', encoding='utf-8') as out:\n"
        "    out.write(json.dumps({'args': sys.argv[1:], 'text': text}) + '\\n')\n"
        f"{then}\n"
    )
    program.chmod(0o755)
    return str(program), log


def runs(log, count: int = 1, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
            if len(lines) >= count:
                return lines
        time.sleep(0.02)
    raise AssertionError(f"the engine ran fewer than {count} times")


@pytest.fixture
def speaking(app, tmp_path):
    program, log = engine(tmp_path)
    app.speaker = speech.Speaker(program)
    listen = app.root.ids.listen
    listen.update()
    yield app, listen, log
    app.speaker.close()


def t(msgid: str, **params) -> str:
    """What the engine must get: the translation in reading order, filled in."""
    return fill(_.gettext(msgid), params)


def expected(app, centre, name: str) -> list[str]:
    """Each screen's parts, from the catalogue itself (not from the widgets)."""
    if name == "home":
        return [
            t("Je suis là"),
            t("Les ateliers"),
            t("Première visite"),
            t("Une idée pour le centre ? Dites-la nous."),
            t("Boîte à idées"),
            t("Vous avez une carte ? Passez-la devant le lecteur."),
        ]
    if name == "checkin":
        return [
            t("Tapez votre prénom, ou passez votre carte"),
            t("Passez votre carte devant le lecteur."),
            t("Sans carte"),
        ]
    if name == "reason":
        return [t("Pourquoi venez-vous aujourd'hui ?")] + [t(r["label"]) for r in DEFAULT_REASONS]
    if name == "confirmation":
        return [t("Bienvenue, %(name)s !", name="Aïcha"), t("C'est noté. Bonne journée !")]
    if name == "workshops":
        return [
            t("Les ateliers de la semaine"),
            t("Il n'y a plus d'atelier cette semaine. Revenez la semaine prochaine !"),
        ]
    if name == "first_visit":
        return [t("Votre prénom")]
    if name == "ideas":
        themes = ("Des activités", "Des sorties", "Le quartier", "Le numérique", "La famille", "Autre chose")
        return [t("Votre idée parle de quoi ?")] + [t(theme) for theme in themes]
    if name == "consent":
        months = centre.settings.get("retention_months")
        items = [
            t(text)
            if text
            else fill(
                _._catalogues[_.lang].ngettext(
                    "Nous effaçons tout %(months)d mois après votre dernière visite.",
                    "Nous effaçons tout %(months)d mois après votre dernière visite.",
                    months,
                ),
                {"months": months},
            )
            for _icon, text in CONSENT_ITEMS
        ]
        return (
            [t("Vos informations")]
            + items
            + [t("Êtes-vous d'accord ? Vous pouvez dire non."), t("Oui, je suis d'accord"), t("Non, merci")]
        )
    if name == "workshop":
        screen = app.screen("workshop")
        session = centre.workshops.session(screen.session_id)
        return [
            session["title"],
            session["description"] or "",
            _.span(datetime.fromisoformat(session["starts_at"]), datetime.fromisoformat(session["ends_at"])),
            session["place"],
            fill(
                _._catalogues[_.lang].ngettext("Encore %(n)d place libre", "Encore %(n)d places libres", 2),
                {"n": 2},
            ),
            t("Je m'inscris"),
            t("J'annule mon inscription"),
        ]
    if name == "card":
        return [
            t("Bienvenue, %(name)s !", name="Aïcha"),
            t("Voici votre carte. Passez-la devant le lecteur à chaque visite."),
            t("Inscrire une autre personne du même foyer"),
            t("Je suis là"),
            t("Terminer"),
        ]
    raise KeyError(name)


def show(app, centre, name: str) -> None:
    if name == "confirmation":
        app.confirm_s = 60  # stays while it is read
        app.confirm(
            "check_circle",
            lambda: _("Bienvenue, %(name)s !", name="Aïcha"),
            lambda: _("C'est noté. Bonne journée !"),
        )
        return
    if name == "card":
        app.screen("card").member = centre.members.register(
            "Aïcha", "Benali", 1980, commune="Outreau", consent_data=True
        )
    if name == "checkin":
        app.start_checkin()
        return
    if name == "workshop":
        workshop = centre.workshops.create_workshop("Café des parents", "parentalite", place="Salle bleue")
        session = centre.workshops.add_session(
            workshop["id"],
            datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
            datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
            2,
        )
        app.screen("workshop").session_id = session["id"]
    app.go(name)


SCREENS = (
    "home",
    "checkin",
    "reason",
    "confirmation",
    "workshops",
    "workshop",
    "first_visit",
    "consent",
    "card",
    "ideas",
)


@pytest.mark.parametrize("lang", LANGS)
def test_each_resident_screen_sends_its_question_then_its_choices_in_the_language(speaking, centre, lang):
    app, listen, log = speaking
    app.set_language(lang)
    for count, name in enumerate(SCREENS, 1):
        show(app, centre, name)
        if app.lang != lang:  # a reset went home in French
            app.set_language(lang)
        settle(listen)
        assert listen.shown, name
        listen.dispatch("on_release")
        run = runs(log, count)[-1]
        assert run["text"] == speech.script(expected(app, centre, name)), (name, lang)
        assert run["args"][run["args"].index("-v") + 1] == speech.VOICES[lang]


def test_arabic_is_sent_in_reading_order_never_as_presentation_forms(speaking, centre):
    app, listen, log = speaking
    app.set_language("ar")
    app.go("reason")
    settle(listen)
    listen.dispatch("on_release")
    text = runs(log)[-1]["text"]
    assert "لماذا" in text  # the first word first, as it is read
    assert not any("\ufb50" <= c <= "\ufdff" or "\ufe70" <= c <= "\ufeff" for c in text)
    assert not any(c in text for c in "\u202a\u202b\u202c\u2066\u2067\u2068\u2069")


def test_a_tap_on_listen_reaches_the_engine_with_a_capped_volume(speaking):
    app, listen, log = speaking
    app.go("home")
    tap(listen)
    args = runs(log)[-1]["args"]
    assert int(args[args.index("-a") + 1]) <= 100  # espeak-ng's own default is 100
    # a real touch target: at least theme.TARGET_MM on the glass on its shorter side
    from kiosk.ui import theme
    from kiosk.ui.sizes import sizes

    assert min(listen.size) >= theme.mm_px(theme.TARGET_MM, sizes.dpi) - 1


def test_no_engine_no_button_and_the_screens_work_as_before(app):
    assert not app.speaker.available  # tests get no engine unless they hand one in
    listen = app.root.ids.listen
    for name in ("home", "reason", "consent"):
        app.go(name)
        settle(listen)
        assert not listen.shown and listen.opacity == 0 and listen.width == 0
    assert app.speaker.say(["Bonjour"], "fr") is False


def test_staff_screens_have_no_listen_button(speaking):
    app, listen, _log = speaking
    app.pin_mode = True
    settle(listen)
    assert not listen.shown
    app.pin_mode = False
    settle(listen)
    assert listen.shown


def test_a_choice_tapped_while_it_speaks_stops_the_speech_and_acts(app, centre, tmp_path):
    program, log = engine(tmp_path, then="time.sleep(30)")
    app.speaker = speech.Speaker(program)
    listen = app.root.ids.listen
    app.flow = {"purpose": "checkin", "member": None}
    app.go("reason")
    settle(listen)
    listen.dispatch("on_release")
    runs(log)
    process = app.speaker._process
    assert process is not None and process.poll() is None  # still speaking
    tiles = list(reversed(app.screen("reason").ids.grid.children))
    tap(tiles[0])
    process.wait(timeout=5)  # stopped by the tap
    assert app.sm.current == "confirmation"
    assert centre.store.query("SELECT reason FROM visits") == [{"reason": DEFAULT_REASONS[0]["code"]}]
    app.speaker.close()


def test_speaking_never_waits_for_the_engine(app, tmp_path):
    """say() returns before the engine has even started (a slow start-up
    would otherwise freeze the screen)."""
    program, log = engine(tmp_path)
    slow = tmp_path / "slow-engine"
    slow.write_text(f'#!/bin/sh\nsleep 1\nexec {program} "$@"\n')
    slow.chmod(0o755)
    app.speaker = speech.Speaker(str(slow))
    started = time.perf_counter()
    assert app.speaker.say(["Bonjour"], "fr")
    assert time.perf_counter() - started < 0.5
    runs(log)
    app.speaker.close()
    offscreen.frames(1)


def test_the_script_ends_each_part_with_a_pause_and_drops_empty_parts():
    assert speech.script(["Votre prénom", "", "Suivant !", "  "]) == "Votre prénom. Suivant !"
    assert speech.script(["لماذا جئت اليوم؟"]) == "لماذا جئت اليوم؟"
    assert len(speech.script(["mot " * 2000])) == speech.MAX_CHARS


def test_the_confirmation_reads_itself_in_arabic_too(app, tmp_path):
    program, log = engine(tmp_path)
    app.speaker = speech.Speaker(program)
    app.speak = True
    app.set_language("ar")
    app.confirm_s = 60
    app.confirm("check_circle", lambda: _("Bienvenue !"), lambda: _("C'est noté. Bonne journée !"))
    offscreen.frames(2)
    assert runs(log)[-1]["text"] == speech.script([t("Bienvenue !"), t("C'est noté. Bonne journée !")])
    app.speaker.close()


def test_going_home_by_itself_stops_the_reading(app, tmp_path):
    program, log = engine(tmp_path, then="time.sleep(30)")
    app.speaker = speech.Speaker(program)
    listen = app.root.ids.listen
    app.go("consent")
    settle(listen)
    listen.dispatch("on_release")
    runs(log)
    process = app.speaker._process
    app.reset_to_home()  # what the idle timer does when the resident has left
    process.wait(timeout=5)
    app.speaker.close()
