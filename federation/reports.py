"""The figures the dashboard shows and the exports carry, for a period.

Pure functions over SQLAlchemy Core queries on the reporting projections
(federation.store). No web, no formatting: the pages and the exports both call
these, so a figure on screen is the figure in the funder's file.

Conventions (see federation.store): ``day`` columns are Europe/Paris dates as
'YYYY-MM-DD' text; times are ISO UTC text; both compare as text.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import ages
from federation.store import (
    ATTR_COLUMNS,
    attrs_keys,
    centres,
    conflicts,
    device_versions,
    devices,
    p_attendance,
    p_feedback,
    p_ideas,
    p_members,
    p_outreach,
    p_outreach_members,
    p_outreach_visits,
    p_presence,
    p_registrations,
    p_sessions,
    p_visit_categories,
    p_visit_counts,
    p_volunteering,
    p_workshops,
    parse_attrs,
    r_category_months,
    r_member_months,
    r_participants,
    r_visit_days,
    r_visit_months,
    relay_cursors,
)
from sync.clock import PARIS
from sync.protocol import (
    ADMIN_DOMAINS,
    AGE_BANDS,
    CRA_THEMES,
    FEEDBACK_FACES,
    GENDERS,
    IDEA_THEMES,
    VOLUNTEERING_KINDS,
    utc_iso,
)

SILENT_AFTER = timedelta(days=7)
MAX_PERIOD_DAYS = 366 * 5
#: the days a period may cover: a date far from these is a typing slip, and
#: year 1 or 9999 would overflow the week and UTC arithmetic
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
DEFAULT_MONTHS = 3


class PeriodError(ValueError):
    """A bad period: ``field`` is the form field, ``message_fr`` is for the page."""

    def __init__(self, field: str, message: str, message_fr: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message_fr = message_fr


@dataclass(frozen=True)
class Period:
    """Whole Paris days from ``start`` to ``end`` inclusive, one centre or all (None)."""

    start: date
    end: date
    centre_id: str | None = None
    #: when ``centre_id`` is None, these centres alone (None: every centre):
    #: the centres whose kept figures must be computed again (period_figures)
    centres: tuple[str, ...] | None = None

    @property
    def first_day(self) -> str:
        return self.start.isoformat()

    @property
    def last_day(self) -> str:
        return self.end.isoformat()

    def utc_bounds(self) -> tuple[str, str]:
        """[from, to) as ISO UTC text: Paris midnight of start, and of the day after end."""
        low = datetime.combine(self.start, time(0), PARIS)
        high = datetime.combine(self.end + timedelta(days=1), time(0), PARIS)
        return utc_iso(low), utc_iso(high)

    def days(self) -> int:
        return (self.end - self.start).days + 1


def paris_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(PARIS).date()


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):  # clamp 31 March -> 28/29 February
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _parse_day(text: str, field: str, label_fr: str) -> date:
    text = text.strip()[:40]
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodError(
                field,
                f"{text!r} is outside {FIRST_DAY.year}-{LAST_DAY.year}",
                f"La {label_fr} « {text} » doit être entre le "
                f"{FIRST_DAY:%d/%m/%Y} et le {LAST_DAY:%d/%m/%Y}.",
            )
        return day
    raise PeriodError(
        field,
        f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)",
        f"La {label_fr} « {text} » n'est pas une date valide (jj/mm/aaaa).",
    )


def parse_period(
    start: str | None, end: str | None, centre_id: str | None = None, today: date | None = None
) -> Period:
    """A Period from form fields; empty fields mean the last three months."""
    today = today or paris_today()
    last = _parse_day(end, "to", "date de fin") if end and end.strip() else today
    first = (
        _parse_day(start, "from", "date de début")
        if start and start.strip()
        else months_before(last, DEFAULT_MONTHS) + timedelta(days=1)
    )
    if first > last:
        raise PeriodError(
            "from", f"start {first} is after end {last}", "La date de début est après la date de fin."
        )
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise PeriodError(
            "from", "the period is longer than five years", "La période ne peut pas dépasser cinq ans."
        )
    return Period(first, last, (centre_id or "").strip() or None)


# ---------------------------------------------------------------- visits


def _for_centre(query, column, period: Period):
    """``query`` kept to the period's centre or centres, by ``column``.
    A query joining two tables by centre is kept to them by both tables'
    columns: PostgreSQL carries an equality across a join, not a list."""
    where = _centre_clause(column, period)
    return query if where is None else query.where(where)


def _centre_clause(column, period: Period):
    """The condition on ``column`` that keeps the period's centre or centres (None: every centre)."""
    if period.centre_id:
        return column == period.centre_id
    if period.centres is not None:
        return column.in_(period.centres)
    return None


def whole_months(period: Period) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
    """The period as the whole calendar months inside it ('YYYY-MM' first
    and last, None: none) and the day ranges at its edges outside them
    ((first day, last day) pairs): a long period's additive figures are read
    by month from the rollups and by day only at its edges."""
    first = period.start if period.start.day == 1 else months_before(period.start.replace(day=1), -1)
    after = period.end + timedelta(days=1)
    last = period.end if after.day == 1 else period.end.replace(day=1) - timedelta(days=1)
    if first > last:
        return [(period.first_day, period.last_day)], None
    edges = []
    if period.start < first:
        edges.append((period.first_day, (first - timedelta(days=1)).isoformat()))
    if last < period.end:
        edges.append(((last + timedelta(days=1)).isoformat(), period.last_day))
    return edges, (first.isoformat()[:7], last.isoformat()[:7])


def rollup_period(period: Period) -> str | None:
    """'YYYY' for a calendar year, 'YYYY-MM' for a calendar month, None
    otherwise: the periods whose participants r_participants holds."""
    edges, months = whole_months(period)
    if edges or months is None:
        return None
    if months[0] == months[1]:
        return months[0]
    if months[0][5:] == "01" and months[1][5:] == "12" and months[0][:4] == months[1][:4]:
        return months[0][:4]
    return None


def _rolled_sums(conn: Connection, period: Period, month_table, day_table, by: tuple[str, ...]) -> Counter:
    """Visits by the ``by`` columns over the period: its whole months from
    ``month_table``, its edges' days from ``day_table``."""
    totals: Counter = Counter()
    edges, months = whole_months(period)
    parts = [(day_table, day_table.c.day, low, high) for low, high in edges]
    if months:
        parts.append((month_table, month_table.c.month, *months))
    for table, column, low, high in parts:
        keys = [table.c[name] for name in by]
        query = sa.select(*keys, sa.func.sum(table.c.visits)).where(column.between(low, high)).group_by(*keys)
        for *key, n in conn.execute(_for_centre(query, table.c.centre_id, period)):
            totals[tuple(key) if len(key) > 1 else key[0]] += int(n)
    return totals


def visits_by_day(conn: Connection, period: Period) -> dict[str, int]:
    """Visits a day in the period (r_visit_days: a row a centre and day)."""
    c = r_visit_days.c
    query = (
        sa.select(c.day, sa.func.sum(c.visits))
        .where(c.day.between(period.first_day, period.last_day))
        .group_by(c.day)
    )
    return {day: int(n) for day, n in conn.execute(_for_centre(query, c.centre_id, period))}


def weeks_of(period: Period, per_day: dict[str, int]) -> list[tuple[date, int]]:
    """(Monday of the week, visits) for every week the period touches, zeros included.
    The first and last weeks count only the period's days."""
    weeks: dict[date, int] = {}
    monday = period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        weeks[monday] = 0
        monday += timedelta(days=7)
    for day_text, total in per_day.items():
        day = date.fromisoformat(day_text)
        weeks[day - timedelta(days=day.weekday())] += total
    return sorted(weeks.items())


def visits_per_week(conn: Connection, period: Period) -> list[tuple[date, int]]:
    return weeks_of(period, visits_by_day(conn, period))


def visits_by_reason(conn: Connection, period: Period) -> list[tuple[str, int]]:
    totals = _rolled_sums(conn, period, r_visit_months, p_visit_counts, ("reason",))
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def visits_by_centre(conn: Connection, period: Period) -> dict[str, int]:
    return dict(_rolled_sums(conn, period, r_visit_months, r_visit_days, ("centre_id",)))


def visits_by_category(conn: Connection, period: Period) -> dict[tuple[str, str], int]:
    """(CRA theme, administrative domain) -> visits in the period, '' for
    none (federation.taxonomies): they add up to the period's visits."""
    return dict(_rolled_sums(conn, period, r_category_months, p_visit_categories, ("cra_theme", "domain")))


def category_totals(by_category: dict[tuple[str, str], int], index: int, codes) -> list[tuple[str, int]]:
    """Visits by one of the two categories (index 0: CRA theme, 1: domain),
    every code of the taxonomy in its order (zeros included), then '' (none)."""
    totals: Counter[str] = Counter()
    for key, n in by_category.items():
        totals[key[index]] += n
    return [(code, totals[code]) for code in codes] + [("", totals[""])]


# ---------------------------------------------------------------- workshops


@dataclass
class WorkshopFigures:
    centre_id: str
    workshop_id: str | None
    title: str
    theme: str
    sessions: int = 0
    booked: int = 0
    waitlisted: int = 0
    present: int = 0
    walk_ins: int = 0

    @property
    def attendance_rate(self) -> float | None:
        """Share of booked places that were attended by someone who had booked."""
        if not self.booked:
            return None
        return min(1.0, (self.present - self.walk_ins) / self.booked)


def _held_sessions(period: Period):
    """Sessions held in the period: not cancelled, starting within it."""
    low, high = period.utc_bounds()
    s = p_sessions.c
    query = sa.select(s.centre_id, s.session_id, s.workshop_id).where(
        s.cancelled == sa.false(), s.starts_at >= low, s.starts_at < high
    )
    return _for_centre(query, s.centre_id, period).subquery("held")


def _count_if(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def workshop_figures(conn: Connection, period: Period) -> list[WorkshopFigures]:
    """One row per workshop with sessions held in the period, busiest first."""
    held = _held_sessions(period)
    key = (held.c.centre_id, held.c.workshop_id)
    rows: dict[tuple, WorkshopFigures] = {}
    w = p_workshops.c
    sessions = (
        sa.select(*key, sa.func.count(), w.title, w.theme)
        .select_from(
            held.outerjoin(
                p_workshops, sa.and_(w.centre_id == held.c.centre_id, w.workshop_id == held.c.workshop_id)
            )
        )
        .group_by(*key, w.title, w.theme)
    )
    for centre_id, workshop_id, count, title, theme in conn.execute(sessions):
        rows[(centre_id, workshop_id)] = WorkshopFigures(
            centre_id, workshop_id, title or "(atelier inconnu)", theme or "autre", sessions=count
        )

    r = p_registrations.c
    registrations = (
        sa.select(*key, _count_if(r.status == "booked"), _count_if(r.status == "waitlisted"))
        .select_from(
            held.join(
                p_registrations, sa.and_(r.centre_id == held.c.centre_id, r.session_id == held.c.session_id)
            )
        )
        .group_by(*key)
    )
    for centre_id, workshop_id, booked, waitlisted in conn.execute(
        _for_centre(registrations, r.centre_id, period)
    ):
        rows[(centre_id, workshop_id)].booked = int(booked)
        rows[(centre_id, workshop_id)].waitlisted = int(waitlisted)

    a = p_attendance.c
    attendance = (
        sa.select(
            *key,
            _count_if(a.present == sa.true()),
            _count_if(sa.and_(a.present == sa.true(), a.walk_in == sa.true())),
        )
        .select_from(
            held.join(
                p_attendance, sa.and_(a.centre_id == held.c.centre_id, a.session_id == held.c.session_id)
            )
        )
        .group_by(*key)
    )
    for centre_id, workshop_id, present, walk_ins in conn.execute(
        _for_centre(attendance, a.centre_id, period)
    ):
        rows[(centre_id, workshop_id)].present = int(present)
        rows[(centre_id, workshop_id)].walk_ins = int(walk_ins)
    return sorted(rows.values(), key=_busiest_first)


def _busiest_first(row: WorkshopFigures) -> tuple:
    # then by centre and id: the same order whichever centres' figures were kept
    return (-row.sessions, -row.present, row.title, row.centre_id, row.workshop_id or "")


#: what WorkshopFigures counts (they add up over workshops)
WORKSHOP_COUNTS = ("sessions", "booked", "waitlisted", "present", "walk_ins")


def workshop_totals(rows: list[WorkshopFigures]) -> WorkshopFigures:
    total = WorkshopFigures("", None, "Total", "")
    for row in rows:
        for name in WORKSHOP_COUNTS:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return total


def workshops_by_theme(rows: list[WorkshopFigures]) -> list[WorkshopFigures]:
    themes: dict[str, list[WorkshopFigures]] = {}
    for row in rows:
        themes.setdefault(row.theme, []).append(row)
    result = []
    for theme, group in themes.items():
        total = workshop_totals(group)
        total.title, total.theme = theme, theme
        result.append(total)
    return sorted(result, key=lambda row: (-row.sessions, row.theme))


# ---------------------------------------------------------------- members


def new_members(conn: Connection, period: Period) -> int:
    return sum(new_members_by_centre(conn, period).values())


def new_members_by_centre(conn: Connection, period: Period) -> dict[str, int]:
    """centre -> the members it registered in the period."""
    m = p_members.c
    query = (
        sa.select(m.centre_id, sa.func.count())
        .where(m.created_day.between(period.first_day, period.last_day))
        .group_by(m.centre_id)
    )
    return {centre_id: int(n) for centre_id, n in conn.execute(_for_centre(query, m.centre_id, period))}


@dataclass
class Participants:
    """Distinct members who came in the period (a visit, or present at a session),
    counted by their reporting attributes. Anonymous visits are not participants."""

    #: the reference year of the funders' bands: the year the period ends in
    year: int
    # (age_band, gender, qpv) -> members; gender/qpv None when unknown or erased
    profile: Counter = field(default_factory=Counter)
    # (gender, born_from, born_to) -> members: each funder's age bands (federation.ages)
    births: Counter = field(default_factory=Counter)
    # (gender, employment, education) -> members who gave an FSE+ answer (Situations)
    answered: Counter = field(default_factory=Counter)
    # (centre, household) -> its members who came, for families(), of one
    # centre's participants; None for a calendar year or month, whose
    # households families() reads itself, and for several centres' together
    households: Counter | None = None

    def funder_bands(self, scheme: str) -> list[tuple[str, int]]:
        """(band, members) for each of ``scheme``'s bands and « non renseigné »,
        zeros included, in the order of the funder's form: they add up to ``total``."""
        counts: Counter[str] = Counter()
        for (_gender, born_from, born_to), n in self.births.items():
            counts[ages.band(scheme, born_from, born_to, self.year)] += n
        return [(code, counts[code]) for code in ages.codes(scheme)]

    def funder_bands_by_gender(self, scheme: str) -> dict[tuple[str | None, str], int]:
        """(gender, band) -> members, for the tables of sex by age band."""
        counts: Counter = Counter()
        for (gender, born_from, born_to), n in self.births.items():
            counts[(gender, ages.band(scheme, born_from, born_to, self.year))] += n
        return dict(counts)

    @property
    def total(self) -> int:
        return sum(self.profile.values())

    def by_age_band(self) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter()
        for (band, _gender, _qpv), n in self.profile.items():
            counts[band] += n
        return [(band, counts[band]) for band in AGE_BANDS if counts[band]] + [
            (band, n) for band, n in counts.items() if band not in AGE_BANDS
        ]

    def by_gender(self) -> list[tuple[str | None, int]]:
        counts: Counter[str | None] = Counter()
        for (_band, gender, _qpv), n in self.profile.items():
            counts[gender] += n
        known = [(g, counts[g]) for g in GENDERS if counts[g]]
        return known + [(g, n) for g, n in counts.items() if g not in GENDERS]

    def by_gender_and_age(self) -> dict[tuple[str | None, str], int]:
        counts: Counter = Counter()
        for (band, gender, _qpv), n in self.profile.items():
            counts[(gender, band)] += n
        return dict(counts)

    @property
    def qpv(self) -> int:
        return sum(n for (_b, _g, qpv), n in self.profile.items() if qpv)

    @property
    def qpv_known(self) -> int:
        return sum(n for (_b, _g, qpv), n in self.profile.items() if qpv is not None)

    @property
    def qpv_share(self) -> float | None:
        """Residents of priority neighbourhoods among participants whose flag is known."""
        return self.qpv / self.qpv_known if self.qpv_known else None


def participants(conn: Connection, period: Period) -> Participants:
    """Members with a visit in the period, or present at a session held in
    it (_people). A member whose member.created has not arrived yet is not
    counted until it does."""
    return merge_participants(
        period, [_participants_of(period, people) for people in _people(conn, period).values()]
    )


def _participants_of(period: Period, people: dict[str, Counter]) -> Participants:
    return Participants(
        year=period.end.year,
        profile=people["p"],
        births=people["b"],
        answered=people["s"],
        households=people["h"] if "h" in people else None,
    )


def merge_participants(period: Period, parts: list[Participants]) -> Participants:
    """The participants of several centres together: a member belongs to one
    centre, so the counts add up (the households are left out)."""
    total = Participants(year=period.end.year)
    for part in parts:
        total.profile.update(part.profile)
        total.births.update(part.births)
        total.answered.update(part.answered)
    return total


_ATTRS = tuple(p_members.c[name] for name in ATTR_COLUMNS)


#: r_participants' keys of the households reached (store.attrs_keys)
HOUSEHOLD_KEY = "h|"


def _people(conn: Connection, period: Period) -> dict[str, dict[str, Counter]]:
    """centre -> the members of that centre who came in the period (a visit,
    or present at a session held in it), by their reporting attributes: 'p'
    (age band, gender, QPV) -> members, 'b' (gender, born from, born to) ->
    members, 's' (gender, employment, education) -> members who gave an
    FSE+ answer (store.attrs_keys). A calendar year or month is a sum over
    its r_participants rows; any other period the distinct members of
    _visitors with their attributes, and 'h' (centre, household) -> its
    members who came, for families(). Either way the rows read follow the
    period's people (or their attributes' values), never the members held."""

    def fresh() -> dict[str, Counter]:
        return {"p": Counter(), "b": Counter(), "s": Counter()}

    people: dict[str, dict[str, Counter]] = defaultdict(fresh)
    rolled = rollup_period(period)
    if rolled:
        c = r_participants.c
        query = (
            sa.select(c.centre_id, c.attrs, sa.func.sum(c.members))
            .where(c.period == rolled, ~c.attrs.startswith(HOUSEHOLD_KEY))
            .group_by(c.centre_id, c.attrs)
        )
        for centre_id, key, n in conn.execute(_for_centre(query, c.centre_id, period)):
            if n:
                kind, values = parse_attrs(key)
                people[centre_id][kind][values] += int(n)
        return people
    m = p_members.c
    came = _visitors(period)
    # one row a person (no GROUP BY: nearly every group would be one
    # household's member), counted here by their attributes without the
    # household, whose values are few; the households apart
    query = sa.select(m.centre_id, *_ATTRS).select_from(
        came.join(p_members, sa.and_(m.centre_id == came.c.centre_id, m.member_id == came.c.member_id))
    )
    by_attrs: Counter[tuple] = Counter()
    households: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for row in conn.execute(query):
        by_attrs[tuple(row[:-1])] += 1
        if row[-1] is not None:
            households[row[0]][(row[0], row[-1])] += 1
    for (centre_id, band, gender, qpv, born_from, born_to, employment, education), n in by_attrs.items():
        counts = people[centre_id]
        for key in attrs_keys(band, gender, qpv, born_from, born_to, employment, education, None):
            kind, values = parse_attrs(key)
            counts[kind][values] += n
    for centre_id, counts in people.items():
        counts["h"] = households.get(centre_id, Counter())
    return people


def _visitors(period: Period):
    """(centre, member) of each member who came in the period: a row of
    r_member_months for its whole months (a visit, or present at a session
    held then); at its edges, a day in p_presence (read by the key of a
    member with a visit those months) or present at a session held in them."""
    r, p, a = r_member_months.c, p_presence.c, p_attendance.c
    edges, months = whole_months(period)
    parts = []
    if months:
        parts.append(sa.select(r.centre_id, r.member_id).where(r.month.between(*months)))
    for low, high in edges:
        on_day = (
            sa.select(p.day)
            .where(p.centre_id == r.centre_id, p.member_id == r.member_id, p.day.between(low, high))
            .exists()
        )
        parts.append(
            sa.select(r.centre_id, r.member_id).where(
                r.month.between(low[:7], high[:7]), r.via == "v", on_day
            )
        )
        held = _held_sessions(replace(period, start=date.fromisoformat(low), end=date.fromisoformat(high)))
        parts.append(
            sa.select(a.centre_id, a.member_id)
            .select_from(
                held.join(
                    p_attendance, sa.and_(a.centre_id == held.c.centre_id, a.session_id == held.c.session_id)
                )
            )
            .where(a.present == sa.true(), a.member_id.is_not(None))
        )
    parts = [_for_centre(part, part.selected_columns[0], period) for part in parts]
    return (sa.union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery("visitors")


# ---------------------------------------------------------------- the FSE+ situation


@dataclass
class Situations:
    """The FSE+ situation of the period's participants who consented to give
    it (protocol 1.2): (gender, employment, education) -> members, each
    answer None where that question was not answered. The participants
    missing here gave none (no consent, the centre does not ask, an older
    kiosk's event, or erased): « non renseigné », set beside them by
    ``by_gender``. What each figure counts: docs/funder-figures.md."""

    answered: Counter = field(default_factory=Counter)

    def crossed(self, question: str, people: Participants) -> dict[tuple[str | None, str | None], int]:
        """(gender, answer) -> participants for ``question`` (``employment``
        or ``education``), None the « non renseigné »: every participant in
        one cell, so the cells add up to the participants."""
        index = 1 if question == "employment" else 2
        counts: Counter = Counter()
        given: Counter = Counter()
        for key, n in self.answered.items():
            if key[index] is not None:
                counts[(key[0], key[index])] += n
                given[key[0]] += n
        for gender, n in people.by_gender():
            counts[(gender, None)] += n - given[gender]
        return dict(counts)


def situations(conn: Connection, period: Period) -> Situations:
    """The participants who gave a situation, by their answers (_people)."""
    return Situations(answered=participants(conn, period).answered)


# ---------------------------------------------------------------- families


@dataclass
class Families:
    """Households (« foyers ») reached in the period: a family is reached
    when one of its members came (a participant: a visit, or present at a
    session). A household is the members a kiosk linked under one random id
    (protocol 1.2), two or more; counted per centre (the id is the kiosk's).
    What each figure counts: docs/funder-figures.md."""

    #: families reached
    reached: int = 0
    #: every member of the families reached, whether they came or not
    people: int = 0
    #: participants who belong to a family
    came_in_families: int = 0
    #: families reached with a child: a member under 18 in the year the
    #: period ends in (the FSE+'s « moins de 18 ans », federation.ages)
    with_children: int = 0
    #: the members under 18 of the families reached
    children: int = 0
    #: families reached by the parenting workshops: one of their members
    #: present at a session held in the period of a workshop whose theme is
    #: « parentalité »
    parenting: int = 0
    #: participants with no household known (« sans foyer renseigné »): none
    #: linked, an older kiosk's event, or erased. Set by the Overview, from
    #: the participants: with came_in_families they add up to them.
    without_household: int = 0

    @property
    def people_per_family(self) -> float | None:
        return self.people / self.reached if self.reached else None


def families(conn: Connection, period: Period, households: Counter | None = None) -> Families:
    """The families reached in the period, every centre's together (``without_household``
    left at 0: see Families); ``households`` as families_by_centre."""
    return merge_families(families_by_centre(conn, period, households).values())


#: the counts of Families that add up over centres (a household is one centre's)
FAMILY_COUNTS = ("reached", "people", "came_in_families", "with_children", "children", "parenting")


def merge_families(parts) -> Families:
    total = Families()
    for part in parts:
        for name in FAMILY_COUNTS:
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


def families_by_centre(
    conn: Connection, period: Period, households: Counter | None = None
) -> dict[str, Families]:
    """centre -> the families it reached in the period: which households the
    period's people belong to (a calendar year's or month's from its counts,
    another period's from ``households``, the participants' when the
    overview has read them, or _people), then who is in them (store's
    r_members_household): the rows read follow the period's households and
    people. A centre that reached none may be missing."""
    m = p_members.c
    came: Counter[tuple[str, str]] = Counter()
    rolled = rollup_period(period)
    reached = None
    if rolled:
        # a calendar year or month: its households' counts (r_participants),
        # then the members of the households with one
        c = r_participants.c
        counted = sa.and_(c.period == rolled, c.attrs.startswith(HOUSEHOLD_KEY), c.members > 0)
        query = sa.select(c.centre_id, c.attrs, c.members).where(counted)
        for centre_id, key, n in conn.execute(_for_centre(query, c.centre_id, period)):
            came[(centre_id, parse_attrs(key)[1][0])] += int(n)
        household = sa.func.substr(c.attrs, 3, sa.func.length(c.attrs) - 4)
        households_reached = sa.select(c.centre_id, household.label("household_id")).where(counted)
        reached = _for_centre(households_reached, c.centre_id, period).subquery("reached")
    elif households is not None:
        came.update(households)
    else:
        # the households of the period's people, read here
        for people in _people(conn, period).values():
            came.update(people["h"])
    result: dict[str, Families] = defaultdict(Families)
    for (centre_id, _household), n in came.items():
        result[centre_id].reached += 1
        result[centre_id].came_in_families += n
    for centre_id, n in _parenting_families(conn, period).items():
        result[centre_id].parenting = n
    if not came:
        return result
    columns = (m.centre_id, m.household_id, m.born_from, m.born_to)
    if reached is not None:
        members = [
            sa.select(*columns, sa.func.count())
            .join_from(
                p_members,
                reached,
                sa.and_(m.centre_id == reached.c.centre_id, m.household_id == reached.c.household_id),
            )
            .group_by(*columns)
        ]
    else:
        # the households just read, by their key (r_members_household), a few hundred a statement
        keys = sorted(came)
        members = [
            sa.select(*columns, sa.func.count())
            .where(sa.tuple_(m.centre_id, m.household_id).in_(keys[start : start + 500]))
            .group_by(*columns)
            for start in range(0, len(keys), 500)
        ]
    year = period.end.year
    with_children: set[tuple[str, str]] = set()
    # a child or not, by span of birth years: a few hundred spans for all the members
    child: dict[tuple[int | None, int | None], bool] = {}
    rows = (row for query in members for row in conn.execute(_for_centre(query, m.centre_id, period)))
    for centre_id, household_id, born_from, born_to, n in rows:
        key = (centre_id, household_id)
        if key not in came:
            continue
        figures = result[centre_id]
        figures.people += n
        span = (born_from, born_to)
        is_child = child.get(span)
        if is_child is None:
            is_child = child[span] = ages.band("fse", born_from, born_to, year) == ages.CHILD
        if is_child:
            figures.children += n
            if key not in with_children:
                with_children.add(key)
                figures.with_children += 1
    return result


def _parenting_families(conn: Connection, period: Period) -> dict[str, int]:
    """centre -> distinct households with a member present at a parenting
    session held in the period."""
    m, a, w = p_members.c, p_attendance.c, p_workshops.c
    held = _held_sessions(period)
    reached = (
        sa.select(m.centre_id, m.household_id)
        .select_from(
            held.join(
                p_attendance, sa.and_(a.centre_id == held.c.centre_id, a.session_id == held.c.session_id)
            )
            .join(p_workshops, sa.and_(w.centre_id == held.c.centre_id, w.workshop_id == held.c.workshop_id))
            .join(p_members, sa.and_(m.centre_id == a.centre_id, m.member_id == a.member_id))
        )
        .where(a.present == sa.true(), w.theme == "parentalite", m.household_id.is_not(None))
        .distinct()
        .subquery("parenting")
    )
    query = sa.select(reached.c.centre_id, sa.func.count()).group_by(reached.c.centre_id)
    return {centre_id: int(n) for centre_id, n in conn.execute(query)}


# ---------------------------------------------------------------- centres, devices, conflicts


@dataclass
class CentreStatus:
    id: str
    name: str
    devices: int
    last_sync: str | None
    silent: bool


def centre_statuses(
    conn: Connection, now: datetime | None = None, centre_id: str | None = None
) -> list[CentreStatus]:
    """Every centre with its active devices and last sync; ``silent`` when nothing
    arrived for SILENT_AFTER (or never)."""
    threshold = utc_iso((now or datetime.now(UTC)) - SILENT_AFTER)
    d = devices.c
    # a revoked device's last sync still says when the centre was last heard from
    query = (
        sa.select(
            centres.c.id,
            centres.c.name,
            _count_if(sa.and_(d.id.is_not(None), d.revoked_at.is_(None))),
            sa.func.max(d.last_sync_at),
        )
        .select_from(centres.outerjoin(devices, d.centre_id == centres.c.id))
        .group_by(centres.c.id, centres.c.name)
        .order_by(centres.c.name)
    )
    if centre_id:
        query = query.where(centres.c.id == centre_id)
    return [
        CentreStatus(cid, name, int(count), last, last is None or last < threshold)
        for cid, name, count, last in conn.execute(query)
    ]


def centre_names(conn: Connection) -> dict[str, str]:
    query = sa.select(centres.c.id, centres.c.name).order_by(centres.c.name)
    return {centre_id: name for centre_id, name in conn.execute(query)}


def device_list(conn: Connection, centre_id: str | None = None) -> list[dict]:
    """The devices with their centre, the app version each last said it
    runs (``app_version``, None before it said one), their last batch
    (``last_sync_at``) and their last exchange with the centre's relay
    (``last_relay_at``, its last acknowledgement)."""
    d, v, r = devices.c, device_versions.c, relay_cursors.c
    query = (
        sa.select(
            d.id,
            d.label,
            d.centre_id,
            centres.c.name.label("centre_name"),
            d.enrolled_at,
            d.revoked_at,
            d.last_seen_at,
            d.last_sync_at,
            v.app_version,
            r.acked_at.label("last_relay_at"),
        )
        .join(centres, centres.c.id == d.centre_id)
        .outerjoin(device_versions, v.device_id == d.id)
        .outerjoin(relay_cursors, sa.and_(r.centre_id == d.centre_id, r.device_id == d.id))
        .order_by(centres.c.name, d.label)
    )
    if centre_id:
        query = query.where(d.centre_id == centre_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def conflict_list(conn: Connection, centre_id: str | None = None, limit: int = 200) -> tuple[int, list[dict]]:
    """(how many conflicts, the most recent ``limit`` with their event type)."""
    c = conflicts.c
    count = sa.select(sa.func.count()).select_from(conflicts)
    query = (
        sa.select(
            c.id,
            c.centre_id,
            centres.c.name.label("centre_name"),
            c.event_id,
            c.device_id,
            c.received_at,
            c.body,
        )
        .join(centres, centres.c.id == c.centre_id)
        .order_by(c.received_at.desc(), c.id.desc())
        .limit(limit)
    )
    if centre_id:
        count, query = count.where(c.centre_id == centre_id), query.where(c.centre_id == centre_id)
    rows = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        try:
            item["type"] = json.loads(item.pop("body")).get("type", "?")
        except (ValueError, AttributeError):
            item["type"] = "?"
        rows.append(item)
    return int(conn.execute(count).scalar_one()), rows


# ---------------------------------------------------------------- volunteers' time

#: the hours of one full-time job in a year, as French law sets them (1,607 h):
#: what a full-time equivalent (« ETP ») of volunteering is measured against
FULL_TIME_HOURS_A_YEAR = 1607
#: a full-time year is prorated to a period by its days over this many
DAYS_A_YEAR = 365


@dataclass
class VolunteerFigures:
    """Volunteers' time in a period (docs/funder-figures.md): from the
    stretches held (p_volunteering, their latest version), by the Paris day
    each lies in; a removed stretch counts for nothing. A volunteer is known
    by the kiosk's pseudonym, one per person and centre."""

    days: int
    #: (centre, volunteer, kind) -> minutes, for every volunteer with time in the period
    minutes: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: minutes of stretches the kiosk closed itself that staff have not checked yet
    unchecked_minutes: int = 0

    @property
    def volunteers(self) -> int:
        """Active volunteers: distinct volunteers with time in the period."""
        return len({(centre, who) for centre, who, _kind in self.minutes})

    def volunteers_in(self, kind: str) -> int:
        return len({(centre, who) for centre, who, of in self.minutes if of == kind})

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes.values())

    def minutes_in(self, kind: str) -> int:
        return sum(n for (_centre, _who, of), n in self.minutes.items() if of == kind)

    @property
    def hours(self) -> float:
        return self.total_minutes / 60

    def hours_in(self, kind: str) -> float:
        return self.minutes_in(kind) / 60

    @property
    def unchecked_hours(self) -> float:
        return self.unchecked_minutes / 60

    @property
    def full_time_hours(self) -> float:
        """A full-time job's hours over the period: 1,607 h × days / 365."""
        return FULL_TIME_HOURS_A_YEAR * self.days / DAYS_A_YEAR

    def fte(self, minutes: int | None = None) -> float:
        """Full-time equivalents of ``minutes`` (all the period's by default)."""
        spent = self.total_minutes if minutes is None else minutes
        return spent / 60 / self.full_time_hours

    @property
    def by_kind(self) -> list[tuple[str, int, float, float]]:
        """(kind, volunteers, hours, full-time equivalents) for each kind, in the protocol's order."""
        return [
            (kind, self.volunteers_in(kind), self.hours_in(kind), self.fte(self.minutes_in(kind)))
            for kind in VOLUNTEERING_KINDS
        ]

    @property
    def by_centre(self) -> list[tuple[str, int, float, float]]:
        """(centre, volunteers, hours, full-time equivalents), most hours first."""
        people: dict[str, set[str]] = {}
        spent: Counter[str] = Counter()
        for (centre, who, _kind), n in self.minutes.items():
            people.setdefault(centre, set()).add(who)
            spent[centre] += n
        return [
            (centre, len(people[centre]), spent[centre] / 60, self.fte(spent[centre]))
            for centre in sorted(spent, key=lambda c: (-spent[c], c))
        ]


def volunteer_figures(conn: Connection, period: Period) -> VolunteerFigures:
    return merge_volunteering(period, volunteering_by_centre(conn, period).values())


def merge_volunteering(period: Period, parts) -> VolunteerFigures:
    total = VolunteerFigures(period.days())
    for part in parts:
        total.minutes.update(part.minutes)
        total.unchecked_minutes += part.unchecked_minutes
    return total


def volunteering_by_centre(conn: Connection, period: Period) -> dict[str, VolunteerFigures]:
    """centre -> its volunteers' time in the period (volunteer_figures)."""
    c = p_volunteering.c
    unchecked = sa.func.sum(sa.case((c.auto_closed, c.minutes), else_=0))
    query = (
        sa.select(c.centre_id, c.volunteer_id, c.kind, sa.func.sum(c.minutes), unchecked)
        .where(c.day.between(period.first_day, period.last_day), sa.not_(c.removed))
        .group_by(c.centre_id, c.volunteer_id, c.kind)
    )
    result: dict[str, VolunteerFigures] = {}
    for centre, who, kind, spent, auto in conn.execute(_for_centre(query, c.centre_id, period)):
        if spent:
            figures = result.setdefault(centre, VolunteerFigures(period.days()))
            figures.minutes[(centre, who, kind)] = int(spent)
            figures.unchecked_minutes += int(auto or 0)
    return result


# ---------------------------------------------------------------- the residents' voice

#: what became of an idea, in the order the figures show it
IDEA_STEPS = ("received", "answered", "done", "initiative")


@dataclass
class VoiceFigures:
    """The residents' voice in the period, counts only (docs/funder-figures.md).

    ``ideas[(step, theme)]``: ideas received in the period by theme, and
    ideas answered, realised (« réalisée ») and become an initiative of
    residents the centre supports in the period, each on the day staff
    marked it. ``faces[(workshop theme, face)]``: the faces given in the
    period after a workshop, by the theme of the session's workshop
    (« autre » while the workshop is unknown to the hub)."""

    ideas: Counter = field(default_factory=Counter)
    faces: Counter = field(default_factory=Counter)

    def ideas_by_theme(self, step: str = "received") -> list[tuple[str, int]]:
        """(theme, ideas) for every idea theme, zeros included."""
        return [(theme, self.ideas[(step, theme)]) for theme in IDEA_THEMES]

    def idea_total(self, step: str) -> int:
        return sum(n for (kind, _theme), n in self.ideas.items() if kind == step)

    @property
    def received(self) -> int:
        return self.idea_total("received")

    @property
    def answered(self) -> int:
        return self.idea_total("answered")

    @property
    def done(self) -> int:
        return self.idea_total("done")

    @property
    def initiatives(self) -> int:
        return self.idea_total("initiative")

    def faces_total(self, face: str | None = None) -> int:
        return sum(n for (_theme, f), n in self.faces.items() if face is None or f == face)

    def by_face(self) -> list[tuple[str, int]]:
        return [(face, self.faces_total(face)) for face in FEEDBACK_FACES]

    def faces_by_theme(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """(workshop theme, [(face, n)…]) for each theme with a face, most answers first."""
        themes: Counter[str] = Counter()
        for (theme, _face), n in self.faces.items():
            themes[theme] += n
        return [
            (theme, [(face, self.faces[(theme, face)]) for face in FEEDBACK_FACES])
            for theme, _n in sorted(themes.items(), key=lambda item: (-item[1], item[0]))
        ]

    @property
    def content_share(self) -> float | None:
        """Share of « content » among the faces given."""
        total = self.faces_total()
        return self.faces_total("content") / total if total else None


def voice_figures(conn: Connection, period: Period) -> VoiceFigures:
    """The period's ideas by step and theme, and its faces by workshop theme."""
    return merge_voice(voice_by_centre(conn, period).values())


def merge_voice(parts) -> VoiceFigures:
    total = VoiceFigures()
    for part in parts:
        total.ideas.update(part.ideas)
        total.faces.update(part.faces)
    return total


def voice_by_centre(conn: Connection, period: Period) -> dict[str, VoiceFigures]:
    """centre -> its ideas and faces in the period (voice_figures)."""
    result: dict[str, VoiceFigures] = defaultdict(VoiceFigures)
    i = p_ideas.c
    for step, column in zip(
        IDEA_STEPS, (i.received_day, i.answered_day, i.done_day, i.initiative_day), strict=True
    ):
        query = (
            sa.select(i.centre_id, i.theme, sa.func.count())
            .where(column.between(period.first_day, period.last_day))
            .group_by(i.centre_id, i.theme)
        )
        for centre_id, theme, n in conn.execute(_for_centre(query, i.centre_id, period)):
            result[centre_id].ideas[(step, theme)] += int(n)
    f, s, w = p_feedback.c, p_sessions.c, p_workshops.c
    theme = sa.func.coalesce(w.theme, "autre")
    query = (
        sa.select(f.centre_id, theme, f.face, sa.func.count())
        .select_from(
            p_feedback.outerjoin(
                p_sessions,
                sa.and_(
                    s.centre_id == f.centre_id,
                    s.session_id == f.session_id,
                    *[where for where in [_centre_clause(s.centre_id, period)] if where is not None],
                ),
            ).outerjoin(p_workshops, sa.and_(w.centre_id == s.centre_id, w.workshop_id == s.workshop_id))
        )
        .where(f.day.between(period.first_day, period.last_day))
        .group_by(f.centre_id, theme, f.face)
    )
    for centre_id, workshop_theme, face, n in conn.execute(_for_centre(query, f.centre_id, period)):
        result[centre_id].faces[(workshop_theme, face)] += int(n)
    return result


# ---------------------------------------------------------------- the itinerant mode


@dataclass
class OutreachFigures:
    """Events held « hors les murs » in the period (docs/funder-figures.md).

    ``places[(commune, neighbourhood)] = [events, visits, new members]``:
    the events held on a day of the period (``outreach.held``'s day), the
    visits recorded at an event on a day of the period, and the members
    registered at one on a day of the period, each under its event's place
    (None, None: the place is not one of the centre's list, or the event
    has not reached the hub yet). ``in_qpv``: events held in a priority
    neighbourhood; ``with_partner``: events held with a partner."""

    places: dict = field(default_factory=dict)
    in_qpv: int = 0
    with_partner: int = 0

    def _total(self, index: int) -> int:
        return sum(counts[index] for counts in self.places.values())

    @property
    def held(self) -> int:
        return self._total(0)

    @property
    def visits(self) -> int:
        return self._total(1)

    @property
    def new_members(self) -> int:
        return self._total(2)

    def by_place(self) -> list[tuple[str | None, str | None, int, int, int]]:
        """(commune, neighbourhood, events, visits, new members), most visits
        first, the unknown place last."""
        return [
            (commune, neighbourhood, *counts)
            for (commune, neighbourhood), counts in sorted(
                self.places.items(),
                key=lambda item: (item[0] == (None, None), -item[1][1], -item[1][0], str(item[0])),
            )
        ]


def outreach_figures(conn: Connection, period: Period) -> OutreachFigures:
    """The period's itinerant events, their visits and new members, by place."""
    result = OutreachFigures()
    o = p_outreach.c

    def add(rows, index: int) -> None:
        for commune, neighbourhood, n in rows:
            counts = result.places.setdefault((commune, neighbourhood), [0, 0, 0])
            counts[index] += int(n)

    held = (
        sa.select(
            o.commune,
            o.neighbourhood,
            sa.func.count(),
            sa.func.sum(sa.case((o.qpv, 1), else_=0)),
            sa.func.sum(sa.case((o.partner_kind.is_not(None), 1), else_=0)),
        )
        .where(o.day.between(period.first_day, period.last_day))
        .group_by(o.commune, o.neighbourhood)
    )
    for commune, neighbourhood, n, qpv, partner in conn.execute(_for_centre(held, o.centre_id, period)):
        add([(commune, neighbourhood, n)], 0)
        result.in_qpv += int(qpv or 0)
        result.with_partner += int(partner or 0)
    for index, table in ((1, p_outreach_visits), (2, p_outreach_members)):
        met = table.c
        query = (
            sa.select(o.commune, o.neighbourhood, sa.func.count())
            .select_from(
                table.outerjoin(
                    p_outreach, sa.and_(o.centre_id == met.centre_id, o.outreach_id == met.outreach_id)
                )
            )
            .where(met.day.between(period.first_day, period.last_day))
            .group_by(o.commune, o.neighbourhood)
        )
        add(conn.execute(_for_centre(query, met.centre_id, period)), index)
    return result


# ---------------------------------------------------------------- all together


@dataclass
class Overview:
    period: Period
    weeks: list[tuple[date, int]]
    reasons: list[tuple[str, int]]
    workshops: list[WorkshopFigures]
    new_members: int
    participants: Participants
    centres: list[CentreStatus]
    visits_by_centre: dict[str, int]
    #: (CRA theme, domain) -> visits (visits_by_category)
    categories: dict[tuple[str, str], int] = field(default_factory=dict)
    #: volunteers' time (volunteer_figures)
    volunteering: VolunteerFigures = field(default_factory=lambda: VolunteerFigures(1))
    #: the households reached (families)
    families: Families = field(default_factory=Families)
    #: the residents' voice: ideas and faces (voice_figures)
    voice: VoiceFigures = field(default_factory=VoiceFigures)
    #: the FSE+ situation the participants consented to give (situations)
    situations: Situations = field(default_factory=Situations)
    #: the events held « hors les murs » (outreach_figures)
    outreach: OutreachFigures = field(default_factory=OutreachFigures)

    @property
    def by_cra_theme(self) -> list[tuple[str, int]]:
        return category_totals(self.categories, 0, CRA_THEMES)

    @property
    def by_domain(self) -> list[tuple[str, int]]:
        return category_totals(self.categories, 1, ADMIN_DOMAINS)

    @property
    def accompaniments(self) -> int:
        """Visits with a CRA theme: the conseillers numériques' accompaniments."""
        return sum(n for (cra, _domain), n in self.categories.items() if cra)

    @property
    def visits(self) -> int:
        return sum(n for _reason, n in self.reasons)

    @property
    def workshop_total(self) -> WorkshopFigures:
        return workshop_totals(self.workshops)

    @property
    def themes(self) -> list[WorkshopFigures]:
        return workshops_by_theme(self.workshops)

    @property
    def sessions_by_theme(self) -> list[tuple[str, int]]:
        return [(theme.theme, theme.sessions) for theme in self.themes]

    @property
    def silent_centres(self) -> list[CentreStatus]:
        return [c for c in self.centres if c.silent]


@dataclass
class CentreFigures:
    """The figures that count distinct people or read the period's members,
    sessions, ideas and volunteers' time, of one centre or of several added
    up: what federation.period_figures keeps per centre.
    ``participants.households`` is not kept: the families are counted
    already."""

    participants: Participants
    families: Families
    workshops: list[WorkshopFigures]
    voice: VoiceFigures
    volunteering: VolunteerFigures
    new_members: int = 0


def people_by_centre(conn: Connection, period: Period) -> dict[str, tuple[Participants, Families, int]]:
    """centre -> its participants, families and new members (a centre with
    none may be missing)."""
    people = {
        centre_id: _participants_of(period, counts) for centre_id, counts in _people(conn, period).items()
    }
    households: Counter | None = None
    if rollup_period(period) is None:
        households = Counter()
        for part in people.values():
            households.update(part.households or ())
    reached = families_by_centre(conn, period, households)
    fresh = new_members_by_centre(conn, period)
    return {
        centre_id: (
            people.get(centre_id) or Participants(year=period.end.year),
            reached.get(centre_id) or Families(),
            fresh.get(centre_id, 0),
        )
        for centre_id in people.keys() | reached.keys() | fresh.keys()
    }


def sessions_by_centre(
    conn: Connection, period: Period
) -> dict[str, tuple[list[WorkshopFigures], VoiceFigures, VolunteerFigures]]:
    """centre -> its workshops, its residents' voice and its volunteers'
    time (a centre with none may be missing)."""
    workshops: dict[str, list[WorkshopFigures]] = defaultdict(list)
    for row in workshop_figures(conn, period):
        workshops[row.centre_id].append(row)
    voice = voice_by_centre(conn, period)
    volunteering = volunteering_by_centre(conn, period)
    return {
        centre_id: (
            workshops.get(centre_id, []),
            voice.get(centre_id) or VoiceFigures(),
            volunteering.get(centre_id) or VolunteerFigures(period.days()),
        )
        for centre_id in workshops.keys() | voice.keys() | volunteering.keys()
    }


def centre_figures(people: dict, sessions: dict, period: Period) -> dict[str, CentreFigures]:
    """people_by_centre's and sessions_by_centre's results, by centre."""
    result = {}
    for centre_id in people.keys() | sessions.keys():
        participants, families, fresh = people.get(centre_id) or (
            Participants(year=period.end.year),
            Families(),
            0,
        )
        workshops, voice, volunteering = sessions.get(centre_id) or (
            [],
            VoiceFigures(),
            VolunteerFigures(period.days()),
        )
        result[centre_id] = CentreFigures(participants, families, workshops, voice, volunteering, fresh)
    return result


def merge_figures(period: Period, parts) -> CentreFigures:
    """Several centres' figures added up (a member, a household, a workshop belong to one centre)."""
    parts = list(parts)
    return CentreFigures(
        participants=merge_participants(period, [part.participants for part in parts]),
        families=merge_families(part.families for part in parts),
        workshops=sorted((row for part in parts for row in part.workshops), key=_busiest_first),
        voice=merge_voice(part.voice for part in parts),
        volunteering=merge_volunteering(period, (part.volunteering for part in parts)),
        new_members=sum(part.new_members for part in parts),
    )


def overview(conn: Connection, period: Period, now: datetime | None = None) -> Overview:
    """Everything the overview page, the CSV and the PDF show, computed on
    one connection (federation.period_figures.overview_from reads the
    figures it keeps, and is what the pages and the exports call)."""

    def figures() -> CentreFigures:
        by_centre = centre_figures(people_by_centre(conn, period), sessions_by_centre(conn, period), period)
        return merge_figures(period, by_centre.values())

    return assemble(conn, period, now, figures)


def assemble(
    conn: Connection, period: Period, now: datetime | None, figures: Callable[[], CentreFigures]
) -> Overview:
    """The overview: the visits, centres and outreach read from ``conn``,
    then the centres' figures ``figures()`` gives (merge_figures; they may
    be read meanwhile elsewhere)."""
    weeks, reasons = weeks_of(period, visits_by_day(conn, period)), visits_by_reason(conn, period)
    statuses = centre_statuses(conn, now, period.centre_id)
    by_centre = visits_by_centre(conn, period)
    categories = visits_by_category(conn, period)
    outreach = outreach_figures(conn, period)
    kept = figures()
    attending = kept.participants
    reached = replace(kept.families, without_household=attending.total - kept.families.came_in_families)
    return Overview(
        period=period,
        weeks=weeks,
        reasons=reasons,
        workshops=kept.workshops,
        new_members=kept.new_members,
        participants=attending,
        centres=statuses,
        visits_by_centre=by_centre,
        categories=categories,
        volunteering=kept.volunteering,
        families=reached,
        voice=kept.voice,
        situations=Situations(answered=attending.answered),
        outreach=outreach,
    )
