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
    #: the buttons alone fill the width (a narrow window, « Écouter » shown):
    #: the globe beside the language names, which speak for themselves, goes,
    #: and « Écouter » moves up beside the centre's name if need be
    tight = BooleanProperty(False)

    def __init__(self, **kwargs):
        self._arrange = Clock.create_trigger(lambda *_a: self.arrange(), -1)
        super().__init__(**kwargs)
        for name in ("width", "touch", "pad", "gap", "text", "small", "title"):
            sizes.fbind(name, self._arrange)
        self.ids.centre_name.fbind("text", self._arrange)
        self.ids.buttons.fbind("minimum_width", self._arrange)
        self.ids.listen.fbind("width", self._arrange)
        self.arrange()

    def arrange(self) -> None:
        from kiosk.ui.widgets import text_fits

        if self.get_root_window() is None and self.parent is not None:
            return  # taken off the window: its app has stopped
        ids = self.ids
        label, buttons, listen = ids.centre_name, ids.buttons, ids.listen
        width = sizes.width - 2 * sizes.pad
        icon = sizes.icon * 1.2 * 1.2 + sizes.gap
        # the buttons' own widths (the row's minimum_width would count the
        # spacer, stretched in two rows: the choice would flip back and forth)
        languages = [c for c in buttons.children if hasattr(c, "code") and c.width > 0]
        langs = sum(c.width + sizes.gap for c in languages)
        speak = listen.width + sizes.gap if listen.width > 0 else 0
        globe = sizes.icon * 1.2 + sizes.gap
        self.tight = langs + speak + globe > width
        self._place_listen(up=langs + speak > width)
        in_buttons = _same(listen.parent, buttons)
        needed = langs + (speak if in_buttons else 0) + (0 if self.tight else globe)
        beside = width - needed - sizes.gap - icon
        fits_beside = beside > width * 0.35 and text_fits(
            label, label.least, width=beside, height=sizes.touch
        )
        self.two_rows = not fits_beside
        if self.two_rows:
            whole = width - icon - (0 if in_buttons else speak)
            least = _height(label, label.least, whole)
            if sizes.compact or sizes.portrait:  # every line counts
                self.name_height = max(least, 0 if in_buttons else sizes.touch)
            else:
                wanted = _height(label, label.wanted, whole)
                self.name_height = min(max(wanted, sizes.touch * 0.8), max(least, sizes.title * 3))

    def _place_listen(self, up: bool) -> None:
        listen, buttons, name_row = self.ids.listen, self.ids.buttons, self.ids.name_row
        target = name_row if up else buttons
        if _same(listen.parent, target):
            return
        listen.parent.remove_widget(listen)
        if up:
            name_row.add_widget(listen)  # after the name (DirBox: before it in Arabic)
        else:
            buttons.add_widget(listen, index=len(buttons.children) - 1)  # after the spacer


def _same(widget, other) -> bool:
    """``is`` for kv ids, which are weak proxies of the widgets."""
    return widget is not None and other is not None and widget.uid == other.uid


def _height(label, font_size: float, width: float) -> float:
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(
        text=label.text or " ", font_size=font_size, font_name=label.font_name, text_size=(width, None)
    )
    core.resolve_font_name()
    return core.render(real=False)[1] + 4
