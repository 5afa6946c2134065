"""The FSE+ situation a member may give: their situation on the labour
market and their highest level of education, the optional fields of the
FSE+ participant table.

Asked only when the centre turned ``collect_situation`` on (a centre
running an FSE+-funded action), and then only after the member said yes
to an explicit question (``consent``). Never required: each question has
« ne souhaite pas répondre », and an unanswered one stays empty. Changed or
erased later from the member card; erased with the member. Only the codes
of sync.protocol leave the kiosk, on the member's events, and only while
the consent holds (members.reported_attributes). No sensitive category
(disability, origin, health, religion…) is a choice here, ever: the
reasoning is in docs/ages-and-privacy.md.
"""

from __future__ import annotations

from typing import Any

from kiosk.core.errors import N_, InvalidInput
from kiosk.core.settings import Settings
from sync import protocol

SETTING = "collect_situation"

#: the answers, in the kiosk's plain words and pictograms, in the order of
#: the screen: (code, words as a gettext msgid, pictogram)
EMPLOYMENT: list[tuple[str, str, str]] = [
    ("employed", N_("J'ai un travail"), "work"),
    ("unemployed", N_("Je cherche un travail"), "person_search"),
    ("in_education", N_("Je suis à l'école ou en formation"), "school"),
    ("inactive", N_("Je ne travaille pas et je ne cherche pas"), "weekend"),
    ("unsaid", N_("Je préfère ne pas répondre"), "block"),
]
EDUCATION: list[tuple[str, str, str]] = [
    ("isced_0_2", N_("Jusqu'au collège"), "backpack"),
    ("isced_3_4", N_("Lycée, CAP ou bac"), "menu_book"),
    ("isced_5_8", N_("Études après le bac"), "school"),
    ("unsaid", N_("Je préfère ne pas répondre"), "block"),
]
assert {code for code, _w, _i in EMPLOYMENT} == set(protocol.EMPLOYMENT_SITUATIONS)
assert {code for code, _w, _i in EDUCATION} == set(protocol.EDUCATION_LEVELS)

#: the consent question, in plain French: what is asked, why, that it is
#: optional, and that only counts leave the centre
CONSENT_QUESTION = N_(
    "Le centre a une aide du FSE+ (Fonds social européen). "
    "Le FSE+ demande au centre combien de personnes ont un travail, "
    "et jusqu'où elles ont fait des études. "
    "Voulez-vous répondre à 2 questions ? Ce n'est pas obligatoire. "
    "Seuls des nombres sortent du centre, jamais votre nom."
)


def asked(settings: Settings) -> bool:
    """Whether this centre asks the situation at all."""
    return bool(settings.get(SETTING))


def clean(fields: dict[str, Any], now_iso: str) -> dict[str, Any]:
    """The members columns for the situation fields given (``situation_consent``
    True or False, ``employment``, ``education``): a consent given dates
    itself; a consent withdrawn erases the answers with it."""
    result: dict[str, Any] = {}
    if "situation_consent" in fields:
        consent = fields["situation_consent"]
        if not isinstance(consent, bool):
            raise InvalidInput(
                "situation_consent",
                N_("Répondez par oui ou par non."),
                "must be true or false",
                value=consent,
            )
        if consent:
            result["situation_consent_at"] = now_iso
        else:
            result.update(situation_consent_at=None, employment=None, education=None)
    for name, allowed in (
        ("employment", protocol.EMPLOYMENT_SITUATIONS),
        ("education", protocol.EDUCATION_LEVELS),
    ):
        if name in fields and fields.get("situation_consent") is not False:
            value = fields[name]
            if value is not None and value not in allowed:
                raise InvalidInput(
                    name, N_("Choisissez une valeur dans la liste."), f"must be one of {allowed}", value=value
                )
            result[name] = value
    return result


def check(before: dict[str, Any], after: dict[str, Any], changes: dict[str, Any], settings: Settings) -> None:
    """Refuse answers without a consent, and a new consent or answer where
    the centre does not ask (withdrawing and erasing are always allowed)."""
    giving = changes.get("situation_consent_at") or any(
        changes.get(name) is not None for name in ("employment", "education")
    )
    if giving and not asked(settings):
        raise InvalidInput(
            "situation_consent",
            N_("Le centre ne pose pas ces questions. Un salarié peut changer ce réglage."),
            "the centre does not collect the FSE+ situation (setting collect_situation)",
            value=True,
        )
    if after.get("situation_consent_at") is None and any(
        after.get(name) is not None for name in ("employment", "education")
    ):
        raise InvalidInput(
            "situation_consent",
            N_("Pour répondre, il faut d'abord dire oui à la question."),
            "the FSE+ situation is kept only with the member's consent",
            value=None,
        )
    if before.get("situation_consent_at") and changes.get("situation_consent_at"):
        # consenting again keeps the date it was first given
        changes["situation_consent_at"] = before["situation_consent_at"]
        after["situation_consent_at"] = before["situation_consent_at"]


def reported(member: dict[str, Any]) -> dict[str, Any]:
    """The payload's situation keys: the answers while the member consents,
    nothing at all otherwise (the hub then says « non renseigné »)."""
    if not member.get("situation_consent_at"):
        return {}
    return {"employment": member.get("employment"), "education": member.get("education")}
