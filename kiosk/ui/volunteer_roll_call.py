"""A session's roll call: each booked person with « Présent » and « Absent »,
the walk-ins (a member found by name or card, or someone without a name),
and the waitlist. Every mark is stored at once, with the volunteer as actor."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (MemberPicker)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.volunteer_sessions import hour

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class RollRow(BoxLayout):
    """One person of the roll call. ``present`` is None until marked."""

    member_id = StringProperty("", allownone=True)
    name = StringProperty("")
    present = ObjectProperty(None, allownone=True)
    walk_in = BooleanProperty(False)
    screen = ObjectProperty(None)


class WalkInPopup(ModalView):
    """Add a walk-in: find the member, or « Sans nom »."""

    screen = ObjectProperty(None)


class RollCallScreen(ModeScreen):
    session_id = StringProperty("")
    title = StringProperty("")
    message = StringProperty("")
    popup = None

    def refresh(self) -> None:
        if not self.session_id:
            return
        workshops = App.get_running_app().centre.workshops
        session = workshops.session(self.session_id)
        self.title = _(
            "%(title)s, %(start)s–%(end)s",
            title=session["title"],
            start=hour(session["starts_at"]),
            end=hour(session["ends_at"]),
        )
        self._fill_rows(workshops.roll_call(self.session_id))
        waiting = [r for r in workshops.registrations(self.session_id) if r["status"] == "waitlisted"]
        self.ids.waitlist.clear_widgets()
        for person in waiting:
            self.ids.waitlist.add_widget(
                Factory.WaitLine(
                    text=_.display(f"{person['position']}. {person['first_name']} {person['last_name']}")
                )
            )
        if not waiting:
            self.ids.waitlist.add_widget(Factory.WaitLine(text=_("Personne n'attend.")))

    def _fill_rows(self, people: list[dict]) -> None:
        """The rows are a RecycleView's data: only the rows in view are
        widgets, so a roll call of 30 draws as fast as one of 5."""
        rows = []
        for person in people:
            name = (
                f"{person['first_name']} {person['last_name']}"
                if person["member_id"]
                else _.gettext("Personne sans nom")
            )
            rows.append(
                {
                    "member_id": person["member_id"],
                    "name": _.display(name),
                    "present": person["present"],
                    "walk_in": person["walk_in"],
                    "screen": self,
                }
            )
        self.ids.roll.data = rows

    def reset(self) -> None:
        self.message = ""
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None

    def _do(self, action) -> bool:
        app = App.get_running_app()
        try:
            action(app.centre.workshops, self.actor)
        except DomainError as error:
            self.message = app.error_text(error)
            return False
        self.message = ""
        return True

    def mark(self, member_id: str, present: bool) -> None:
        # only the data changes: redrawing every row for one tap took ~0.4 s
        # with 30 people (benchmarks/bench_pin_modes.py)
        if self._do(lambda w, actor: w.mark_attendance(self.session_id, member_id, present, actor=actor)):
            for row in self.ids.roll.data:
                if row["member_id"] == member_id:
                    row["present"] = present
            self.ids.roll.refresh_from_data()

    def add_walk_in(self, member: dict | None) -> None:
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None
        member_id = member["id"] if member else None
        if self._do(lambda w, actor: w.add_walk_in(self.session_id, member_id, actor=actor)):
            self.refresh()  # a new row

    def open_feedback(self) -> None:
        """« Leur avis »: each person present gives a face (kiosk.ui.feedback)."""
        app = App.get_running_app()
        feedback = app.screen("feedback")
        feedback.reset()
        feedback.session_id = self.session_id
        app.go("feedback")

    def open_walk_in(self) -> None:
        self.popup = WalkInPopup(screen=self)
        self.popup.open(animation=False)

    def card_scanned(self, code: str) -> None:
        """A card at the roll call: present if booked, else a walk-in."""
        app = App.get_running_app()
        try:
            member = app.centre.members.by_card(code)
        except DomainError as error:
            self.message = app.error_text(error)
            return
        booked = {row["member_id"] for row in self.ids.roll.data if not row["walk_in"]}
        if member["id"] in booked:
            self.mark(member["id"], True)
        else:
            self.add_walk_in(member)
