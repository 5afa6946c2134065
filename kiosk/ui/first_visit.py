"""First visit: a short form, one question a step (easier to follow than a
full page for someone who reads little): first name, last name, year of
birth (two taps: the decade, then the year), or else an age band (a tap, for
someone who would rather not give the year), commune, neighbourhood (when the
commune has some), phone (optional).
Then the consent screen registers the member.

« Même foyer que… »: after a registration, the card offers to register
another person of the same household (``start_same_household``). The form
then asks, after the first name, « Vous vivez avec Aïcha B. ? »: « Oui »
keeps the household and the surname, town and neighbourhood it filled in;
« Non » (or « Passer ») drops them, in one tap. That question is asked only
then, and nothing in it can stop a registration (kiosk/core/households.py).
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, StringProperty

from kiosk.core.errors import N_
from kiosk.core.members import display_name
from kiosk.core.settings import OTHER_COMMUNE
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: (field, question, pictogram, input, required)
STEPS = [
    ("first_name", N_("Votre prénom"), "person", "letters", True),
    # asked only for someone registered from a household's card (start_same_household)
    ("household", N_("Vous vivez avec %(name)s ?"), "family_restroom", "household", False),
    ("last_name", N_("Votre nom de famille"), "badge", "letters", True),
    ("birth_year", N_("Votre année de naissance"), "event", "year", False),
    # asked only when the year was not given
    ("age_band", N_("Votre âge, à peu près"), "event", "band", False),
    ("commune", N_("Votre ville"), "place", "commune", True),
    ("neighbourhood", N_("Votre quartier"), "home", "neighbourhood", False),
    ("phone", N_("Votre téléphone (si vous voulez)"), "support_agent", "digits", False),
]
#: What residents read for the communes list's « Autre commune ».
OTHER_TOWN = N_("Une autre ville")
#: The bands offered instead of a year (kiosk.core.members.CHOSEN_BANDS), in plain words.
AGE_BANDS = [
    ("0-15", N_("Moins de 16 ans")),
    ("16-24", N_("De 16 à 24 ans")),
    ("25-54", N_("De 25 à 54 ans")),
    ("55-64", N_("De 55 à 64 ans")),
    ("65+", N_("65 ans ou plus")),
]
UNSAID_AGE = N_("Je ne sais pas, ou je préfère ne pas dire")
#: the household question's answers: (value, words, pictogram)
HOUSEHOLD_ANSWERS = [
    ("yes", N_("Oui, même foyer"), "family_restroom"),
    ("no", N_("Pas le même foyer"), "close"),
]
#: the first decade the year picker offers (older residents are rare; clean_birth_year allows 1900)
FIRST_DECADE = 1920
MAX_LENGTH = {"first_name": 40, "last_name": 40, "birth_year": 4, "phone": 14}
#: what a person registered in someone's household starts with (``start_same_household``)
HOUSEHOLD_FIELDS = ("last_name", "commune", "neighbourhood")


class FirstVisitScreen(KioskScreen):
    is_form = True
    step = NumericProperty(0)
    values = DictProperty({})
    question = StringProperty("")
    icon = StringProperty("person")
    kind = StringProperty("letters")
    error = StringProperty("")
    optional = BooleanProperty(False)
    field_name = StringProperty("first_name")
    step_count = NumericProperty(len(STEPS))
    #: the year picker's decade (1970 for 1970-1979), 0 while the decades are shown
    decade = NumericProperty(0)
    #: whose household the person joins ({} for none): id and the name the public may see
    household_of = DictProperty({})

    def reset(self) -> None:
        self.decade = 0
        self.household_of = {}
        self.values = {}
        self.error = ""
        self._error_source = None
        self.step = 0

    def has_input(self) -> bool:
        return any(self.values.values())

    def start_same_household(self, member: dict) -> None:
        """A new registration in ``member``'s household: their surname, town
        and neighbourhood already given (each can still be changed)."""
        self.reset()
        given = {field: member[field] for field in HOUSEHOLD_FIELDS if member.get(field)}
        self.household_of = {"id": member["id"], "name": display_name(member), "given": given}
        self.values = dict(given)

    def drop_household(self) -> None:
        """« Pas le même foyer »: one tap, and the registration goes on
        alone; the answers the household gave go too, unless changed."""
        given = self.household_of.get("given", {})
        self.household_of = {}
        self.values.pop("household", None)
        for field, value in given.items():
            if self.values.get(field) == value:
                del self.values[field]

    @property
    def field(self) -> str:
        return STEPS[self.step][0]

    def refresh(self) -> None:
        field, question, icon, kind, required = STEPS[self.step]
        shown = _(question, name=self.household_of.get("name", "")) if kind == "household" else _(question)
        self.question, self.icon, self.kind, self.optional = shown, icon, kind, not required
        self.field_name = field
        source = getattr(self, "_error_source", None)  # None until the first reset
        if source:
            self.error = source()
        self.ids.keyboard.digits = kind == "digits"
        self._show_choices()

    # ------------------------------------------------------------ input

    def key(self, char: str) -> None:
        field = self.field
        value = self.values.get(field, "")
        value = value[:-1] if char == "\b" else (value + char)[: MAX_LENGTH.get(field, 40)]
        self.values[field] = value.title() if self.kind == "letters" else value
        self._clear_error()

    def _choices(self) -> list[tuple[str, str]]:
        settings = App.get_running_app().centre.settings
        if self.kind == "commune":
            # the default « Autre commune » is stored in French: shown in the resident's words
            return [
                (name, _.gettext(OTHER_TOWN) if name == OTHER_COMMUNE else name)
                for name in settings.get("communes")
            ]
        if self.kind == "neighbourhood":
            commune = self.values.get("commune")
            names = [n["name"] for n in settings.get("neighbourhoods") if n["commune"] == commune]
            return [(name, name) for name in names] + [
                ("", _.gettext("Un autre quartier, ou je ne sais pas"))
            ]
        if self.kind == "band":
            return [(code, _.gettext(label)) for code, label in AGE_BANDS] + [("", _.gettext(UNSAID_AGE))]
        if self.kind == "year":
            return self._year_choices()
        if self.kind == "household":
            return [(value, _.gettext(label)) for value, label, _icon in HOUSEHOLD_ANSWERS]
        return []

    def _year_choices(self) -> list[tuple[str, str]]:
        """The decades, or the chosen decade's years and a way back to the decades."""
        this_year = App.get_running_app().centre.store.now().year
        if not self.decade:
            return [
                (f"decade:{first}", _("De %(first)d à %(last)d", first=first, last=first + 9))
                for first in range(FIRST_DECADE, this_year + 1, 10)
            ]
        years = range(self.decade, min(self.decade + 9, this_year) + 1)
        return [(f"year:{year}", str(year)) for year in years] + [("decades", _.gettext("Autres années"))]

    def _show_choices(self) -> None:
        grid = self.ids.choices
        grid.clear_widgets()
        for value, label in self._choices():
            chosen = self.values.get(self.field) == value and self.field in self.values
            icon = "check_circle" if chosen else self._tile_icon(value)
            tile = Factory.ChoiceTile(
                text=_.display(label), icon=icon, colour="selected" if chosen else "surface"
            )
            tile.value = value
            tile.bind(on_release=self.choose)
            grid.add_widget(tile)

    def _tile_icon(self, value: str) -> str:
        if self.kind == "household":
            return next(icon for answer, _label, icon in HOUSEHOLD_ANSWERS if answer == value)
        return "event" if self.kind in ("band", "year") else "place"

    def speech_parts(self) -> list[str]:
        parts = [self.question, self.error]
        if self.kind in ("letters", "digits"):
            parts.append(_.display(self.values.get(self.field) or ""))
        parts += [label for _value, label in self._choices()]
        return parts

    def choose(self, tile) -> None:
        if self.kind == "year":
            self._choose_year(tile.value)
            return
        if self.kind == "household" and tile.value != "yes":
            self.drop_household()
            self._move(+1)
            return
        self.values[self.field] = tile.value
        self._clear_error()
        self.next()

    # ------------------------------------------------------------ steps

    def next(self) -> None:
        field, _question, _icon, _kind, required = STEPS[self.step]
        value = self.values.get(field, "")
        if required and not (value or "").strip():
            self._set_error(lambda: _("Répondez à cette question, puis touchez « Suivant »."))
            return
        if field == "birth_year" and value and len(value) != 4:
            self._set_error(lambda: _("Écrivez l'année avec 4 chiffres, par exemple 1975."))
            return
        if field == "household" and value != "yes":  # « Passer »: not linked
            self.drop_household()
        self._move(+1)

    def _choose_year(self, value: str) -> None:
        """A decade shows its years; a year is the answer; « Autres années »
        shows the decades again."""
        self._clear_error()
        if value.startswith("year:"):
            self.values[self.field] = value[len("year:") :]
            self.decade = 0
            self.next()
            return
        self.decade = int(value[len("decade:") :]) if value.startswith("decade:") else 0
        self._show_choices()

    def back(self) -> None:
        if self.kind == "year" and self.decade:  # from the years back to the decades
            self.decade = 0
            self._show_choices()
            return
        if self.step == 0:
            App.get_running_app().reset_to_home()
        else:
            self._move(-1)

    def _move(self, direction: int) -> None:
        self.decade = 0  # the year picker opens on its decades
        step = self.step + direction
        while 0 <= step < len(STEPS) and self._skipped(step):
            step += direction
        if step >= len(STEPS):
            App.get_running_app().go("consent")
            return
        self.step = max(0, step)
        self._clear_error()
        self.refresh()

    def _skipped(self, step: int) -> bool:
        if STEPS[step][3] == "household":
            return not self.household_of
        if STEPS[step][3] == "band":
            return bool(self.values.get("birth_year"))
        if STEPS[step][3] != "neighbourhood":
            return False
        commune = self.values.get("commune")
        settings = App.get_running_app().centre.settings
        return not any(n["commune"] == commune for n in settings.get("neighbourhoods"))

    def go_to_field(self, field: str, error_source) -> None:
        """Back to the question a refused value came from (the core names it)."""
        steps = [s[0] for s in STEPS]
        self.step = steps.index(field) if field in steps else 0
        self._set_error(error_source)
        self.refresh()

    def _set_error(self, source) -> None:
        self._error_source = source
        self.error = source()

    def _clear_error(self) -> None:
        self._error_source = None
        self.error = ""

    def member_fields(self) -> dict:
        """What the consent screen passes to households.register."""
        values = {
            k: (v.strip() if isinstance(v, str) else v) or None
            for k, v in self.values.items()
            if k != "household"
        }
        year = values.get("birth_year")
        if year:
            values["birth_year"] = int(year)
        values["same_household_as"] = self.household_of.get("id")
        return values
