"""The figures of a period the hub keeps per centre, so that a page reads a
row a centre instead of every person and session of the period: the
participants, families, workshops, residents' voice and volunteers' time
of reports.CentreFigures, in r_period_figures (a row a centre and period).

    view = overview_from(engine, period)   # what the pages and exports call
    refresh(engine, kept_periods(today))   # what the hub does by itself

Exactly the figures read live, whatever was kept:

* A row holds its centre's *version* when it was computed: the events the
  centre had stored (the sum of its event_counts, which every batch with a
  new event raises in the batch's transaction, and nothing else changes the
  projections), and the ``DEFINITIONS`` of the figures then.
* A page reads a centre's row only while the centre still has that version
  and the code those definitions. The figures of every other centre (changed
  since, or never kept) are computed from the projections as the page is
  read, all those centres in one pass, and added to the others'. A busy hub
  has a few centres changed since the last refresh: they alone are read.
* The version is read before the figures are computed: a batch stored
  meanwhile leaves the row older than its centre, so it is computed again.

Which periods are kept (kept_periods): the dashboard's default period, the
calendar year and month and the ones before, and any period this process
was asked for in the last day. ``Background`` refreshes them every
``FEDERATION_FIGURES_INTERVAL`` seconds while the hub serves; with several
worker processes one refreshes at a time (a PostgreSQL advisory lock).
Reading never writes, so a read replica serves the pages as well.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from federation import background, reports
from federation import store as db
from federation.projections import dialect_insert
from federation.reports import (
    CentreFigures,
    Families,
    Participants,
    Period,
    VoiceFigures,
    VolunteerFigures,
    WorkshopFigures,
)
from sync.protocol import utc_iso

log = logging.getLogger("federation.figures")

#: what the kept figures were computed by: raise the first number when
#: reports changes how one of them is counted (the schema's follows itself)
DEFINITIONS = f"3/{db.LATEST_VERSION}"
INTERVAL_VARIABLE = "FEDERATION_FIGURES_INTERVAL"
#: short enough that a page finds few centres changed since (a departmental
#: hub's 300 centres sync every quarter of an hour: one every 3 seconds)
DEFAULT_INTERVAL_S = 15.0
#: a period read is kept fresh this long after
RECENT = timedelta(days=1)
MAX_RECENT = 16
#: a period no longer kept: its rows are deleted once this old
FORGET_AFTER = timedelta(days=8)
#: PostgreSQL advisory lock key of the refresh (one process at a time)
LOCK_KEY = 7304
#: the refresh waits for this long without a write in this process ...
QUIET = timedelta(seconds=1)
#: ... but no longer than this
QUIET_WAIT_MAX = timedelta(seconds=15)
ROWS_PER_STATEMENT = 200
_COMPUTED = ("version", "definitions", "computed_at", "figures")

_recent: dict[tuple[date, date], float] = {}
_recent_lock = threading.Lock()


# ---------------------------------------------------------------- reading


def overview_from(engine: Engine, period: Period, now: datetime | None = None) -> reports.Overview:
    """The overview of ``period`` (reports.Overview): the kept figures of
    the centres unchanged since, the others' computed now (their people and
    families on a connection, their sessions and voice on another, while
    the rest is read on a third). Every page, CSV and PDF calls this."""
    _remember(period)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="report") as pool:
        with engine.connect() as conn:
            current = versions(conn, period)
            fresh = kept(conn, period, current)
            stale = [centre_id for centre_id in current if centre_id not in fresh]
            every = len(stale) == len(current)
            live = _compute_in(pool, engine, period, None if every else stale) if stale else None

            def figures() -> CentreFigures:
                parts = [decode(period, *fresh.values())] + (list(live().values()) if live else [])
                return reports.merge_figures(period, parts)

            return reports.assemble(conn, period, now, figures)


def versions(conn: Connection, period: Period) -> dict[str, int]:
    """Each centre (the period's one, or every centre) -> its version: the events it stored."""
    c, e = db.centres.c, db.event_counts.c
    query = (
        sa.select(c.id, sa.func.coalesce(sa.func.sum(e.events), 0))
        .select_from(db.centres.outerjoin(db.event_counts, e.centre_id == c.id))
        .group_by(c.id)
    )
    if period.centre_id:
        query = query.where(c.id == period.centre_id)
    return {centre_id: int(version) for centre_id, version in conn.execute(query)}


def kept(conn: Connection, period: Period, current: dict[str, int]) -> dict[str, str]:
    """The kept figures of the period still true: centre -> its figures'
    text (decode), for the centres whose row has their ``current`` version
    and today's definitions."""
    return dict(_rows(conn, period, current, figures=True))


def _rows(conn: Connection, period: Period, current: dict[str, int], figures: bool) -> list[tuple[str, str]]:
    r = db.r_period_figures.c
    query = sa.select(r.centre_id, r.version, r.figures if figures else sa.literal("")).where(
        r.first_day == period.first_day, r.last_day == period.last_day, r.definitions == DEFINITIONS
    )
    if period.centre_id:
        query = query.where(r.centre_id == period.centre_id)
    rows = conn.execute(query)
    return [(centre_id, text) for centre_id, version, text in rows if current.get(centre_id) == version]


def compute(engine: Engine, period: Period, centres: list[str] | None = None) -> dict[str, CentreFigures]:
    """The figures of ``centres`` (None: every centre) read from the
    projections, centre -> figures; a centre with nothing in the period has
    empty figures."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="report") as pool:
        return _compute_in(pool, engine, period, centres)()


def _compute_in(
    pool: ThreadPoolExecutor, engine: Engine, period: Period, centres: list[str] | None
) -> Callable[[], dict[str, CentreFigures]]:
    """Start computing the figures of ``centres`` (None: every centre, in
    one pass without a filter), each half on a connection of its own;
    returns what waits for the result."""
    target = period if centres is None else replace(period, centres=tuple(centres))

    def on_own_connection(read):
        def run():
            with engine.connect() as conn:
                return read(conn, target)

        return run

    people = pool.submit(on_own_connection(reports.people_by_centre))
    sessions = pool.submit(on_own_connection(reports.sessions_by_centre))

    def result() -> dict[str, CentreFigures]:
        figures = reports.centre_figures(people.result(), sessions.result(), period)
        for centre_id in centres or ():
            figures.setdefault(centre_id, empty(period))
        return figures

    return result


def empty(period: Period) -> CentreFigures:
    return CentreFigures(
        Participants(year=period.end.year), Families(), [], VoiceFigures(), VolunteerFigures(period.days())
    )


# ---------------------------------------------------------------- keeping


def refresh(engine: Engine, periods: Iterable[Period], now: datetime | None = None) -> int:
    """Compute and keep the figures of every centre whose row of one of
    ``periods`` is missing or no longer true; then forget the rows of
    periods no longer kept. The rows written."""
    now = now or datetime.now(UTC)
    periods = list(periods)
    written = 0
    for period in periods:
        with engine.connect() as conn:
            current = versions(conn, period)
            true = {centre_id for centre_id, _ in _rows(conn, period, current, figures=False)}
        stale = [centre_id for centre_id in current if centre_id not in true]
        if not stale:
            continue
        figures = compute(engine, period, None if len(stale) == len(current) else stale)
        computed_at = utc_iso(now)
        rows = [
            {
                "first_day": period.first_day,
                "last_day": period.last_day,
                "centre_id": centre_id,
                "version": current[centre_id],
                "definitions": DEFINITIONS,
                "computed_at": computed_at,
                "figures": encode(figures.get(centre_id) or empty(period)),
            }
            for centre_id in stale
        ]
        with engine.begin() as conn:
            insert = dialect_insert(conn, db.r_period_figures)
            upsert = insert.on_conflict_do_update(
                index_elements=["first_day", "last_day", "centre_id"],
                set_={name: insert.excluded[name] for name in _COMPUTED},
            )
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                conn.execute(upsert, rows[start : start + ROWS_PER_STATEMENT])
        written += len(rows)
    _forget(engine, periods, now)
    return written


def _forget(engine: Engine, periods: list[Period], now: datetime) -> None:
    r = db.r_period_figures.c
    keys = [(period.first_day, period.last_day) for period in periods]
    old = r.computed_at < utc_iso(now - FORGET_AFTER)
    with engine.begin() as conn:
        conn.execute(
            db.r_period_figures.delete().where(old, sa.tuple_(r.first_day, r.last_day).not_in(keys))
            if keys
            else db.r_period_figures.delete().where(old)
        )


def kept_periods(today: date) -> list[Period]:
    """The periods whose figures the hub keeps: the dashboard's default
    period, this calendar year and the last, this month and the last, and
    those this process was asked for in the last day."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    following = reports.months_before(month, -1)
    periods = [
        reports.parse_period(None, None, today=today),
        Period(date(today.year, 1, 1), date(today.year, 12, 31)),
        Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        Period(month, following - timedelta(days=1)),
        Period(last_month_end.replace(day=1), last_month_end),
    ]
    since = time.monotonic() - RECENT.total_seconds()
    with _recent_lock:
        periods += [Period(start, end) for (start, end), read in _recent.items() if read >= since]
    unique: dict[tuple[date, date], Period] = {}
    for period in periods:
        unique.setdefault((period.start, period.end), period)
    return list(unique.values())


def _remember(period: Period) -> None:
    with _recent_lock:
        _recent[(period.start, period.end)] = time.monotonic()
        while len(_recent) > MAX_RECENT:
            del _recent[min(_recent, key=_recent.__getitem__)]


class Background(background.Periodic):
    """Refreshes the kept figures while the hub serves, every ``interval``
    seconds. With several worker processes on PostgreSQL, one refreshes at
    a time; the others skip."""

    def __init__(self, db_url: str | None, interval: float):
        self.interval = interval
        super().__init__(
            db_url,
            self.run_once,
            lambda failures: self.interval,
            name="period-figures",
            log=log,
            failed="kept figures: the refresh failed",
        )

    @staticmethod
    def run_once(engine: Engine) -> int:
        # A push of many batches goes on at full speed: its centre's figures
        # are computed in the pause after it, not in the middle (the refresh's
        # Python work would take turns with the batches' on the GIL).
        wait_for_quiet()
        with engine.connect() as lock:
            if lock.dialect.name == "postgresql":
                if not lock.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_KEY})").scalar():
                    return 0
                lock.commit()
            try:
                return refresh(engine, kept_periods(reports.paris_today()))
            finally:
                if lock.dialect.name == "postgresql":
                    lock.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_KEY})")
                    lock.commit()


def wait_for_quiet() -> None:
    """Wait until this process has written nothing for QUIET, at most QUIET_WAIT_MAX."""
    deadline = time.monotonic() + QUIET_WAIT_MAX.total_seconds()
    while db.seconds_since_write() < QUIET.total_seconds() and time.monotonic() < deadline:
        time.sleep(0.1)


# ---------------------------------------------------------------- the rows' text


def _part(value) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "1" if value else "0"
    return str(value)


def encode(figures: CentreFigures) -> str:
    """A centre's figures as JSON text (orjson: a page decodes hundreds of
    them): the people by store.attrs_keys' keys."""
    people = figures.participants
    counts = {
        "|".join((kind, *map(_part, values))): n
        for kind, counter in (("p", people.profile), ("b", people.births), ("s", people.answered))
        for values, n in counter.items()
        if n
    }
    return orjson.dumps(
        {
            "people": counts,
            "families": {name: getattr(figures.families, name) for name in reports.FAMILY_COUNTS},
            "workshops": [
                [row.centre_id, row.workshop_id, row.title, row.theme]
                + [getattr(row, name) for name in reports.WORKSHOP_COUNTS]
                for row in figures.workshops
            ],
            "ideas": [[step, theme, n] for (step, theme), n in figures.voice.ideas.items() if n],
            "faces": [[theme, face, n] for (theme, face), n in figures.voice.faces.items() if n],
            "volunteers": [[*key, n] for key, n in figures.volunteering.minutes.items()],
            "unchecked": figures.volunteering.unchecked_minutes,
            "new_members": figures.new_members,
        },
    ).decode()


assert [field.name for field in fields(WorkshopFigures)] == [
    "centre_id",
    "workshop_id",
    "title",
    "theme",
    *reports.WORKSHOP_COUNTS,
], "encode writes a workshop's fields in this order"


def decode(period: Period, *texts: str) -> CentreFigures:
    """The figures of the centres whose texts are given, added up: the
    people summed by their keys, each key parsed once (a few hundred keys
    for any number of centres)."""
    by_key: dict[str, int] = {}
    families = Families()
    workshops: list[WorkshopFigures] = []
    voice = VoiceFigures()
    volunteering = VolunteerFigures(period.days())
    fresh = 0
    for text in texts:
        data = orjson.loads(text)
        for key, n in data["people"].items():
            by_key[key] = by_key.get(key, 0) + n
        for name, n in data["families"].items():
            setattr(families, name, getattr(families, name) + n)
        # a row is encode's list: the fields in their order (checked at import, above)
        workshops += (WorkshopFigures(*row) for row in data["workshops"])
        for step, theme, n in data["ideas"]:
            voice.ideas[(step, theme)] += n
        for theme, face, n in data["faces"]:
            voice.faces[(theme, face)] += n
        for centre_id, who, kind, n in data["volunteers"]:
            volunteering.minutes[(centre_id, who, kind)] = n
        volunteering.unchecked_minutes += data["unchecked"]
        fresh += data["new_members"]
    people = Participants(year=period.end.year)
    counters = {"p": people.profile, "b": people.births, "s": people.answered}
    for key, n in by_key.items():
        kind, values = db.parse_attrs(key)
        counters[kind][values] += n
    return CentreFigures(people, families, workshops, voice, volunteering, fresh)
