"""Sessions as cards, a page at a time: the card (a pictogram for the theme,
the title, when, where, seats left) and the screen that lays out as many
cards a page as the window holds, with « Suivants » / « Précédents » (no
scrolling: a single tap is the only gesture). This week's workshops
(kiosk/ui/workshops.py) and the other centres' (kiosk/ui/elsewhere.py) both
show their sessions so.

The card's look is in session_cards.kv; a screen's rule holds its own
``grid``, ``page``, ``previous`` and ``next``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.ui.sizes import sizes
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class SessionCard(ButtonBehavior, BoxLayout):
    """A session as a card; ``ids.lines`` holds its lines, the title first."""

    session_id = StringProperty("")
    theme = StringProperty("autre")
    title = StringProperty("")
    when = StringProperty("")
    place = StringProperty("")
    seats_icon = StringProperty("event_seat")
    seats = StringProperty("")

    def speech(self) -> list[str]:
        """What « Écouter » reads of the card, in the order shown."""
        return [self.title, self.when, self.place, self.seats]


class SessionPages(KioskScreen):
    """A screen of session cards a page at a time. A subclass says its
    cards' smallest size and calls ``show`` from its ``refresh``."""

    #: a card's smallest size: lines of body text high, body text's size (ems) wide
    card_lines = 5.6
    card_ems = 15
    #: lines a card gains in portrait, where two a row wrap its lines
    portrait_lines = 0.0

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
        card_w, card_h = sizes.text * self.card_ems, sizes.text * 1.3 * self.card_lines
        cols = max(1, min(3, int((grid.width + gap) // (card_w + gap))))
        if sizes.portrait:  # two a row where a card keeps a dozen characters a line
            cols = 2 if grid.width >= 2 * sizes.text * 12 + gap else 1
            card_h = sizes.text * 1.3 * (self.card_lines + self.portrait_lines)
        rows = max(1, min(4, int((grid.height + gap) // (card_h + gap))))
        if (cols, cols * rows) != (self.cols, self.per_page):
            self.cols, self.per_page = cols, cols * rows
            if self.manager is not None and self.manager.current_screen is self:
                self.refresh()

    def on_pre_enter(self, *_args) -> None:
        self.page = 0
        super().on_pre_enter()

    def show(self, items: Sequence[dict[str, Any]], card_of: Callable[[dict[str, Any]], SessionCard]) -> None:
        """The current page of ``items`` as cards (``card_of`` makes one),
        the page kept within the pages there are now."""
        per_page = self.per_page
        self.pages = max(1, -(-len(items) // per_page))
        self.page = min(self.page, self.pages - 1)
        self.empty = not items
        grid = self.ids.grid
        grid.clear_widgets()
        shown = items[self.page * per_page : (self.page + 1) * per_page]
        for item in shown:
            card = card_of(item)
            card.bind(on_release=self.open)
            grid.add_widget(card)
        if shown:
            for _free in range(per_page - len(shown)):
                grid.add_widget(Widget())  # a page's cells keep their size however few cards it has

    def cards_speech(self) -> list[str]:
        """What « Écouter » reads of the page: each card, then the page's number."""
        parts: list[str] = []
        for card in reversed([c for c in self.ids.grid.children if isinstance(c, SessionCard)]):
            parts += card.speech()
        if self.pages > 1:
            parts.append(self.ids.page.text)
        return parts

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.refresh()

    def open(self, card: SessionCard) -> None:
        """What tapping a card does."""
        raise NotImplementedError

    def reset(self) -> None:
        self.page = 0
