"""Staff and volunteer accounts: the list, add someone with their PIN,
give someone a new PIN, withdraw someone's access. Only staff get here, and
kiosk.core.staff checks the actor again."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class StaffAccountsScreen(ModeScreen):
    staff_only = True
    chosen = DictProperty({})
    result = StringProperty("")

    def refresh(self) -> None:
        rows = self.ids.people
        rows.clear_widgets()
        for person in App.get_running_app().centre.staff.list():
            if not person["active"]:
                continue
            role = _.gettext("salarié") if person["role"] == "staff" else _.gettext("bénévole")
            row = Factory.StaffRow(icon="person", text=_.display(f"{person['name']} ({role})"))
            row.person = person
            row.bind(on_release=lambda r: self.choose(r.person))
            rows.add_widget(row)

    def reset(self) -> None:
        self.chosen, self.result = {}, ""
        for name in ("name", "pin", "new_pin"):
            self.ids[name].text = ""

    def choose(self, person: dict) -> None:
        self.chosen = dict(person)
        self.result = ""

    def _run(self, action, done: str) -> bool:
        app = App.get_running_app()
        try:
            action(app.centre.staff, self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return False
        self.result = done
        for name in ("name", "pin", "new_pin"):
            self.ids[name].text = ""
        self.refresh()
        return True

    def add(self, role: str) -> None:
        name, pin = self.ids.name.text, self.ids.pin.text
        self._run(
            lambda staff, actor: staff.add(name, role, pin, actor=actor),
            _("%(name)s peut maintenant entrer avec son code.", name=name),
        )

    def reset_pin(self) -> None:
        person, pin = self.chosen, self.ids.new_pin.text
        self._run(
            lambda staff, actor: staff.reset_pin(person["id"], pin, actor=actor),
            _("Nouveau code enregistré pour %(name)s.", name=person.get("name", "")),
        )

    def deactivate(self) -> None:
        person = self.chosen
        if self._run(
            lambda staff, actor: staff.deactivate(person["id"], actor=actor),
            _("%(name)s n'a plus accès.", name=person.get("name", "")),
        ):
            self.chosen = {}
