"""The federation's message on the home screen: shown whole, in the
resident's language when translated, at every display and language, with
the main tiles still at their size (tests/ui/layoutcheck.py)."""

from __future__ import annotations

import pytest

from kiosk.core import federation_feed
from sync import publications as wire
from tests.ui.test_layout import (  # noqa: F401 - the kiosk fixture and those it takes
    DISPLAYS,
    LANGUAGES,
    kiosk,
    layout_app,
    look,
    show,
    worst_template,
)

#: the longest message, in each language, with long words
LONGEST = {
    "fr": (
        "Fermeture exceptionnelle du centre lundi 12 janvier pour la formation de l'équipe. "
        "La permanence CAF est reportée au mardi 13 janvier de 9 h à 12 h, salle 2."
    ),
    "en": (
        "The centre is closed on Monday 12 January for staff training. The CAF advice desk "
        "moves to Tuesday 13 January, from 9 am to 12 noon, in room 2 upstairs, same building."
    ),
    "ar": (
        "المركز مغلق يوم الاثنين 12 يناير لتدريب الفريق. مكتب الصندوق ينتقل إلى الثلاثاء "
        "13 يناير من الساعة 9 إلى 12 ظهراً في القاعة 2، في نفس المكان والمبنى."
    ),
}


def publish_message(app, text: dict, key: str = "longest") -> None:
    texts = {lang: words[: wire.MESSAGE_MAX_CHARS] for lang, words in text.items()}
    body = wire.check_body(
        "message",
        {"text": texts, "pictogram": "event_busy", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    )
    item = {"kind": "message", "key": key, "updated_at": "2026-01-01T00:00:00.000Z", "withdrawn": False}
    federation_feed.apply(app.centre.store, wire.Page("ab" * 32, 1, False, "", [item | {"body": body}]))


def show_home(app) -> None:
    app.go("home")
    app.screen("home").refresh()  # as when home shows again: the message is read then


def withdraw_all(app) -> None:
    with app.centre.store.transaction():
        app.centre.store.conn.execute("DELETE FROM federation_feed")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width, height, dpi", DISPLAYS, ids=[f"{w}x{h}" for w, h, _d in DISPLAYS])
def test_the_longest_message_fits_the_home_screen(kiosk, width, height, dpi, lang):  # noqa: F811
    app = kiosk
    app.mode.end()
    show(app, width, height, dpi, lang)
    before = look(app, "home", show_home, dpi, resident=True)
    publish_message(app, LONGEST)
    try:
        found = look(app, "home", show_home, dpi, resident=True)
        screen = app.screen("home")
        assert screen.message_text and "carte" not in screen.ids.hint.text
    finally:
        withdraw_all(app)
    # nothing the home without a message does not show already
    added = [problem for problem in found if problem not in before]
    assert not added, "\n".join(added)


def test_the_message_is_in_the_residents_language_or_in_french(kiosk):  # noqa: F811
    app = kiosk
    app.mode.end()
    show(app, 1280, 800, 150, "en")
    publish_message(app, {"fr": "Fermé lundi", "en": "Closed on Monday"})
    try:
        app.go("home")
        screen = app.screen("home")
        screen.refresh()
        assert screen.message_text == "Closed on Monday" and screen.message_icon == "event_busy"
        assert "Closed on Monday" in screen.speech_parts()
        show(app, 1280, 800, 150, "ar")
        assert screen.message_text == "Fermé lundi"
    finally:
        withdraw_all(app)
        show(app, 1280, 800, 150, "fr")
    screen.refresh()
    assert screen.message_text == "" and screen.ids.hint.text.startswith("Vous avez une carte")
