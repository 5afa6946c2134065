"""The residents' French in FALC (« facile à lire et à comprendre »): short
sentences, common words, and a next step in every error a resident meets.

Resident strings are every msgid used by the residents' screens (and the
shared widgets they show), the default reasons for a visit, and the domain
errors those screens can show. Volunteer and staff screens are held to the
glossary (tests/ui/test_catalogues.py), not to this list."""

from __future__ import annotations

import re

import pytest

from kiosk.core.settings import DEFAULT_REASONS
from kiosk.ui import i18n_tools

#: The residents' screens, their shared widgets, and the app's own messages.
RESIDENT_UI = {
    f"kiosk/ui/{name}.{ext}"
    for name in (
        "home",
        "checkin",
        "reason",
        "confirmation",
        "workshops",
        "workshop_detail",
        "first_visit",
        "consent",
        "card",
    )
    for ext in ("py", "kv")
} | {"kiosk/ui/widgets.kv", "kiosk/app.py"}
#: Domain errors a resident can meet on those screens (card, check-in,
#: registration for a workshop, the first-visit form).
RESIDENT_ERRORS = {
    "kiosk/core/members.py",
    "kiosk/core/registrations.py",
    "kiosk/core/visits.py",
    "kiosk/core/text.py",
}
MAX_WORDS = 15
#: Words a resident who reads little does not know (docs/glossaire.md); a
#: message may use one only with its explanation in brackets right after it.
JARGON = [
    "passages?",
    "adhérent(?:e|s|es)?",
    "communes?",
    "qpv",
    "rgpd",
    "financeurs?",
    "permanences?",
    "démarches? en ligne",
    "données",
    "consentement",
    "partenaires?",
    "identifiants?",
    "séances?",
]
#: An error's next step: something the resident can do.
NEXT_STEP = re.compile(
    r"\b(essayez|demandez|choisissez|tapez|écrivez|répondez|touchez|revenez|prenez|"
    r"passez|montrez|vous pouvez|utilisez|reprenez)\b",
    re.IGNORECASE,
)


def resident_messages() -> dict[str, set[str]]:
    """msgid -> the files it comes from, for every resident string."""
    found: dict[str, set[str]] = {}
    for message in i18n_tools.extract():
        if not message.id:
            continue
        files = {where for where, _line in message.locations}
        texts = message.id if isinstance(message.id, tuple) else (message.id,)
        if files & (RESIDENT_UI | RESIDENT_ERRORS):
            for text in texts:
                found.setdefault(text, set()).update(files)
    for reason in DEFAULT_REASONS:
        found.setdefault(reason["label"], set()).add("kiosk/core/settings.py")
    return found


def sentences(text: str) -> list[str]:
    text = re.sub(r"%\(\w+\)[sd]", "X", text)
    return [s for s in re.split(r"(?<=[.!?…])\s+|\n", text) if s.strip()]


def words(sentence: str) -> list[str]:
    return re.findall(r"[\wÀ-ÿ'’-]+", sentence)


def test_the_resident_list_is_not_empty():
    found = resident_messages()
    assert "Je suis là" in found and "Voir une assistante sociale" in found and len(found) > 60


@pytest.mark.parametrize("text", sorted(resident_messages()))
def test_a_resident_sentence_has_at_most_15_words(text):
    for sentence in sentences(text):
        assert len(words(sentence)) <= MAX_WORDS, sentence


@pytest.mark.parametrize("text", sorted(resident_messages()))
def test_a_resident_string_uses_no_jargon_unless_explained(text):
    text = re.sub(r"%\(\w+\)[sd]", "X", text)  # a placeholder's name is not shown
    for word in JARGON:
        for match in re.finditer(r"(?<!\w)" + word + r"(?!\w)", text, re.IGNORECASE):
            explained = text[match.end() :].startswith(" (")
            assert explained, f"{match.group(0)!r} in {text!r}"


def test_every_error_a_resident_meets_says_what_to_do_next():
    missing = [
        text
        for text, files in resident_messages().items()
        if files <= RESIDENT_ERRORS and not NEXT_STEP.search(text)
    ]
    assert not missing, "\n".join(missing)


def test_the_consent_says_whom_to_ask_and_that_no_is_fine():
    from kiosk.ui.consent import CONSENT_ITEMS

    texts = [text for _icon, text in CONSENT_ITEMS if text]
    icons = [icon for icon, _text in CONSENT_ITEMS]
    assert len(set(icons)) == len(icons)  # one pictogram a line
    assert any("demandez à l'accueil" in text for text in texts)
    assert any("vous pouvez quand même venir" in text for text in texts)
    # the question above the buttons says it too, where no scrolling hides it
    assert "Êtes-vous d'accord ? Vous pouvez dire non." in resident_messages()
