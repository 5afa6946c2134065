"""Checking and folding what people type: names, years, phones, e-mails.

Each ``clean_*`` function returns the value as it will be stored, or raises
``InvalidInput`` naming the field with a French message ready to show. The
workshops and staff services use the same checks for their own names.

``fold`` is the search's view of a name: lower case, accents and ligatures
removed, so 'Gérard', 'GERARD' and 'gerard' are one word.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from kiosk.core.errors import N_, InvalidInput

NAME_MAX = 80

#: Letters of any script, with spaces, hyphens and apostrophes between them.
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ \-'][^\W\d_]+)*$")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "‘": "'", "‐": "-", "‑": "-"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})
_WORD_SPLIT = re.compile(r"[\s\-']+")

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&*+/=?^_{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def fold(text: str) -> str:
    """Lower case without accents or ligatures: the search key of a word."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a name or a query ('Marie-Thérèse N'Diaye' gives
    marie, therese, n, diaye)."""
    return [word for word in _WORD_SPLIT.split(fold(text)) if word]


def name_tokens(first_name: str, last_name: str) -> set[str]:
    """The search tokens of a person: every folded word of both names, and each
    compound name whole too ('ndiaye' finds N'Diaye, 'jean-pierre' as typed)."""
    tokens = set(words(first_name)) | set(words(last_name))
    for name in (first_name, last_name):
        joined = "".join(words(name))
        if joined:
            tokens.add(joined)
    return tokens


def clean_name(field: str, value: Any) -> str:
    """A first or last name: 1-80 letters with spaces, hyphens or apostrophes
    between them; stripped, inner spaces collapsed, typographic apostrophes
    made plain."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            field, N_("Ce nom est vide. Écrivez-le avec le clavier."), "must not be empty", value=value
        )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in value):
        raise InvalidInput(
            field,
            N_("Ce nom contient des signes invisibles. Écrivez-le de nouveau."),
            "must not contain control characters",
            value=value,
        )
    name = " ".join(unicodedata.normalize("NFC", value).translate(_APOSTROPHES).split())
    name = re.sub(r"\s*([\-'])\s*", r"\1", name)
    if len(name) > NAME_MAX:
        raise InvalidInput(
            field,
            N_("Ce nom est trop long. Écrivez %(max)d lettres au plus."),
            f"must be at most {NAME_MAX} characters",
            value=value,
            max=NAME_MAX,
        )
    if not _NAME_CHARS.match(name):
        raise InvalidInput(
            field,
            N_("Écrivez ce nom avec des lettres, des espaces, des tirets ou des apostrophes."),
            "may only hold letters, spaces, hyphens and apostrophes",
            value=value,
        )
    return name


def clean_birth_year(value: Any, this_year: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= this_year:
        raise InvalidInput(
            "birth_year",
            N_("Écrivez une année de naissance entre 1900 et %(year)d."),
            f"must be a year from 1900 to {this_year}",
            value=value,
            year=this_year,
        )
    return value


def clean_phone(value: Any) -> str | None:
    """A French phone number, stored as +33XXXXXXXXX. Accepts 06 12 34 56 78,
    06.12.34.56.78, +33 6 12 34 56 78, 0033 6…"""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    digits = re.sub(r"[\s.\-()/]", "", value) if isinstance(value, str) else ""
    if digits.startswith("0033"):
        digits = "+33" + digits[4:]
    if digits.startswith("+33") and len(digits) == 12 and digits[3:].isdigit() and digits[3] != "0":
        return digits
    if len(digits) == 10 and digits.isdigit() and digits[0] == "0" and digits[1] != "0":
        return "+33" + digits[1:]
    raise InvalidInput(
        "phone",
        N_("Ce numéro de téléphone ne marche pas. Écrivez-le comme 06 12 34 56 78."),
        "must be a French phone number like 06 12 34 56 78 or +33 6 12 34 56 78",
        value=value,
    )


def clean_email(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    email = value.strip() if isinstance(value, str) else ""
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email:
        raise InvalidInput(
            "email",
            N_("Cette adresse e-mail ne marche pas. Écrivez-la comme prenom@exemple.fr."),
            "must be an e-mail address like name@example.org",
            value=value,
        )
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def clean_choice(field: str, value: Any, choices: list[str]) -> str | None:
    """A value from a list the centre configured (commune, gender…), or None."""
    if value is None or value == "":
        return None
    if value not in choices:
        raise InvalidInput(
            field,
            N_("Choisissez une valeur dans la liste."),
            f"must be one of the configured values, got {value!r}",
            value=value,
        )
    return value


def clean_flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, N_("Répondez par oui ou par non."), "must be true or false", value=value)
    return value
