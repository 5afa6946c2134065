"""The kiosk's gettext catalogues, without Kivy: for the screens and the commands.

French is the source language (every msgid is the French text, French needs
no catalogue); English and Arabic are ``kiosk/locale/<lang>/LC_MESSAGES/
accueil.mo``. The screens choose the language on screen (kiosk/ui/i18n.py);
the ``kiosk`` command follows the environment, as Debian's tools do
(``language_from``): English under an English locale, French otherwise.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

from sync.i18n import French

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "accueil"
LANGUAGES = ("fr", "en", "ar")
#: What a locale that names none of LANGUAGES (C, POSIX, de_DE…) reads.
DEFAULT_LANGUAGE = "fr"


def load_catalogue(lang: str) -> gettext.NullTranslations:
    if lang == "fr":
        return French()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def language_from(environ: Mapping[str, str]) -> str:
    """The language of the messages, chosen as gettext does: the first of
    LANGUAGE's list that the kiosk has, else the first set of LC_ALL,
    LC_MESSAGES and LANG (``en_GB.UTF-8`` is English); French otherwise."""
    for part in (environ.get("LANGUAGE") or "").split(":"):
        if _code(part) in LANGUAGES:
            return _code(part)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            code = _code(environ[name])
            return code if code in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _code(locale_name: str) -> str:
    return locale_name.split(".")[0].split("@")[0].split("_")[0].strip().lower()


class Words:
    """One language's messages, filled in: ``words(msgid, **params)`` and
    ``words.ngettext(singular, plural, n, **params)`` (the extractor in
    kiosk/ui/i18n_tools.py collects both spellings from kiosk/cli*.py)."""

    def __init__(self, lang: str):
        self.lang = lang
        self.catalogue = load_catalogue(lang)

    def gettext(self, msgid: str) -> str:
        return self.catalogue.gettext(msgid)

    def __call__(self, msgid: str, /, **params) -> str:
        text = self.catalogue.gettext(msgid)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params) -> str:
        text = self.catalogue.ngettext(singular, plural, n)
        return text % params if params else text


def for_environment(environ: Mapping[str, str] | None = None) -> Words:
    """The messages in the language of the environment (``os.environ``)."""
    return Words(language_from(os.environ if environ is None else environ))


class _EnvironmentWords:
    """``Words`` for the process's environment, loaded at the first message
    (a command that prints nothing reads no catalogue)."""

    _words: Words | None = None

    def _get(self) -> Words:
        if self._words is None:
            self._words = for_environment()
        return self._words

    @property
    def catalogue(self) -> gettext.NullTranslations:
        return self._get().catalogue

    def gettext(self, msgid: str) -> str:
        return self._get().gettext(msgid)

    def __call__(self, msgid: str, /, **params) -> str:
        return self._get()(msgid, **params)

    def ngettext(self, singular: str, plural: str, n: int, /, **params) -> str:
        return self._get().ngettext(singular, plural, n, **params)


#: The commands' translator: ``_("…", **params)``, ``_.ngettext(…)``, ``_.gettext``.
command_words = _EnvironmentWords()
