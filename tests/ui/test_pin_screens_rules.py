"""The residents' UI rules hold on every volunteer and staff screen too:
touch targets of at least 96 px (keys 80 px) and text of at least 24 px on
the 1280x800 design window, a pictogram beside every action word."""

from __future__ import annotations

from datetime import UTC, datetime

from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivyhelp import settle
from modehelp import STAFF_PIN, add_people, register, sign_in

from kiosk.ui import icons, offscreen, theme
from kiosk.ui.mode import STAFF_SCREENS, VOLUNTEER_SCREENS
from kiosk.ui.sizes import sizes
from kiosk.ui.widgets import KeyButton, RowButton, TileButton


def shown(widget) -> bool:
    while widget is not None:
        if widget.opacity == 0 or getattr(widget, "disabled", False):
            return False
        widget = widget.parent if widget.parent is not widget else None
    return True


def problems_on(app) -> list[str]:
    found = []
    for widget in app.root.walk():
        if not shown(widget):
            continue
        kind = type(widget).__name__
        # keys: theme.KEY_MM, at the 1280x800 design's size sizes.key; other targets sizes.touch
        least = sizes.key if on_keyboard(widget) else sizes.touch
        if isinstance(widget, ButtonBehavior) and min(widget.size) < least - 1:
            found.append(f"{app.sm.current}: {kind} {getattr(widget, 'text', '')!r} is {widget.size}")
        if isinstance(widget, (Label, TextInput)) and widget.text and widget.font_size < theme.TEXT_SMALL:
            found.append(f"{app.sm.current}: {kind} {widget.text[:30]!r} at {widget.font_size} px")
        if isinstance(widget, (TileButton, RowButton)) and widget.icon not in icons.CODEPOINTS:
            found.append(f"{app.sm.current}: {widget.text!r} has no pictogram ({widget.icon!r})")
        if (
            isinstance(widget, ButtonBehavior)
            and not isinstance(widget, (TileButton, RowButton, KeyButton))
            and type(widget).__name__
            not in ("PinDigit", "LanguageButton", "Button", "Spinner", "ShortRow", "SessionRow")
        ):
            found.append(f"{app.sm.current}: {kind} is a button without the shared look")
    return found


def test_every_mode_screen_keeps_the_ui_rules(app):
    add_people(app.centre)
    workshop = app.centre.workshops.create_workshop("Atelier numérique", "numerique")
    session = app.centre.workshops.add_session(
        workshop["id"], datetime(2026, 12, 1, 8, 30, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC), 1
    )
    for first in ("Aïcha", "Bernard"):
        app.centre.workshops.register(session["id"], register(app.centre, first)["id"])
    sign_in(app, STAFF_PIN)
    app.screen("roll_call").session_id = session["id"]
    problems = problems_on(app)
    for name in sorted(STAFF_SCREENS | VOLUNTEER_SCREENS):
        app.go(name)
        assert app.sm.current == name
        settle(app.sm.current_screen)
        offscreen.frames(4)  # lists filled on entry lay out over a few frames
        problems += problems_on(app)
    assert not problems, "\n".join(problems)


def on_keyboard(widget) -> bool:
    """A key of an on-screen keyboard (« Espace » and « Effacer » too)."""
    from kiosk.ui.widgets import AzertyKeyboard

    while widget is not None and widget is not widget.parent:
        if isinstance(widget, (KeyButton, AzertyKeyboard)):
            return True
        widget = widget.parent
    return False
