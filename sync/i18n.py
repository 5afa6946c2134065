"""Marking French text for translation, in the layers that have no locale.

French is the source language: a msgid is the French text itself. ``sync``
and ``kiosk.core`` only mark their messages with ``N_`` (the extractor in
kiosk/ui/i18n_tools.py collects them); the kiosk's screens and commands
translate them at display time through gettext.
"""

from __future__ import annotations

import gettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction; returns it untranslated."""
    return message


class French(gettext.NullTranslations):
    """The source language as a catalogue: the msgids themselves, with
    French's own plural rule (Plural-Forms: nplurals=2; plural=(n > 1)):
    « 0 personne », not the English rule gettext falls back to."""

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return msgid1 if n <= 1 else msgid2

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        return self.ngettext(msgid1, msgid2, n)
