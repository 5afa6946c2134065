"""Driving the PIN modes in tests: people with PINs, signing in by taps."""

from __future__ import annotations

from kivyhelp import tap

VOLUNTEER_PIN = "2468"
STAFF_PIN = "1357"


def add_people(centre) -> tuple[dict, dict]:
    volunteer = centre.staff.add("Martine Dupuis", "volunteer", VOLUNTEER_PIN)
    staff = centre.staff.add("Karim Haddad", "staff", STAFF_PIN)
    return volunteer, staff


def type_pin(app, pin: str) -> None:
    pad = app.screen("pin")
    digits = {child.digit: child for child in pad.ids.pad.children if hasattr(child, "digit")}
    for digit in pin:
        tap(digits[digit])
    tap(pad.ids.ok)


def sign_in(app, pin: str) -> None:
    """From the residents' home: the corner lock, then the PIN."""
    if app.sm.current != "home":
        app.go("home")
    tap(app.screen("home").ids.pin)
    assert app.sm.current == "pin"
    type_pin(app, pin)


def keys_in(widget, text: str) -> None:
    """Type on the big keyboard found under ``widget`` (a screen or a popup)."""
    from kiosk.ui.widgets import KeyButton

    buttons = {w.text: w for w in widget.walk() if isinstance(w, KeyButton)}
    for char in text.upper():
        tap(buttons[char])


def wait_for(condition, seconds: float = 20.0) -> None:
    """Let the Kivy clock run until ``condition()`` (work in a thread comes back
    through Clock.schedule_once)."""
    import time

    from kiosk.ui import offscreen

    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        offscreen.frames(1)
        time.sleep(0.02)


def register(centre, first="Aïcha", last="Benali", phone=None):
    return centre.members.register(
        first, last, 1980, commune="Boulogne-sur-Mer", phone=phone, consent_data=True
    )
