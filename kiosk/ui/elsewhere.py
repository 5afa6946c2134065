"""« Dans les autres centres »: the week's sessions of the federation's other
centres, as cards (the centre and its commune, a pictogram for the theme,
when, where, seats left), as many a page as the window holds, with
« Suivants » / « Précédents ». The list is this kiosk's last copy of the
federation's agenda (kiosk/core/agenda.py); its age is said under the title
(« Mis à jour il y a 2 jours »), so a kiosk offline shows what it has and
says how old it is. Tapping a session opens the seat request
(kiosk/ui/elsewhere_ask.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core import agenda
from kiosk.ui.i18n import _
from kiosk.ui.session_cards import SessionCard, SessionPages

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def age_text(received: datetime | None, now: datetime) -> str:
    """How old the copy shown is, in plain words."""
    if received is None:
        return _("Pas encore reçu : la borne n'a pas encore joint la fédération.")
    minutes = max(0, int((now - received).total_seconds() // 60))
    if minutes < 60:
        return _("Mis à jour il y a moins d'une heure.")
    hours = minutes // 60
    if hours < 24:
        return _.ngettext("Mis à jour il y a %(n)d heure.", "Mis à jour il y a %(n)d heures.", hours, n=hours)
    days = hours // 24
    return _.ngettext("Mis à jour il y a %(n)d jour.", "Mis à jour il y a %(n)d jours.", days, n=days)


def seats_text(entry: dict) -> tuple[str, str]:
    """(pictogram, words) for the seats or the request made: never the colour alone."""
    asked = entry.get("asked")
    if asked == "waiting":
        return "hourglass_empty", _("Demande envoyée")
    if asked == "accepted":
        return "check_circle", _("Place acceptée")
    if asked in ("declined", "full"):
        return "cancel", _("Pas de place")
    left = entry["seats_left"]
    if left > 0:
        return "event_seat", _.ngettext(
            "Encore %(n)d place libre", "Encore %(n)d places libres", left, n=left
        )
    return "hourglass_empty", _("Complet")


class ElsewhereCard(SessionCard):
    """A session of another centre: under its title, the centre and its commune."""

    centre = StringProperty("")

    def on_kv_post(self, *_args) -> None:
        line = Factory.CentreLine()
        line.text = self.centre
        self.fbind("centre", line.setter("text"))
        lines = self.ids.lines
        lines.add_widget(line, index=len(lines.children) - 1)  # the title is the last child

    def speech(self) -> list[str]:
        return [self.title, self.centre, self.when, self.place, self.seats]

    @classmethod
    def of(cls, entry: dict) -> ElsewhereCard:
        icon, seats = seats_text(entry)
        centre = entry["centre_name"]
        if entry.get("commune"):  # the town first: a long centre's name ends in « … »
            centre = f"{entry['commune']} · {centre}"
        ends = entry.get("ends_at") or entry["starts_at"]
        return cls(
            session_id=entry["session_id"],
            theme=entry["theme"],
            title=_.display(entry["title"]),
            centre=_.display(centre),
            when=_.display(_.span(datetime.fromisoformat(entry["starts_at"]), datetime.fromisoformat(ends))),
            place=_.display(entry.get("place") or ""),
            seats_icon=icon,
            seats=seats,
        )


class ElsewhereScreen(SessionPages):
    card_lines = 6.0
    portrait_lines = 3.0

    age = StringProperty("")

    def refresh(self) -> None:
        store = App.get_running_app().centre.store
        self.age = age_text(agenda.received_at(store), store.now())
        self.show(agenda.week(store), ElsewhereCard.of)

    def speech_parts(self) -> list[str]:
        ids = self.ids
        parts = [ids.title.text, self.age]
        if self.empty:
            return [*parts, ids.empty.text]
        return [*parts, *self.cards_speech()]

    def open(self, card: SessionCard) -> None:
        app = App.get_running_app()
        entry = agenda.entry(app.centre.store, card.session_id)
        if entry is None or entry.get("asked") or entry["seats_left"] <= 0:
            return  # gone since, asked already or full: the card says so
        app.screen("elsewhere_ask").start(entry)
        app.go("elsewhere_ask")
