"""Shared widgets: big tiles with a pictogram and words, icon labels, rows,
the on-screen AZERTY keyboard and the « Vous êtes toujours là ? » prompt.

Their look is in widgets.kv; this module holds only behaviour.
"""

from __future__ import annotations

import functools
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen

from kiosk.ui import icons

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class KioskLabel(Label):
    """Text in the kiosk's font and ink colour, at ``sizes.text`` unless told.

    Right-to-left text (i18n.Shaped) is wrapped here, in reading order, before
    Kivy sees it: Kivy would cut the visual string into lines top-down and the
    sentence would start on the last line."""

    text: str  # Label's StringProperty, as the type checker sees it: a Shaped or plain text

    def on_text(self, *_args) -> None:
        self._wrap_rtl()

    def on_width(self, *_args) -> None:
        self._wrap_rtl()

    def on_font_size(self, *_args) -> None:
        self._wrap_rtl()

    def _wrap_rtl(self) -> None:
        from kiosk.ui.i18n import Shaped, wrap_shaped

        if not isinstance(self.text, Shaped) or self.width < 50 or self.text_size[0] is None:
            return
        chars = int(self.width / (self.font_size * 0.6))
        wrapped = wrap_shaped(self.text.logical, chars)
        if wrapped != self.text:
            self.text = wrapped


class FitLabel(KioskLabel):
    """Text that takes the largest font size from ``wanted`` down to
    ``least`` at which it fits its box whole: every line shown and no word
    cut in two. Where even ``least`` does not fit, it stays at ``least`` (and
    the layout test says so). The box's size comes from the layout, never
    from the text."""

    wanted = NumericProperty(28)
    least = NumericProperty(24)

    def __init__(self, **kwargs):
        self._refit = Clock.create_trigger(lambda *_a: self.fit(), -1)
        self._source: str | None = None  # the text last fitted, in reading order
        super().__init__(**kwargs)
        self.fbind("size", self._refit)
        self.fbind("wanted", self._refit)
        self.fbind("least", self._refit)
        self.fbind("font_name", self._refit)
        # each drawing (even one the size of the last: texture_size would not
        # change), looked at on the next frame, once the boxes that follow
        # the text's size (a banner, a row) have followed it
        self._check = Clock.create_trigger(lambda *_a: self._check_drawn(), 0)
        self.fbind("texture", self._check)

    def on_text(self, *args) -> None:
        super().on_text(*args)
        # right-to-left text is wrapped again at each size (KioskLabel): the
        # same words at another size are no new text to fit
        logical = getattr(self.text, "logical", None)
        source = f"rtl:{logical}" if logical is not None else f"ltr:{self.text}"
        if source != self._source:
            self._source = source
            self._refit()

    def _check_drawn(self, *_args) -> None:
        """The text as drawn has the last word. ``fit`` measures with
        SDL_ttf's font of each size as it is then, and the same words can
        measure a few pixels apart from one moment to the next (a font just
        opened, or one long in use), so text fitted on two lines may draw on
        three. Where the drawn text spills, one size down (never under
        ``least``)."""
        least = min(self.least, self.wanted)
        drawn, size = self.texture, float(self.property("font_size").get(self))
        if drawn is None or self.width <= 1 or self.height <= 1 or size <= least:
            return
        drawn_w, drawn_h = drawn.size
        if drawn_w > self.width + 1 or drawn_h > self.height + 1:
            self.font_size = max(least, int(size) - 1)

    def fit(self) -> None:
        wanted, least = self.wanted, min(self.least, self.wanted)
        if self.width <= 1 or self.height <= 1 or not self.text:
            self.font_size = wanted
            return
        if text_fits(self, wanted):
            self.font_size = wanted
            return
        low, high = least, wanted
        for _step in range(6):
            middle = (low + high) / 2
            if text_fits(self, middle):
                low = middle
            else:
                high = middle
        self.font_size = int(low)


class LineLabel(Label):
    """One line of text, as wide as its words (``size_hint_x`` None): a
    clock, a language's name. Never wrapped, so never cut."""


class ShortLabel(KioskLabel):
    """One line, shortened with an ellipsis when it is too long: only where
    the whole text is one tap away (a workshop card's title, shown whole on
    the workshop's own screen). The layout test refuses an ellipsis anywhere else."""


def text_fits(
    label: Label, font_size: float, width: float | None = None, height: float | None = None
) -> bool:
    """Whether ``label``'s text at ``font_size``, wrapped to its width, shows
    every line within its height with no word wider than a line."""
    from kiosk.ui.i18n import Shaped, wrap_shaped

    pad_x, pad_y = label.padding[0], label.padding[1]
    width = (width if width is not None else label.width) - 2 * pad_x
    height = (height if height is not None else label.height) - 2 * pad_y
    text = label.text
    if isinstance(text, Shaped) and width > 0:  # as KioskLabel wraps it at this size
        text = wrap_shaped(text.logical, int(width / (font_size * 0.6)))
    if longest_word(text, label.font_name) * font_size > width + 1:
        return False
    return (
        _text_height(
            str(text), label.font_name, round(font_size, 1), round(width), label.halign, label.line_height
        )
        <= height + 1
    )


@functools.lru_cache(maxsize=8192)
def _text_height(
    text: str, font_name: str, font_size: float, width: int, halign: str, line_height: float
) -> float:
    """The height ``text`` takes wrapped to ``width`` (cached: a layout settling
    over a few frames asks the same again)."""
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(
        text=text,
        font_size=font_size,
        font_name=font_name,
        text_size=(width, None),
        halign=halign,
        line_height=line_height,
    )
    core.resolve_font_name()
    return core.render(real=False)[1]


@functools.lru_cache(maxsize=4096)
def longest_word(text: str, font_name: str) -> float:
    """The width of ``text``'s widest word for a font size of 1 (glyphs scale
    with the size: measured once at 100 px, however often a label is refitted)."""
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(font_size=100, font_name=font_name)
    core.resolve_font_name()
    return max((core.get_extents(word)[0] for word in str(text).split()), default=0) / 100


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
    #: in a vertical tile, the words' share of the height against the pictogram's 1
    text_share = NumericProperty(0.8)
    #: a residents' main tile (home, reasons): at least theme.TILE_MM where there is room
    main = BooleanProperty(False)
    #: the smallest font its words may shrink to (sizes.small; sizes.staff_text on staff screens)
    least = NumericProperty(24)
    #: the width a horizontal tile needs for its pictogram and words on one line
    natural_width = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        remeasure = Clock.create_trigger(self._measure, -1)  # once a frame, however many sizes change
        for name in ("text", "font_size", "icon_size", "padding", "spacing"):
            self.fbind(name, remeasure)
        self._measure()

    def _measure(self, *_args) -> None:
        from kivy.core.text import Label as CoreLabel

        from kiosk.ui.theme import BOLD_FONT

        core = CoreLabel(font_size=self.font_size, font_name=BOLD_FONT)
        core.resolve_font_name()
        words = max((core.get_extents(line)[0] for line in self.text.split("\n")), default=0)
        self.natural_width = (
            words + self.icon_size * 1.15 + self.spacing + self.padding[0] + self.padding[2] + 12
        )


class RowButton(ButtonBehavior, DirBox):
    """A wide row: pictogram then words (mirrored in Arabic)."""

    icon = StringProperty("person")
    text = StringProperty("")
    colour = StringProperty("surface")
    font_size = NumericProperty(30)
    least = NumericProperty(24)


class ShortRow(ButtonBehavior, DirBox):
    """A list row whose words end with « … » when too long (widgets.kv):
    only where tapping it shows them whole."""

    icon = StringProperty("event")
    text = StringProperty("")
    font_size = NumericProperty(24)


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
    gap = NumericProperty(8)
    #: the accented letters in a row of their own (a narrow portrait window),
    #: leaving « Espace » and « Effacer » room for their words
    accents_apart = BooleanProperty(False)
    __events__ = ("on_key",)

    def on_kv_post(self, *_args) -> None:
        self.build()

    def on_digits(self, *_args) -> None:
        self.build()

    def on_accents_apart(self, *_args) -> None:
        self._place_accents()

    def _place_accents(self) -> None:
        """Move the accented keys (the same widgets: a resize should not
        rebuild the keyboard) to their own row, or back beside « Espace »."""
        if self.digits or "rows" not in self.ids:
            return
        rows, beside = self.ids.rows, self.ids.accents
        own_row = next((line for line in rows.children if getattr(line, "accents_row", False)), None)
        keys = list(reversed((own_row or beside).children))
        if self.accents_apart == (own_row is not None):
            return
        for key in keys:
            key.parent.remove_widget(key)
        if self.accents_apart:
            own_row = BoxLayout(spacing=self.gap)
            own_row.accents_row = True
            for key in keys:
                own_row.add_widget(key)
            rows.add_widget(own_row, index=0)  # the last row
        else:
            rows.remove_widget(own_row)
            for key in keys:
                beside.add_widget(key)

    def on_gap(self, *_args) -> None:
        if "rows" in self.ids:
            for line in self.ids.rows.children:
                line.spacing = self.gap

    def build(self) -> None:
        self.ids.rows.clear_widgets()
        rows = ["1234567890"] if self.digits else list(self.rows)
        for row in rows:
            line = BoxLayout(spacing=self.gap)
            for char in row:
                line.add_widget(KeyButton(text=char, keyboard=self))
            self.ids.rows.add_widget(line)
        self.ids.accents.clear_widgets()
        for char in "" if self.digits else self.accents:
            self.ids.accents.add_widget(KeyButton(text=char, keyboard=self))
        self._place_accents()

    def press(self, char: str) -> None:
        self.dispatch("on_key", char)

    def on_key(self, char: str) -> None:
        pass


class KeyButton(ButtonBehavior, KioskLabel):
    keyboard = ObjectProperty(None, allownone=True)
    key = StringProperty("")

    def on_release(self) -> None:
        self.keyboard.press(self.key or self.text)


class ListenButton(TileButton):
    """« Écouter »: reads the current screen aloud (kiosk.ui.speech).

    One button in the header for every resident screen. It shows only where
    the speech engine exists, outside the PIN modes, and on a screen that says
    what to read: ``speech_parts()``, its question then its choices in order,
    in the current language."""

    manager = ObjectProperty(None, allownone=True)
    shown = BooleanProperty(False)

    def on_manager(self, *_args) -> None:
        if self.manager is not None:
            self.manager.fbind("current_screen", self.update)
        self.update()

    def on_kv_post(self, *_args) -> None:
        from kivy.app import App

        app = App.get_running_app()
        if app is not None and hasattr(app, "pin_mode"):
            app.fbind("pin_mode", self.update)
        self.update()

    def screen(self):
        return self.manager.current_screen if self.manager is not None else None

    def update(self, *_args) -> None:
        from kivy.app import App

        app = App.get_running_app()
        speaker = getattr(app, "speaker", None)
        self.shown = bool(
            speaker is not None
            and speaker.available
            and not app.pin_mode
            and callable(getattr(self.screen(), "speech_parts", None))
        )

    def on_release(self) -> None:
        from kivy.app import App

        app = App.get_running_app()
        screen = self.screen()
        if self.shown and screen is not None:
            app.speaker.say(screen.speech_parts(), app.lang)


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

    # A resident screen defines ``speech_parts(self) -> list[str]``: what
    # « Écouter » reads, in order (the question, then each choice), as shown
    # in the current language. Screens without it get no « Écouter ».
