"""The dashboard's figures, on a real SQLite file with projections worked out
by hand in tests/hub_sample.py."""

from __future__ import annotations

from datetime import date

import pytest

from federation import period_figures, reports
from tests import hub_sample as sample
from tests.hub_sample import M1, NOW, A, B, C, D


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def conn(request, tmp_path):
    # the same queries must give the same figures on both databases
    if request.param == "sqlite":
        target = tmp_path / "hub.db"
    else:
        target = request.getfixturevalue("postgres_cluster").new_database()
    _url, engine = sample.make_db(target)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


MARCH = reports.Period(*sample.MARCH)
MARCH_A = reports.Period(*sample.MARCH, centre_id=A)


def test_visits_by_reason_counts_only_the_period(conn):
    assert reports.visits_by_reason(conn, MARCH) == [
        ("accueil", 7),
        ("atelier", 4),
        ("demarches", 3),
        ("jardinage", 1),
    ]


def test_visits_per_week_has_every_week_with_zeros(conn):
    assert reports.visits_per_week(conn, MARCH) == [
        (date(2026, 2, 23), 0),
        (date(2026, 3, 2), 8),
        (date(2026, 3, 9), 6),
        (date(2026, 3, 16), 0),
        (date(2026, 3, 23), 0),
        (date(2026, 3, 30), 1),
    ]


def test_centre_filter_keeps_one_centre(conn):
    assert reports.visits_by_reason(conn, MARCH_A) == [("accueil", 7), ("demarches", 3)]
    assert reports.new_members(conn, MARCH_A) == 2
    assert reports.participants(conn, MARCH_A).total == 3
    assert [w.title for w in reports.workshop_figures(conn, MARCH_A)] == ["Atelier numérique"]


def test_workshops_count_held_sessions_bookings_and_presence(conn):
    rows = {row.title: row for row in reports.workshop_figures(conn, MARCH)}
    numerique, parents = rows["Atelier numérique"], rows["Café des parents"]
    # the cancelled session and the one in April are not held in March
    assert (numerique.sessions, numerique.booked, numerique.waitlisted) == (1, 3, 1)
    assert (numerique.present, numerique.walk_ins) == (3, 1)
    assert numerique.attendance_rate == pytest.approx(2 / 3)
    # 23:30 on 31 March in Paris is in March, though it is 21:30 UTC
    assert (parents.sessions, parents.booked, parents.present) == (1, 1, 1)
    assert parents.attendance_rate == 1.0
    total = reports.workshop_totals(list(rows.values()))
    assert (total.sessions, total.booked, total.present, total.walk_ins) == (2, 4, 4, 1)


def test_participants_are_distinct_members_who_came(conn):
    people = reports.participants(conn, MARCH)
    assert people.total == 5  # M1 twice and the anonymous visit count once / not at all
    assert people.by_gender() == [("woman", 2), ("man", 2), (None, 1)]
    assert people.by_age_band() == [("16-24", 1), ("25-54", 1), ("55-64", 1), ("65+", 1), ("unknown", 1)]
    assert people.by_gender_and_age()[("woman", "25-54")] == 1


def test_priority_neighbourhood_share_ignores_unknown_flags(conn):
    people = reports.participants(conn, MARCH)
    # the erased member's flag is unknown: 2 of the 4 known live in a QPV
    assert (people.qpv, people.qpv_known, people.qpv_share) == (2, 4, 0.5)


def test_new_members_counts_creations_in_the_period(conn):
    assert reports.new_members(conn, MARCH) == 3


def test_silent_centres_are_flagged_after_seven_days(conn):
    statuses = {s.id: s for s in reports.centre_statuses(conn, NOW)}
    assert not statuses[A].silent and not statuses[B].silent
    assert statuses[C].silent and statuses[D].silent
    assert statuses[D].last_sync is None
    # the revoked tablet no longer counts as a device, but its last sync does
    assert statuses[A].devices == 1
    assert statuses[A].last_sync == "2026-03-31T09:00:00.000Z"


def test_conflicts_list_their_event_type(conn):
    count, rows = reports.conflict_list(conn)
    assert count == 1
    assert rows[0]["type"] == "visit.recorded" and rows[0]["centre_name"] == sample.CENTRE_NAMES[A]


def test_overview_gathers_everything(conn):
    view = reports.overview(conn, MARCH, NOW)
    assert view.visits == 15
    assert [c.id for c in view.silent_centres] == [C, D]
    assert view.visits_by_centre == {A: 10, B: 5}
    assert [t.theme for t in view.themes] == ["numerique", "parentalite"]
    assert M1  # the sample's ids are importable for other tests


@pytest.mark.parametrize("period", [MARCH, MARCH_A], ids=["all", "one centre"])
def test_the_pages_overview_with_its_queries_in_parallel_gives_the_same_figures(conn, period):
    # overview_from runs participants and workshops on connections of their own
    together = period_figures.overview_from(conn.engine, period, NOW)
    assert together == reports.overview(conn, period, NOW)
    assert together.participants.total and together.workshops


def test_a_failing_query_in_parallel_is_raised_not_swallowed(conn, monkeypatch):
    def broken(_conn, _period):
        raise RuntimeError("participants failed")

    monkeypatch.setattr(reports, "people_by_centre", broken)
    with pytest.raises(RuntimeError, match="participants failed"):
        period_figures.overview_from(conn.engine, MARCH, NOW)


def test_empty_fields_mean_the_last_three_months():
    period = reports.parse_period("", "", "", today=date(2026, 5, 31))
    assert (period.start, period.end, period.centre_id) == (date(2026, 3, 1), date(2026, 5, 31), None)


def test_french_dates_are_accepted():
    period = reports.parse_period("01/03/2026", "2026-03-31", A)
    assert (period.start, period.end, period.centre_id) == (date(2026, 3, 1), date(2026, 3, 31), A)


@pytest.mark.parametrize(
    "start, end, field",
    [("31/02/2026", "", "from"), ("", "demain", "to"), ("2026-04-01", "2026-03-01", "from")],
)
def test_bad_periods_name_the_field(start, end, field):
    with pytest.raises(reports.PeriodError) as error:
        reports.parse_period(start, end, today=date(2026, 5, 31))
    assert error.value.field == field and error.value.message_fr
