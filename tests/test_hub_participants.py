"""Participants through real ingest: each member's days (p_presence) and
months (r_member_months), and the counts by period kept at ingest, must give
the same figures as counting every visit by hand, whatever the period, the
order of arrival, erasures and the centre filter."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, reports, store
from sync import protocol

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 10:00 in Paris


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def add_centre(engine) -> str:
    with engine.begin() as conn:
        return centres.add_centre(conn, "Centre social")[0]


def push(engine, centre_id: str, events: list[dict]) -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(conn, {"protocol": "1.0", "events": events}, centre_id, None, centres.now_iso())


def visit(member_id: str | None, day: int) -> dict:
    return protocol.make_event(
        "visit.recorded",
        {
            "visit_id": protocol.new_id(),
            "member_id": member_id,
            "reason": "accueil",
            "recorded_by": "resident",
        },
        T0 + timedelta(days=day),
    )


def member(kind: str, member_id: str, day: int = 0, band: str = "25-54") -> dict:
    data = (
        {"member_id": member_id}
        if kind == "member.erased"
        else {
            "member_id": member_id,
            "age_band": band,
            "gender": "woman",
            "commune": "Lyon",
            "neighbourhood": None,
            "qpv": True,
        }
    )
    return protocol.make_event(kind, data, T0 + timedelta(days=day))


def period(first: int, last: int, centre_id: str | None = None) -> reports.Period:
    return reports.Period(T0.date() + timedelta(days=first), T0.date() + timedelta(days=last), centre_id)


def total(engine, p: reports.Period) -> int:
    with engine.connect() as conn:
        return reports.participants(conn, p).total


def spans(engine, centre_id: str) -> dict[str, tuple]:
    """member -> (first day, last day) it came, from p_presence; its months
    in r_member_months must be those of its days."""
    p, r = store.p_presence.c, store.r_member_months.c
    with engine.connect() as conn:
        days = conn.execute(sa.select(p.member_id, p.day).where(p.centre_id == centre_id)).all()
        months = set(conn.execute(sa.select(r.member_id, r.month).where(r.centre_id == centre_id)).all())
    assert months == {(member_id, day[:7]) for member_id, day in days}
    found: dict[str, tuple] = {}
    for member_id, day in days:
        first, last = found.get(member_id, (day, day))
        found[member_id] = (min(first, day), max(last, day))
    return found


def test_a_member_who_came_before_and_after_a_period_is_looked_up_in_it(engine):
    centre = add_centre(engine)
    inside, outside = protocol.new_id(), protocol.new_id()
    push(
        engine,
        centre,
        [
            member("member.created", inside),
            member("member.created", outside),
            visit(inside, 1),
            visit(inside, 10),
            visit(inside, 20),
            visit(outside, 1),
            visit(outside, 20),
        ],
    )
    assert spans(engine, centre)[inside] == ("2026-01-06", "2026-01-25")
    assert total(engine, period(8, 12)) == 1  # inside came on day 10: straddles, found by the probe
    assert total(engine, period(2, 19)) == 1
    assert total(engine, period(0, 1)) == 2  # a period holding both first visits
    assert total(engine, period(20, 30)) == 2  # and both last ones
    assert total(engine, period(21, 30)) == 0  # after every visit
    assert total(engine, period(-10, 0)) == 0  # before every visit


def test_visits_that_arrive_before_member_created_count_once_it_arrives(engine):
    centre = add_centre(engine)
    late = protocol.new_id()
    push(engine, centre, [visit(late, 3), visit(late, 15)])
    assert total(engine, period(0, 30)) == 0  # no member row yet: not counted
    push(engine, centre, [member("member.created", late, 0)])
    assert spans(engine, centre)[late] == ("2026-01-08", "2026-01-20")
    assert total(engine, period(0, 30)) == 1
    assert total(engine, period(5, 10)) == 0  # came on days 3 and 15 only
    push(engine, centre, [visit(late, 7)])  # an older visit arriving later widens nothing...
    assert spans(engine, centre)[late] == ("2026-01-08", "2026-01-20")
    assert total(engine, period(5, 10)) == 1  # ...but is found in the period
    push(engine, centre, [visit(late, 1), visit(late, 40)])
    assert spans(engine, centre)[late] == ("2026-01-06", "2026-02-14")


def test_member_created_and_its_visits_in_one_batch(engine):
    centre = add_centre(engine)
    new = protocol.new_id()
    push(engine, centre, [visit(new, 2), member("member.created", new, 0), visit(new, 4)])
    assert spans(engine, centre)[new] == ("2026-01-07", "2026-01-09")
    assert total(engine, period(3, 3)) == 0
    assert total(engine, period(4, 4)) == 1


def test_an_erased_member_still_counts_with_unknown_attributes(engine):
    centre = add_centre(engine)
    kept, gone, never_created = protocol.new_id(), protocol.new_id(), protocol.new_id()
    push(
        engine,
        centre,
        [
            member("member.created", kept),
            member("member.created", gone),
            visit(kept, 2),
            visit(gone, 2),
            visit(gone, 9),
            visit(never_created, 2),
        ],
    )
    push(engine, centre, [member("member.erased", gone, 10), member("member.erased", never_created, 10)])
    with engine.connect() as conn:
        figures = reports.participants(conn, period(0, 5))
    assert figures.total == 3  # an erasure of a member never created makes its row, with its span
    assert figures.by_age_band() == [("25-54", 1), ("unknown", 2)]
    assert spans(engine, centre)[gone] == ("2026-01-07", "2026-01-14")
    assert spans(engine, centre)[never_created] == ("2026-01-07", "2026-01-07")
    push(engine, centre, [member("member.updated", gone, 11, band="65+"), visit(gone, 12)])
    assert spans(engine, centre)[gone] == ("2026-01-07", "2026-01-17")
    assert total(engine, period(12, 12)) == 1


def test_one_centre_or_all(engine):
    one, other = add_centre(engine), add_centre(engine)
    a, b = protocol.new_id(), protocol.new_id()
    push(engine, one, [member("member.created", a), visit(a, 1), visit(a, 30)])
    push(engine, other, [member("member.created", b), visit(b, 1), visit(b, 30)])
    # the same member id in another centre is another member
    push(engine, other, [member("member.created", a), visit(a, 15)])
    assert total(engine, period(10, 20)) == 1  # other/a came; one/a and other/b straddle without a visit
    assert total(engine, period(10, 20, one)) == 0
    assert total(engine, period(10, 20, other)) == 1
    assert total(engine, period(0, 40)) == 3
    assert total(engine, period(0, 40, one)) == 1


def test_an_attendee_who_did_not_visit_is_counted_once(engine):
    centre = add_centre(engine)
    visitor, attendee = protocol.new_id(), protocol.new_id()
    workshop, session = protocol.new_id(), protocol.new_id()
    starts = T0 + timedelta(days=10)
    push(
        engine,
        centre,
        [
            member("member.created", visitor),
            member("member.created", attendee),
            visit(visitor, 1),
            visit(visitor, 20),
            visit(attendee, 1),
            visit(attendee, 20),
            protocol.make_event(
                "workshop.created",
                {"workshop_id": workshop, "title": "Atelier", "theme": "numerique", "place": None},
                T0,
            ),
            protocol.make_event(
                "session.created",
                {
                    "session_id": session,
                    "workshop_id": workshop,
                    "starts_at": protocol.utc_iso(starts),
                    "ends_at": protocol.utc_iso(starts + timedelta(hours=2)),
                    "capacity": 8,
                },
                T0,
            ),
            *[
                protocol.make_event(
                    "attendance.taken",
                    {
                        "attendance_id": protocol.new_id(),
                        "session_id": session,
                        "member_id": who,
                        "present": True,
                        "walk_in": False,
                    },
                    starts,
                )
                for who in (visitor, attendee)
            ],
            visit(visitor, 10),
        ],
    )
    assert total(engine, period(9, 11)) == 2  # the visitor by a visit, the attendee by the session
    assert total(engine, period(12, 19)) == 0


def test_random_histories_match_a_count_by_hand(engine):
    """Members, visits (some anonymous, some before member.created), erasures,
    sent in shuffled batches to two centres: every period's figures are those
    of a count over every visit."""
    periods = [(0, 89), (10, 20), (30, 30), (45, 89), (0, 44), (60, 120), (-30, -1)]
    _check_random_histories(engine, random.Random(20260105), range(90), periods)


def test_random_histories_over_two_years_match_a_count_by_hand(engine):
    """The same over fourteen months, 2025 and the start of 2026 (all past:
    the hub parks what is to come): the calendar years, and the months at
    their turn, are read from the counts kept by month and year; a member
    who came in both years counts in each."""
    year_2025, december, january, year_2026 = (-369, -5), (-35, -5), (-4, 26), (-4, 360)
    periods = [year_2025, december, january, year_2026, (-60, 20), (-369, 50)]
    _check_random_histories(engine, random.Random(20250101), range(-369, 51), periods)


def _check_random_histories(engine, rng: random.Random, days: range, periods: list[tuple[int, int]]) -> None:
    centre_ids = [add_centre(engine), add_centre(engine)]
    came: dict[tuple[str, str], set[int]] = {}
    attributes: dict[tuple[str, str], str] = {}
    for centre in centre_ids:
        events = []
        for _ in range(25):
            member_id = protocol.new_id()
            band = rng.choice(("16-24", "25-54", "65+"))
            if rng.random() < 0.9:
                events.append(member("member.created", member_id, rng.randrange(60), band))
                attributes[(centre, member_id)] = band
            for _ in range(rng.randrange(6)):
                day = rng.choice(days)
                events.append(visit(member_id, day))
                came.setdefault((centre, member_id), set()).add(day)
            if (centre, member_id) in attributes and rng.random() < 0.15:
                events.append(member("member.erased", member_id, 95))
                attributes[(centre, member_id)] = "unknown"
        events += [visit(None, rng.choice(days)) for _ in range(20)]
        rng.shuffle(events)
        for start in range(0, len(events), 17):
            push(engine, centre, events[start : start + 17])
    for first, last in periods:
        for centre in (None, *centre_ids):
            expected = Counter(
                band
                for (c, member_id), band in attributes.items()
                if (centre is None or c == centre)
                and any(first <= day <= last for day in came.get((c, member_id), ()))
            )
            with engine.connect() as conn:
                figures = reports.participants(conn, period(first, last, centre))
            assert dict(figures.by_age_band()) == dict(expected), (first, last, centre)


def test_step_3_turns_v2_visits_into_presence_and_months(hub_db_url):
    """A hub at schema 2 (p_visits) migrates with its figures unchanged."""
    engine = store.create_engine(hub_db_url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in (1, 2):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
        conn.execute(
            sa.text("INSERT INTO centres (id, name, created_at) VALUES ('c1', 'C', 'x'), ('c2', 'D', 'x')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO p_members (centre_id, member_id, age_band, qpv, created_day, as_of) VALUES "
                "('c1', 'm1', '25-54', TRUE, '2026-01-01', 'x'), ('c1', 'm2', '65+', FALSE, NULL, 'x'), "
                "('c2', 'm1', '16-24', NULL, NULL, 'x'), ('c2', 'm3', '16-24', NULL, NULL, 'x')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO p_visits (centre_id, visit_id, "
                "member_id, day, reason, recorded_by, as_of) VALUES "
                "('c1', 'v1', 'm1', '2026-01-02', 'accueil', 'staff', 'x'), "
                "('c1', 'v2', 'm1', '2026-01-02', 'accueil', 'staff', 'x'), "
                "('c1', 'v3', 'm1', '2026-03-02', 'accueil', 'staff', 'x'), "
                "('c1', 'v4', NULL, '2026-01-02', 'accueil', 'staff', 'x'), "
                "('c2', 'v5', 'm1', '2026-02-01', 'accueil', 'staff', 'x'), "
                "('c2', 'v6', 'm9', '2026-02-01', 'accueil', 'staff', 'x')"
            )
        )
    assert store.migrate(engine) == store.LATEST_VERSION
    with engine.connect() as conn:
        presence = conn.execute(
            sa.text("SELECT centre_id, member_id, day FROM p_presence ORDER BY 1, 2, 3")
        ).all()
        months = conn.execute(
            sa.text("SELECT centre_id, member_id, month FROM r_member_months ORDER BY 1, 2, 3")
        ).all()
        tables = set(sa.inspect(conn).get_table_names())
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("p_members")}
        figures = reports.participants(conn, reports.Period(date(2026, 1, 15), date(2026, 2, 15)))
    assert [tuple(row) for row in presence] == [
        ("c1", "m1", "2026-01-02"),
        ("c1", "m1", "2026-03-02"),
        ("c2", "m1", "2026-02-01"),
        ("c2", "m9", "2026-02-01"),
    ]
    # schema 22 made each member's months from those days (schema 26 dropped the spans)
    assert [tuple(row) for row in months] == [
        ("c1", "m1", "2026-01"),
        ("c1", "m1", "2026-03"),
        ("c2", "m1", "2026-02"),
        ("c2", "m9", "2026-02"),
    ]
    assert "p_visits" not in tables and "r_members_born" not in indexes and "r_members_household" in indexes
    assert figures.total == 1  # c2/m1; c1/m1 came before and after, not in between
    engine.dispose()
