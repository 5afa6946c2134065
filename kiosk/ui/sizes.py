"""The sizes the .kv rules bind to, following the window and the display's density.

``sizes`` is one object for the whole UI, as Kivy's ``Metrics`` is: it
belongs to the window, not to a screen. ``follow(window, dpi)`` sets the
density (Kivy's ``Metrics`` too, so ``dp``/``sp``/``mm`` are real units on
this display) and recomputes every size each time the window is resized.
A rule writes ``font_size: S.text`` and is laid out again by itself.

The arithmetic is ``theme.layout_for`` (plain Python, tested alone).
"""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty

from kiosk.ui import theme


class Sizes(EventDispatcher):
    width = NumericProperty(theme.DESIGN[0])
    height = NumericProperty(theme.DESIGN[1])
    dpi = NumericProperty(theme.FALLBACK_DPI)
    room = NumericProperty(1.0)
    portrait = BooleanProperty(False)
    compact = BooleanProperty(False)
    text = NumericProperty(theme.TEXT)
    small = NumericProperty(theme.TEXT_SMALL)
    staff_text = NumericProperty(theme.TEXT_SMALL)
    title = NumericProperty(theme.TITLE)
    touch = NumericProperty(theme.TOUCH)
    least_touch = NumericProperty(34)
    key = NumericProperty(80)
    tile = NumericProperty(2 * theme.TOUCH)
    icon = NumericProperty(48)
    big_icon = NumericProperty(120)
    pad = NumericProperty(16)
    gap = NumericProperty(12)
    bar = NumericProperty(112)

    _window = None

    def follow(self, window, dpi: float) -> None:
        """Take the density ``dpi`` and the window's size, now and after every resize."""
        from kivy.clock import Clock
        from kivy.metrics import Metrics

        # a new size re-fits text at every depth of the tree: more layout
        # passes in one frame than Kivy's default allows
        Clock.max_iteration = max(Clock.max_iteration, 60)
        Metrics.dpi = dpi
        Metrics.density = dpi / 160  # Android's convention: a dp is 1/160 inch
        self.dpi = dpi
        if self._window is not window:
            if self._window is not None:
                self._window.funbind("size", self._resized)
            window.fbind("size", self._resized)
            self._window = window
        self.apply(*window.size)

    def _resized(self, _window, size) -> None:
        self.apply(*size)

    def apply(self, width: int, height: int) -> None:
        layout = theme.layout_for(int(width), int(height), self.dpi)
        for name, value in vars(layout).items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    def mm(self, millimetres: float) -> float:
        return theme.mm_px(millimetres, self.dpi)


sizes = Sizes()
