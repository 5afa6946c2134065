"""Workshop sheets (« fiches atelier »): what a sheet holds and the one check
of it, used by the hub (its forms, its imports, what it publishes) and by the
kiosk (what it accepts from the federation's feed).

A sheet is an allow-list of fields, each bounded: anything else is refused,
naming the field. Errors carry the field, a French message for people and an
English detail for logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.protocol import THEMES, unfit_text

#: The pictograms a sheet may show (Material icon names the kiosk ships).
PICTOGRAMS = (
    "info",
    "school",
    "family_restroom",
    "account_balance",
    "devices",
    "campaign",
    "computer",
    "menu_book",
    "palette",
    "groups",
    "celebration",
    "directions_bus",
    "park",
    "local_hospital",
    "work",
    "lightbulb",
    "volunteer_activism",
    "more_horiz",
)
MAX_DURATION = 480  # minutes: a workshop of a day at most
MAX_CAPACITY = 500
#: field -> its largest length, for the texts
TEXT_LIMITS = {"title": 200, "description": 2000, "bring": 1000, "animator_needs": 1000}
#: The fields of a sheet, in the order forms and files show them.
FIELDS = (
    "title",
    "theme",
    "pictogram",
    "description",
    "duration_minutes",
    "capacity",
    "bring",
    "animator_needs",
)
_MULTILINE = frozenset(("description", "bring", "animator_needs"))


class SheetError(ValueError):
    """A sheet refused: ``field`` names what is wrong, ``message`` says it in
    French, ``detail`` in English."""

    def __init__(self, field: str, message: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.message = message
        self.detail = detail


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SheetError(field, "Ce champ doit être un texte.", "must be a string")
    kept: str = value.replace("\r\n", "\n").strip()
    if field == "title" and not kept:
        raise SheetError(field, "Écrivez un titre.", "must not be empty")
    limit = TEXT_LIMITS[field]
    if len(kept) > limit:
        raise SheetError(
            field, f"Texte trop long ({limit} caractères au plus).", f"at most {limit} characters"
        )
    checked = kept.replace("\n", " ") if field in _MULTILINE else kept
    if unfit_text(checked):
        raise SheetError(field, "Ce texte contient des caractères invalides.", "control characters")
    return kept


def _whole(field: str, value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SheetError(field, message, f"must be a whole number from {low} to {high}")
    return value


def check_field(field: str, value: Any) -> Any:
    """One field of a sheet cleaned, or SheetError."""
    if field in TEXT_LIMITS:
        return _text(field, value)
    if field == "theme":
        if value not in THEMES:
            raise SheetError(
                field, "Choisissez un thème dans la liste.", f"must be one of {', '.join(THEMES)}"
            )
        return value
    if field == "pictogram":
        if value not in PICTOGRAMS:
            raise SheetError(
                field, "Choisissez un pictogramme dans la liste.", f"must be one of {', '.join(PICTOGRAMS)}"
            )
        return value
    if field == "duration_minutes":
        return _whole(field, value, 15, MAX_DURATION, f"La durée va de 15 à {MAX_DURATION} minutes.")
    if field == "capacity":
        return _whole(field, value, 1, MAX_CAPACITY, f"Le nombre de places va de 1 à {MAX_CAPACITY}.")
    raise SheetError(field, "Ce champ n'existe pas dans une fiche.", "unknown field")


def check_sheet(body: Any) -> dict[str, Any]:
    """The sheet ``body`` cleaned (texts stripped, numbers as ints), or
    SheetError naming the first field that is wrong, missing or unknown."""
    if not isinstance(body, Mapping):
        raise SheetError("sheet", "Une fiche doit être un objet JSON.", "must be an object")
    unknown = sorted(str(key) for key in body if key not in FIELDS)
    if unknown:
        raise SheetError(unknown[0], "Ce champ n'existe pas dans une fiche.", "unknown field")
    missing = [field for field in FIELDS if field not in body]
    if missing:
        raise SheetError(missing[0], "Ce champ manque.", "missing")
    return {field: check_field(field, body[field]) for field in FIELDS}
