"""The idea box (« Boîte à idées »): one question a step, like the first
visit. What the idea is about (a pictogram a theme), a few words if the
resident wants (the touch keyboard), then « Voulez-vous une réponse ? »:
without a name (the default, one tap), or with a first name and a phone,
or a member card passed in front of the reader, after the consent sentence.

« Ce que nous avons fait » lists the answers of the ideas the centre
carried out lately (kiosk.core.voice.Voice.done_lately); the home screen's
line opens it.
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import N_, DomainError
from kiosk.core.voice import CONTACT_CONSENT
from kiosk.ui.i18n import _, spoken
from kiosk.ui.icons import IDEA_THEME_ICONS
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: the themes in residents' words (sync.protocol.IDEA_THEMES)
THEMES = [
    ("activites", N_("Des activités")),
    ("sorties", N_("Des sorties")),
    ("quartier", N_("Le quartier")),
    ("numerique", N_("Le numérique")),
    ("famille", N_("La famille")),
    ("autre", N_("Autre chose")),
]
#: step -> (question, pictogram, input)
STEPS = {
    "theme": (N_("Votre idée parle de quoi ?"), "lightbulb", "choices"),
    "words": (N_("Écrivez votre idée (si vous voulez)"), "lightbulb", "letters"),
    "contact": (N_("Voulez-vous une réponse ?"), "reply", "choices"),
    "first_name": (N_("Votre prénom"), "person", "letters"),
    "phone": (N_("Votre téléphone"), "support_agent", "digits"),
    "consent": (N_("Votre prénom reste ici"), "lock", "consent"),
    "done": (N_("Vos idées, nous les avons faites"), "celebration", "list"),
}
ORDER = ["theme", "words", "contact", "first_name", "phone", "consent"]
MAX_LENGTH = {"words": 500, "first_name": 40, "phone": 14}
#: the typed words shown: their end, as much as a line holds
SHOWN_CHARS = 48


class IdeasScreen(KioskScreen):
    is_form = True
    step = StringProperty("theme")
    values = DictProperty({})
    question = StringProperty("")
    icon = StringProperty("lightbulb")
    kind = StringProperty("choices")
    error = StringProperty("")
    typed = StringProperty("")
    consent_text = StringProperty("")

    def reset(self) -> None:
        self.values = {}
        self.member = None
        self.error = ""
        self._error_source = None
        self.step = "theme"

    def has_input(self) -> bool:
        return bool(self.values.get("theme") or self.values.get("words"))

    def show_done(self) -> None:
        """Open on « Ce que nous avons fait » (the home screen's line)."""
        self.reset()
        self.step = "done"

    def refresh(self) -> None:
        if not hasattr(self, "member"):
            self.reset()
        question, icon, kind = STEPS[self.step]
        self.question, self.icon, self.kind = _(question), icon, kind
        source = getattr(self, "_error_source", None)
        self.error = source() if source else ""
        self.ids.keyboard.digits = kind == "digits"
        self._show_typed()
        member: dict = self.member or {}
        name = self.values.get("first_name") or member.get("first_name") or ""
        self.consent_text = _.gettext(CONTACT_CONSENT) + (f"\n\n{name}" if name else "")
        self._show_choices()
        self._show_done()

    # ------------------------------------------------------------ input

    def _show_typed(self) -> None:
        value = self.values.get(self.step, "") if self.kind in ("letters", "digits") else ""
        if self.step == "words":
            value = _written(value)[-SHOWN_CHARS:]
        self.typed = _.display(value)

    def key(self, char: str) -> None:
        step = self.step
        value = self.values.get(step, "")
        value = value[:-1] if char == "\b" else (value + char)[: MAX_LENGTH.get(step, 40)]
        self.values[step] = value.title() if step == "first_name" else value
        self._clear_error()
        self._show_typed()

    def _choices(self) -> list[tuple[str, str, str]]:
        """(value, words, pictogram) of the current step's tiles."""
        if self.step == "theme":
            return [(code, _.gettext(words), IDEA_THEME_ICONS[code]) for code, words in THEMES]
        if self.step == "contact":
            return [
                ("anonymous", _.gettext("Non, sans mon nom"), "no_accounts"),
                ("name", _.gettext("Oui, avec mon prénom"), "person"),
            ]
        if self.step == "consent":
            return [
                ("accept", _.gettext("J'accepte"), "check"),
                ("anonymous", _.gettext("Non, sans mon nom"), "no_accounts"),
            ]
        return []

    def _show_choices(self) -> None:
        grid = self.ids.choices
        grid.clear_widgets()
        for value, words, icon in self._choices():
            chosen = value in (self.values.get("theme"), self.values.get("contact"))
            tile = Factory.IdeaTile(
                text=_.display(words), icon=icon, colour="selected" if chosen else "surface"
            )
            tile.value = value
            tile.bind(on_release=self.choose)
            grid.add_widget(tile)

    def _show_done(self) -> None:
        box = self.ids.done_list
        box.clear_widgets()
        if self.step != "done":
            return
        done = App.get_running_app().centre.voice.done_lately(limit=10)
        lines = [(IDEA_THEME_ICONS.get(idea["theme"], "lightbulb"), idea["answer"]) for idea in done]
        for icon, words in lines or [("lightbulb", _.gettext(NOTHING_DONE_YET))]:
            line = Factory.DoneLine()  # its properties are the rule's: set after it is made
            line.icon, line.source = icon, words
            box.add_widget(line)

    def speech_parts(self) -> list[str]:
        parts = [self.question, self.error]
        if self.kind in ("letters", "digits"):
            parts.append(self.typed)
        if self.kind == "consent":
            parts.append(self.consent_text)
        if self.kind == "list":
            parts += [spoken(line.text) for line in reversed(self.ids.done_list.children)]
        return parts + [words for _value, words, _icon in self._choices()]

    def choose(self, tile) -> None:
        value = tile.value
        self._clear_error()
        if self.step == "theme":
            self.values["theme"] = value
            self._go("words")
        elif value == "anonymous":
            self.member = None
            for field in ("first_name", "phone"):
                self.values.pop(field, None)
            self.send(with_contact=False)
        elif value == "name":
            self._go("first_name")
        elif value == "accept":
            self.send(with_contact=True)

    def card_scanned(self, code: str) -> bool:
        """A member card at the contact question is the contact (True).
        Anywhere else it is a check-in, as on every screen (False)."""
        if self.step not in ("contact", "first_name", "phone"):
            return False
        app = App.get_running_app()
        try:
            self.member = app.centre.members.by_card(code)
        except DomainError as error:
            self._set_error(lambda error=error: app.error_text(error))
            return True
        self._go("consent")
        return True

    # ------------------------------------------------------------ steps

    def next(self) -> None:
        step = self.step
        value = (self.values.get(step) or "").strip()
        if step == "first_name" and not value:
            self._set_error(lambda: _("Écrivez votre prénom, puis touchez « Suivant »."))
            return
        if step == "phone" and not value:
            self._set_error(lambda: _("Écrivez votre téléphone, puis touchez « Suivant »."))
            return
        self._go(ORDER[ORDER.index(step) + 1])

    def back(self) -> None:
        if self.step in ("theme", "done"):
            App.get_running_app().reset_to_home()
            return
        if self.step == "consent" and self.member is not None:
            self.member = None
            self._go("contact")
            return
        self._go(ORDER[ORDER.index(self.step) - 1])

    def _go(self, step: str) -> None:
        self._clear_error()
        self.step = step
        self.refresh()

    def send(self, with_contact: bool) -> None:
        app = App.get_running_app()
        member = self.member if with_contact else None
        try:
            app.centre.voice.propose(
                self.values["theme"],
                _written(self.values.get("words", "")),
                first_name=None if member or not with_contact else self.values.get("first_name"),
                phone=None if member or not with_contact else self.values.get("phone"),
                member_id=member["id"] if member else None,
                consent=with_contact,
            )
        except DomainError as error:
            back = {"text": "words", "first_name": "first_name", "phone": "phone"}.get(error.field)
            if back:
                self.step = back
            self._set_error(lambda error=error: app.error_text(error))
            self.refresh()
            return
        app.confirm(
            "check_circle",
            lambda: _("Merci pour votre idée !"),
            lambda: _("L'équipe du centre va la lire."),
        )

    def _set_error(self, source) -> None:
        self._error_source = source
        self.error = source()

    def _clear_error(self) -> None:
        self._error_source = None
        self.error = ""


NOTHING_DONE_YET = N_("Pas encore d'idée réalisée ce mois-ci. Proposez la vôtre !")


def _written(typed: str) -> str:
    """The keyboard's capitals as a sentence: lower case, the first letter a capital."""
    text = " ".join(typed.lower().split(" "))
    return text[:1].upper() + text[1:]
