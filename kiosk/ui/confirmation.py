"""The confirmation: a big pictogram, « Bienvenue, Aïcha ! » and a line of
detail; it goes home by itself after ``app.confirm_s`` seconds (the next
person must not see it), or at once with its « Accueil » button.

After a member's check-in it may ask « Comment ça s'est passé ? » about
the last workshop they were present at since their previous visit
(kiosk.core.voice.Voice.pending_feedback): three faces, one tap, once. It
then stays ASK_FACTOR times longer."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


#: how much longer the confirmation stays when it asks about a workshop
ASK_FACTOR = 2.5


class ConfirmationScreen(KioskScreen):
    icon = StringProperty("check_circle")
    title = StringProperty("")
    message = StringProperty("")
    #: the session asked about ({} when none): session_id, title, member_id
    ask = DictProperty({})
    #: the face given, "" until then
    answered = StringProperty("")
    _home_event = None

    def show(self, icon: str, title, message, ask: dict | None = None) -> None:
        """``title`` and ``message``: text, or functions returning it in the
        current language (so a language switch here redraws them too).
        ``ask``: a session to ask « Comment ça s'est passé ? » about."""
        self.icon = icon
        self._texts = (title, message)
        self.ask, self.answered = dict(ask or {}), ""
        self.refresh()

    def answer(self, face: str) -> None:
        """One tap on a face: kept at once, then the thanks."""
        if not self.ask or self.answered:
            return
        app = App.get_running_app()
        try:
            app.centre.voice.give_feedback(
                self.ask["session_id"], face, member_id=self.ask.get("member_id"), via="checkin"
            )
        except DomainError as error:
            self.ask = {}  # the question goes; what went wrong shows in its place
            self.message = app.error_text(error)
            return
        self.answered = face
        if app.speak:
            app.speaker.say([_("Merci pour votre réponse !")], app.lang)

    def refresh(self) -> None:
        title, message = getattr(self, "_texts", ("", ""))
        self.title = title() if callable(title) else title
        self.message = message() if callable(message) else message

    def on_enter(self, *_args) -> None:
        self._cancel()
        app = App.get_running_app()
        self._home_event = Clock.schedule_once(self.go_home, app.confirm_s * (ASK_FACTOR if self.ask else 1))
        if app.speak:  # read by itself: the resident may not read the words
            app.speaker.say(self.speech_parts(), app.lang)

    def on_leave(self, *_args) -> None:
        self._cancel()

    def speech_parts(self) -> list[str]:
        parts = [self.title, self.message]
        if self.ask:
            ids = self.ids
            parts += [
                ids.ask.text,
                ids.ask_workshop.text,
                ids.content.text,
                ids.moyen.text,
                ids.pas_content.text,
            ]
        return parts

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
        self.ask, self.answered = {}, ""
