"""The centre's settings: name, idle times, languages, printer, the output
folder (USB stick), whether members are asked their FSE+ situation, the
reasons for a visit and the neighbourhoods. Each is
checked by kiosk.core.settings; a refused value names its setting.

Lists are edited as tables, one field a column and one line an item (with
« Ajouter une ligne » and a remove button on each line), and the languages as
one switch each: there is no separator or yes/no word to type, in any of the
screen's languages. A reason's national categories (its theme of the
conseillers numériques' reports, its administrative domain) are chosen from
the taxonomies' lists, in a window its « Catégories » cell opens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk.core.errors import DomainError
from kiosk.core.settings import CHECKS, LANGUAGES, REASON_CATEGORIES, REASON_KEPT_KEYS
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.staff_workshops import whole
from kiosk.ui.widgets import TileButton
from sync.categories import CRA_THEME_LABELS, DOMAIN_LABELS

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

TEXTS = ("centre_name", "printer", "backup_dir")
NUMBERS = ("idle_timeout_s", "pin_idle_timeout_s", "retention_months")
#: the yes/no settings, one SettingSwitch each
SWITCHES = ("collect_situation",)
#: The neighbourhoods' keys, one a column of its table (each column's kind,
#: a text or a yes/no switch, is in the .kv).
NEIGHBOURHOOD_KEYS = ("name", "commune", "qpv")
#: the words of each category's codes
CATEGORY_LABELS = {"cra_theme": CRA_THEME_LABELS, "domain": DOMAIN_LABELS}


class YesNoButton(TileButton):
    """A yes/no cell: one tap switches it; it says « Oui » or « Non » in words."""

    value = BooleanProperty(False)

    def on_release(self) -> None:
        self.value = not self.value


def no_categories() -> dict:
    return dict.fromkeys(REASON_CATEGORIES)


class CategoriesButton(TileButton):
    """A reason's national categories as a cell: it says the chosen ones in
    words (« Aucune » for none), and a tap opens the CategoriesPicker."""

    value = DictProperty({})

    @staticmethod
    def words(none: str, value: dict) -> str:
        """The chosen categories in the screen's language, or ``none``."""
        chosen = [_(CATEGORY_LABELS[key][code]) for key, code in value.items() if code]
        return " · ".join(chosen) if chosen else none

    def on_release(self) -> None:
        CategoriesPicker(cell=self).open(animation=False)


class CategoryChoice(TileButton):
    """One code of a category's list in the CategoriesPicker ("" for « Aucun »)."""

    key = StringProperty("")
    code = StringProperty("")
    #: whether it is the code chosen for its category
    chosen = BooleanProperty(False)


class CategoriesPicker(ModalView):
    """The two lists a reason's categories are chosen from, side by side:
    the CRA themes and the administrative domains, each with « Aucun » at
    its top. A tap chooses; « Valider » writes both to the cell."""

    cell = ObjectProperty(None)
    chosen = DictProperty({})

    def on_kv_post(self, *_args) -> None:
        self.chosen = {**no_categories(), **self.cell.value}
        for key, box in (("cra_theme", self.ids.cra_theme), ("domain", self.ids.domain)):
            for code in ("", *REASON_CATEGORIES[key]):
                words = _(CATEGORY_LABELS[key][code]) if code else _("Aucun")
                choice = CategoryChoice(key=key, code=code, text=words)
                choice.bind(on_release=lambda c: self.choose(c.key, c.code))
                box.add_widget(choice)
        self.on_chosen()

    def on_chosen(self, *_args) -> None:
        for box in (self.ids.get("cra_theme"), self.ids.get("domain")):
            for choice in box.children if box is not None else ():
                choice.chosen = (self.chosen.get(choice.key) or "") == choice.code

    def choose(self, key: str, code: str) -> None:
        self.chosen = {**self.chosen, key: code or None}

    def confirm(self) -> None:
        self.cell.value = dict(self.chosen)
        self.dismiss(animation=False)


class ListEditor(BoxLayout):
    """A list of items as a table: one field a column, one line an item.

    ``kinds`` says for each column "text", "yes_no" or "categories" (a
    reason's national categories, a dict). ``rows()`` gives the
    lines as lists of values, a line left empty dropped; every text is
    stripped. Nothing is parsed: the settings' checks judge the values."""

    kinds = ListProperty([])
    headings = ListProperty([])
    label = StringProperty("")  # names the list in a refusal

    def on_headings(self, *_args) -> None:
        if App.get_running_app() is None:  # the language reset after the app stopped
            return
        box = self.ids.headings
        box.clear_widgets()
        for heading in self.headings:
            box.add_widget(Factory.SettingHeading(text=heading))

    def set_rows(self, rows: list[list]) -> None:
        self.ids.lines.clear_widgets()
        for row in rows:
            self.add_line(row)

    def add_line(self, values: list | None = None) -> None:
        empty = {"yes_no": False, "categories": no_categories()}
        values = values if values is not None else [empty.get(kind, "") for kind in self.kinds]
        line = Factory.ListLine()
        # the cells in column order (the row itself is mirrored in Arabic)
        line.cells = [self._cell(kind, value) for kind, value in zip(self.kinds, values, strict=True)]
        for cell in line.cells:
            line.ids.cells.add_widget(cell)
        line.ids["drop"].bind(on_release=lambda *_a: self.ids.lines.remove_widget(line))
        self.ids.lines.add_widget(line)

    @staticmethod
    def _cell(kind: str, value):
        if kind == "yes_no":
            return YesNoButton(value=bool(value))
        if kind == "categories":
            return CategoriesButton(value={**no_categories(), **(value or {})})
        return Factory.ListCell(text=str(value))

    def rows(self) -> list[list]:
        found = []
        for line in reversed(self.ids.lines.children):  # children are last-added first
            values = [
                cell.value if isinstance(cell, YesNoButton | CategoriesButton) else cell.text.strip()
                for cell in line.cells
            ]
            if any(isinstance(v, str) and v for v in values):
                found.append(values)
        return found


class LanguageSwitch(BoxLayout):
    """One switch a language; French is always offered (the source language)."""

    chosen = ListProperty([])

    def on_chosen(self, *_args) -> None:
        for code in LANGUAGES:
            toggle = self.ids.get(f"lang_{code}")
            if toggle is not None:
                toggle.chosen = code in self.chosen

    def on_kv_post(self, *_args) -> None:
        self.on_chosen()

    def toggle(self, code: str) -> None:
        if code == "fr":
            return
        self.chosen = [
            c for c in LANGUAGES if c in self.chosen and c != code or c == code and code not in self.chosen
        ]


class StaffSettingsScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")

    def refresh(self) -> None:
        values = App.get_running_app().centre.settings.all()
        for key in TEXTS:
            self.ids[key].text = values[key] or ""
        for key in NUMBERS:
            self.ids[key].text = str(values[key])
        self.ids.languages.chosen = list(values["languages"])
        for key in SWITCHES:
            self.ids[key].ids.switch.value = bool(values[key])
        self.ids.reasons.set_rows(
            [
                [r["code"], r["label"], r["icon"], {key: r.get(key) for key in REASON_CATEGORIES}]
                for r in values["reasons"]
            ]
        )
        self.ids.neighbourhoods.set_rows(
            [[n[key] for key in NEIGHBOURHOOD_KEYS] for n in values["neighbourhoods"]]
        )

    def reset(self) -> None:
        self.result = ""

    def wanted(self) -> dict:
        values: dict[str, Any] = {key: self.ids[key].text.strip() or None for key in TEXTS}
        values["centre_name"] = values["centre_name"] or ""
        values.update({key: whole(key, self.ids[key].text) for key in NUMBERS})
        values["languages"] = list(self.ids.languages.chosen)
        values.update({key: bool(self.ids[key].ids.switch.value) for key in SWITCHES})
        # a reason's question of the body is not edited here: each keeps the
        # one its code had, so saving never drops it
        held = {r["code"]: r for r in App.get_running_app().centre.settings.get("reasons")}
        reasons = []
        for code, label, icon, categories in self.ids.reasons.rows():
            reason = {k: v for k, v in held.get(code, {}).items() if k in REASON_KEPT_KEYS}
            reason.update(code=code, label=label, icon=icon)
            for key in REASON_CATEGORIES:
                reason.pop(key, None)
                if categories.get(key):
                    reason[key] = categories[key]
            reasons.append(reason)
        values["reasons"] = reasons
        values["neighbourhoods"] = [
            dict(zip(NEIGHBOURHOOD_KEYS, row, strict=True)) for row in self.ids.neighbourhoods.rows()
        ]
        return values

    def save(self) -> None:
        app = App.get_running_app()
        settings = app.centre.settings
        try:
            current = settings.all()
            changed = {key: value for key, value in self.wanted().items() if value != current[key]}
            for key, value in changed.items():  # every value checked before any is stored
                CHECKS[key](key, value)
            for key, value in changed.items():
                settings.set(key, value, actor=self.actor)
        except DomainError as error:
            # the core names the setting by its key: say which field on this screen
            field = self.ids.get(error.field)
            label = getattr(field, "label", "")
            self.result = f"{label} — {app.error_text(error)}" if label else app.error_text(error)
            return
        app.centre_name = settings.get("centre_name")
        self.result = _("Réglages enregistrés.")
