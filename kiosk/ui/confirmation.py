"""The confirmation: a big pictogram, « Bienvenue, Aïcha ! » and a line of
detail; it goes home by itself after ``app.confirm_s`` seconds (the next
person must not see it), or at once with its « Accueil » button."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class ConfirmationScreen(KioskScreen):
    icon = StringProperty("check_circle")
    title = StringProperty("")
    message = StringProperty("")
    _home_event = None

    def show(self, icon: str, title, message) -> None:
        """``title`` and ``message``: text, or functions returning it in the
        current language (so a language switch here redraws them too)."""
        self.icon = icon
        self._texts = (title, message)
        self.refresh()

    def refresh(self) -> None:
        title, message = getattr(self, "_texts", ("", ""))
        self.title = title() if callable(title) else title
        self.message = message() if callable(message) else message

    def on_enter(self, *_args) -> None:
        self._cancel()
        app = App.get_running_app()
        self._home_event = Clock.schedule_once(self.go_home, app.confirm_s)
        if app.speak:  # read by itself: the resident may not read the words
            app.speaker.say(self.speech_parts(), app.lang)

    def on_leave(self, *_args) -> None:
        self._cancel()

    def speech_parts(self) -> list[str]:
        return [self.title, self.message]

    def go_home(self, *_args) -> None:
        self._cancel()
        App.get_running_app().reset_to_home()

    def _cancel(self) -> None:
        if self._home_event is not None:
            self._home_event.cancel()
            self._home_event = None

    def reset(self) -> None:
        self._cancel()
        self._texts = ("", "")
        self.title = self.message = ""
