"""The figures the hub keeps per centre and period (federation.period_figures)
are exactly the figures read live: while a centre has not changed its kept
row is read, and a centre that stored a new event since is read again from
the projections, alone."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, period_figures, reports, store
from sync import protocol
from tests import hub_sample

TODAY = reports.paris_today()
AGE_BAND = protocol.age_band(1980)
PERIODS = (
    reports.Period(hub_sample.MARCH[0], hub_sample.MARCH[1]),
    reports.Period(date(2026, 1, 1), date(2026, 12, 31)),
    reports.Period(date(TODAY.year, 1, 1), date(TODAY.year, 12, 31)),
    reports.parse_period(None, None, today=TODAY),
)


def member_and_visit(days_ago: int = 0, household: str | None = None) -> list[dict]:
    """A new member (in ``household``) and its visit, ``days_ago`` days before now."""
    member_id, at = protocol.new_id(), protocol.utc_iso(datetime.now(UTC) - timedelta(days=days_ago))
    member = {"age_band": AGE_BAND, "gender": "woman", "qpv": True, "year_born": 1980}
    if household:
        member["household_id"] = household
    return [
        {
            "id": protocol.new_id(),
            "type": "member.created",
            "occurred_at": at,
            "data": {"member_id": member_id, **member},
        },
        {
            "id": protocol.new_id(),
            "type": "visit.recorded",
            "occurred_at": at,
            "data": {
                "visit_id": protocol.new_id(),
                "member_id": member_id,
                "reason": "accueil",
                "recorded_by": "staff",
            },
        },
    ]


def send(engine, centre_id: str, events: list[dict]) -> None:
    with store.writer(engine) as conn, conn.begin():
        body = {"protocol": "1.2", "events": events}
        answer = ingest.ingest(conn, body, centre_id, None, store.utc_now_iso())
    assert len(answer.stored) == len(events), answer.as_json()


@pytest.fixture
def hub(hub_db_url):
    """The sample federation's projections, and two centres fed by real events."""
    url, engine = hub_sample.make_db(hub_db_url, now=datetime.now(UTC))
    with store.writer(engine) as conn, conn.begin():
        ids = [centres.add_centre(conn, f"Centre social n°{n}")[0] for n in range(2)]
    household = protocol.new_id()
    for n, centre_id in enumerate(ids):
        send(engine, centre_id, [e for day in range(0, 40, 7) for e in member_and_visit(day + n, household)])
    yield engine, ids
    engine.dispose()


def live(engine, period: reports.Period) -> reports.Overview:
    with engine.connect() as conn:
        return reports.overview(conn, period, hub_sample.NOW)


class Reads:
    """The centres each live computation of people_by_centre was asked for."""

    def __init__(self, monkeypatch):
        self.asked: list[tuple[str, ...] | None] = []
        original = reports.people_by_centre

        def recorded(conn, period):
            self.asked.append(period.centres)
            return original(conn, period)

        monkeypatch.setattr(reports, "people_by_centre", recorded)


def test_kept_figures_are_the_figures_read_live_and_read_nothing_else(hub, monkeypatch):
    engine, _ids = hub
    assert period_figures.refresh(engine, PERIODS) > 0
    reads = Reads(monkeypatch)
    for period in (*PERIODS, reports.Period(PERIODS[1].start, PERIODS[1].end, hub_sample.A)):
        assert period_figures.overview_from(engine, period, hub_sample.NOW) == live(engine, period)
    # the live overviews above read the projections (one call each); the kept ones none
    assert reads.asked == [None] * (len(PERIODS) + 1)
    # nothing left to compute: a second refresh writes nothing
    assert period_figures.refresh(engine, PERIODS) == 0


def test_a_centre_that_stored_an_event_since_is_read_again_alone(hub, monkeypatch):
    engine, ids = hub
    period = PERIODS[3]  # the dashboard's default period, ending today
    period_figures.refresh(engine, [period])
    before = period_figures.overview_from(engine, period, hub_sample.NOW)
    send(engine, ids[1], member_and_visit(0, protocol.new_id()))
    reads = Reads(monkeypatch)
    after = period_figures.overview_from(engine, period, hub_sample.NOW)
    assert reads.asked == [(ids[1],)]
    assert after == live(engine, period)
    assert after.participants.total == before.participants.total + 1
    assert after.families.reached == before.families.reached + 1
    # the refresh computes that centre again, alone; then its row is read
    reads.asked.clear()
    assert period_figures.refresh(engine, [period]) == 1
    assert reads.asked == [(ids[1],)]
    reads.asked.clear()
    assert period_figures.overview_from(engine, period, hub_sample.NOW) == after
    assert reads.asked == []


def test_rows_of_other_definitions_are_not_read(hub, monkeypatch):
    engine, _ids = hub
    period = PERIODS[1]
    period_figures.refresh(engine, [period])
    with engine.begin() as conn:
        conn.execute(store.r_period_figures.update().values(definitions="0/0", figures="{}"))
    assert period_figures.overview_from(engine, period, hub_sample.NOW) == live(engine, period)
    assert period_figures.refresh(engine, [period]) > 0


def test_a_centre_s_figures_come_back_the_same_from_their_text(hub):
    engine, _ids = hub
    for period in PERIODS:
        figures = period_figures.compute(engine, period)
        assert figures
        for one in figures.values():
            one.participants.households = None
            assert period_figures.decode(period, period_figures.encode(one)) == one


def test_rows_of_periods_no_longer_kept_are_forgotten_after_a_week(hub):
    engine, _ids = hub
    old, kept = PERIODS[0], PERIODS[1]
    period_figures.refresh(engine, [old, kept], now=datetime.now(UTC) - timedelta(days=9))
    period_figures.refresh(engine, [kept])
    with engine.connect() as conn:
        r = store.r_period_figures.c
        periods = {tuple(row) for row in conn.execute(sa.select(r.first_day, r.last_day).distinct())}
    assert periods == {(kept.first_day, kept.last_day)}


def test_the_periods_kept_are_the_default_the_years_the_months_and_those_read(monkeypatch):
    monkeypatch.setattr(period_figures, "_recent", {})
    read = reports.Period(date(2025, 2, 3), date(2025, 4, 5))
    period_figures._remember(read)
    kept = {(p.start, p.end) for p in period_figures.kept_periods(date(2026, 3, 15))}
    assert {
        (date(2025, 12, 16), date(2026, 3, 15)),
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2025, 1, 1), date(2025, 12, 31)),
        (date(2026, 3, 1), date(2026, 3, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (read.start, read.end),
    } == kept


def test_the_refresh_one_process_at_a_time(hub):
    engine, _ids = hub
    assert period_figures.Background.run_once(engine) > 0
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.exec_driver_sql(f"SELECT pg_advisory_lock({period_figures.LOCK_KEY})")
            with engine.begin() as conn:
                conn.execute(store.r_period_figures.delete())
            assert period_figures.Background.run_once(engine) == 0
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({period_figures.LOCK_KEY})")
        assert period_figures.Background.run_once(engine) > 0


def test_the_refresh_waits_for_a_pause_in_the_writes(hub, monkeypatch):
    """A push goes on undisturbed: the refresh starts once the process has
    written nothing for QUIET, or at QUIET_WAIT_MAX if the writes go on.
    (Timed around the calls: another test's thread may refresh meanwhile.)"""
    engine, _ids = hub
    monkeypatch.setattr(period_figures, "QUIET", timedelta(seconds=0.3))
    for _ in range(4):  # writes 0.1 s apart: never a pause of 0.3 s
        time.sleep(0.1)
        with store.write_turn(engine):
            pass
    last_write = time.monotonic()
    period_figures.wait_for_quiet()
    assert time.monotonic() >= last_write + 0.3

    monkeypatch.setattr(period_figures, "QUIET_WAIT_MAX", timedelta(seconds=0.5))
    monkeypatch.setattr(store, "seconds_since_write", lambda: 0.0)  # the writes never stop
    begun = time.monotonic()
    period_figures.Background.run_once(engine)
    assert time.monotonic() - begun >= 0.5


def test_a_serving_hub_keeps_the_figures_by_itself(tmp_path, hub_server, monkeypatch):
    monkeypatch.setenv(period_figures.INTERVAL_VARIABLE, "0.2")
    server = hub_server()
    centre_id, _code = server.add_centre()
    engine = store.create_engine(server.db_url)
    try:
        send(engine, centre_id, member_and_visit(1))
        default = reports.parse_period(None, None)
        deadline = time.monotonic() + 120  # a machine busy with test workers is slow
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                current = period_figures.versions(conn, default)
                if period_figures.kept(conn, default, current).keys() == current.keys():
                    break
            time.sleep(0.2)
        else:
            with engine.connect() as conn:
                r = store.r_period_figures.c
                kept_rows = sa.select(r.first_day, r.last_day, r.centre_id, r.version, r.definitions)
                rows = conn.execute(kept_rows).all()
            pytest.fail(
                f"the hub kept no figures for {default} (versions {current}, "
                f"definitions {period_figures.DEFINITIONS}); rows {rows}:\n{server.log()}"
            )
        assert period_figures.overview_from(engine, default).participants.total == 1
    finally:
        engine.dispose()
