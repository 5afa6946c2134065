"""Domain errors: what is wrong, in words a volunteer understands.

Each error names the field and carries a French message ready to show (the
UI's source language; it translates ``template`` through gettext for English
and Arabic, then fills in ``params``) and an English one for logs.
"""

from __future__ import annotations

from typing import Any

from sync.i18n import N_

__all__ = ["N_", "DomainError", "InvalidInput", "NotFound", "Conflict", "Locked"]


class DomainError(Exception):
    """A refused operation. Nothing was written."""

    def __init__(
        self,
        field: str,
        template_fr: str,
        message_en: str,
        value: Any = None,
        **params: Any,
    ):
        self.field = field
        self.template = template_fr
        self.params = params
        self.value = value
        self.message_fr = template_fr % params if params else template_fr
        self.message_en = message_en
        super().__init__(f"{field}: {message_en}")

    def translated(self, gettext) -> str:
        """The message in the UI's current language, through its gettext."""
        text = gettext(self.template)
        return text % self.params if self.params else text


class InvalidInput(DomainError):
    """A value is missing, malformed or absurd."""


class NotFound(DomainError):
    """The thing asked for does not exist (or no longer does)."""


class Conflict(DomainError):
    """The change clashes with what is stored (duplicate, full, past, cancelled…)."""


class Locked(DomainError):
    """Too many wrong PINs: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            "pin",
            N_("Trop d'essais. Réessayez dans %(minutes)d min."),
            f"too many wrong PINs, locked for {retry_after:.0f} s",
            minutes=minutes,
        )
        self.retry_after = retry_after
