"""The PIN pad: big digits, the code shown as dots, « Effacer », « Valider ».
The PIN alone says who is there and in which role (Staff.authenticate); after
too many wrong codes the pad says how long to wait and counts down."""

from __future__ import annotations

import math
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.errors import DomainError, Locked
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MAX_DIGITS = 8


def wait_text(seconds: float) -> str:
    seconds = math.ceil(seconds)
    if seconds < 60:
        return _.ngettext(
            "Trop d'essais. Réessayez dans %(seconds)d seconde.",
            "Trop d'essais. Réessayez dans %(seconds)d secondes.",
            seconds,
            seconds=seconds,
        )
    minutes = math.ceil(seconds / 60)
    return _.ngettext(
        "Trop d'essais. Réessayez dans %(minutes)d minute.",
        "Trop d'essais. Réessayez dans %(minutes)d minutes.",
        minutes,
        minutes=minutes,
    )


class PinScreen(KioskScreen):
    digits = StringProperty("")
    message = StringProperty("")
    locked = BooleanProperty(False)
    _countdown = None

    def refresh(self) -> None:
        self._check_lock()

    def reset(self) -> None:
        self.digits = self.message = ""
        self._stop_countdown()
        self.locked = False

    def press(self, digit: str) -> None:
        if self.locked:
            return
        self.message = ""
        if digit == "\b":
            self.digits = self.digits[:-1]
        elif len(self.digits) < MAX_DIGITS:
            self.digits += digit

    def submit(self) -> None:
        if self.locked or not self.digits:
            return
        app = App.get_running_app()
        pin, self.digits = self.digits, ""
        try:
            person = app.centre.staff.authenticate(pin)
        except Locked:
            self._check_lock()
            return
        except DomainError as error:
            self.message = app.error_text(error)
            return
        self.message = ""
        app.mode.start(person)

    def back(self) -> None:
        App.get_running_app().go("home")

    # ------------------------------------------------------------ lockout

    def _check_lock(self, *_args) -> None:
        remaining = App.get_running_app().centre.staff.lock_remaining()
        self.locked = remaining > 0
        if self.locked:
            self.message = wait_text(remaining)
            if self._countdown is None:
                self._countdown = Clock.schedule_interval(self._check_lock, 1)
        else:
            if self._countdown is not None:
                self.message = ""
            self._stop_countdown()

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None
