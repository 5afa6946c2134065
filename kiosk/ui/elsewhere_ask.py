"""Asking for a seat in another centre's session: one question a step, as
the first visit does (first name, last name, phone), then the consent in
plain words: the first name, last name and phone go to that centre, and
only if the resident says yes. « Oui, j'envoie ma demande » keeps the
request (kiosk/core/seat_requests.py); the sync sends it sealed to that
centre. « Non » sends nothing and goes back to the list."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import DictProperty, NumericProperty, StringProperty

from kiosk.core import seat_requests
from kiosk.core.errors import N_, DomainError
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: (field, question, pictogram, keyboard)
STEPS = [
    ("first_name", N_("Votre prénom"), "person", "letters"),
    ("last_name", N_("Votre nom de famille"), "badge", "letters"),
    ("phone", N_("Votre téléphone, pour que le centre vous appelle"), "support_agent", "digits"),
    ("consent", N_("Votre accord"), "privacy_tip", "consent"),
]
MAX_LENGTH = {"first_name": 40, "last_name": 40, "phone": 14}


class ElsewhereAskScreen(KioskScreen):
    is_form = True
    step = NumericProperty(0)
    values = DictProperty({})
    entry = DictProperty({})
    question = StringProperty("")
    icon = StringProperty("person")
    kind = StringProperty("letters")
    error = StringProperty("")
    session_text = StringProperty("")
    consent_text = StringProperty("")

    def start(self, entry: dict) -> None:
        """A new request for ``entry`` (a session of ``kiosk.core.agenda.week``)."""
        self.reset()
        self.entry = dict(entry)

    def reset(self) -> None:
        self.values = {}
        self.error = ""
        self.step = 0

    def has_input(self) -> bool:
        return any(self.values.values())

    def refresh(self) -> None:
        field, question, icon, kind = STEPS[self.step]
        self.question, self.icon, self.kind = _(question), icon, kind
        entry = self.entry
        if entry:
            ends = entry.get("ends_at") or entry["starts_at"]
            when = _.span(datetime.fromisoformat(entry["starts_at"]), datetime.fromisoformat(ends))
            self.session_text = _.display(f"{entry['title']} · {entry['centre_name']} · {when}")
            self.consent_text = _(
                "Nous envoyons votre prénom, votre nom et votre téléphone au %(centre)s, "
                "pour votre demande de place. Rien d'autre. Le centre vous appellera.",
                centre=_.display(entry["centre_name"]),
            )
        self.ids.keyboard.digits = kind == "digits"

    def key(self, char: str) -> None:
        field = STEPS[self.step][0]
        value = self.values.get(field, "")
        value = value[:-1] if char == "\b" else (value + char)[: MAX_LENGTH.get(field, 40)]
        self.values[field] = value.title() if self.kind == "letters" else value
        self.error = ""

    def next(self) -> None:
        field = STEPS[self.step][0]
        if field != "consent" and not (self.values.get(field) or "").strip():
            self.error = _("Écrivez-le avec le clavier, puis touchez « Suivant ».")
            return
        if self.step < len(STEPS) - 1:
            self.step += 1
            self.error = ""
            self.refresh()

    def back(self) -> None:
        if self.step == 0:
            App.get_running_app().go("elsewhere")
            return
        self.step -= 1
        self.error = ""
        self.refresh()

    def speech_parts(self) -> list[str]:
        if self.kind == "consent":
            return [self.question, self.session_text, self.consent_text, self.ids.yes.text, self.ids.no.text]
        return [self.question, self.session_text]

    def send(self) -> None:
        """« Oui »: the request is kept; the next sync sends it sealed."""
        app = App.get_running_app()
        try:
            seat_requests.SeatRequests(app.centre.store).ask(
                dict(self.entry),
                self.values.get("first_name", ""),
                self.values.get("last_name", ""),
                self.values.get("phone", ""),
                consent=True,
            )
        except DomainError as error:
            self.step = [s[0] for s in STEPS].index(error.field) if error.field in MAX_LENGTH else self.step
            self.refresh()
            self.error = error.translated(_)
            return
        centre = self.entry.get("centre_name", "")
        self.reset()
        app.screen("confirmation").show(
            "check_circle",
            lambda: _("Demande envoyée"),
            lambda: _("Le %(centre)s va répondre. Nous vous appellerons.", centre=_.display(centre)),
        )
        app.go("confirmation")

    def refuse(self) -> None:
        """« Non »: nothing is kept, nothing leaves."""
        self.reset()
        App.get_running_app().go("elsewhere")
