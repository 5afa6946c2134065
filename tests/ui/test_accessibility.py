"""Every residents' screen, as drawn on the 1280x800 design window: text at
least 24 px, touch targets at least 96 px (keys 80 px), a pictogram in every
tile, in French and in Arabic. Other sizes: test_layout.py."""

from __future__ import annotations

import pytest
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivyhelp import settle

from kiosk.ui import offscreen
from kiosk.ui.sizes import sizes
from kiosk.ui.widgets import IconLabel, KeyButton, RowButton, TileButton

RESIDENT_SCREENS = ("home", "checkin", "reason", "workshops", "first_visit", "consent", "confirmation")


def shown(widget) -> bool:
    while widget is not None:
        if widget.opacity == 0 or widget.width == 0 or widget.height == 0:
            return False
        widget = widget.parent if widget.parent is not widget else None
    return True


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_sizes_on_every_residents_screen(app, centre, lang):
    app.set_language(lang)
    problems = []
    for name in RESIDENT_SCREENS:
        app.go(name)
        offscreen.frames(1)
        settle(app.sm.current_screen)
        for widget in app.root.walk():
            if not shown(widget) or getattr(widget, "disabled", False):
                continue
            if (
                isinstance(widget, Label)
                and widget.text
                and not isinstance(widget, IconLabel)
                and widget.font_size < 24
            ):
                problems.append(f"{name}: text {widget.text[:30]!r} at {widget.font_size} px")
            least = sizes.key if on_keyboard(widget) else 96  # the 1280x800 design
            if isinstance(widget, ButtonBehavior) and min(widget.size) < least - 0.5:
                problems.append(
                    f"{name}: target {type(widget).__name__} {getattr(widget, 'text', '')!r} "
                    f"is {widget.width:.0f}x{widget.height:.0f}"
                )
            if isinstance(widget, (TileButton, RowButton)) and not any(
                isinstance(child, IconLabel) and child.text for child in widget.children
            ):
                problems.append(f"{name}: tile {widget.text!r} has no pictogram")
    assert not problems, "\n".join(problems)


def on_keyboard(widget) -> bool:
    """A key of an on-screen keyboard (« Espace » and « Effacer » too)."""
    from kiosk.ui.widgets import AzertyKeyboard

    while widget is not None and widget is not widget.parent:
        if isinstance(widget, (KeyButton, AzertyKeyboard)):
            return True
        widget = widget.parent
    return False
