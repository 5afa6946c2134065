"""Driving the kiosk in tests: taps, on-screen keys, scanner bursts, texts."""

from __future__ import annotations

from kivy.core.window import Window
from kivy.tests.common import UnitTestTouch

from kiosk.ui import offscreen


def tap(widget, frames: int = 1) -> None:
    """One finger tap at the widget's centre, as the touchscreen sends it."""
    settle(widget)
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    offscreen.frames(frames)


def settle(widget=None) -> None:
    """Let pending layout passes run (a new screen lays itself out over a few
    clock ticks), until the widget stays put, so the finger lands on it."""
    from kivy.clock import Clock

    before, steady = None, 0
    for _ in range(30):
        Clock.tick()
        where = (tuple(widget.to_window(*widget.center)), tuple(widget.size)) if widget else None
        steady = steady + 1 if where == before else 0
        if steady >= 2:
            return
        before = where


def key(app, char: str) -> None:
    """A tap on the on-screen keyboard key ``char`` of the current screen."""
    from kiosk.ui.widgets import KeyButton

    for widget in app.sm.current_screen.walk():
        if isinstance(widget, KeyButton) and widget.text == char:
            tap(widget)
            return
    raise AssertionError(f"no key {char!r} on {app.sm.current}")


def type_text(app, text: str) -> None:
    for char in text.upper():
        if char == " ":
            tap(app.sm.current_screen.ids.keyboard.children[0].children[-1])
        else:
            key(app, char)


def scan(mono, code: str, gap: float = 0.01) -> None:
    """A USB scanner: the code's characters in a fast burst, then Enter."""
    for char in code:
        mono.advance(gap)
        Window.dispatch("on_textinput", char)
    mono.advance(gap)
    Window.dispatch("on_key_down", 13, 40, None, [])
    offscreen.frames(1)


def texts(widget) -> list[str]:
    """Every non-empty label text shown under ``widget`` (visible ones)."""
    from kivy.uix.label import Label

    found = []
    for child in widget.walk():
        if isinstance(child, Label) and child.text and _visible(child):
            found.append(child.text)
    return found


def _visible(widget) -> bool:
    while widget is not None:
        if widget.opacity == 0:
            return False
        widget = widget.parent if widget.parent is not widget else None
    return True


def screen_text(app) -> str:
    return "\n".join(texts(app.sm.current_screen))
