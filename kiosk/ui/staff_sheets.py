"""« Ateliers de la fédération »: the workshop sheets the federation
published, as this kiosk last received them. Staff touch a sheet to read it
whole, then « Adopter cet atelier »: it becomes one of the centre's
workshops (kiosk.core.sheets), and « Programmer une séance » opens the
workshops screen to schedule it as usual. Only staff get here; the core
checks the actor again."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core import federation_feed
from kiosk.core.errors import DomainError
from kiosk.core.sheets import Sheets
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.staff_workshops import theme_label
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def sheets_of(app) -> Sheets:
    return Sheets(app.centre.store, app.centre.workshops)


class StaffSheetsScreen(ModeScreen):
    staff_only = True
    chosen = DictProperty({})
    details = StringProperty("")
    result = StringProperty("")
    received = StringProperty("")
    #: the workshop made here from the sheet chosen, "" if none
    adopted = StringProperty("")

    def reset(self) -> None:
        self.chosen, self.details, self.result, self.adopted = {}, "", "", ""

    def refresh(self) -> None:
        app = App.get_running_app()
        at = federation_feed.updated_at(app.centre.store)
        day = parse_utc(at).astimezone(PARIS).strftime("%d/%m/%Y") if at else ""
        self.received = (
            _("Reçu de la fédération le %(day)s", day=day)
            if at
            else _("Rien reçu de la fédération pour l'instant.")
        )
        rows = self.ids.sheets
        rows.clear_widgets()
        for sheet in sheets_of(app).published():
            # an adopted sheet shows a tick in place of its pictogram
            icon = "check_circle" if sheet["adopted"] else sheet["pictogram"]
            row = Factory.ShortRow(icon=icon, text=_.display(sheet["title"]))
            row.sheet_id = sheet["id"]
            row.bind(on_release=lambda r: self.choose(r.sheet_id))
            rows.add_widget(row)
        if not rows.children:
            rows.add_widget(Factory.SheetNote(text=_("Aucune fiche atelier pour l'instant.")))
        if self.chosen:
            self.choose(self.chosen["id"], keep_result=True)
        else:  # in the language now shown
            self.details = _.gettext("Touchez un atelier dans la liste.")

    def choose(self, sheet_id: str, keep_result: bool = False) -> None:
        app = App.get_running_app()
        try:
            sheet = sheets_of(app).get(sheet_id)
        except DomainError as error:
            self.chosen, self.details, self.result, self.adopted = {}, "", app.error_text(error), ""
            return
        self.chosen, self.adopted = sheet, sheet["adopted"] or ""
        lines = [
            sheet["title"],
            _.gettext("Thème : %(theme)s") % {"theme": theme_label(sheet["theme"])},
            _.gettext("Durée : %(minutes)d minutes · %(places)d places")
            % {"minutes": sheet["duration_minutes"], "places": sheet["capacity"]},
        ]
        if sheet["offered_by"]:
            lines.append(_.gettext("Proposé par : %(centre)s") % {"centre": sheet["offered_by"]})
        if sheet["description"]:
            lines.append(sheet["description"])
        if sheet["bring"]:
            lines.append(_.gettext("À apporter : %(what)s") % {"what": sheet["bring"]})
        if sheet["animator_needs"]:
            lines.append(_.gettext("Pour l'animateur : %(what)s") % {"what": sheet["animator_needs"]})
        self.details = "\n\n".join(lines)
        if not keep_result:
            self.result = ""

    def adopt(self) -> None:
        app = App.get_running_app()
        try:
            sheets_of(app).adopt(self.chosen["id"], self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.result = _("Ajouté à vos ateliers. Programmez une séance.")
        self.refresh()

    def schedule(self) -> None:
        """The workshops screen, its form ready for a session of the adopted workshop."""
        app = App.get_running_app()
        workshop = app.centre.workshops.get_workshop(self.adopted)
        app.screen("staff_workshops").schedule(workshop, self.chosen["capacity"])
        app.go("staff_workshops")
