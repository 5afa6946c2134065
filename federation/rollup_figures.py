"""What a hub sends its parent hub: aggregate figures, by centre, period and
dimension, and never a member or a member's id.

A *figure set* is the figures of one centre, one period and one dimension:
``{key: count}``, the keys an allow-list of short codes. Two grains:

* ``day`` dimensions are **additive**: their counts, summed over the days of
  any period, are the period's counts (visits by reason and by national
  category, new members, workshops' sessions, bookings and attendance by the
  day the session starts). Sent per day ('YYYY-MM-DD').
* ``period`` dimensions count **distinct** people, which do not add up over
  days (a participant who came in March and in April is one participant of
  the year): sent per month ('YYYY-MM') and per year ('YYYY'), computed by
  the same functions as the hub's own dashboard (federation.reports). Over
  centres they do add up: a member belongs to one centre, and the dashboard
  counts a period's participants centre by centre.

``DIMENSIONS`` is the registry: a new projection's figures are one more
``Dimension`` with its compute function and its allowed keys. The parent
refuses nothing it knows and stores nothing it does not (an unknown
dimension is dropped and said so). docs/rollup-protocol.md lists them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import ages, reports
from federation.projections import paris_day
from federation.store import (
    p_attendance,
    p_feedback,
    p_ideas,
    p_members,
    p_outreach,
    p_outreach_members,
    p_outreach_visits,
    p_registrations,
    p_sessions,
    p_visit_categories,
    p_visit_counts,
    p_volunteering,
    p_workshops,
)
from sync.protocol import (
    ADMIN_DOMAINS,
    AGE_BANDS,
    CRA_THEMES,
    FEEDBACK_FACES,
    GENDERS,
    IDEA_THEMES,
    REASON_CODE_RE,
    THEMES,
    VOLUNTEERING_KINDS,
)

#: a figure's key: short codes joined by ':' (a part may be empty)
KEY_RE = re.compile(r"[a-z0-9_+\-.]{0,64}(:[a-z0-9_+\-.]{0,64}){0,3}")
MAX_KEY_LENGTH = 100
#: the most keys one set may hold, and the largest count
MAX_KEYS = 400
MAX_COUNT = 10**12
DAY, MONTH, YEAR = "day", "month", "year"
_PERIOD_RE = {
    DAY: re.compile(r"\d{4}-\d{2}-\d{2}"),
    MONTH: re.compile(r"\d{4}-\d{2}"),
    YEAR: re.compile(r"\d{4}"),
}

DayFigures = dict[str, dict[str, int]]  # day -> {key: count}


class PeriodContext:
    """One centre's period, for the distinct dimensions: the connection, the
    period, and what several dimensions read, read once."""

    def __init__(self, conn: Connection, period: reports.Period):
        self.conn, self.period = conn, period
        self._participants: reports.Participants | None = None

    @property
    def participants(self) -> reports.Participants:
        if self._participants is None:
            self._participants = reports.participants(self.conn, self.period)
        return self._participants


@dataclass(frozen=True)
class Dimension:
    """One kind of figures: ``additive`` ones are sent by day (``by_day``
    computes a centre's days from first to last), the others by month and
    year (``by_period`` computes a centre's figures for one period).
    ``label_fr`` names it on the parent's dashboard."""

    name: str
    additive: bool
    label_fr: str
    by_day: Callable[[Connection, str, date, date], DayFigures] | None = None
    by_period: Callable[[PeriodContext], dict[str, int]] | None = None
    #: the keys allowed, each a tuple of its ':'-separated parts' allowed values;
    #: None: a part any code (a visit reason)
    keys: tuple[frozenset[str] | None, ...] = ()

    def allows(self, key: str) -> bool:
        parts = key.split(":")
        if len(parts) != len(self.keys):
            return False
        return all(
            REASON_CODE_RE.fullmatch(part) if allowed is None else part in allowed
            for part, allowed in zip(parts, self.keys, strict=True)
        )

    def grains(self) -> tuple[str, ...]:
        return (DAY,) if self.additive else (MONTH, YEAR)


@dataclass(frozen=True)
class FigureSet:
    centre_id: str
    period: str
    dimension: str
    values: dict[str, int]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.centre_id, self.period, self.dimension)


def grain_of(period: str) -> str | None:
    """DAY, MONTH or YEAR for a well-formed period text, else None."""
    for grain, pattern in _PERIOD_RE.items():
        if pattern.fullmatch(period):
            try:
                if grain == DAY:
                    day = date.fromisoformat(period)
                else:
                    day = date(int(period[:4]), int(period[5:7]) if grain == MONTH else 1, 1)
            except ValueError:
                return None
            return grain if reports.FIRST_DAY <= day <= reports.LAST_DAY else None
    return None


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a 'YYYY-MM' or 'YYYY' period."""
    year = int(period[:4])
    if len(period) == 4:
        return date(year, 1, 1), date(year, 12, 31)
    month = int(period[5:7])
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, 1), following - timedelta(days=1)


# ---------------------------------------------------------------- additive, by day


def _visits_by_reason(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    c = p_visit_counts.c
    query = (
        sa.select(c.day, c.reason, sa.func.sum(c.visits))
        .where(c.centre_id == centre_id, c.day.between(first.isoformat(), last.isoformat()))
        .group_by(c.day, c.reason)
    )
    figures: DayFigures = defaultdict(dict)
    for day, reason, n in conn.execute(query):
        figures[day][reason] = int(n)
    return figures


def _visits_by_category(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    c = p_visit_categories.c
    query = (
        sa.select(c.day, c.cra_theme, c.domain, sa.func.sum(c.visits))
        .where(c.centre_id == centre_id, c.day.between(first.isoformat(), last.isoformat()))
        .group_by(c.day, c.cra_theme, c.domain)
    )
    figures: DayFigures = defaultdict(dict)
    for day, cra, domain, n in conn.execute(query):
        figures[day][f"{cra}:{domain}"] = int(n)
    return figures


def _new_members(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    m = p_members.c
    query = (
        sa.select(m.created_day, sa.func.count())
        .where(m.centre_id == centre_id, m.created_day.between(first.isoformat(), last.isoformat()))
        .group_by(m.created_day)
    )
    return {day: {"total": int(n)} for day, n in conn.execute(query)}


#: what workshops_by_day counts for each theme, as reports.WorkshopFigures does
WORKSHOP_FIGURES = reports.WORKSHOP_COUNTS


def _workshops(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    """By the Paris day a session starts, sessions held (not cancelled) and
    their bookings, waiting list and attendance, by workshop theme: the
    definitions of reports.workshop_figures."""
    low, high = reports.Period(first, last).utc_bounds()
    s, w, r, a = p_sessions.c, p_workshops.c, p_registrations.c, p_attendance.c
    held = (
        sa.select(s.session_id, s.starts_at, w.theme)
        .select_from(
            p_sessions.outerjoin(
                p_workshops, sa.and_(w.centre_id == s.centre_id, w.workshop_id == s.workshop_id)
            )
        )
        .where(s.centre_id == centre_id, s.cancelled == sa.false(), s.starts_at >= low, s.starts_at < high)
    )
    sessions = {
        session_id: (paris_day(starts_at), theme or "autre")
        for session_id, starts_at, theme in conn.execute(held)
    }
    counts: Counter[tuple[str, str, str]] = Counter()
    for day, theme in sessions.values():
        counts[(day, theme, "sessions")] += 1
    in_held = held.with_only_columns(s.session_id).scalar_subquery()
    bookings = (
        sa.select(r.session_id, r.status, sa.func.count())
        .where(r.centre_id == centre_id, r.session_id.in_(in_held), r.status.in_(("booked", "waitlisted")))
        .group_by(r.session_id, r.status)
    )
    for session_id, status, n in conn.execute(bookings):
        day, theme = sessions[session_id]
        counts[(day, theme, status)] += int(n)
    present = (
        sa.select(a.session_id, a.walk_in, sa.func.count())
        .where(a.centre_id == centre_id, a.session_id.in_(in_held), a.present == sa.true())
        .group_by(a.session_id, a.walk_in)
    )
    for session_id, walk_in, n in conn.execute(present):
        day, theme = sessions[session_id]
        counts[(day, theme, "present")] += int(n)
        if walk_in:
            counts[(day, theme, "walk_ins")] += int(n)
    figures: DayFigures = defaultdict(dict)
    for (day, theme, what), n in counts.items():
        figures[day][f"{theme}:{what}"] = n
    return figures


def _volunteering_minutes(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    """Volunteers' minutes by kind on the day each stretch lies in (a removed
    stretch counts for nothing), and 'unchecked': those of stretches the
    kiosk closed itself, as reports.volunteer_figures."""
    c = p_volunteering.c
    unchecked = sa.func.sum(sa.case((c.auto_closed, c.minutes), else_=0))
    query = (
        sa.select(c.day, c.kind, sa.func.sum(c.minutes), unchecked)
        .where(
            c.centre_id == centre_id, c.day.between(first.isoformat(), last.isoformat()), sa.not_(c.removed)
        )
        .group_by(c.day, c.kind)
    )
    figures: DayFigures = defaultdict(dict)
    for day, kind, minutes, auto in conn.execute(query):
        if minutes:
            figures[day][kind] = int(minutes)
            figures[day]["unchecked"] = figures[day].get("unchecked", 0) + int(auto or 0)
    return figures


def _ideas(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    """Ideas by step ('received', 'answered', 'done', 'initiative') and theme,
    on the day of that step, as reports.voice_figures."""
    i = p_ideas.c
    figures: DayFigures = defaultdict(dict)
    for step, column in zip(
        reports.IDEA_STEPS, (i.received_day, i.answered_day, i.done_day, i.initiative_day), strict=True
    ):
        query = (
            sa.select(column, i.theme, sa.func.count())
            .where(i.centre_id == centre_id, column.between(first.isoformat(), last.isoformat()))
            .group_by(column, i.theme)
        )
        for day, theme, n in conn.execute(query):
            figures[day][f"{step}:{theme}"] = int(n)
    return figures


def _faces(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    """Faces given after a workshop by the workshop's theme ('autre' while
    unknown) and face, on the day given, as reports.voice_figures."""
    f, s, w = p_feedback.c, p_sessions.c, p_workshops.c
    theme = sa.func.coalesce(w.theme, "autre")
    query = (
        sa.select(f.day, theme, f.face, sa.func.count())
        .select_from(
            p_feedback.outerjoin(
                p_sessions, sa.and_(s.centre_id == f.centre_id, s.session_id == f.session_id)
            ).outerjoin(p_workshops, sa.and_(w.centre_id == s.centre_id, w.workshop_id == s.workshop_id))
        )
        .where(f.centre_id == centre_id, f.day.between(first.isoformat(), last.isoformat()))
        .group_by(f.day, theme, f.face)
    )
    figures: DayFigures = defaultdict(dict)
    for day, workshop_theme, face, n in conn.execute(query):
        figures[day][f"{workshop_theme}:{face}"] = int(n)
    return figures


#: what the outreach dimension counts a day, as reports.outreach_figures (never the place)
OUTREACH_FIGURES = ("held", "in_qpv", "with_partner", "visits", "new_members")


def _outreach(conn: Connection, centre_id: str, first: date, last: date) -> DayFigures:
    """Events held « hors les murs » (in a QPV, with a partner), the visits
    recorded and the members registered at one, by their day. The event's
    place (a commune, a neighbourhood) stays on the child."""
    o = p_outreach.c
    span = (first.isoformat(), last.isoformat())
    figures: DayFigures = defaultdict(dict)
    held = (
        sa.select(
            o.day,
            sa.func.count(),
            sa.func.sum(sa.case((o.qpv, 1), else_=0)),
            sa.func.sum(sa.case((o.partner_kind.is_not(None), 1), else_=0)),
        )
        .where(o.centre_id == centre_id, o.day.between(*span))
        .group_by(o.day)
    )
    for day, n, qpv, partner in conn.execute(held):
        counts = {"held": int(n), "in_qpv": int(qpv or 0), "with_partner": int(partner or 0)}
        figures[day].update({key: value for key, value in counts.items() if value})
    for name, table in (("visits", p_outreach_visits), ("new_members", p_outreach_members)):
        met = table.c
        query = (
            sa.select(met.day, sa.func.count())
            .where(met.centre_id == centre_id, met.day.between(*span))
            .group_by(met.day)
        )
        for day, n in conn.execute(query):
            figures[day][name] = int(n)
    return figures


# ---------------------------------------------------------------- distinct, by month and year


def _qpv_code(qpv: bool | None) -> str:
    return "unknown" if qpv is None else ("yes" if qpv else "no")


def _participants(context: PeriodContext) -> dict[str, int]:
    """Participants by (age band, gender, QPV): 'band:gender:qpv' ('' for an
    unknown gender). They add up to the period's participants."""
    people = context.participants
    return {
        f"{band}:{gender or ''}:{_qpv_code(qpv)}": n for (band, gender, qpv), n in people.profile.items() if n
    }


def _participants_scheme(scheme: str) -> Callable[[PeriodContext], dict[str, int]]:
    def compute(context: PeriodContext) -> dict[str, int]:
        people = context.participants
        return {
            f"{gender or ''}:{band}": n
            for (gender, band), n in people.funder_bands_by_gender(scheme).items()
            if n
        }

    return compute


def _volunteers(context: PeriodContext) -> dict[str, int]:
    """Active volunteers (distinct, with time in the period): 'total' and by kind."""
    figures = reports.volunteer_figures(context.conn, context.period)
    counts = {kind: figures.volunteers_in(kind) for kind in VOLUNTEERING_KINDS}
    return {key: n for key, n in ({"total": figures.volunteers} | counts).items() if n}


#: the counts of reports.Families sent, all of households or people reached
FAMILY_FIGURES = reports.FAMILY_COUNTS


def _families(context: PeriodContext) -> dict[str, int]:
    """Families (households) reached, as reports.families counts them."""
    figures = reports.families(context.conn, context.period)
    return {name: getattr(figures, name) for name in FAMILY_FIGURES if getattr(figures, name)}


def _one_of(*choices: Iterable[str]) -> frozenset[str]:
    return frozenset(code for group in choices for code in group)


_UNKNOWN = ("",)  # an empty part: not known
_WORKSHOP_THEMES = _one_of(THEMES, ("autre",))
_GENDER = _one_of(GENDERS, _UNKNOWN)

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("visits.reason", True, "Passages par motif", by_day=_visits_by_reason, keys=(None,)),
        Dimension(
            "visits.category",
            True,
            "Passages par catégorie nationale",
            by_day=_visits_by_category,
            keys=(_one_of(CRA_THEMES, _UNKNOWN), _one_of(ADMIN_DOMAINS, _UNKNOWN)),
        ),
        Dimension(
            "members.new", True, "Nouveaux adhérents", by_day=_new_members, keys=(_one_of(("total",)),)
        ),
        Dimension(
            "workshops.theme",
            True,
            "Ateliers par thème",
            by_day=_workshops,
            keys=(_WORKSHOP_THEMES, _one_of(WORKSHOP_FIGURES)),
        ),
        Dimension(
            "volunteering.minutes",
            True,
            "Temps des bénévoles (minutes)",
            by_day=_volunteering_minutes,
            keys=(_one_of(VOLUNTEERING_KINDS, ("unchecked",)),),
        ),
        Dimension(
            "voice.ideas",
            True,
            "Idées des habitants par étape et thème",
            by_day=_ideas,
            keys=(_one_of(reports.IDEA_STEPS), _one_of(IDEA_THEMES)),
        ),
        Dimension(
            "voice.faces",
            True,
            "Avis après les ateliers",
            by_day=_faces,
            keys=(_WORKSHOP_THEMES, _one_of(FEEDBACK_FACES)),
        ),
        Dimension(
            "outreach",
            True,
            "Événements hors les murs",
            by_day=_outreach,
            keys=(_one_of(OUTREACH_FIGURES),),
        ),
        Dimension(
            "participants.profile",
            False,
            "Participants par âge, sexe et QPV",
            by_period=_participants,
            keys=(_one_of(AGE_BANDS), _GENDER, _one_of(("yes", "no", "unknown"))),
        ),
        *(
            Dimension(
                f"participants.{scheme}",
                False,
                f"Participants par tranche d'âge ({scheme.upper()}) et sexe",
                by_period=_participants_scheme(scheme),
                keys=(_GENDER, _one_of(ages.codes(scheme))),
            )
            for scheme in ages.SCHEMES
        ),
        Dimension(
            "volunteering.people",
            False,
            "Bénévoles actifs",
            by_period=_volunteers,
            keys=(_one_of(("total",), VOLUNTEERING_KINDS),),
        ),
        Dimension(
            "families", False, "Familles touchées", by_period=_families, keys=(_one_of(FAMILY_FIGURES),)
        ),
    )
}


# ---------------------------------------------------------------- a centre's sets


def whole_months(first: date, last: date) -> tuple[date, date]:
    """The range widened to the first day of its first month and the last of its last."""
    return first.replace(day=1), period_bounds(last.isoformat()[:7])[1]


def months_between(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def centre_sets(conn: Connection, centre_id: str, first: date, last: date) -> Iterator[FigureSet]:
    """Every set of ``centre_id`` for the whole months from ``first`` to
    ``last`` and their years, empty ones included (an empty set replaces
    figures that are no longer true: a cancelled session, say)."""
    first, last = whole_months(first, last)
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    periods = months_between(first, last) + sorted({f"{y:04d}" for y in range(first.year, last.year + 1)})
    for dimension in DIMENSIONS.values():
        if dimension.by_day is not None:
            figures = dimension.by_day(conn, centre_id, first, last)
            for day in days:
                yield FigureSet(centre_id, day, dimension.name, dict(figures.get(day, {})))
    for period in periods:
        start, end = period_bounds(period)
        context = PeriodContext(conn, reports.Period(start, end, centre_id))
        for dimension in DIMENSIONS.values():
            if dimension.by_period is not None:
                yield FigureSet(centre_id, period, dimension.name, dimension.by_period(context))
