"""French display of dates, numbers and codes for the pages and the exports (Babel).

Times are stored in UTC and shown in Europe/Paris, as the house rules say.
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import parse_pattern

from sync.clock import PARIS
from sync.protocol import parse_utc

LOCALE = "fr_FR"

#: The kiosk's visit reasons. The hub must not import the kiosk, so it keeps its
#: own labels; a code it does not know is shown as it is.
REASON_LABELS: dict[str | None, str] = {
    "accueil": "Accueil",
    "demarches": "Démarches administratives",
    "rendez_vous": "Rendez-vous",
    "atelier": "Atelier",
    "ordinateur": "Ordinateur en libre accès",
    "permanence": "Permanence",
    "autre": "Autre",
}
THEME_LABELS: dict[str | None, str] = {
    "accueil": "Accueil",
    "education": "Éducation",
    "parentalite": "Parentalité",
    "e_administration": "Démarches en ligne",
    "numerique": "Numérique",
    "pouvoir_d_agir": "Pouvoir d'agir",
    "autre": "Autre",
}
AGE_BAND_LABELS: dict[str | None, str] = {
    "0-15": "0 à 15 ans",
    "16-24": "16 à 24 ans",
    "25-54": "25 à 54 ans",
    "55-64": "55 à 64 ans",
    "65+": "65 ans et plus",
    "unknown": "Non renseigné",
}
GENDER_LABELS: dict[str | None, str] = {
    "woman": "Femmes",
    "man": "Hommes",
    "non_binary": "Non binaires",
    "unsaid": "Non précisé",
    None: "Non renseigné",
}


def reason_label(code: str | None) -> str:
    return REASON_LABELS.get(code, code or "")


def theme_label(code: str | None) -> str:
    return THEME_LABELS.get(code, code or "")


def age_band_label(code: str | None) -> str:
    return AGE_BAND_LABELS.get(code, code or "")


def gender_label(code: str | None) -> str:
    return GENDER_LABELS.get(code, code or "")


#: what a volunteer's time went to (sync.protocol.VOLUNTEERING_KINDS), as SENACS words it
VOLUNTEERING_LABELS = {"activity": "Activités", "governance": "Gouvernance (CA, commissions)"}


def volunteering_label(code: str | None) -> str:
    return VOLUNTEERING_LABELS.get(code or "", code or "")


#: the idea box's themes (sync.protocol.IDEA_THEMES), as the kiosk words them
IDEA_THEME_LABELS = {
    "activites": "Activités",
    "sorties": "Sorties",
    "quartier": "Quartier",
    "numerique": "Numérique",
    "famille": "Famille",
    "autre": "Autre",
}
#: the faces after a workshop (sync.protocol.FEEDBACK_FACES)
FACE_LABELS = {"content": "Content", "moyen": "Moyen", "pas_content": "Pas content"}
#: what became of an idea (federation.reports.IDEA_STEPS)
IDEA_STEP_LABELS = {
    "received": "Idées reçues",
    "answered": "Idées ayant reçu une réponse",
    "done": "Idées réalisées",
    "initiative": "Initiatives d'habitants soutenues",
}


def idea_theme_label(code: str | None) -> str:
    return IDEA_THEME_LABELS.get(code or "", code or "")


def face_label(code: str | None) -> str:
    return FACE_LABELS.get(code or "", code or "")


def long_date(day: date | None) -> str:
    """« 3 mars 2026 », « 1er mars 2026 » (French writes the first day as an ordinal)."""
    if not day:
        return "—"
    pattern = "d'er' MMMM y" if day.day == 1 else "d MMMM y"
    return format_date(day, format=pattern, locale=LOCALE)


def short_date(day: date | None) -> str:
    """« 03/03/2026 », the form French spreadsheets recognise as a date."""
    return day.strftime("%d/%m/%Y") if day else ""


def paris_datetime(moment: datetime | str | None) -> str:
    """A stored UTC time as « 3 mars 2026 à 14:05 », Paris time."""
    if not moment:
        return "jamais"
    if isinstance(moment, str):
        moment = parse_utc(moment)
    return format_datetime(moment, format="d MMMM y 'à' HH:mm", tzinfo=PARIS, locale=LOCALE)


# parsed once: the pages format thousands of numbers, and babel's
# format_decimal would parse the locale and the pattern again for each one
_FRENCH = Locale.parse(LOCALE)
_PERCENT = parse_pattern("#,##0.0 %")
_NUMBERS = {digits: parse_pattern("#,##0" + ("." + "0" * digits if digits else "")) for digits in range(4)}


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return _NUMBERS[digits].apply(value, _FRENCH)


def percent(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return _PERCENT.apply(ratio, _FRENCH)


def decimal_comma(value: float | None, digits: int = 1) -> str:
    """A plain number with a decimal comma and no thousands separator, for CSV
    cells that a French Excel must read as numbers."""
    if value is None:
        return ""
    return f"{value:.{digits}f}".replace(".", ",")
