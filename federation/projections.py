"""The reporting projections, kept up to date at ingest (federation.ingest
calls ``update`` in its transaction, for newly stored events only).

Each row carries ``as_of``, the ``occurred_at`` of the event that set it, and
an upsert only overwrites an older row: the latest event wins whatever the
order of arrival. Counts only ever add up. An erasure blanks the member's
attributes (and redacts that member's stored events and conflicts) but keeps
every count. The tables are described in federation.store.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter, methodcaller
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from federation import ages, sheet_figures, taxonomies
from federation import store as db
from sync import protocol
from sync.clock import PARIS

MEMBER_ATTRIBUTE_EVENTS = ("member.created", "member.updated")


def dialect_insert(conn: Connection, table: sa.Table):
    """The dialect's INSERT, which has ``on_conflict_do_*``."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


_dialect_insert = dialect_insert


# Statements compiled once per dialect with named parameters, then run
# through the driver's executemany: SQLAlchemy's per-row parameter handling
# would cost more than the inserts themselves on a batch.
_POSITIONAL_DIALECTS = {
    "sqlite": sqlite.dialect(paramstyle="qmark"),
    "postgresql": postgresql.psycopg.dialect(paramstyle="format"),
}
_compiled: dict[tuple[str, str], tuple[str, Callable]] = {}


def _executemany(conn: Connection, key: str, build, rows: list[dict]) -> None:
    """Run the statement ``build(conn)`` (cached as ``key``) for each row dict."""
    if not rows:
        return
    name = conn.dialect.name
    found = _compiled.get((key, name))
    if found is None:
        compiled = build(conn).compile(dialect=_POSITIONAL_DIALECTS[name])
        names = compiled.positiontup
        # itemgetter of one name returns the value, not a tuple of it
        getter = itemgetter(*names) if len(names) > 1 else (lambda row, _n=names[0]: (row[_n],))
        found = _compiled[(key, name)] = (str(compiled), getter)
    sql, getter = found
    conn.exec_driver_sql(sql, [getter(row) for row in rows])


def paris_day(occurred_at: str) -> str:
    """The Europe/Paris calendar date of a normalised UTC time ('…Z'), as
    'YYYY-MM-DD'. Paris is a whole number of hours off UTC, so the UTC hour
    decides the day: cached on it."""
    return _paris_day_of_hour(occurred_at[:13])


@lru_cache(maxsize=8192)
def _paris_day_of_hour(utc_hour: str) -> str:
    moment = datetime.fromisoformat(utc_hour + ":00:00+00:00")
    return moment.astimezone(PARIS).date().isoformat()


def update(conn: Connection, centre_id: str, new_events: list[tuple[str, dict]]) -> None:
    """Fold newly stored events into the reporting tables: ``new_events`` is
    (occurred_at as stored, event) pairs; each upsert keeps the latest
    ``as_of``."""
    by_type: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for pair in new_events:
        by_type[pair[1]["type"]].append(pair)
    visits = by_type.pop("visit.recorded", None)
    if visits:
        _project_visits(conn, centre_id, _plan_visits(visits))
        _project_outreach_met(conn, db.p_outreach_visits, "visit_id", centre_id, visits)
    erased = by_type.pop("member.erased", [])
    merged = by_type.pop("member.merged", [])
    created = by_type.pop("member.created", [])
    _project_outreach_met(conn, db.p_outreach_members, "member_id", centre_id, created)
    member_events = created + by_type.pop("member.updated", [])
    member_ids = {event["data"]["member_id"] for _, event in member_events + erased}
    before = attrs_of(conn, centre_id, member_ids)
    _project_members(conn, centre_id, member_events)
    _project_erasures(conn, centre_id, erased)
    _move_participants(conn, centre_id, before, attrs_of(conn, centre_id, member_ids))
    redact_erased(conn, centre_id, member_ids)
    merge_members(conn, centre_id, merged, new_events)
    attendees = _attendees_touched(conn, centre_id, by_type)
    for kind, pairs in by_type.items():
        _PROJECTORS[kind](conn, centre_id, pairs)
    if attendees:
        _refresh_attendance(conn, centre_id, attendees | _attendees_touched(conn, centre_id, by_type))


#: rows a multi-row statement carries (3 parameters each, far below both
#: databases' limits): one statement a batch, not an executemany of a row each
_ROWS_PER_STATEMENT = 1000
_VISIT_COUNT_UPSERT = (
    "INSERT INTO p_visit_counts (centre_id, day, reason, "
    "recorded_by, visits) VALUES ({m}, {m}, {m}, {m}, {m}) "
    "ON CONFLICT (centre_id, day, reason, recorded_by) DO UPDATE "
    "SET visits = p_visit_counts.visits + excluded.visits"
)
_VISIT_CATEGORY_UPSERT = (
    "INSERT INTO p_visit_categories (centre_id, day, cra_theme, "
    "domain, visits) VALUES ({m}, {m}, {m}, {m}, {m}) "
    "ON CONFLICT (centre_id, day, cra_theme, domain) "
    "DO UPDATE SET visits = p_visit_categories.visits + excluded.visits"
)
_VISIT_MONTH_UPSERT = (
    "INSERT INTO r_visit_months (centre_id, month, reason, visits) VALUES ({m}, {m}, {m}, {m}) "
    "ON CONFLICT (centre_id, month, reason) DO UPDATE SET visits = r_visit_months.visits + excluded.visits"
)
_CATEGORY_MONTH_UPSERT = (
    "INSERT INTO r_category_months (centre_id, month, cra_theme, domain, visits) "
    "VALUES ({m}, {m}, {m}, {m}, {m}) ON CONFLICT (centre_id, month, cra_theme, domain) "
    "DO UPDATE SET visits = r_category_months.visits + excluded.visits"
)
_VISIT_DAY_UPSERT = (
    "INSERT INTO r_visit_days (day, centre_id, visits) VALUES ({m}, {m}, {m}) "
    "ON CONFLICT (day, centre_id) DO UPDATE SET visits = r_visit_days.visits + excluded.visits"
)
_PARTICIPANTS_UPSERT = (
    "INSERT INTO r_participants (period, centre_id, attrs, members) VALUES ({m}, {m}, {m}, {m}) "
    "ON CONFLICT (period, centre_id, attrs) DO UPDATE SET members = r_participants.members + excluded.members"
)


def driver_fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> Sequence[tuple[Any, ...]]:
    """Run ``sql`` on the driver's own cursor, in the connection's transaction,
    and return its rows as plain tuples, for the statements that return a row
    per event (SQLAlchemy's result rows would be built for each)."""
    driver = conn.connection.dbapi_connection
    assert driver is not None  # only a closed pool connection has none
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        rows: Sequence[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


@dataclass
class _VisitPlan:
    """A batch's visits added up before any statement (see _plan_visits)."""

    counts: list[tuple[str, str, str, int]]  # (day, reason, recorded_by, visits), in key order
    categories: list[tuple[str, str, str, int]]  # (day, CRA theme, domain, visits), in key order
    #: each (member, day) of the batch once, in key order, as two columns
    presence_members: list[str]
    presence_days: list[str]
    #: the rollups for long periods: (month, reason, visits), (month, CRA
    #: theme, domain, visits), (day, visits), and each (member, month), in key order
    month_counts: list[tuple[str, str, int]]
    month_categories: list[tuple[str, str, str, int]]
    day_totals: list[tuple[str, int]]
    member_months: list[tuple[str, str]]


def _plan_visits(pairs: list[tuple[str, dict]]) -> _VisitPlan:
    """Visits are most of the traffic: the counts added up per batch, one
    upsert per (day, reason, recorder), and per month and reason; a known
    member's visit adds its day to p_presence (once a day) and its month to
    r_member_months (once a month). An anonymous visit is a count, nothing
    more."""
    # a pass per column, in C where it can be: a Python loop over a batch's
    # visits would cost more than the statements
    datas = [event["data"] for _at, event in pairs]
    days = list(map(_paris_day_of_hour, map(_UTC_HOUR, map(_FIRST, pairs))))
    counts = Counter(zip(days, map(_REASON, datas), map(_RECORDED_BY, datas), strict=True))
    categories = Counter((day, *taxonomies.categories(data)) for day, data in zip(days, datas, strict=True))
    present = set(zip(map(_MEMBER_ID, datas), days, strict=True))
    present.difference_update(zip(repeat(None), set(days)))  # anonymous visits: counts only
    presence = sorted(present)
    # the long periods' rollups, added up from the day keys (not the visits)
    month_counts: Counter[tuple[str, str]] = Counter()
    day_totals: Counter[str] = Counter()
    for (day, reason, _by), n in counts.items():
        month_counts[(day[:7], reason)] += n
        day_totals[day] += n
    month_categories: Counter[tuple[str, str, str]] = Counter()
    for (day, cra, domain), n in categories.items():
        month_categories[(day[:7], cra, domain)] += n
    # every list in key order: concurrent batches lock rows in one order (no deadlock)
    return _VisitPlan(
        [(day, reason, by, n) for (day, reason, by), n in sorted(counts.items())],
        [(day, cra, domain, n) for (day, cra, domain), n in sorted(categories.items())],
        list(map(_FIRST, presence)),
        list(map(_SECOND, presence)),
        [(month, reason, n) for (month, reason), n in sorted(month_counts.items())],
        [(month, cra, domain, n) for (month, cra, domain), n in sorted(month_categories.items())],
        sorted(day_totals.items()),
        sorted({(member, day[:7]) for member, day in presence}),
    )


def _project_visits(conn: Connection, centre_id: str, planned: _VisitPlan) -> None:
    mark = db.param_mark(conn)
    conn.exec_driver_sql(
        _VISIT_COUNT_UPSERT.format(m=mark),
        [(centre_id, day, reason, by, n) for day, reason, by, n in planned.counts],
    )
    conn.exec_driver_sql(
        _VISIT_CATEGORY_UPSERT.format(m=mark),
        [(centre_id, day, cra, domain, n) for day, cra, domain, n in planned.categories],
    )
    conn.exec_driver_sql(
        _VISIT_MONTH_UPSERT.format(m=mark),
        [(centre_id, month, reason, n) for month, reason, n in planned.month_counts],
    )
    conn.exec_driver_sql(
        _CATEGORY_MONTH_UPSERT.format(m=mark),
        [(centre_id, month, cra, domain, n) for month, cra, domain, n in planned.month_categories],
    )
    conn.exec_driver_sql(
        _VISIT_DAY_UPSERT.format(m=mark), [(day, centre_id, n) for day, n in planned.day_totals]
    )
    if planned.presence_members:
        _add_presence(conn, mark, centre_id, planned.presence_members, planned.presence_days)
        _add_member_months(conn, mark, centre_id, planned.member_months)


_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_UTC_HOUR = itemgetter(slice(0, 13))  # paris_day's key
_REASON = itemgetter("reason")
_RECORDED_BY = itemgetter("recorded_by")
_MEMBER_ID = methodcaller("get", "member_id")


def _add_presence(conn: Connection, mark: str, centre_id: str, members: list[str], days: list[str]) -> None:
    if mark == "?":
        # SQLite: one prepared single-row statement run for each row costs
        # less than a statement of many rows, which SQLite compiles anew for
        # every length a batch brings
        rows = [(centre_id, member, day) for member, day in zip(members, days, strict=True)]
        conn.exec_driver_sql(_presence_sql(mark, 1), rows)
        return
    # PostgreSQL: a statement of many rows, one round trip
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        chunk = zip(
            repeat(centre_id),
            members[start : start + _ROWS_PER_STATEMENT],
            days[start : start + _ROWS_PER_STATEMENT],
        )
        params = tuple(chain.from_iterable(chunk))
        conn.exec_driver_sql(_presence_sql(mark, len(params) // 3), params)


@lru_cache(maxsize=16)
def _presence_sql(mark: str, rows: int) -> str:
    values = ", ".join([f"({mark}, {mark}, {mark})"] * rows)
    return (
        f"INSERT INTO p_presence (centre_id, member_id, day) VALUES {values} "
        "ON CONFLICT (centre_id, member_id, day) DO NOTHING"
    )


# ---------------------------------------------------------------- distinct people by period


def attrs_of(conn: Connection, centre_id: str, member_ids) -> dict[str, tuple[str, ...]]:
    """member -> its r_participants keys (store.attrs_keys), for the members
    of ``member_ids`` that have a row."""
    found: dict[str, tuple[str, ...]] = {}
    members = sorted(member_ids)
    mark = db.param_mark(conn)
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        chunk = members[start : start + _ROWS_PER_STATEMENT]
        for member_id, *attrs in driver_fetch(
            conn,
            f"SELECT member_id, {', '.join(db.ATTR_COLUMNS)} FROM p_members "
            f"WHERE centre_id = {mark} AND member_id IN ({', '.join([mark] * len(chunk))})",
            (centre_id, *chunk),
        ):
            found[member_id] = db.attrs_keys(*attrs)
    return found


def _rows_of(
    conn: Connection, centre_id: str, member_ids, months: tuple[str, str] = ("", "~")
) -> dict[str, set[tuple[str, str]]]:
    """member -> its (month, via) rows in r_member_months, those from
    ``months[0]`` to ``months[1]`` ('YYYY-MM', both included) when given:
    a member's rows grow with every month it comes, for years."""
    rows: dict[str, set[tuple[str, str]]] = defaultdict(set)
    members = sorted(member_ids)
    mark = db.param_mark(conn)
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        chunk = members[start : start + _ROWS_PER_STATEMENT]
        for member_id, month, via in driver_fetch(
            conn,
            f"SELECT member_id, month, via FROM r_member_months "
            f"WHERE centre_id = {mark} AND member_id IN ({', '.join([mark] * len(chunk))}) "
            f"AND month BETWEEN {mark} AND {mark}",
            (centre_id, *chunk, *months),
        ):
            rows[member_id].add((month, via))
    return rows


def _months_of(conn: Connection, centre_id: str, member_ids) -> dict[str, set[str]]:
    """member -> the months it came in, by a visit or at a session (r_member_months)."""
    return {
        member: {month for month, _via in rows}
        for member, rows in _rows_of(conn, centre_id, member_ids).items()
    }


def _count_changes(
    conn: Connection,
    centre_id: str,
    before: dict[str, set[str]],
    after: dict[str, set[str]],
    attrs: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Count the periods members came in after a change of their months
    (``before`` and ``after``, member -> months): +1 for a period gained,
    -1 for one lost, under the member's attributes (none yet: counted when
    its row arrives, _move_participants). ``attrs``: the members' keys
    (attrs_of) when the caller has read them already."""
    changed = {member for member in after if before.get(member, set()) != after[member]}
    if not changed:
        return
    if attrs is None:
        attrs = attrs_of(conn, centre_id, changed)
    deltas: Counter[tuple[str, str]] = Counter()
    for member in changed & attrs.keys():
        keys = attrs[member]
        old, new = _periods_of(before.get(member, set())), _periods_of(after[member])
        for period in new - old:
            for key in keys:
                deltas[(period, key)] += 1
        for period in old - new:
            for key in keys:
                deltas[(period, key)] -= 1
    _add_participants(conn, centre_id, deltas)


def _periods_of(months: set[str]) -> set[str]:
    """The months and the years ('YYYY') they lie in."""
    return months | {month[:4] for month in months}


def _add_participants(conn: Connection, centre_id: str, deltas: Counter) -> None:
    """Add ``deltas[(period, attrs)]`` (negative: moved away) to r_participants."""
    rows = [(period, centre_id, attrs, n) for (period, attrs), n in sorted(deltas.items()) if n]
    if rows:
        mark = db.param_mark(conn)
        conn.exec_driver_sql(_PARTICIPANTS_UPSERT.format(m=mark), rows)
        # a row moved down to nothing goes: nothing of an attribute an
        # erasure blanked (a household's id) stays behind in a key
        emptied = [row[:3] for row in rows if row[3] < 0]
        if emptied:
            conn.exec_driver_sql(
                f"DELETE FROM r_participants WHERE period = {mark} AND centre_id = {mark} "
                f"AND attrs = {mark} AND members = 0",
                emptied,
            )


def _add_member_months(
    conn: Connection, mark: str, centre_id: str, member_months: list[tuple[str, str]]
) -> None:
    """Record the batch's (member, month)s; a pair new to the hub counts its
    member once in the month, and in the year when it is the member's first
    month of that year. A member whose row has not arrived is counted when it
    does (_move_participants). The members' months are read first (one
    batch of a centre at a time: ingest._serialise_centre), so only the new
    pairs are written. The counts need the members' months of the years
    the new pairs lie in (the periods are months and years): only those
    are read, a second time for the rare member with a new month."""
    batch_months = [month for _member, month in member_months]
    held = _rows_of(
        conn, centre_id, {member for member, _month in member_months}, (min(batch_months), max(batch_months))
    )
    new = [(member, month) for member, month in member_months if (month, "v") not in held.get(member, ())]
    if not new:
        return
    # only the members with a row are counted
    attrs = attrs_of(conn, centre_id, {member for member, _month in new})
    years = sorted({month[:4] for _member, month in new})
    held = _rows_of(conn, centre_id, attrs.keys(), (f"{years[0]}-01", f"{years[-1]}-12")) if attrs else {}
    # rare: a member's first visit of a month
    conn.exec_driver_sql(
        "INSERT INTO r_member_months (centre_id, member_id, month, via) "
        f"VALUES ({mark}, {mark}, {mark}, 'v') ON CONFLICT (centre_id, member_id, month, via) DO NOTHING",
        [(centre_id, member, month) for member, month in new],
    )
    if not attrs:
        return
    before = {member: {month for month, _via in held.get(member, ())} for member in attrs}
    after = {member: set(months) for member, months in before.items()}
    for member, month in new:
        if member in after:
            after[member].add(month)
    _count_changes(conn, centre_id, before, after, attrs)


def _move_participants(
    conn: Connection, centre_id: str, before: dict[str, tuple[str, ...]], after: dict[str, tuple[str, ...]]
) -> None:
    """Members whose attributes changed (or whose row was just made) move
    their periods' counts from the old attributes to the new."""
    changed = [member for member, key in after.items() if before.get(member) != key]
    if not changed:
        return
    deltas: Counter[tuple[str, str]] = Counter()
    for member, months in _months_of(conn, centre_id, changed).items():
        for period in _periods_of(months):
            for key in before.get(member, ()):
                deltas[(period, key)] -= 1
            for key in after[member]:
                deltas[(period, key)] += 1
    _add_participants(conn, centre_id, deltas)


def merge_member_periods(conn: Connection, centre_id: str, kept: str, gone: str) -> None:
    """Two pseudonyms become one participant: ``gone``'s months become
    ``kept``'s, and each period counts the person once. Call it before the
    ``gone`` member's row or attributes change."""
    attrs = attrs_of(conn, centre_id, {kept, gone})
    months = _months_of(conn, centre_id, {kept, gone})
    kept_months, gone_months = months.get(kept, set()), months.get(gone, set())
    deltas: Counter[tuple[str, str]] = Counter()
    for period in _periods_of(gone_months):
        for key in attrs.get(gone, ()):
            deltas[(period, key)] -= 1
    for period in _periods_of(kept_months | gone_months) - _periods_of(kept_months):
        for key in attrs.get(kept, ()):
            deltas[(period, key)] += 1
    rows = _rows_of(conn, centre_id, {kept, gone})
    mark = db.param_mark(conn)
    conn.exec_driver_sql(
        f"DELETE FROM r_member_months WHERE centre_id = {mark} AND member_id = {mark}", (centre_id, gone)
    )
    added = sorted(rows.get(gone, set()) - rows.get(kept, set()))
    if added:
        conn.exec_driver_sql(
            "INSERT INTO r_member_months (centre_id, member_id, month, via) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})",
            [(centre_id, kept, month, via) for month, via in added],
        )
    _add_participants(conn, centre_id, deltas)


def _refresh_attendance(conn: Connection, centre_id: str, member_ids: set[str]) -> None:
    """The months ``member_ids`` were present at a session held (not
    cancelled), from p_attendance and p_sessions as they now stand, kept in
    r_member_months ('a'), and the periods' counts changed with them: what
    an attendance, a session's new time or its cancellation changes."""
    if not member_ids:
        return
    mark = db.param_mark(conn)
    members = sorted(member_ids)
    attended: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        chunk = members[start : start + _ROWS_PER_STATEMENT]
        for member_id, starts_at in driver_fetch(
            conn,
            "SELECT a.member_id, s.starts_at FROM p_attendance a JOIN p_sessions s "
            "ON s.centre_id = a.centre_id AND s.session_id = a.session_id "
            f"WHERE a.centre_id = {mark} AND a.member_id IN ({', '.join([mark] * len(chunk))}) "
            "AND a.present AND NOT s.cancelled AND s.starts_at IS NOT NULL",
            (centre_id, *chunk),
        ):
            attended[member_id].add(db.paris_month(starts_at))
    rows = _rows_of(conn, centre_id, members)
    gone, added = [], []
    for member in members:
        held = {month for month, via in rows.get(member, set()) if via == "a"}
        gone += [(centre_id, member, month) for month in sorted(held - attended[member])]
        added += [(centre_id, member, month) for month in sorted(attended[member] - held)]
    if not gone and not added:
        return
    before = {member: {month for month, _via in rows.get(member, set())} for member in members}
    after = {
        member: {month for month, via in rows.get(member, set()) if via == "v"} | attended[member]
        for member in members
    }
    if gone:
        conn.exec_driver_sql(
            f"DELETE FROM r_member_months WHERE centre_id = {mark} AND member_id = {mark} "
            f"AND month = {mark} AND via = 'a'",
            gone,
        )
    if added:
        conn.exec_driver_sql(
            "INSERT INTO r_member_months (centre_id, member_id, month, via) "
            f"VALUES ({mark}, {mark}, {mark}, 'a')",
            added,
        )
    _count_changes(conn, centre_id, before, after)


def _attendees_touched(
    conn: Connection, centre_id: str, by_type: dict[str, list[tuple[str, dict]]]
) -> set[str]:
    """The members whose sessions' attendance the batch may change: those
    of its attendance events (and whom those attendances named before), and
    those present at its sessions created, moved or cancelled."""
    members = {event["data"].get("member_id") for _at, event in by_type.get("attendance.taken", [])}
    sessions = {
        event["data"]["session_id"]
        for kind in ("session.created", "session.updated", "session.cancelled")
        for _at, event in by_type.get(kind, [])
    }
    attendances = {event["data"]["attendance_id"] for _at, event in by_type.get("attendance.taken", [])}
    mark = db.param_mark(conn)
    for column, keys in (("session_id", sorted(sessions)), ("attendance_id", sorted(attendances))):
        for start in range(0, len(keys), _ROWS_PER_STATEMENT):
            chunk = keys[start : start + _ROWS_PER_STATEMENT]
            members.update(
                member_id
                for (member_id,) in driver_fetch(
                    conn,
                    f"SELECT member_id FROM p_attendance WHERE centre_id = {mark} "
                    f"AND {column} IN ({', '.join([mark] * len(chunk))})",
                    (centre_id, *chunk),
                )
            )
    members.discard(None)
    return members


# ---------------------------------------------------------------- duplicates merged on a kiosk


def merge_members(conn: Connection, centre_id: str, merged: list[tuple[str, dict]], new_events) -> None:
    """Staff merged two records of one person on a kiosk (``member.merged``,
    protocol 1.3): the hub counts one participant. The merged pseudonym's
    days, months, attendance and registrations become the kept one's, and
    its member row goes. An event naming a merged pseudonym that arrives
    after the merge (a visit recorded on a device that had not heard of it
    yet, its member.created from a device that synced late) is moved the
    same way: the merges stored earlier are looked up for the batch's
    members, only in a centre that has any."""
    merges = [
        (event["data"]["member_id"], event["data"]["into_member_id"])
        for _at, event in sorted(merged, key=lambda pair: pair[0])
    ]
    mark = db.param_mark(conn)
    if (
        conn.exec_driver_sql(
            f"SELECT 1 FROM event_counts WHERE centre_id = {mark} AND type = 'member.merged'", (centre_id,)
        ).first()
        is None
    ):
        return
    named = {event["data"].get("member_id") for _at, event in new_events} - {None}
    merges += [pair for pair in _stored_merges(conn, centre_id, named) if pair not in merges]
    erased = {event["data"]["member_id"] for _at, event in new_events if event["type"] == "member.erased"}
    for gone, kept in merges:
        kept = _final_member(conn, centre_id, kept)
        if gone == kept:
            continue  # two devices merged the pair both ways: nothing left to move
        merge_member_periods(conn, centre_id, kept, gone)
        conn.exec_driver_sql(
            "INSERT INTO p_presence (centre_id, member_id, day) "
            f"SELECT centre_id, {mark}, day FROM p_presence WHERE centre_id = {mark} AND member_id = {mark} "
            "ON CONFLICT DO NOTHING",
            (kept, centre_id, gone),
        )
        for table in ("p_presence", "p_members"):
            conn.exec_driver_sql(
                f"DELETE FROM {table} WHERE centre_id = {mark} AND member_id = {mark}", (centre_id, gone)
            )
        for table in ("p_attendance", "p_registrations"):
            conn.exec_driver_sql(
                f"UPDATE {table} SET member_id = {mark} WHERE centre_id = {mark} AND member_id = {mark}",
                (kept, centre_id, gone),
            )
        if _erased(conn, centre_id, kept):
            erased.add(kept)
    _redact_merged_into(conn, centre_id, erased)


def _erased(conn: Connection, centre_id: str, member_id: str) -> bool:
    mark = db.param_mark(conn)
    query = (
        f"SELECT 1 FROM p_members WHERE centre_id = {mark} AND member_id = {mark} AND erased_at IS NOT NULL"
    )
    return conn.exec_driver_sql(query, (centre_id, member_id)).first() is not None


def _redact_merged_into(conn: Connection, centre_id: str, erased: set[str]) -> None:
    """An erased person's records merged into their kept one (whose rows are
    gone) lose their attributes from the stored bodies too, as the kept
    one's do (redact_erased): one person, one erasure."""
    if not erased:
        return
    mark, gone, todo = db.param_mark(conn), set(), set(erased)
    while todo:  # the records merged into them, and those merged into those
        found = set()
        for member_id, body in conn.exec_driver_sql(
            f"SELECT member_id, body FROM events WHERE centre_id = {mark} AND member_id IS NOT NULL "
            "AND type = 'member.merged'",
            (centre_id,),
        ):
            if json.loads(body)["data"]["into_member_id"] in todo and member_id not in gone:
                found.add(member_id)
        gone |= found
        todo = found
    if not gone:
        return
    events = db.events
    held = conn.execute(
        sa.select(events.c.seq, events.c.body).where(
            events.c.centre_id == centre_id,
            events.c.member_id.in_(sorted(gone)),
            events.c.type.in_(MEMBER_ATTRIBUTE_EVENTS),
        )
    ).all()
    for seq, body in held:
        event = json.loads(body)
        if not event["data"].get("redacted"):
            event["data"] = {"member_id": event["data"]["member_id"], "redacted": True}
            conn.execute(
                events.update().where(events.c.seq == seq).values(body=protocol.canonical_json(event))
            )
    _redact_parked(conn, centre_id, sorted(gone))
    _redact_conflicts(conn, centre_id, sorted(gone))


def _stored_merges(conn: Connection, centre_id: str, members: set[str]) -> list[tuple[str, str]]:
    """(merged, kept) of the ``member.merged`` events stored for ``members``."""
    found: list[tuple[str, str]] = []
    ordered, mark = sorted(members), db.param_mark(conn)
    for start in range(0, len(ordered), _ROWS_PER_STATEMENT):
        chunk = ordered[start : start + _ROWS_PER_STATEMENT]
        for member_id, body in conn.exec_driver_sql(
            f"SELECT member_id, body FROM events WHERE centre_id = {mark} AND type = 'member.merged' "
            f"AND member_id IN ({', '.join([mark] * len(chunk))}) ORDER BY occurred_at, seq",
            (centre_id, *chunk),
        ):
            found.append((member_id, json.loads(body)["data"]["into_member_id"]))
    return found


def _final_member(conn: Connection, centre_id: str, member_id: str) -> str:
    """The pseudonym a chain of merges ends at (a record merged into one that
    was itself merged later); a cycle stops where it started."""
    seen = {member_id}
    while True:
        onward = _stored_merges(conn, centre_id, {member_id})
        if not onward or onward[-1][1] in seen:
            return member_id
        member_id = onward[-1][1]
        seen.add(member_id)


def refresh_rollups(conn: Connection) -> None:
    """The rollups from the day projections and the members (what schema
    step 22 made): the benchmarks and tests that fill the projections
    directly call it."""
    db.rebuild_rollups(conn)


def _upsert_latest(
    conn: Connection,
    table: sa.Table,
    keys: list[str],
    rows: list[dict],
    extra_set=None,
    extra_where=None,
    or_where=None,
) -> None:
    """Insert rows, or overwrite the held row when the event is not older.
    ``extra_set(excluded)`` overrides some columns' new values; ``extra_where``
    must also hold for an overwrite; ``or_where`` allows one anyway."""
    if not rows:
        return
    # the rows' columns only: the others keep their value
    statement = _dialect_insert(conn, table).values({name: sa.bindparam(name) for name in rows[0]})
    excluded = statement.excluded
    set_ = {name: excluded[name] for name in rows[0] if name not in keys}
    set_.update(extra_set(statement.excluded) if extra_set else {})
    where = excluded.as_of >= table.c.as_of
    if or_where is not None:
        where = sa.or_(where, or_where)
    if extra_where is not None:
        where = sa.and_(where, extra_where)
    # one shape of statement per table, so it is compiled once; rows in key
    # order so concurrent batches lock in the same order. The upsert keeps
    # the latest as_of, so the order of rows within a batch does not matter.
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    _executemany(
        conn,
        f"latest:{table.name}",
        lambda _c: statement.on_conflict_do_update(index_elements=keys, set_=set_, where=where),
        rows,
    )


def _project_members(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    if not pairs:
        return
    rows = []
    for at, event in pairs:
        data = event["data"]
        # the kiosk counted age_band in the year of the event (UTC, its clock's)
        born_from, born_to = ages.born_span(data["age_band"], data.get("year_born"), int(at[:4]))
        rows.append(
            {
                "centre_id": centre_id,
                "member_id": data["member_id"],
                "age_band": data["age_band"],
                "gender": data.get("gender"),
                "commune": data.get("commune"),
                "neighbourhood": data.get("neighbourhood"),
                "qpv": data["qpv"],
                "created_day": paris_day(at) if event["type"] == "member.created" else None,
                "erased_at": None,
                "as_of": at,
                "born_from": born_from,
                "born_to": born_to,
                # protocol 1.2; an older event has none: no household known
                "household_id": data.get("household_id"),
                # protocol 1.2, only where the member consented; none: not given
                "employment": data.get("employment"),
                "education": data.get("education"),
            }
        )
    members = db.p_members
    # an erased member stays erased; the newest attributes win otherwise
    _upsert_latest(
        conn,
        members,
        ["centre_id", "member_id"],
        rows,
        extra_set=lambda ex: {"created_day": sa.func.coalesce(ex.created_day, members.c.created_day)},
        extra_where=members.c.erased_at.is_(None),
    )
    # member.created may arrive after a newer update: it still gives the day
    created = [
        {"b_centre": centre_id, "b_member": r["member_id"], "b_day": r["created_day"]}
        for r in rows
        if r["created_day"]
    ]
    _executemany(
        conn,
        "p_members.created_day",
        lambda _c: (
            members.update()
            .where(
                members.c.centre_id == sa.bindparam("b_centre"),
                members.c.member_id == sa.bindparam("b_member"),
                members.c.created_day.is_(None),
            )
            .values(created_day=sa.bindparam("b_day"))
        ),
        created,
    )


def _project_erasures(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """Erasure wins whatever the order: attributes gone, the row (and counts) kept."""
    if not pairs:
        return
    rows = [
        {
            "centre_id": centre_id,
            "member_id": event["data"]["member_id"],
            "age_band": "unknown",
            "gender": None,
            "commune": None,
            "neighbourhood": None,
            "qpv": None,
            "created_day": None,
            "erased_at": at,
            "as_of": at,
            "born_from": None,
            "born_to": None,
            "household_id": None,
            "employment": None,
            "education": None,
        }
        for at, event in pairs
    ]
    statement = _dialect_insert(conn, db.p_members)
    members, excluded = db.p_members, statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["centre_id", "member_id"],
            set_={
                "age_band": "unknown",
                "gender": None,
                "commune": None,
                "neighbourhood": None,
                "qpv": None,
                "born_from": None,
                "born_to": None,
                "household_id": None,
                "employment": None,
                "education": None,
                "erased_at": sa.func.coalesce(members.c.erased_at, excluded.erased_at),
                "as_of": sa.case((excluded.as_of > members.c.as_of, excluded.as_of), else_=members.c.as_of),
            },
        ),
        rows,
    )


def _erased_among(conn: Connection, centre_id: str, member_ids: set[str]) -> list[str]:
    """The members of ``member_ids`` whose row says they were erased. Plain
    SQL, as attrs_of: every batch of members asks it of all of them."""
    erased: list[str] = []
    members = sorted(member_ids)
    mark = db.param_mark(conn)
    for start in range(0, len(members), _ROWS_PER_STATEMENT):
        chunk = members[start : start + _ROWS_PER_STATEMENT]
        erased += (
            member_id
            for (member_id,) in driver_fetch(
                conn,
                f"SELECT member_id FROM p_members WHERE centre_id = {mark} "
                f"AND member_id IN ({', '.join([mark] * len(chunk))}) AND erased_at IS NOT NULL",
                (centre_id, *chunk),
            )
        )
    return erased


def redact_erased(conn: Connection, centre_id: str, member_ids: set[str]) -> None:
    """Strip an erased member's attributes from the stored event bodies too
    (the content hash stays, so a replay is still recognised as one)."""
    erased = _erased_among(conn, centre_id, member_ids)
    if not erased:
        return
    events = db.events
    held = conn.execute(
        sa.select(events.c.seq, events.c.body).where(
            events.c.centre_id == centre_id,
            events.c.member_id.in_(erased),
            events.c.type.in_(MEMBER_ATTRIBUTE_EVENTS),
        )
    ).all()
    updates = []
    for seq, body in held:
        event = json.loads(body)
        if event["data"].get("redacted"):
            continue
        event["data"] = {"member_id": event["data"]["member_id"], "redacted": True}
        updates.append({"b_seq": seq, "b_body": protocol.canonical_json(event)})
    if updates:
        conn.execute(
            events.update().where(events.c.seq == sa.bindparam("b_seq")).values(body=sa.bindparam("b_body")),
            updates,
        )
    _redact_parked(conn, centre_id, erased)
    _redact_conflicts(conn, centre_id, erased)


def _redact_parked(conn: Connection, centre_id: str, member_ids: Sequence[str]) -> None:
    """Parked copies of an erased member's events lose the attributes too."""
    parked = db.parked
    for parked_id, body in conn.execute(
        sa.select(parked.c.id, parked.c.body).where(
            parked.c.centre_id == centre_id,
            parked.c.member_id.in_(member_ids),
            parked.c.type.in_(MEMBER_ATTRIBUTE_EVENTS),
        )
    ).all():
        event = json.loads(body)
        if not event["data"].get("redacted"):
            event["data"] = {"member_id": event["data"]["member_id"], "redacted": True}
            conn.execute(
                parked.update().where(parked.c.id == parked_id).values(body=protocol.canonical_json(event))
            )


def _redact_conflicts(conn: Connection, centre_id: str, member_ids: Sequence[str]) -> None:
    """Conflicting copies of an erased member's events lose the attributes too.
    Conflicts are rare, so a text search over this centre's is cheap enough."""
    conflicts = db.conflicts
    for member_id in member_ids:
        held = conn.execute(
            sa.select(conflicts.c.id, conflicts.c.body).where(
                conflicts.c.centre_id == centre_id,
                conflicts.c.body.contains(f'"member_id":"{member_id}"', autoescape=True),
            )
        ).all()
        for conflict_id, body in held:
            event = json.loads(body)
            if event.get("type") in MEMBER_ATTRIBUTE_EVENTS and not event["data"].get("redacted"):
                event["data"] = {"member_id": member_id, "redacted": True}
                conn.execute(
                    conflicts.update()
                    .where(conflicts.c.id == conflict_id)
                    .values(body=protocol.canonical_json(event))
                )


def _project_workshops(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    _upsert_latest(
        conn,
        db.p_workshops,
        ["centre_id", "workshop_id"],
        [
            {
                "centre_id": centre_id,
                "workshop_id": event["data"]["workshop_id"],
                "title": event["data"]["title"],
                "theme": event["data"]["theme"],
                "place": event["data"].get("place"),
                "as_of": at,
            }
            for at, event in pairs
        ],
    )
    # 1.3: a workshop adopted from a federation sheet names it
    sheet_figures.project_adoptions(conn, centre_id, pairs)


def _project_sessions(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    sessions = db.p_sessions
    _upsert_latest(
        conn,
        sessions,
        ["centre_id", "session_id"],
        [
            {
                "centre_id": centre_id,
                "session_id": event["data"]["session_id"],
                "workshop_id": event["data"]["workshop_id"],
                "starts_at": protocol.utc_text(event["data"]["starts_at"]),
                "ends_at": protocol.utc_text(event["data"]["ends_at"]),
                "capacity": event["data"]["capacity"],
                "cancelled": False,
                "as_of": at,
            }
            for at, event in pairs
        ],
        # a cancellation is final, whichever event arrives first; one that
        # arrived before its session.created left the attributes to fill in
        extra_set=lambda ex: {"cancelled": sessions.c.cancelled},
        or_where=sessions.c.workshop_id.is_(None),
    )


def _project_cancellations(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    if not pairs:
        return
    # as_of keeps dating the attributes: the cancellation only sets its flag
    statement = _dialect_insert(conn, db.p_sessions)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["centre_id", "session_id"],
            set_={"cancelled": True},
        ),
        [
            {
                "centre_id": centre_id,
                "session_id": event["data"]["session_id"],
                "cancelled": True,
                "as_of": at,
            }
            for at, event in pairs
        ],
    )


def _project_registrations(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    _upsert_latest(
        conn,
        db.p_registrations,
        ["centre_id", "registration_id"],
        [
            {
                "centre_id": centre_id,
                "registration_id": event["data"]["registration_id"],
                "session_id": event["data"]["session_id"],
                "member_id": event["data"]["member_id"],
                "status": event["data"]["status"],
                "as_of": at,
            }
            for at, event in pairs
        ],
    )


def _project_attendance(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    _upsert_latest(
        conn,
        db.p_attendance,
        ["centre_id", "attendance_id"],
        [
            {
                "centre_id": centre_id,
                "attendance_id": event["data"]["attendance_id"],
                "session_id": event["data"]["session_id"],
                "member_id": event["data"].get("member_id"),
                "present": event["data"]["present"],
                "walk_in": event["data"]["walk_in"],
                "as_of": at,
            }
            for at, event in pairs
        ],
    )


def _project_volunteering(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """A stretch's highest version wins, whatever the order of arrival (each
    correction is a new event with a higher ``version``: the same event id
    never carries two contents)."""
    latest: dict[str, tuple[str, dict]] = {}
    for at, event in pairs:
        held = latest.get(event["data"]["stretch_id"])
        if held is None or event["data"]["version"] > held[1]["data"]["version"]:
            latest[event["data"]["stretch_id"]] = (at, event)
    rows = [
        {
            "centre_id": centre_id,
            "stretch_id": stretch_id,
            "volunteer_id": event["data"]["volunteer_id"],
            "kind": event["data"]["kind"],
            "day": event["data"]["day"],
            "minutes": event["data"]["minutes"],
            "auto_closed": event["data"]["auto_closed"],
            "removed": event["data"]["removed"],
            "version": event["data"]["version"],
            "as_of": at,
        }
        for stretch_id, (at, event) in sorted(latest.items())
    ]
    table = db.p_volunteering

    def build(_conn: Connection):
        statement = _dialect_insert(_conn, table).values({name: sa.bindparam(name) for name in rows[0]})
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=["centre_id", "stretch_id"],
            set_={name: excluded[name] for name in rows[0] if name not in ("centre_id", "stretch_id")},
            where=excluded.version > table.c.version,
        )

    _executemany(conn, "latest:p_volunteering", build, rows)


def _day_of(moment: str | None) -> str | None:
    """A protocol time's Paris day, None for None."""
    return None if moment is None else paris_day(protocol.utc_text(moment))


def _project_ideas_received(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """An idea's theme and the day it was received; what became of it is
    idea.updated's, whichever arrives first (as_of '' lets any update win)."""
    if not pairs:
        return
    statement = _dialect_insert(conn, db.p_ideas)
    rows = sorted(
        (
            {
                "centre_id": centre_id,
                "idea_id": event["data"]["idea_id"],
                "theme": event["data"]["theme"],
                "received_day": paris_day(at),
                "as_of": "",
            }
            for at, event in pairs
        ),
        key=itemgetter("idea_id"),
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["centre_id", "idea_id"], set_={"received_day": statement.excluded.received_day}
        ),
        rows,
    )


def _project_ideas_updated(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    ideas = db.p_ideas
    _upsert_latest(
        conn,
        ideas,
        ["centre_id", "idea_id"],
        [
            {
                "centre_id": centre_id,
                "idea_id": event["data"]["idea_id"],
                "theme": event["data"]["theme"],
                "received_day": None,
                "answered_day": _day_of(event["data"].get("answered_at")),
                "done_day": _day_of(event["data"].get("done_at")),
                "initiative_day": _day_of(event["data"].get("initiative_at")),
                "as_of": at,
            }
            for at, event in pairs
        ],
        extra_set=lambda ex: {"received_day": ideas.c.received_day},
    )


def _project_feedback(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """Each face once (its id); a face never changes."""
    if not pairs:
        return
    statement = _dialect_insert(conn, db.p_feedback).on_conflict_do_nothing(
        index_elements=["centre_id", "feedback_id"]
    )
    conn.execute(
        statement,
        sorted(
            (
                {
                    "centre_id": centre_id,
                    "feedback_id": event["data"]["feedback_id"],
                    "session_id": event["data"]["session_id"],
                    "face": event["data"]["face"],
                    "day": paris_day(at),
                }
                for at, event in pairs
            ),
            key=itemgetter("feedback_id"),
        ),
    )


def _project_outreach(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """An event held « hors les murs », once (its id): it never changes."""
    if not pairs:
        return
    statement = _dialect_insert(conn, db.p_outreach).on_conflict_do_nothing(
        index_elements=["centre_id", "outreach_id"]
    )
    rows = {
        event["data"]["outreach_id"]: {
            "centre_id": centre_id,
            "outreach_id": event["data"]["outreach_id"],
            "day": event["data"]["day"],
            "commune": event["data"].get("commune"),
            "neighbourhood": event["data"].get("neighbourhood"),
            "qpv": event["data"]["qpv"],
            "partner_kind": event["data"].get("partner_kind"),
        }
        for _, event in pairs
    }
    conn.execute(statement, [rows[key] for key in sorted(rows)])


def _project_outreach_met(
    conn: Connection, table: sa.Table, key: str, centre_id: str, pairs: list[tuple[str, dict]]
) -> None:
    """A visit or a new member that carried an itinerant event's id (1.2),
    once (its id), with its Paris day; the others are at the centre."""
    rows = {
        event["data"][key]: {
            "centre_id": centre_id,
            key: event["data"][key],
            "outreach_id": event["data"]["outreach_id"],
            "day": paris_day(at),
        }
        for at, event in pairs
        if event["data"].get("outreach_id")
    }
    if rows:
        statement = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=["centre_id", key])
        conn.execute(statement, [rows[name] for name in sorted(rows)])


_PROJECTORS = {
    "idea.received": _project_ideas_received,
    "idea.updated": _project_ideas_updated,
    "feedback.given": _project_feedback,
    "volunteering.recorded": _project_volunteering,
    "outreach.held": _project_outreach,
    "workshop.created": _project_workshops,
    "workshop.updated": _project_workshops,
    "sheet.offered": sheet_figures.project_offers,
    "session.created": _project_sessions,
    "session.updated": _project_sessions,
    "session.cancelled": _project_cancellations,
    "registration.changed": _project_registrations,
    "attendance.taken": _project_attendance,
}
