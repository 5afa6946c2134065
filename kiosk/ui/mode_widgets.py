"""Widgets the volunteer and staff screens share: a member picker (the big
keyboard and the matching names), a labelled text field for the staff's
forms, a confirmation popup, and the line that says how an action went."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk.ui.i18n import _
from kiosk.ui.theme import C
from kiosk.ui.widgets import KioskLabel

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MIN_QUERY = 2


class MemberPicker(BoxLayout):
    """Type a name on the big keyboard; tap one of the names found (side by
    side above the keyboard). Dispatches ``on_member(member)``. Full names
    here: only the team sees these screens."""

    query = StringProperty("")
    message = StringProperty("")
    #: the words of a « back » button at the start of the search line ("" : none); ``on_back``
    back_text = StringProperty("")
    limit = 3
    __events__ = ("on_member", "on_back")

    def key(self, char: str) -> None:
        self.query = self.query[:-1] if char == "\b" else (self.query + char)[:40]
        self.search()

    def clear(self) -> None:
        self.query = self.message = ""
        self.ids.results.clear_widgets()

    def search(self) -> None:
        results = self.ids.results
        results.clear_widgets()
        self.message = ""
        if len(self.query.strip()) < MIN_QUERY:
            return
        members = App.get_running_app().centre.members
        found = members.search(self.query, limit=self.limit)
        if not found:
            self.message = _("Aucune personne inscrite à ce nom. Tapez-le autrement.")
            results.add_widget(KioskLabel(text=self.message, color=C["warning"]))
        for member in found:
            label = f"{member['first_name']} {member['last_name']}"
            if member.get("birth_year"):
                label += f" ({member['birth_year']})"
            row = Factory.StaffRow(icon="person", text=_.display(label))
            row.member = member
            row.bind(on_release=lambda r: self.dispatch("on_member", r.member))
            results.add_widget(row)

    def on_member(self, member: dict) -> None:
        pass

    def on_back(self) -> None:
        pass


class OneOf(BoxLayout):
    """Shows one of its children at a time (``show(index)``); the others are
    taken out of the tree, so hidden buttons can neither be seen nor touched."""

    def on_kv_post(self, *_args) -> None:
        self.parts = list(reversed(self.children))  # strong refs: kv ids are weak
        self.show(0)

    def show(self, index: int) -> None:
        part = self.parts[index]
        if part.parent is self and len(self.children) == 1:
            return
        self.clear_widgets()
        self.add_widget(part)


class Field(BoxLayout):
    """A label above a text input (staff forms). `kiosk run` docks Kivy's
    on-screen AZERTY keyboard when one is focused (kiosk.ui.window_config)."""

    label = StringProperty("")
    text = StringProperty("")
    hint = StringProperty("")
    password = BooleanProperty(False)


class ConfirmPopup(ModalView):
    """A question with « Oui » and « Non »; ``on_yes`` when confirmed."""

    question = StringProperty("")
    yes_text = StringProperty("")
    __events__ = ("on_yes",)

    def __init__(self, question: str, yes_text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.question = question
        self.yes_text = yes_text or _("Oui, confirmer")

    def confirm(self) -> None:
        self.dismiss(animation=False)
        self.dispatch("on_yes")

    def on_yes(self) -> None:
        pass
