"""« Comment ça s'est passé ? » at the end of a roll call: the volunteer
hands the kiosk round. Each person present taps their name (or « Quelqu'un
sans nom »), then one of three faces; the name leaves the list. One answer a
person and session (kiosk.core.voice); the hub gets the faces only."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import N_, DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (OneOf)
from kiosk.ui.i18n import _
from kiosk.ui.icons import FACE_ICONS
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

ANONYMOUS = N_("Quelqu'un sans nom")


class FeedbackScreen(ModeScreen):
    session_id = StringProperty("")
    title = StringProperty("")
    message = StringProperty("")
    #: who is answering now ({} while the names are shown): {"id", "name"}, id None without a name
    who = DictProperty({})

    def reset(self) -> None:
        self.who, self.message = {}, ""

    def refresh(self) -> None:
        if not self.session_id:
            return
        app = App.get_running_app()
        session = app.centre.workshops.session(self.session_id)
        self.title = _.display(session["title"])
        self._fill_names()

    def _fill_names(self) -> None:
        app = App.get_running_app()
        left = app.centre.voice.still_to_answer(self.session_id)
        box = self.ids.names
        box.clear_widgets()
        for member in left["members"]:
            row = Factory.StaffRow(icon="person", text=_.display(app.centre.members.display_name(member)))
            row.bind(on_release=lambda _row, m=member: self.pick(m["id"], app.centre.members.display_name(m)))
            box.add_widget(row)
        if left["anonymous"]:
            row = Factory.StaffRow(icon="no_accounts", text=_(ANONYMOUS))
            row.bind(on_release=lambda _row: self.pick(None, _.gettext(ANONYMOUS)))
            box.add_widget(row)
        if not box.children:
            self.message = _("Tout le monde a répondu. Merci !")

    def pick(self, member_id: str | None, name: str) -> None:
        self.message = ""
        self.who = {"id": member_id, "name": name}

    def answer(self, face: str) -> None:
        app = App.get_running_app()
        try:
            app.centre.voice.give_feedback(
                self.session_id, face, member_id=self.who.get("id"), via="roll_call"
            )
        except DomainError as error:
            self.message = app.error_text(error)
        else:
            self.message = _("Merci, %(name)s !", name=self.who.get("name", ""))
        self.who = {}
        self._fill_names()

    def on_who(self, *_args) -> None:
        self.ids.parts.show(1 if self.who else 0)

    @staticmethod
    def face_icon(face: str) -> str:
        return FACE_ICONS[face]
