"""This week's workshops as cards, as many a page as the window holds (four
at 1280x800, twelve on a wall screen, two a row in portrait), with
« Suivants » / « Précédents » buttons (no scrolling: a single tap is the
only gesture)."""

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

from kiosk.ui.i18n import _
from kiosk.ui.sizes import sizes
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: a card's smallest size: lines of body text high, body text's size (ems) wide
CARD_LINES = 5.6
CARD_EMS = 15


def when(session: dict) -> str:
    """« mardi 3 décembre, 14 h – 16 h » in the current language (not shaped)."""
    return _.span(datetime.fromisoformat(session["starts_at"]), datetime.fromisoformat(session["ends_at"]))


def seats_text(session: dict) -> tuple[str, str]:
    """(pictogram, words) for the seats: never the colour alone."""
    if session["seats_left"] > 0 and not session["waitlisted"]:
        left = session["seats_left"]
        return "event_seat", _.ngettext(
            "Encore %(n)d place libre", "Encore %(n)d places libres", left, n=left
        )
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
    def of(cls, session: dict) -> WorkshopCard:
        icon, seats = seats_text(session)
        return cls(
            session_id=session["id"],
            theme=session["theme"],
            title=_.display(session["title"]),
            when=_.display(when(session)),
            place=_.display(session["place"] or ""),
            seats_icon=icon,
            seats=seats,
        )


class WorkshopsScreen(KioskScreen):
    page = NumericProperty(0)
    pages = NumericProperty(1)
    empty = BooleanProperty(False)
    cols = NumericProperty(2)
    per_page = NumericProperty(4)

    def on_kv_post(self, *_args) -> None:
        self._arrange = Clock.create_trigger(lambda *_a: self.arrange(), -1)
        self.ids.grid.fbind("size", self._arrange)
        sizes.fbind("text", self._arrange)

    def arrange(self) -> None:
        """As many cards a row and a page as fit the grid at their smallest size."""
        if self.get_root_window() is None:
            return  # not shown (or its app has stopped): nothing to lay out
        grid, gap = self.ids.grid, self.ids.grid.spacing[0]
        card_w, card_h = sizes.text * CARD_EMS, sizes.text * 1.3 * CARD_LINES
        cols = max(1, min(3, int((grid.width + gap) // (card_w + gap))))
        if sizes.portrait:  # two a row where a card keeps a dozen characters a line
            cols = 2 if grid.width >= 2 * sizes.text * 12 + gap else 1
        rows = max(1, min(4, int((grid.height + gap) // (card_h + gap))))
        if (cols, cols * rows) != (self.cols, self.per_page):
            self.cols, self.per_page = cols, cols * rows
            if self.manager is not None and self.manager.current_screen is self:
                self.refresh()

    def on_pre_enter(self, *_args) -> None:
        self.page = 0
        super().on_pre_enter()

    def refresh(self) -> None:
        sessions = App.get_running_app().centre.workshops.week_sessions()
        per_page = self.per_page
        self.pages = max(1, -(-len(sessions) // per_page))
        self.page = min(self.page, self.pages - 1)
        self.empty = not sessions
        grid = self.ids.grid
        grid.clear_widgets()
        shown = sessions[self.page * per_page : (self.page + 1) * per_page]
        for session in shown:
            card = WorkshopCard.of(session)
            card.bind(on_release=self.open)
            grid.add_widget(card)
        if shown:
            for _free in range(per_page - len(shown)):
                grid.add_widget(Widget())  # a page's cells keep their size however few cards it has

    def speech_parts(self) -> list[str]:
        ids = self.ids
        if self.empty:
            return [ids.title.text, ids.empty.text]
        parts = [ids.title.text]
        for card in reversed([c for c in ids.grid.children if isinstance(c, WorkshopCard)]):
            parts += [card.title, card.when, card.place, card.seats]
        if self.pages > 1:
            parts.append(ids.page.text)
        return parts

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.refresh()

    def open(self, card: WorkshopCard) -> None:
        app = App.get_running_app()
        app.screen("workshop").session_id = card.session_id
        app.go("workshop")

    def reset(self) -> None:
        self.page = 0
