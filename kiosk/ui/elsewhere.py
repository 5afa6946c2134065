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
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.core import agenda
from kiosk.ui.i18n import _
from kiosk.ui.sizes import sizes
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: a card's smallest size: lines of body text high, body text's size (ems) wide
CARD_LINES = 6.0
CARD_EMS = 15


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


class ElsewhereCard(ButtonBehavior, BoxLayout):
    session_id = StringProperty("")
    theme = StringProperty("autre")
    title = StringProperty("")
    centre = StringProperty("")
    when = StringProperty("")
    place = StringProperty("")
    seats_icon = StringProperty("event_seat")
    seats = StringProperty("")

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


class ElsewhereScreen(KioskScreen):
    page = NumericProperty(0)
    pages = NumericProperty(1)
    empty = BooleanProperty(False)
    cols = NumericProperty(2)
    per_page = NumericProperty(4)
    age = StringProperty("")

    def on_kv_post(self, *_args) -> None:
        self._arrange = Clock.create_trigger(lambda *_a: self.arrange(), -1)
        self.ids.grid.fbind("size", self._arrange)
        sizes.fbind("text", self._arrange)

    def arrange(self) -> None:
        """As many cards a row and a page as fit the grid at their smallest size."""
        if self.get_root_window() is None:
            return
        grid, gap = self.ids.grid, self.ids.grid.spacing[0]
        card_w, card_h = sizes.text * CARD_EMS, sizes.text * 1.3 * CARD_LINES
        cols = max(1, min(3, int((grid.width + gap) // (card_w + gap))))
        if sizes.portrait:  # two a row, their lines wrapping: taller cards
            cols = 2 if grid.width >= 2 * sizes.text * 12 + gap else 1
            card_h = sizes.text * 1.3 * (CARD_LINES + 3)
        rows = max(1, min(4, int((grid.height + gap) // (card_h + gap))))
        if (cols, cols * rows) != (self.cols, self.per_page):
            self.cols, self.per_page = cols, cols * rows
            if self.manager is not None and self.manager.current_screen is self:
                self.refresh()

    def on_pre_enter(self, *_args) -> None:
        self.page = 0
        super().on_pre_enter()

    def refresh(self) -> None:
        store = App.get_running_app().centre.store
        entries = agenda.week(store)
        self.age = age_text(agenda.received_at(store), store.now())
        per_page = self.per_page
        self.pages = max(1, -(-len(entries) // per_page))
        self.page = min(self.page, self.pages - 1)
        self.empty = not entries
        grid = self.ids.grid
        grid.clear_widgets()
        shown = entries[self.page * per_page : (self.page + 1) * per_page]
        for entry in shown:
            card = ElsewhereCard.of(entry)
            card.bind(on_release=self.open)
            grid.add_widget(card)
        if shown:
            for _free in range(per_page - len(shown)):
                grid.add_widget(Widget())

    def speech_parts(self) -> list[str]:
        ids = self.ids
        parts = [ids.title.text, self.age]
        if self.empty:
            return [*parts, ids.empty.text]
        for card in reversed([c for c in ids.grid.children if isinstance(c, ElsewhereCard)]):
            parts += [card.title, card.centre, card.when, card.place, card.seats]
        if self.pages > 1:
            parts.append(ids.page.text)
        return parts

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.refresh()

    def open(self, card: ElsewhereCard) -> None:
        app = App.get_running_app()
        entry = agenda.entry(app.centre.store, card.session_id)
        if entry is None or entry.get("asked") or entry["seats_left"] <= 0:
            return  # gone since, asked already or full: the card says so
        app.screen("elsewhere_ask").start(entry)
        app.go("elsewhere_ask")

    def reset(self) -> None:
        self.page = 0
