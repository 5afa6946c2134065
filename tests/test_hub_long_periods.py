"""Figures of long periods from the rollups kept at ingest (schema 22): for
a calendar year or month, and any run of whole months, the visits come from
the monthly rollups and the participants from the counts by period, and
they must equal the figures read day by day and member by member (the path
every other period takes), whatever the order of arrival, the attributes
changing, erasures, members whose row came late, and people present at a
session without a visit. The migration's rebuild gives the same rollups as
ingest kept."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, projections, reports, store
from sync import protocol

T0 = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
DAYS = 160  # to late April 2026: two years, several months


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def push(engine, centre_id: str, events: list[dict]) -> None:
    with store.writer(engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.2", "events": events}, centre_id, None, centres.now_iso())


def member_data(rng: random.Random, member_id: str, household: str | None) -> dict:
    return {
        "member_id": member_id,
        "age_band": rng.choice(protocol.AGE_BANDS),
        "gender": rng.choice((*protocol.GENDERS, None)),
        "commune": "Lyon",
        "neighbourhood": None,
        "qpv": rng.random() < 0.4,
        "year_born": rng.choice((None, 1950, 1990, 2012)),
        "household_id": household,
        "employment": rng.choice((None, "employed", "unemployed")),
        "education": rng.choice((None, "isced_3_4")),
    }


def centre_events(rng: random.Random) -> list[dict]:
    """A centre's events over DAYS: members (some created late, some never,
    some updated or erased), visits (some anonymous), sessions (one
    cancelled) with attendance, in no particular order."""
    at = [T0 + timedelta(days=d, hours=rng.randint(0, 9)) for d in range(DAYS)]
    households = [protocol.new_id() for _ in range(4)]
    members = [protocol.new_id() for _ in range(24)]
    events = []
    for n, member_id in enumerate(members):
        if n % 8 == 7:
            continue  # never created: its visits count for nothing
        data = member_data(rng, member_id, rng.choice((*households, None)))
        events.append(protocol.make_event("member.created", data, rng.choice(at)))
        if n % 3 == 0:
            events.append(
                protocol.make_event("member.updated", member_data(rng, member_id, None), rng.choice(at))
            )
        if n % 7 == 0:
            events.append(protocol.make_event("member.erased", {"member_id": member_id}, rng.choice(at)))
    for _ in range(220):
        data = {
            "visit_id": protocol.new_id(),
            "member_id": rng.choice((*members, None)),
            "reason": rng.choice(("accueil", "caf", "numerique")),
            "recorded_by": rng.choice(("staff", "resident")),
            "cra_theme": None,
            "domain": None,
        }
        events.append(protocol.make_event("visit.recorded", data, rng.choice(at)))
    workshop = protocol.new_id()
    events.append(
        protocol.make_event(
            "workshop.created", {"workshop_id": workshop, "title": "Cuisine", "theme": "parentalite"}, at[0]
        )
    )
    for s in range(6):
        session = protocol.new_id()
        starts = rng.choice(at)
        data = {
            "session_id": session,
            "workshop_id": workshop,
            "starts_at": protocol.utc_iso(starts),
            "ends_at": protocol.utc_iso(starts + timedelta(hours=2)),
            "capacity": 10,
        }
        events.append(protocol.make_event("session.created", data, at[0]))
        if s == 5:
            events.append(protocol.make_event("session.cancelled", {"session_id": session}, starts))
        for member_id in rng.sample(members, 5):
            data = {
                "attendance_id": protocol.new_id(),
                "session_id": session,
                "member_id": member_id,
                "present": rng.random() < 0.8,
                "walk_in": False,
            }
            events.append(protocol.make_event("attendance.taken", data, starts))
    rng.shuffle(events)
    return events


def figures(engine, period: reports.Period) -> dict:
    with engine.connect() as conn:
        view = reports.overview(conn, period)
    return {
        "weeks": view.weeks,
        "reasons": view.reasons,
        "by_centre": view.visits_by_centre,
        "categories": view.categories,
        "profile": {k: v for k, v in view.participants.profile.items() if v},
        "births": {k: v for k, v in view.participants.births.items() if v},
        "situations": {k: v for k, v in view.situations.answered.items() if v},
        "families": view.families,
    }


def day_by_day(monkeypatch) -> None:
    """Every period read as days and members' spans, as before the rollups."""
    monkeypatch.setattr(reports, "whole_months", lambda p: ([(p.first_day, p.last_day)], None))


def rollups(conn) -> dict[str, set]:
    held = {}
    for table in store.ROLLUP_TABLES:
        rows = conn.execute(sa.select(table)).all()
        # a count moved away leaves its row at zero: the same as no row
        held[table.name] = {tuple(row) for row in rows if not isinstance(row[-1], int) or row[-1]}
    return held


def test_long_periods_from_the_rollups_equal_the_figures_read_day_by_day(engine, monkeypatch):
    rng = random.Random(22)
    with engine.begin() as conn:
        ids = [centres.add_centre(conn, f"Centre {n}")[0] for n in range(2)]
    for centre_id in ids:
        events = centre_events(rng)
        for start in range(0, len(events), 37):  # batches in no order of time
            push(engine, centre_id, events[start : start + 37])
    periods = [
        reports.Period(date(2026, 1, 1), date(2026, 12, 31)),
        reports.Period(date(2025, 1, 1), date(2025, 12, 31)),
        reports.Period(date(2026, 2, 1), date(2026, 2, 28)),
        reports.Period(date(2025, 12, 1), date(2026, 3, 31)),  # whole months over a year's end
        reports.Period(date(2025, 12, 10), date(2026, 3, 20)),  # edges and whole months
        reports.Period(date(2026, 1, 1), date(2026, 12, 31), ids[0]),
        reports.Period(date(2026, 3, 1), date(2026, 3, 31), ids[1]),
    ]
    assert reports.rollup_period(periods[0]) == "2026" and reports.rollup_period(periods[2]) == "2026-02"
    assert reports.rollup_period(periods[3]) is None and reports.rollup_period(periods[4]) is None
    rolled = [figures(engine, period) for period in periods]
    assert rolled[0]["profile"] and rolled[0]["families"].reached and rolled[0]["situations"]
    with monkeypatch.context() as patch:
        day_by_day(patch)
        assert [figures(engine, period) for period in periods] == rolled

    with engine.connect() as conn:
        kept = rollups(conn)
    with engine.begin() as conn:
        store.rebuild_rollups(conn)
    with engine.connect() as conn:
        assert rollups(conn) == kept


def test_a_member_s_new_attributes_move_every_period_s_count(engine):
    with engine.begin() as conn:
        centre_id = centres.add_centre(conn, "Centre")[0]
    someone, household = protocol.new_id(), protocol.new_id()
    data = member_data(random.Random(1), someone, household) | {"age_band": "25-54", "gender": "woman"}
    visit = {"member_id": someone, "reason": "accueil", "recorded_by": "staff"}
    push(
        engine,
        centre_id,
        [
            protocol.make_event("visit.recorded", visit | {"visit_id": protocol.new_id()}, T0),
            protocol.make_event("member.created", data, T0),
            protocol.make_event(
                "visit.recorded", visit | {"visit_id": protocol.new_id()}, T0 + timedelta(days=60)
            ),
        ],
    )
    year = reports.Period(date(2026, 1, 1), date(2026, 12, 31))
    with engine.connect() as conn:
        assert reports.participants(conn, year).profile == {("25-54", "woman", data["qpv"]): 1}
    push(engine, centre_id, [protocol.make_event("member.erased", {"member_id": someone}, T0)])
    r = store.r_participants.c
    with engine.connect() as conn:
        assert reports.participants(conn, year).profile == {("unknown", None, None): 1}
        profiles = sa.select(r.period, sa.func.sum(r.members)).where(r.attrs.startswith("p|"))
        counts = dict(conn.execute(profiles.group_by(r.period)).all())
    assert counts == {"2025": 1, "2025-11": 1, "2026": 1, "2026-01": 1}
    with engine.connect() as conn:  # the erased household's id is in no key
        assert not conn.execute(sa.select(r.attrs).where(r.attrs.contains(household))).all()


def test_two_pseudonyms_merged_count_once_in_each_period(engine):
    with engine.begin() as conn:
        centre_id = centres.add_centre(conn, "Centre")[0]
    kept, gone = protocol.new_id(), protocol.new_id()
    rng = random.Random(2)
    events = []
    for member_id, days in ((kept, (0, 60)), (gone, (1, 100))):
        events.append(protocol.make_event("member.created", member_data(rng, member_id, None), T0))
        for day in days:
            data = {
                "visit_id": protocol.new_id(),
                "member_id": member_id,
                "reason": "accueil",
                "recorded_by": "staff",
            }
            events.append(protocol.make_event("visit.recorded", data, T0 + timedelta(days=day)))
    push(engine, centre_id, events)
    year = reports.Period(date(2026, 1, 1), date(2026, 12, 31))
    with engine.connect() as conn:
        assert reports.participants(conn, year).total == 2
    with engine.begin() as conn:
        projections.merge_member_periods(conn, centre_id, kept, gone)
        conn.execute(store.p_members.delete().where(store.p_members.c.member_id == gone))
    with engine.connect() as conn:
        assert reports.participants(conn, year).total == 1
        assert reports.participants(conn, reports.Period(date(2026, 2, 1), date(2026, 2, 28))).total == 1
        assert reports.participants(conn, reports.Period(date(2025, 11, 1), date(2025, 11, 30))).total == 1


def test_present_at_a_session_counts_in_its_month_until_it_is_cancelled_or_moved(engine):
    with engine.begin() as conn:
        centre_id = centres.add_centre(conn, "Centre")[0]
    someone, workshop, session = protocol.new_id(), protocol.new_id(), protocol.new_id()
    starts = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 1 April in Paris

    def session_event(kind: str, at: datetime) -> dict:
        data = {
            "session_id": session,
            "workshop_id": workshop,
            "starts_at": protocol.utc_iso(at),
            "ends_at": protocol.utc_iso(at + timedelta(hours=1)),
            "capacity": 8,
        }
        return protocol.make_event(kind, data, T0)

    attendance = {
        "attendance_id": protocol.new_id(),
        "session_id": session,
        "member_id": someone,
        "present": True,
        "walk_in": True,
    }
    # the attendance first, its session and the member later
    push(engine, centre_id, [protocol.make_event("attendance.taken", attendance, starts)])
    push(engine, centre_id, [session_event("session.created", starts)])
    push(
        engine,
        centre_id,
        [protocol.make_event("member.created", member_data(random.Random(3), someone, None), T0)],
    )

    def totals() -> tuple[int, int, int]:
        with engine.connect() as conn:
            return tuple(
                reports.participants(conn, reports.Period(first, last)).total
                for first, last in (
                    (date(2026, 3, 1), date(2026, 3, 31)),
                    (date(2026, 4, 1), date(2026, 4, 30)),
                    (date(2026, 1, 1), date(2026, 12, 31)),
                )
            )

    assert totals() == (0, 1, 1)
    push(engine, centre_id, [session_event("session.updated", starts - timedelta(days=3))])
    assert totals() == (1, 0, 1)
    push(engine, centre_id, [protocol.make_event("session.cancelled", {"session_id": session}, T0)])
    assert totals() == (0, 0, 0)
