"""Shared widgets: big tiles with a pictogram and words, icon labels, rows,
the on-screen AZERTY keyboard and the « Vous êtes toujours là ? » prompt.

Their look is in widgets.kv; this module holds only behaviour.
"""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen

from kiosk.ui import icons

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class KioskLabel(Label):
    """Text at least 24 px, in the kiosk's font and ink colour.

    Right-to-left text (i18n.Shaped) is wrapped here, in reading order, before
    Kivy sees it: Kivy would cut the visual string into lines top-down and the
    sentence would start on the last line."""

    def on_text(self, *_args) -> None:
        self._wrap_rtl()

    def on_width(self, *_args) -> None:
        self._wrap_rtl()

    def _wrap_rtl(self) -> None:
        from kiosk.ui.i18n import Shaped, wrap_shaped

        if not isinstance(self.text, Shaped) or self.width < 50 or self.text_size[0] is None:
            return
        chars = int(self.width / (self.font_size * 0.6))
        wrapped = wrap_shaped(self.text.logical, chars)
        if wrapped != self.text:
            self.text = wrapped


class IconLabel(Label):
    """A Material Design pictogram by name: ``IconLabel(icon="groups")``."""

    icon = StringProperty("help")

    def on_icon(self, _instance, name: str) -> None:
        self.text = icons.glyph(name)


class DirBox(BoxLayout):
    """A horizontal row that puts its first child on the right in Arabic."""

    rtl = BooleanProperty(False)
    _mirrored = False
    _reordering = False

    def add_widget(self, widget, index=0, *args, **kwargs):
        if self._mirrored and not self._reordering:
            index = len(self.children)  # a child added later goes to the left end
        super().add_widget(widget, index, *args, **kwargs)

    def on_rtl(self, *_args) -> None:
        self._arrange()

    def on_orientation(self, *_args) -> None:
        self._arrange()

    def _arrange(self) -> None:
        """Mirror the children when (and only when) the row is horizontal and
        the language right to left; kv may set rtl before orientation."""
        wanted = self.rtl and self.orientation == "horizontal"
        if wanted == self._mirrored:
            return
        children = list(self.children)
        self._reordering = True
        self.clear_widgets()
        for child in children:  # self.children is last-added first: re-adding reverses
            self.add_widget(child)
        self._reordering = False
        self._mirrored = wanted


class TileButton(ButtonBehavior, DirBox):
    """A big tile: a pictogram above a few words (or beside them, with
    ``orientation: "horizontal"``). ``colour`` names a palette entry."""

    icon = StringProperty("help")
    text = StringProperty("")
    colour = StringProperty("primary")
    icon_size = NumericProperty(72)
    font_size = NumericProperty(32)


class RowButton(ButtonBehavior, DirBox):
    """A wide row: pictogram then words (mirrored in Arabic)."""

    icon = StringProperty("person")
    text = StringProperty("")
    colour = StringProperty("surface")
    font_size = NumericProperty(30)


class Paragraph(KioskLabel):
    """A paragraph wrapped by us before shaping, so Arabic lines keep their order.

    Set ``source`` to the *translated, unshaped* text (i18n._.gettext)."""

    source = StringProperty("")

    def on_source(self, *_args) -> None:
        self._rewrap()

    def on_width(self, *_args) -> None:
        self._rewrap()

    def _rewrap(self) -> None:
        from kiosk.ui.i18n import _

        chars = int(self.width / (self.font_size * 0.56)) if self.width > 100 else 60
        self.text = _.wrap(self.source, chars)


class AzertyKeyboard(BoxLayout):
    """A large French keyboard. Dispatches ``on_key(char)``; "\\b" is erase."""

    rows = ListProperty(["AZERTYUIOP", "QSDFGHJKLM", "WXCVBN-'"])
    #: French names need them: Hélène, François, Aïcha, Noël
    accents = StringProperty("ÉÈÇÏË")
    digits = BooleanProperty(False)
    __events__ = ("on_key",)

    def on_kv_post(self, *_args) -> None:
        self.build()

    def on_digits(self, *_args) -> None:
        self.build()

    def build(self) -> None:
        self.ids.rows.clear_widgets()
        rows = ["1234567890"] if self.digits else list(self.rows)
        for row in rows:
            line = BoxLayout(spacing=8)
            for char in row:
                line.add_widget(KeyButton(text=char, keyboard=self))
            self.ids.rows.add_widget(line)
        self.ids.accents.clear_widgets()
        for char in "" if self.digits else self.accents:
            self.ids.accents.add_widget(KeyButton(text=char, keyboard=self))

    def press(self, char: str) -> None:
        self.dispatch("on_key", char)

    def on_key(self, char: str) -> None:
        pass


class KeyButton(ButtonBehavior, KioskLabel):
    keyboard = ObjectProperty(None, allownone=True)
    key = StringProperty("")

    def on_release(self) -> None:
        self.keyboard.press(self.key or self.text)


class StillTherePrompt(ModalView):
    """« Vous êtes toujours là ? » with one big « Oui » button."""

    __events__ = ("on_yes",)

    def on_yes(self) -> None:
        pass


class KioskScreen(Screen):
    """A screen of the kiosk. ``is_form``: idle asks first, since someone may
    still be typing. ``reset`` clears what a resident entered; ``refresh``
    redraws what depends on data or language."""

    is_form = False

    def on_pre_enter(self, *_args) -> None:
        self.refresh()

    def reset(self) -> None:
        pass

    def has_input(self) -> bool:
        """Whether the resident has entered something the idle prompt protects."""
        return False

    def refresh(self) -> None:
        pass
