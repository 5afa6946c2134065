"""One workshop session: what, when, where, seats; sign up or cancel one's own
registration (identifying on the check-in screen first)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen
from kiosk.ui.workshops import seats_text, when

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class WorkshopDetailScreen(KioskScreen):
    session_id = StringProperty("")
    theme = StringProperty("autre")
    title = StringProperty("")
    description = StringProperty("")
    when = StringProperty("")
    place = StringProperty("")
    seats_icon = StringProperty("event_seat")
    seats = StringProperty("")

    def refresh(self) -> None:
        if not self.session_id:
            return
        session = App.get_running_app().centre.workshops.session(self.session_id)
        self.theme = session["theme"]
        self._raw_title = session["title"]
        self.title = _.display(session["title"])
        self.description = session["description"] or ""
        self.when = _.display(when(session))
        self.place = _.display(session["place"] or "")
        self.seats_icon, self.seats = seats_text(session)

    def speech_parts(self) -> list[str]:
        ids = self.ids
        return [
            self.title,
            _.display(self.description),
            self.when,
            self.place,
            self.seats,
            ids.signup.text,
            ids.cancel.text,
        ]

    def reset(self) -> None:
        self.session_id = ""
        self.title = self.description = self.when = self.place = self.seats = ""

    def act_for(self, member: dict, purpose: str) -> None:
        """Called once the member is identified: sign up or cancel, then confirm."""
        app = App.get_running_app()
        workshops = app.centre.workshops
        raw_title = self._raw_title
        title = lambda: _("Atelier : %(title)s", title=raw_title)  # noqa: E731
        try:
            if purpose == "signup":
                result = workshops.register(self.session_id, member["id"])
            else:
                workshops.cancel_registration(self.session_id, member["id"])
        except DomainError as error:
            app.confirm("cancel", title, lambda error=error: app.error_text(error))
            return
        if purpose == "cancel":
            message = lambda: _("Nous avons annulé votre inscription.")  # noqa: E731
        elif result["status"] == "booked":
            message = lambda: _("C'est noté. Nous gardons une place pour vous.")  # noqa: E731
        else:
            position = result["position"]
            message = lambda: _(  # noqa: E731
                "C'est complet. Vous êtes numéro %(position)d sur la liste d'attente.", position=position
            )
        app.confirm("check_circle", title, message)
