"""Languages of the kiosk: gettext with French msgids, Babel dates, Arabic shaping.

French is the source language: every msgid is the French text, so French needs
no catalogue. English and Arabic come from ``kiosk/locale/<lang>/LC_MESSAGES/
accueil.po``, compiled to the committed ``accueil.mo`` by ``make i18n`` (a test
fails when a .mo is older than its .po, or when a msgid is untranslated).

``_`` is the one translator the UI uses. In .kv rules ``text: _("Je suis là")``
is re-evaluated when the language changes: Kivy's kv parser binds any rule that
calls ``_(`` to ``_.fbind('_', ...)`` (see kivy.lang.parser ``lang_tr``). Arabic
text comes back reshaped (joined letter forms) and in visual order, line by
line, because Kivy's SDL2 text renderer does neither.

Counts go through ``_.ngettext(singular, plural, n, **params)`` (each catalogue
declares its Plural-Forms: two in English, six in Arabic); a French word with
two meanings through ``_.pgettext(context, msgid)`` (the contexts and the one
term a concept are in docs/glossaire.md). In right-to-left text every
placeholder is isolated (LRE or RLE … PDF, the controls the python-bidi in use
honours), so a path, a phone number or a Latin name keeps its own order.
"""

from __future__ import annotations

import gettext as _gettext
import re
import textwrap
import unicodedata
from datetime import date, datetime

import arabic_reshaper
from babel.dates import format_date, format_time
from bidi.algorithm import get_display
from kivy.event import Observable

from kiosk.catalogues import LANGUAGES, load_catalogue
from sync.clock import PARIS

RTL_LANGUAGES = ("ar",)

#: Embedding controls: left-to-right, right-to-left, and the end of either.
#: (python-bidi's algorithm honours these; it refuses the U+2066… isolates.)
LRE, RLE, PDF = "\u202a", "\u202b", "\u202c"
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])|%%")


def _rtl_first(value: str) -> bool:
    """Whether the first letter with a direction reads right to left."""
    for char in value:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def fill(template: str, params: dict, isolate: bool = False) -> str:
    """``template % params``; with ``isolate``, each filled-in value is wrapped
    in its own embedding, so the bidi algorithm cannot mix it with the words
    around it (a path or a phone number would come out reversed)."""
    if not params:
        return template
    if not isolate:
        return template % params

    def one(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        value = ("%" + match.group(2)) % (params[match.group(1)],)
        return (RLE if _rtl_first(value) else LRE) + value + PDF

    return _PLACEHOLDER.sub(one, template)


def NP_(context: str, message: str) -> str:
    """Mark a message with its context for extraction (``_.pgettext`` shows it)."""
    return message


def source(text: str) -> str:
    """The reading-order text behind a shown one (a Shaped string's logical
    form, its isolates kept): what ``Paragraph.source`` wants."""
    return getattr(text, "logical", "") or text


def spoken(text: str) -> str:
    """The reading-order text behind what a label shows (a Shaped string's
    logical form), without the invisible direction controls: what a speech
    engine must get, never the reshaped visual string."""
    return str(getattr(text, "logical", "") or text).translate(_BIDI_CONTROLS)


class Shaped(str):
    """Text in visual order, remembering its logical (reading-order) form so a
    label can wrap it again at its own width (kiosk.ui.widgets.KioskLabel)."""

    logical = ""


def shape(text: str) -> Shaped:
    """Arabic letters joined and each line put in visual (right-to-left) order."""
    shaped = Shaped("\n".join(get_display(arabic_reshaper.reshape(line)) for line in text.split("\n")))
    shaped.logical = text
    return shaped


#: What the language buttons show: each language's own name, never translated
#: (Arabic shaped once here, whatever the current language).
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "ar": shape("العربية")}


def wrap_shaped(text: str, width_chars: int) -> Shaped:
    """``text`` (logical order) cut into lines of at most ``width_chars``, then
    shaped line by line; remembers ``text`` to wrap again at another width."""
    lines = []
    for paragraph in text.split("\n"):
        # a word longer than a line stays whole: the layout gives it room (or
        # says so); so does a hyphenated name (« Marie-Thérèse »), as Kivy
        # keeps it in left-to-right text, rather than leaving « -Marie » at
        # the end of a right-to-left line
        lines.extend(
            textwrap.wrap(paragraph, max(6, width_chars), break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    shaped = shape("\n".join(lines))
    shaped.logical = text
    return shaped


class Translator(Observable):
    """The current language, as an observable callable: ``_(msgid, **params)``."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = "fr"
        self._catalogues = {lang: load_catalogue(lang) for lang in LANGUAGES}
        self._observers: list[tuple] = []

    # --- Observable protocol used by kv rules calling _( ... )
    def fbind(self, name, func, *args, **kwargs):
        if name != "_":
            return super().fbind(name, func, *args, **kwargs)
        self._observers.append((func, args, kwargs))
        return len(self._observers)

    def funbind(self, name, func, *args, **kwargs):
        if name != "_":
            return super().funbind(name, func, *args, **kwargs)
        self._observers = [obs for obs in self._observers if obs != (func, args, kwargs)]

    def unbind_uid(self, name, uid):
        # uids index the list as it was; a pruned list makes them unreliable,
        # and a dead observer is dropped at the next switch anyway.
        return None

    def switch(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}")
        self.lang = lang
        alive = []
        for observer in self._observers:
            func, args, _kwargs = observer
            if func is None:
                continue
            try:
                func(*args, None, None)
            except ReferenceError:  # the widget of a discarded row is gone
                continue
            alive.append(observer)
        self._observers = alive

    # --- translation
    @property
    def rtl(self) -> bool:
        return self.lang in RTL_LANGUAGES

    def catalogue(self) -> _gettext.NullTranslations:
        """The current language's gettext catalogue, for code below the UI
        that words its own messages (``sync.client.describe``); not shaped."""
        return self._catalogues[self.lang]

    def gettext(self, msgid: str) -> str:
        """The translation, not shaped (for DomainError.translated and wrapping)."""
        return self._catalogues[self.lang].gettext(msgid)

    def __call__(self, msgid: str, /, **params) -> str:
        return self.display(fill(self.gettext(msgid), params, self.rtl))

    def ngettext(self, singular: str, plural: str, n: int, /, **params) -> str:
        """A message about ``n`` things, in the form the language wants for
        ``n`` (French and English: two forms; Arabic: six), ready to show."""
        text = self._catalogues[self.lang].ngettext(singular, plural, n)
        return self.display(fill(text, params, self.rtl))

    def pgettext(self, context: str, msgid: str, /, **params) -> str:
        """A French word with two meanings, told apart by ``context``."""
        return self.display(fill(self._catalogues[self.lang].pgettext(context, msgid), params, self.rtl))

    def text(self, msgid: str, /, **params) -> str:
        """The translation filled in, in reading order, not shaped: for speech."""
        return fill(self.gettext(msgid), params)

    def display(self, text: str) -> str:
        """Text ready for a Kivy label in the current language (shaped if RTL)."""
        return shape(text) if self.rtl else text

    def wrap(self, text: str, width_chars: int) -> str:
        """Wrap a translated paragraph *before* shaping, so that right-to-left
        lines come out in reading order (Kivy would wrap the visual string)."""
        return wrap_shaped(text, width_chars) if self.rtl else text

    # --- dates and times, Europe/Paris
    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(PARIS)

    def day(self, moment: datetime | date) -> str:
        """« mardi 3 décembre » / "Tuesday 3 December" / « الثلاثاء 3 ديسمبر »."""
        if isinstance(moment, datetime):
            moment = self.local(moment).date()
        return format_date(moment, "EEEE d MMMM", locale=self.lang)

    def clock(self, moment: datetime) -> str:
        """« 14 h », « 14 h 30 » in French; the locale's short time otherwise."""
        local = self.local(moment)
        if self.lang == "fr":
            return f"{local.hour} h" + (f" {local.minute:02d}" if local.minute else "")
        if self.lang == "en":
            return format_time(local, "h a" if not local.minute else "h:mm a", locale="en")
        return format_time(local, "HH:mm", locale=self.lang)

    def span(self, start: datetime, end: datetime) -> str:
        """« mardi 3 décembre, 14 h – 16 h »."""
        comma = "،" if self.lang == "ar" else ","
        return f"{self.day(start)}{comma} {self.clock(start)} – {self.clock(end)}"

    def today(self, moment: datetime) -> str:
        return format_date(self.local(moment).date(), "EEEE d MMMM y", locale=self.lang)

    def time_of_day(self, moment: datetime) -> str:
        return format_time(self.local(moment), "HH:mm", locale=self.lang)


#: The translator the whole UI shares (kv files import it as ``_``).
_ = Translator()
