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
