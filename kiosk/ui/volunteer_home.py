"""The volunteer's menu: check someone in, today's roll calls, a new member,
a member's card. (Staff see the same four tiles on their own menu.)"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder

from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def start_checkin() -> None:
    """Check a member in on their behalf: the residents' identify and reason
    screens, with the signed-in person as the actor (KioskApp.check_in)."""
    App.get_running_app().start_checkin()


class VolunteerHomeScreen(ModeScreen):
    pass
