"""Each funder's figures in its own shape: SENACS, the FSE+ participant
table, the conseillers numériques' activity report (CRA) and the CAF.

One list of rows a funder, (section, indicator, value), built from the
period's Overview (federation.reports) alone: the dashboard's page, the CSV
and the PDF all print these rows, so they cannot disagree. What each figure
counts, from which events, and what is left out: docs/funder-figures.md.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from federation import ages, taxonomies
from federation.formatting import gender_label, idea_theme_label, volunteering_label
from federation.reports import Overview, WorkshopFigures, workshop_totals
from sync.protocol import ADMIN_DOMAINS, CRA_THEMES, EDUCATION_LEVELS, EMPLOYMENT_SITUATIONS, GENDERS

#: the funders, as `federation export --what` and the dashboard name them
FUNDERS = {
    "senacs": "SENACS — observatoire des centres sociaux",
    "fse": "FSE+ — tableau des participants",
    "cra": "Conseillers numériques — compte rendu d'activité (CRA)",
    "caf": "CAF — familles et parentalité",
}

#: a figure: a count, or a percentage with one decimal; None when unknown (as federation.exports)
Value = tuple[float | int | None, int]
Row = tuple[str, str, Value]


def _count(n: int) -> Value:
    return n, 0


def _share(ratio: float | None) -> Value:
    return (None if ratio is None else ratio * 100), 1


class UnknownFunder(ValueError):
    """A funder this hub has no export for."""


def rows(view: Overview, what: str) -> list[Row]:
    """The rows of ``what``'s export, in the order of its form."""
    build = _BUILDERS.get(what)
    if build is None:
        raise UnknownFunder(f"unknown funder {what!r}: one of {', '.join(FUNDERS)}")
    return build(view)


def _bands(view: Overview, scheme: str, section: str) -> list[Row]:
    return [(section, ages.label(band), _count(n)) for band, n in view.participants.funder_bands(scheme)]


def _sex_by_band(view: Overview, scheme: str, section: str) -> list[Row]:
    """Women and men in every band (the forms' grid, zeros included); the
    other answers where someone gave them."""
    crossed = view.participants.funder_bands_by_gender(scheme)
    result = []
    for gender in [*GENDERS, None]:
        cells = [(band, crossed.get((gender, band), 0)) for band in ages.codes(scheme)]
        if gender in ("woman", "man") or any(n for _band, n in cells):
            result += [
                (section, f"{gender_label(gender)}, {ages.label(band)}", _count(n)) for band, n in cells
            ]
    return result


def _workshops(section: str, prefix: str, figures: WorkshopFigures) -> list[Row]:
    return [
        (section, f"{prefix}Séances tenues", _count(figures.sessions)),
        (section, f"{prefix}Présents", _count(figures.present)),
        (section, f"{prefix}Inscriptions", _count(figures.booked)),
    ]


def _families(view: Overview, section: str) -> list[Row]:
    families = view.families
    return [
        (section, "Familles touchées (foyers dont un membre est venu)", _count(families.reached)),
        (section, "Personnes dans ces familles", _count(families.people)),
        (section, "Adhérents venus membres d'une famille", _count(families.came_in_families)),
        (section, "Adhérents venus sans foyer renseigné", _count(families.without_household)),
    ]


def _senacs(view: Overview) -> list[Row]:
    people = view.participants
    result = [("Personnes touchées", "Personnes touchées (adhérents distincts venus)", _count(people.total))]
    result += _bands(view, "senacs", "Personnes touchées par tranche d'âge")
    result += [("Personnes touchées par sexe", gender_label(g), _count(n)) for g, n in people.by_gender()]
    result += _sex_by_band(view, "senacs", "Personnes touchées par sexe et tranche d'âge")
    result.append(("Adhérents", "Nouveaux adhérents", _count(view.new_members)))
    result += _families(view, "Familles")
    result += _workshops("Ateliers", "", view.workshop_total)
    for domain, held, figures in workshops_by_senacs_domain(view):
        label = taxonomies.SENACS_DOMAIN_LABELS[domain]
        result.append(("Ateliers par domaine SENACS", f"{label} : Ateliers tenus", _count(held)))
        result += _workshops("Ateliers par domaine SENACS", f"{label} : ", figures)
    result += volunteer_rows(view)
    result += initiative_rows(view)
    result += outreach_rows(view)
    return result


def workshops_by_senacs_domain(view: Overview) -> list[tuple[str, int, WorkshopFigures]]:
    """The period's workshops by SENACS field of action, every field in the
    form's order, zeros included: (field, workshops with a session held,
    their figures added up)."""
    result = []
    for domain in taxonomies.SENACS_DOMAIN_LABELS:
        rows = [row for row in view.workshops if taxonomies.senacs_domain(row.theme) == domain]
        result.append((domain, sum(1 for row in rows if row.sessions), workshop_totals(rows)))
    return result


def initiative_rows(view: Overview) -> list[Row]:
    """SENACS's residents' initiatives, from the kiosk's idea box: ideas
    received (by theme), answered, realised by the centre, and become an
    initiative of residents the centre supports, each counted in the period
    it happened in. Counts only: the hub never holds an idea's words."""
    voice = view.voice
    section = "Initiatives d'habitants"
    result = [
        (section, "Initiatives d'habitants soutenues", _count(voice.initiatives)),
        (section, "Idées reçues (boîte à idées)", _count(voice.received)),
        (section, "Idées ayant reçu une réponse", _count(voice.answered)),
        (section, "Idées réalisées par le centre", _count(voice.done)),
    ]
    result += [
        ("Idées reçues par sujet", idea_theme_label(theme), _count(n)) for theme, n in voice.ideas_by_theme()
    ]
    return result


def place_label(commune: str | None, neighbourhood: str | None) -> str:
    """An itinerant event's place as the exports name it."""
    if neighbourhood:
        return f"{neighbourhood} ({commune})" if commune else neighbourhood
    return commune or "Lieu hors de la liste du centre"


def outreach_rows(view: Overview) -> list[Row]:
    """SENACS's local events (« événements hors les murs »), from the
    kiosk's itinerant mode: events held in the period, those in a priority
    neighbourhood and those with a partner, the visits recorded there and
    the members registered there; then each place's events and visits."""
    outreach = view.outreach
    section = "Événements hors les murs"
    result = [
        (section, "Événements hors les murs tenus", _count(outreach.held)),
        (section, "dont en quartier prioritaire (QPV)", _count(outreach.in_qpv)),
        (section, "dont avec un partenaire", _count(outreach.with_partner)),
        (section, "Passages lors de ces événements", _count(outreach.visits)),
        (section, "Nouveaux adhérents rencontrés lors de ces événements", _count(outreach.new_members)),
    ]
    for commune, neighbourhood, held, visits, _members in outreach.by_place():
        place = place_label(commune, neighbourhood)
        result.append(("Événements hors les murs par lieu", f"{place} : Événements", _count(held)))
        result.append(("Événements hors les murs par lieu", f"{place} : Passages", _count(visits)))
    return result


def _decimal(value: float, digits: int) -> Value:
    """A figure rounded half up once, here, so the page, the CSV and the PDF,
    which format it each their way, print the same digits."""
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)), digits


def volunteer_rows(view: Overview) -> list[Row]:
    """SENACS's volunteers: how many, how many hours, by kind, and in
    full-time equivalents of 1,607 h a year prorated to the period."""
    time = view.volunteering
    section = "Bénévoles"
    result = [(section, "Bénévoles actifs (distincts)", _count(time.volunteers))]
    result += [
        (section, f"Bénévoles actifs : {volunteering_label(kind)}", _count(people))
        for kind, people, _hours, _fte in time.by_kind
    ]
    result.append((section, "Heures de bénévolat", _decimal(time.hours, 1)))
    result += [
        (section, f"Heures : {volunteering_label(kind)}", _decimal(hours, 1))
        for kind, _people, hours, _fte in time.by_kind
    ]
    result.append((section, "Équivalents temps plein (1 607 h par an)", _decimal(time.fte(), 2)))
    return result


def _fse(view: Overview) -> list[Row]:
    people = view.participants
    result = [("Participants", "Participants (adhérents distincts venus)", _count(people.total))]
    result += _bands(view, "fse", "Participants par tranche d'âge")
    result += _sex_by_band(view, "fse", "Participants par sexe et tranche d'âge")
    result += [
        ("Quartiers prioritaires (QPV)", "Participants habitant un QPV", _count(people.qpv)),
        ("Quartiers prioritaires (QPV)", "Participants dont le quartier est connu", _count(people.qpv_known)),
        ("Quartiers prioritaires (QPV)", "Part des habitants des QPV (%)", _share(people.qpv_share)),
    ]
    result += situation_rows(view)
    return result


#: the FSE+ situation's answers (sync.protocol), in the words of the
#: common output indicators; None: « non renseigné »
SITUATION_LABELS = {
    "employment": {
        "employed": "En emploi (salarié ou indépendant)",
        "unemployed": "Demandeur d'emploi",
        "inactive": "Inactif (ni en emploi, ni en recherche, ni en formation)",
        "in_education": "En formation ou à l'école (inactif au sens du FSE+)",
        "unsaid": "Ne souhaite pas répondre",
        None: "Non renseigné",
    },
    "education": {
        "isced_0_2": "CITE 0 à 2 : jusqu'au collège",
        "isced_3_4": "CITE 3 et 4 : lycée, CAP, bac",
        "isced_5_8": "CITE 5 à 8 : études supérieures",
        "unsaid": "Ne souhaite pas répondre",
        None: "Non renseigné",
    },
}
_SITUATION_SECTIONS = (
    ("employment", EMPLOYMENT_SITUATIONS, "Participants par situation sur le marché du travail"),
    ("education", EDUCATION_LEVELS, "Participants par niveau d'études le plus élevé"),
)


def situation_rows(view: Overview) -> list[Row]:
    """The FSE+ participant table's optional situation fields: each answer
    and « non renseigné », in all then by sex (women and men always, the
    other answers where someone gave them); each adds up to the participants."""
    result: list[Row] = []
    for question, codes, section in _SITUATION_SECTIONS:
        labels = SITUATION_LABELS[question]
        crossed = view.situations.crossed(question, view.participants)
        answers = [*codes, None]
        result += [
            (section, labels[code], _count(sum(n for (_g, a), n in crossed.items() if a == code)))
            for code in answers
        ]
        for gender in [*GENDERS, None]:
            cells = [(code, crossed.get((gender, code), 0)) for code in answers]
            if gender in ("woman", "man") or any(n for _code, n in cells):
                result += [
                    (f"{section} et sexe", f"{gender_label(gender)}, {labels[code]}", _count(n))
                    for code, n in cells
                ]
    return result


def _cra(view: Overview) -> list[Row]:
    themes, domains = dict(view.by_cra_theme), dict(view.by_domain)
    result = [
        (
            "Accompagnements",
            "Accompagnements (passages d'un motif rattaché à un thème du CRA)",
            _count(view.accompaniments),
        ),
        ("Accompagnements", "Passages sans thème du CRA", _count(themes[taxonomies.NONE])),
    ]
    result += [
        ("Accompagnements par thème", taxonomies.cra_label(code), _count(themes[code])) for code in CRA_THEMES
    ]
    result += [
        ("Passages par domaine administratif", taxonomies.domain_label(code), _count(domains[code]))
        for code in (*ADMIN_DOMAINS, taxonomies.NONE)
    ]
    result += _bands(view, "cra", "Personnes venues par tranche d'âge")
    return result


def _caf(view: Overview) -> list[Row]:
    parenting = workshop_totals([row for row in view.workshops if row.theme == "parentalite"])
    result = [
        (
            "Personnes touchées",
            "Personnes touchées (adhérents distincts venus)",
            _count(view.participants.total),
        )
    ]
    result += _bands(view, "fse", "Personnes touchées par tranche d'âge")
    families = view.families
    result += _families(view, "Familles")
    result += [
        ("Familles", "Familles avec au moins un enfant de moins de 18 ans", _count(families.with_children)),
        ("Familles", "Enfants de moins de 18 ans dans ces familles", _count(families.children)),
        ("Familles", "Personnes par famille (moyenne)", _decimal(families.people_per_family or 0, 1)),
    ]
    result += _workshops("Parentalité", "Ateliers parentalité : ", parenting)
    result.append(("Parentalité", "Familles venues aux ateliers parentalité", _count(families.parenting)))
    return result


_BUILDERS = {"senacs": _senacs, "fse": _fse, "cra": _cra, "caf": _caf}
