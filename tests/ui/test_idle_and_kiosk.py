"""Idle reset, « Vous êtes toujours là ? », language switch, kiosk behaviour."""

from __future__ import annotations

from kivy.core.window import Window
from kivyhelp import screen_text, tap, texts, type_text

from kiosk.ui import offscreen
from kiosk.ui.i18n import LANGUAGE_NAMES, _


def test_idle_on_a_simple_screen_goes_home_and_back_to_french(app, mono):
    tap(app.screen("home").ids.workshops)
    app.set_language("en")
    mono.advance(61)
    app.tick()
    assert app.sm.current == "home"
    assert app.lang == "fr" and _.lang == "fr"
    assert "Je suis là" in screen_text(app)


def test_idle_on_a_form_asks_first_then_clears_every_field(app, mono):
    tap(app.screen("home").ids.checkin)
    type_text(app, "aic")
    mono.advance(61)
    app.tick()
    assert app.prompt is not None
    offscreen.frames(1)
    assert "Vous êtes toujours là ?" in texts(app.prompt)
    assert app.sm.current == "checkin"  # nothing lost yet
    mono.advance(21)
    app.tick()
    assert app.prompt is None
    assert app.sm.current == "home"
    assert app.screen("checkin").query == ""


def test_answering_yes_keeps_what_was_typed(app, mono):
    tap(app.screen("home").ids.first_visit)
    type_text(app, "fatou")
    mono.advance(61)
    app.tick()
    tap(app.prompt.ids.yes)
    assert app.prompt is None
    mono.advance(21)
    app.tick()
    assert app.sm.current == "first_visit"
    assert app.screen("first_visit").values["first_name"] == "Fatou"


def test_the_idle_time_is_the_centres_setting(centre, mono):
    from kiosk.app import KioskApp

    centre.settings.set("idle_timeout_s", 120)
    kiosk = KioskApp(centre, kiosk_mode=False, monotonic=mono)
    offscreen.start(kiosk)
    try:
        kiosk.go("workshops")
        kiosk.activity()
        mono.advance(61)
        kiosk.tick()
        assert kiosk.sm.current == "workshops"
        mono.advance(60)
        kiosk.tick()
        assert kiosk.sm.current == "home"
    finally:
        offscreen.stop(kiosk)


def test_every_visible_string_changes_with_the_language(app, centre):
    centre.members.register("Aïcha", "Benali", 1980, commune="Outreau", consent_data=True)
    for name in ("home", "checkin", "reason", "workshops", "first_visit", "consent"):
        app.set_language("fr")
        app.go(name)
        offscreen.frames(1)
        french = set(texts(app.root))
        for lang in ("en", "ar"):
            app.set_language(lang)
            offscreen.frames(1)
            shown = set(texts(app.root))
            still = {t for t in french & shown if _is_words(t)}
            assert not still, f"{name} in {lang} still shows {still}"


def _is_words(text: str) -> bool:
    """Words to translate, as opposed to pictograms, the clock, names and codes."""
    keep = set(LANGUAGE_NAMES.values()) | {"Centre social du Chemin Vert", "-", "'"}
    if text in keep or len(text) <= 1:
        return False
    return any(c.isalpha() for c in text) and not all("\ue000" <= c <= "\uf8ff" for c in text)


def test_arabic_is_shaped_and_right_to_left(app):
    app.set_language("ar")
    offscreen.frames(1)
    tile = app.screen("home").ids.checkin
    assert (
        tile.text
        and all(not ("\u0600" <= c <= "\u06ff") or c == " " for c in tile.text if c.isalpha())
        or any("\ufe70" <= c <= "\ufeff" for c in tile.text)
    )  # presentation forms: letters joined
    assert app.halign == "right"
    buttons = app.root.ids.buttons  # the header's row of buttons, mirrored: Arabic's name first
    assert buttons.children[-1].code == "ar"


def test_escape_and_closing_the_window_do_nothing_in_kiosk_mode(app):
    app.kiosk_mode = True
    assert Window.dispatch("on_key_down", 27, 41, None, []) is True
    assert Window.dispatch("on_request_close") is True
    app.pin_mode = True
    assert not app._key_down(Window, 27)
    assert not app._request_close()


def test_the_corner_button_asks_for_the_pin_mode(app):
    asked = []
    app.bind(on_pin_request=lambda *_a: asked.append(True))
    tap(app.screen("home").ids.pin)
    assert asked == [True]
    # the PIN screen opens when one is registered (it is in SCREENS)
    assert app.sm.current == ("pin" if app.has_screen("pin") else "home")


def test_the_confirmation_follows_a_language_switch(app, centre):
    aicha = centre.members.register("Aïcha", "Benali", 1980, commune="Outreau", consent_data=True)
    app.flow = {"purpose": "checkin", "member": aicha}
    app.check_in("accueil")
    assert app.screen("confirmation").ids.title.text == "Bienvenue, Aïcha !"
    app.set_language("en")
    assert app.screen("confirmation").ids.title.text == "Welcome, Aïcha!"
    assert app.screen("confirmation").ids.message.text == "All done. Have a good day!"


def test_only_the_centres_languages_are_offered(centre, mono):
    from kiosk.app import KioskApp

    centre.settings.set("languages", ["fr", "ar"])
    kiosk = KioskApp(centre, kiosk_mode=False, monotonic=mono)
    offscreen.start(kiosk)
    try:
        offered = [b.code for b in kiosk.root.ids.buttons.children if hasattr(b, "code") and b.opacity]
        assert sorted(offered) == ["ar", "fr"]
    finally:
        offscreen.stop(kiosk)
