"""Marking French text for translation, in the layers that have no locale.

French is the source language: a msgid is the French text itself. ``sync``
and ``kiosk.core`` only mark their messages with ``N_`` (the extractor in
kiosk/ui/i18n_tools.py collects them); the kiosk's screens and commands
translate them at display time through gettext.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for extraction; returns it untranslated."""
    return message
