"""Volunteers' time at the hub (protocol 1.2, volunteering.recorded): each
stretch at its highest version whatever the order of arrival, a removed
one counting for nothing, the period's active volunteers, hours and
full-time equivalents by kind and by centre, the same as `federation stats`
counts; through a real ingest on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, funders, ingest, reports, store
from sync import protocol

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
MARCH = reports.Period(date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def push(engine, centre_id: str, events: list[dict]) -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(
            conn,
            {"protocol": protocol.PROTOCOL_VERSION, "events": events},
            centre_id,
            None,
            centres.now_iso(),
        )


def stretch(
    stretch_id: str, volunteer: str, kind: str, day: str, minutes: int, version: int = 1, **flags
) -> dict:
    data = {
        "stretch_id": stretch_id,
        "volunteer_id": volunteer,
        "kind": kind,
        "day": day,
        "minutes": minutes,
        "version": version,
        "auto_closed": flags.get("auto_closed", False),
        "removed": flags.get("removed", False),
    }
    return protocol.make_event("volunteering.recorded", data, T0 + timedelta(minutes=version))


def test_a_stretch_counts_at_its_highest_version_whatever_the_order_of_arrival(engine):
    with engine.begin() as conn:
        centre = centres.add_centre(conn, "Centre social")[0]
    martine, one = protocol.new_id(), protocol.new_id()
    closed_alone = stretch(one, martine, "activity", "2026-03-02", 600, 1, auto_closed=True)
    corrected = stretch(one, martine, "activity", "2026-03-02", 180, 2)
    # the correction arrives first, the first version after it: the correction holds
    assert push(engine, centre, [corrected]).stored == [corrected["id"]]
    assert push(engine, centre, [closed_alone]).stored == [closed_alone["id"]]
    with engine.connect() as conn:
        view = reports.overview(conn, MARCH)
    assert view.volunteering.total_minutes == 180
    assert view.volunteering.unchecked_minutes == 0
    # sent again, each version is a replay, never a conflict
    again = push(engine, centre, [closed_alone, corrected])
    assert sorted(again.duplicates) == sorted([closed_alone["id"], corrected["id"]])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.conflicts)).scalar() == 0


def test_the_period_s_volunteers_hours_and_full_time_equivalents_by_kind_and_centre(engine):
    with engine.begin() as conn:
        north = centres.add_centre(conn, "Centre social Nord")[0]
        south = centres.add_centre(conn, "Centre social Sud")[0]
    martine, josiane, ahmed = (protocol.new_id() for _ in range(3))
    mistake = protocol.new_id()
    push(
        engine,
        north,
        [
            stretch(protocol.new_id(), martine, "activity", "2026-03-02", 150),
            stretch(protocol.new_id(), martine, "governance", "2026-03-10", 120),
            stretch(protocol.new_id(), josiane, "governance", "2026-03-10", 120),
            # closed by the kiosk, not yet checked: counted, and said so
            stretch(protocol.new_id(), josiane, "activity", "2026-03-11", 90, auto_closed=True),
            # out of the period
            stretch(protocol.new_id(), josiane, "activity", "2026-04-01", 300),
            # entered by mistake, then removed
            stretch(mistake, ahmed, "activity", "2026-03-05", 240),
            stretch(mistake, ahmed, "activity", "2026-03-05", 240, 2, removed=True),
        ],
    )
    push(engine, south, [stretch(protocol.new_id(), ahmed, "activity", "2026-03-20", 60)])
    with engine.connect() as conn:
        view = reports.overview(conn, MARCH)
        alone = reports.overview(conn, reports.Period(MARCH.start, MARCH.end, north))
        stats = centres.stats(conn)
    time = view.volunteering
    # Martine and Josiane in the north, Ahmed in the south (his removed stretch leaves him out of the north)
    assert time.volunteers == 3
    assert [(kind, people, hours) for kind, people, hours, _fte in time.by_kind] == [
        ("activity", 3, (150 + 90 + 60) / 60),
        ("governance", 2, 240 / 60),
    ]
    assert time.hours == 9.0 and time.unchecked_minutes == 90
    # a full-time year of 1,607 h prorated to March's 31 days
    assert time.full_time_hours == pytest.approx(1607 * 31 / 365)
    assert time.fte() == pytest.approx(9.0 / (1607 * 31 / 365))
    assert [(c, people, hours) for c, people, hours, _fte in time.by_centre] == [
        (north, 2, 8.0),
        (south, 1, 1.0),
    ]
    assert alone.volunteering.volunteers == 2 and alone.volunteering.hours == 8.0
    rows = {
        indicator: value for _s, indicator, (value, _d) in funders.rows(view, "senacs") if _s == "Bénévoles"
    }
    assert rows["Bénévoles actifs (distincts)"] == 3
    assert rows["Heures : Gouvernance (CA, commissions)"] == 4.0
    assert rows["Heures de bénévolat"] == 9.0
    assert rows["Équivalents temps plein (1 607 h par an)"] == round(9.0 / (1607 * 31 / 365), 2)
    # stats counts everything held, April's stretch included
    (north_stats,) = [c["volunteering"] for c in stats["centres"] if c["id"] == north]
    assert north_stats == {
        "volunteers": 2,
        "minutes": 150 + 120 + 120 + 90 + 300,
        "by_kind": {
            "activity": {"volunteers": 2, "minutes": 150 + 90 + 300},
            "governance": {"volunteers": 2, "minutes": 240},
        },
    }
    assert stats["volunteering"]["volunteers"] == 3


def test_a_period_without_volunteering_says_so(engine):
    with engine.begin() as conn:
        centres.add_centre(conn, "Centre social")
        view = reports.overview(conn, MARCH)
    assert view.volunteering.volunteers == 0 and view.volunteering.fte() == 0
    senacs = funders.rows(view, "senacs")
    assert ("Bénévoles", "Heures de bénévolat", (0.0, 1)) in senacs


def test_a_kiosk_s_correction_reaches_a_real_hub_and_replaces_the_first_version(
    hub_server, hub_db_url, tmp_path
):
    """Through the real sync client and `federation serve`: a stretch closed by
    itself, synced, then corrected by staff and synced again: the hub counts
    the correction, holds both events, and no conflict."""
    from kiosk.core.centre import Centre
    from sync import client

    server = hub_server(hub_db_url)
    device = server.new_device("Centre social du Chemin Vert")
    moment = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]  # 9:00 in Paris
    with Centre.open(tmp_path / "kiosk.db", clock=lambda: moment[0]) as centre:
        volunteer = centre.staff.add("Martine Dupuis", "volunteer", "2468")
        staff = centre.staff.add("Claire Martin", "staff", "1357")
        centre.volunteering.start(volunteer, "activity")
        moment[0] += timedelta(days=1)
        (forgotten,) = centre.volunteering.to_review()  # closed at 19:00: 600 minutes
        assert client.push(str(tmp_path / "kiosk.db"), server.url, device["device_token"]).ok
        centre.volunteering.correct(staff, forgotten["id"], "activity", "2026-03-02", "09:00", "12:00")
        assert client.push(str(tmp_path / "kiosk.db"), server.url, device["device_token"]).ok
    engine = store.create_engine(hub_db_url)
    try:
        with engine.connect() as conn:
            time = reports.overview(conn, MARCH).volunteering
            held = conn.execute(
                sa.select(sa.func.count()).where(store.events.c.type == "volunteering.recorded")
            ).scalar()
            conflicts = conn.execute(sa.select(sa.func.count()).select_from(store.conflicts)).scalar()
    finally:
        engine.dispose()
    assert (time.total_minutes, time.unchecked_minutes, time.volunteers) == (180, 0, 1)
    assert (held, conflicts) == (2, 0)
