"""The frame around every screen: a header with the centre's name and the
language switch (always in view), and the ScreenManager below it.

The header is one row where the centre's name fits beside the buttons; on a
narrow or small window, and for a long name, the name takes a row of its
own above them (``two_rows``), as tall as it needs within three lines.
"""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui import mode, widgets  # noqa: F401  (rules the shell uses)
from kiosk.ui.sizes import sizes

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class Shell(BoxLayout):
    two_rows = BooleanProperty(False)
    name_height = NumericProperty(0)

    def __init__(self, **kwargs):
        self._arrange = Clock.create_trigger(lambda *_a: self.arrange(), -1)
        super().__init__(**kwargs)
        for name in ("width", "touch", "pad", "gap", "text", "small", "title"):
            sizes.fbind(name, self._arrange)
        self.ids.centre_name.fbind("text", self._arrange)
        self.ids.buttons.fbind("minimum_width", self._arrange)
        self.arrange()

    def arrange(self) -> None:
        from kiosk.ui.widgets import text_fits

        if self.get_root_window() is None and self.parent is not None:
            return  # taken off the window: its app has stopped
        label, buttons = self.ids.centre_name, self.ids.buttons
        width = sizes.width - 2 * sizes.pad
        icon = sizes.icon * 1.2 * 1.2 + sizes.gap
        # the buttons' own widths (the row's minimum_width would count the
        # spacer, stretched in two rows: the choice would flip back and forth)
        needed = sum(c.width for c in buttons.children if c.size_hint_x is None and c.width > 0)
        needed += sizes.gap * sum(1 for c in buttons.children if c.width > 0)
        beside = width - needed - sizes.gap - icon
        fits_beside = beside > width * 0.35 and text_fits(label, label.least, width=beside,
                                                          height=sizes.touch)
        self.two_rows = not fits_beside
        if self.two_rows:
            whole = width - icon
            least = _height(label, label.least, whole)
            if sizes.compact or sizes.portrait:  # every line counts
                self.name_height = least
            else:
                wanted = _height(label, label.wanted, whole)
                self.name_height = min(max(wanted, sizes.touch * 0.8), max(least, sizes.title * 3))


def _height(label, font_size: float, width: float) -> float:
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(text=label.text or " ", font_size=font_size, font_name=label.font_name,
                     text_size=(width, None))
    core.resolve_font_name()
    return core.render(real=False)[1] + 4
