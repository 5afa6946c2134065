"""Each funder's age bands, from what the hub knows of a member's birth.

The hub keeps, for each member, the years in which that member may have been
born: ``born_from`` to ``born_to`` (federation.store's p_members). A member
whose kiosk sent ``year_born`` (protocol 1.1) has one year; a member known
only by an older event's band (protocol 1.0: « 25-54 » counted in the year
of that event) has the span of years that band allows; a member known by
neither, or erased, has none.

Ages are counted by year, as funders count them (« âge atteint dans
l'année »): the reference year minus the year of birth. Each funder's band
of a member is the band that holds every age the span allows in the
reference year; when the span straddles two bands, or is unknown, the member
counts as « non renseigné » for that funder. So a member's old band answers
wherever it can (65+ is 60+ for SENACS and 55+ for the FSE+) and nowhere it
cannot (25-54 says nothing of SENACS's 26-59). See docs/ages-and-privacy.md.
"""

from __future__ import annotations

from sync.protocol import EARLIEST_YEAR

#: the band counted when the hub cannot tell
UNKNOWN = "unknown"
#: a child, for the families' figures (federation.reports.Families): the
#: FSE+'s band of those under 18 in the reference year
CHILD = "0-17"

#: funder -> bands (code, youngest age, oldest age or None), in the order their forms list them
SCHEMES: dict[str, tuple[tuple[str, int, int | None], ...]] = {
    # SENACS, the centres sociaux' observatory
    "senacs": (("0-10", 0, 10), ("11-25", 11, 25), ("26-59", 26, 59), ("60+", 60, None)),
    # the FSE+ participant table: under 18, 18-29, 55 and over (30-54 in between so the bands add up)
    "fse": (("0-17", 0, 17), ("18-29", 18, 29), ("30-54", 30, 54), ("55+", 55, None)),
    # the conseillers numériques' reports (CRA)
    "cra": (("0-11", 0, 11), ("12-17", 12, 17), ("18-34", 18, 34), ("35-59", 35, 59), ("60+", 60, None)),
}

LABELS = {
    "0-10": "0 à 10 ans",
    "11-25": "11 à 25 ans",
    "26-59": "26 à 59 ans",
    "60+": "60 ans et plus",
    "0-17": "Moins de 18 ans",
    "18-29": "18 à 29 ans",
    "30-54": "30 à 54 ans",
    "55+": "55 ans et plus",
    "0-11": "Moins de 12 ans",
    "12-17": "12 à 17 ans",
    "18-34": "18 à 34 ans",
    "35-59": "35 à 59 ans",
    UNKNOWN: "Non renseigné",
}

#: protocol 1.0's bands as ages reached in the year of the event (sync.protocol.age_band)
_SENT_BANDS: dict[str, tuple[int, int | None]] = {
    "0-15": (0, 15),
    "16-24": (16, 24),
    "25-54": (25, 54),
    "55-64": (55, 64),
    "65+": (65, None),
}


def born_span(age_band: str | None, year_born: int | None, year: int) -> tuple[int | None, int | None]:
    """(born_from, born_to) of a member event: its ``year_born`` when it has
    one, else the years its ``age_band`` allows for an event of ``year``
    (the year the kiosk counted the band in), else (None, None)."""
    if year_born is not None:
        return year_born, year_born
    ages = _SENT_BANDS.get(age_band or "")
    if ages is None:
        return None, None
    youngest, oldest = ages
    return (EARLIEST_YEAR if oldest is None else year - oldest), year - youngest


def band(scheme: str, born_from: int | None, born_to: int | None, year: int) -> str:
    """The ``scheme`` band of someone born between ``born_from`` and
    ``born_to`` in the reference ``year``, or UNKNOWN when that span does not
    fit in one band (or is unknown, or lies after the year)."""
    if born_from is None or born_to is None or born_from > year:
        return UNKNOWN
    youngest, oldest = max(0, year - born_to), year - born_from
    for code, low, high in SCHEMES[scheme]:
        if low <= youngest and (high is None or oldest <= high):
            return code
    return UNKNOWN


def codes(scheme: str) -> list[str]:
    """A scheme's band codes in the order of its form, « non renseigné » last."""
    return [code for code, _low, _high in SCHEMES[scheme]] + [UNKNOWN]


def label(code: str) -> str:
    return LABELS.get(code, code)
