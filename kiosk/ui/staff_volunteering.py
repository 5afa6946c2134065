"""Volunteers' hours, for staff: the last weeks' stretches, hours entered
afterwards (a volunteer, a kind, a day, and a start and end or a duration),
a stretch corrected or removed. kiosk.core.volunteering checks every bound
and the actor again; this screen only says what it answered."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.core.volunteering import KIND_LABELS, PARIS
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.volunteer_home import duration_text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: how many days back the list shows
LISTED_DAYS = 31
_FIELDS = ("day", "start", "end", "duration")


class StaffVolunteeringScreen(ModeScreen):
    staff_only = True
    #: the stretch being corrected ({} : new hours)
    chosen = DictProperty({})
    volunteer_id = StringProperty("")
    volunteer_name = StringProperty("")
    kind = StringProperty("activity")
    result = StringProperty("")
    #: a stretch to open when the screen is next shown (« Corriger » in « À vérifier »)
    wanted_id = StringProperty("")

    def open_stretch(self, stretch_id: str) -> None:
        self.wanted_id = stretch_id

    def reset(self) -> None:
        self.result = ""
        self.clear()

    def refresh(self) -> None:
        app = App.get_running_app()
        time = app.centre.volunteering
        self._fill_volunteers(time.volunteers())
        today = app.centre.store.now().astimezone(PARIS).date()
        rows = self.ids.stretches
        rows.clear_widgets()
        for stretch in time.between(today - timedelta(days=LISTED_DAYS), today):
            # too long a line ends with « … »: a tap opens it whole in the form
            row = Factory.ShortRow(
                icon="fact_check" if stretch["to_review"] else "schedule", text=_.display(self.line(stretch))
            )
            row.stretch = stretch
            row.bind(on_release=lambda r: self.choose(r.stretch))
            rows.add_widget(row)
        if not rows.children:
            rows.add_widget(Factory.HoursNote(text=_("Aucune heure sur les 31 derniers jours.")))
        if self.wanted_id:
            wanted, self.wanted_id = self.wanted_id, ""
            try:
                self.choose(time.get(wanted))
            except DomainError as error:
                self.result = app.error_text(error)
        elif not self.ids.day.text:
            self.ids.day.text = today.strftime("%d/%m/%Y")

    def line(self, stretch: dict) -> str:
        day = "/".join(reversed(stretch["day"].split("-")))
        hours = f"{stretch['start']}–{stretch['end']}" if stretch["start"] and stretch["end"] else ""
        # every part unshaped: the line is shaped whole where it is shown
        length = duration_text(stretch["minutes"]) if stretch["minutes"] is not None else _.text("en cours")
        parts = [day, stretch["volunteer_name"], _.gettext(KIND_LABELS[stretch["kind"]]), hours, length]
        return " · ".join(part for part in parts if part)

    def _fill_volunteers(self, people: list[dict]) -> None:
        box = self.ids.volunteers
        box.clear_widgets()
        for person in people:
            chosen = person["id"] == self.volunteer_id
            tile = Factory.VolunteerChoice(text=person["name"], colour="selected" if chosen else "surface")
            tile.person = person
            tile.bind(on_release=lambda t: self.pick(t.person))
            box.add_widget(tile)
        if not people:
            box.add_widget(
                Factory.HoursNote(text=_("Ajoutez d'abord les bénévoles dans « Équipe et codes »."))
            )

    def pick(self, person: dict) -> None:
        self.volunteer_id, self.volunteer_name = person["id"], person["name"]
        for tile in self.ids.volunteers.children:
            if hasattr(tile, "person"):
                tile.colour = "selected" if tile.person["id"] == self.volunteer_id else "surface"

    def choose(self, stretch: dict) -> None:
        """Open a stretch to correct it."""
        self.chosen = dict(stretch)
        self.kind = stretch["kind"]
        self.pick({"id": stretch["volunteer_id"], "name": stretch["volunteer_name"]})
        self.ids.day.text = "/".join(reversed(stretch["day"].split("-")))
        self.ids.start.text, self.ids.end.text = stretch["start"], stretch["end"]
        untimed = not stretch["start"] and stretch["minutes"] is not None
        self.ids.duration.text = _.display(duration_text(stretch["minutes"])) if untimed else ""
        self.result = ""

    def clear(self) -> None:
        """Back to entering new hours."""
        self.chosen, self.volunteer_id, self.volunteer_name, self.kind = {}, "", "", "activity"
        for name in _FIELDS:
            self.ids[name].text = ""
        if self.ids.volunteers.children:
            self.pick({"id": "", "name": ""})

    def _values(self) -> dict:
        text = {name: self.ids[name].text.strip() for name in _FIELDS}
        duration = text["duration"].replace(" ", "") or None
        return {
            "kind": self.kind,
            "day": text["day"],
            "start": text["start"] or None,
            "end": text["end"] or None,
            "minutes": None if text["start"] or text["end"] else duration,
        }

    def save(self) -> None:
        app = App.get_running_app()
        time = app.centre.volunteering
        try:
            if self.chosen:
                stretch = time.correct(self.actor, self.chosen["id"], **self._values())
                done = _("Correction enregistrée : %(line)s", line=self.line(stretch))
            else:
                if not self.volunteer_id:
                    self.result = _("Choisissez un bénévole dans la liste.")
                    return
                stretch = time.enter(self.actor, self.volunteer_id, **self._values())
                done = _("Heures enregistrées : %(line)s", line=self.line(stretch))
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.clear()
        self.result = done
        self.refresh()

    def remove(self) -> None:
        app = App.get_running_app()
        try:
            app.centre.volunteering.remove(self.actor, self.chosen["id"])
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.clear()
        self.result = _("Présence effacée.")
        self.refresh()
