"""This week's workshops as cards, four a page with « Suivants » / « Précédents »
buttons (no scrolling: a single tap is the only gesture)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

PER_PAGE = 4


def when(session: dict) -> str:
    """« mardi 3 décembre, 14 h – 16 h » in the current language (not shaped)."""
    return _.span(datetime.fromisoformat(session["starts_at"]), datetime.fromisoformat(session["ends_at"]))


def seats_text(session: dict) -> tuple[str, str]:
    """(pictogram, words) for the seats: never the colour alone."""
    if session["seats_left"] > 0 and not session["waitlisted"]:
        return "event_seat", _("Places libres : %(n)d", n=session["seats_left"])
    return "hourglass_empty", _("Complet : liste d'attente")


class WorkshopCard(ButtonBehavior, BoxLayout):
    session_id = StringProperty("")
    theme = StringProperty("autre")
    title = StringProperty("")
    when = StringProperty("")
    place = StringProperty("")
    seats_icon = StringProperty("event_seat")
    seats = StringProperty("")

    @classmethod
    def of(cls, session: dict) -> "WorkshopCard":
        icon, seats = seats_text(session)
        return cls(session_id=session["id"], theme=session["theme"], title=_.display(session["title"]),
                   when=_.display(when(session)), place=_.display(session["place"] or ""),
                   seats_icon=icon, seats=seats)


class WorkshopsScreen(KioskScreen):
    page = NumericProperty(0)
    pages = NumericProperty(1)
    empty = BooleanProperty(False)

    def on_pre_enter(self, *_args) -> None:
        self.page = 0
        super().on_pre_enter()

    def refresh(self) -> None:
        sessions = App.get_running_app().centre.workshops.week_sessions()
        self.pages = max(1, -(-len(sessions) // PER_PAGE))
        self.page = min(self.page, self.pages - 1)
        self.empty = not sessions
        grid = self.ids.grid
        grid.clear_widgets()
        for session in sessions[self.page * PER_PAGE:(self.page + 1) * PER_PAGE]:
            card = WorkshopCard.of(session)
            card.bind(on_release=self.open)
            grid.add_widget(card)

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.refresh()

    def open(self, card: WorkshopCard) -> None:
        app = App.get_running_app()
        app.screen("workshop").session_id = card.session_id
        app.go("workshop")

    def reset(self) -> None:
        self.page = 0
