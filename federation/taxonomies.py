"""The national categories the hub's exports give a visit: the themes of
the conseillers numériques' activity reports (CRA v2, La Coop de la
médiation numérique) and the ten administrative domains of Aidants Connect
and France Services. The codes are sync.protocol's (a 1.1 visit carries
them, as its centre's settings map its reason); the labels are the
taxonomies' own words. See docs/funder-figures.md.
"""

from __future__ import annotations

from sync.categories import CRA_THEME_LABELS, DOMAIN_LABELS
from sync.protocol import THEMES

#: what a visit counts as when it has no category (none mapped, or a 1.0 visit of a reason with none)
NONE = ""


#: A visit from a 1.0 kiosk carries no category: the categories of the
#: default reason its code names (kiosk.core.settings.DEFAULT_REASONS), as
#: (CRA theme, domain); any other code has none.
DEFAULT_REASON_CATEGORIES: dict[str, tuple[str, str]] = {
    "demarches": ("demarches_administratives", NONE),
    "permanence": (NONE, "social_sante"),
}


#: The fields of action SENACS's questionnaire counts a centre's activities
#: in, and the one each workshop theme (sync.protocol.THEMES) falls in: a
#: workshop's theme is chosen on the kiosk, its SENACS field follows.
SENACS_DOMAIN_LABELS = {
    "lien_social": "Accueil, lien social",
    "education": "Éducation, accompagnement à la scolarité",
    "familles": "Familles, parentalité",
    "acces_droits": "Accès aux droits",
    "numerique": "Numérique, inclusion numérique",
    "participation": "Participation des habitants, citoyenneté",
    "autres": "Autres actions",
}
SENACS_DOMAIN_OF_THEME = {
    "accueil": "lien_social",
    "education": "education",
    "parentalite": "familles",
    "e_administration": "acces_droits",
    "numerique": "numerique",
    "pouvoir_d_agir": "participation",
    "autre": "autres",
}

assert set(SENACS_DOMAIN_OF_THEME) == set(THEMES) and set(SENACS_DOMAIN_OF_THEME.values()) <= set(
    SENACS_DOMAIN_LABELS
)


def senacs_domain(theme: str) -> str:
    """The SENACS field of a workshop theme (« autres » for a theme it does not know)."""
    return SENACS_DOMAIN_OF_THEME.get(theme, "autres")


def categories(data: dict) -> tuple[str, str]:
    """(CRA theme, domain) of a visit's data, NONE for none: those it
    carries (1.1), else its default reason's (1.0)."""
    if "cra_theme" in data or "domain" in data:
        return data.get("cra_theme") or NONE, data.get("domain") or NONE
    return DEFAULT_REASON_CATEGORIES.get(data["reason"], (NONE, NONE))


def cra_label(code: str) -> str:
    return CRA_THEME_LABELS.get(code, "Sans thème du CRA") if code else "Sans thème du CRA"


def domain_label(code: str) -> str:
    return DOMAIN_LABELS.get(code, "Sans domaine administratif") if code else "Sans domaine administratif"
