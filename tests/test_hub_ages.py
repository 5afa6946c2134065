"""Each funder's age bands: from the year of birth a 1.1 kiosk sends, and
from the band a 1.0 event left (which answers only where it can), counted
at the period's year, through a real ingest on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import ages, centres, ingest, reports, store
from sync import protocol

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "sent,year,expected",
    [
        # a 1.0 band counted in 2026
        ("65+", 2026, {"senacs": "60+", "fse": "55+", "cra": "60+"}),
        ("25-54", 2026, {"senacs": "unknown", "fse": "unknown", "cra": "unknown"}),
        ("55-64", 2026, {"senacs": "unknown", "fse": "55+", "cra": "unknown"}),
        ("0-15", 2026, {"senacs": "unknown", "fse": "0-17", "cra": "unknown"}),
        ("16-24", 2026, {"senacs": "11-25", "fse": "unknown", "cra": "unknown"}),
        ("unknown", 2026, {"senacs": "unknown", "fse": "unknown", "cra": "unknown"}),
        # the same 55-64 counted in 2021 is 60-69 by 2026: SENACS's and the CRA's 60+ now
        ("55-64", 2021, {"senacs": "60+", "fse": "55+", "cra": "60+"}),
    ],
)
def test_an_old_band_answers_only_where_it_can(sent, year, expected):
    born_from, born_to = ages.born_span(sent, None, year)
    assert {scheme: ages.band(scheme, born_from, born_to, 2026) for scheme in ages.SCHEMES} == expected


@pytest.mark.parametrize(
    "born,year,expected",
    [
        (2016, 2026, {"senacs": "0-10", "fse": "0-17", "cra": "0-11"}),
        (2015, 2026, {"senacs": "11-25", "fse": "0-17", "cra": "0-11"}),
        (2014, 2026, {"senacs": "11-25", "fse": "0-17", "cra": "12-17"}),
        (2008, 2026, {"senacs": "11-25", "fse": "18-29", "cra": "18-34"}),
        (2000, 2026, {"senacs": "26-59", "fse": "18-29", "cra": "18-34"}),
        (1996, 2026, {"senacs": "26-59", "fse": "30-54", "cra": "18-34"}),
        (1990, 2026, {"senacs": "26-59", "fse": "30-54", "cra": "35-59"}),
        (1971, 2026, {"senacs": "26-59", "fse": "55+", "cra": "35-59"}),
        (1966, 2026, {"senacs": "60+", "fse": "55+", "cra": "60+"}),
        (2027, 2026, {"senacs": "unknown", "fse": "unknown", "cra": "unknown"}),  # not born yet
    ],
)
def test_a_year_of_birth_gives_every_funder_s_band_at_the_reference_year(born, year, expected):
    born_from, born_to = ages.born_span("25-54", born, year)
    assert (born_from, born_to) == (born, born)
    assert {scheme: ages.band(scheme, born_from, born_to, year) for scheme in ages.SCHEMES} == expected


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def push(
    engine, centre_id: str, events: list[dict], version: str = protocol.PROTOCOL_VERSION
) -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(
            conn, {"protocol": version, "events": events}, centre_id, None, centres.now_iso()
        )


def member(
    member_id: str,
    band: str,
    gender: str,
    year_born: int | None = None,
    at: datetime = T0,
    kind: str = "member.created",
) -> dict:
    data = {
        "member_id": member_id,
        "age_band": band,
        "gender": gender,
        "commune": "Lyon",
        "neighbourhood": None,
        "qpv": False,
    }
    if year_born is not None:
        data["year_born"] = year_born
    return protocol.make_event(kind, data, at)


def visit(member_id: str, day: int = 1) -> dict:
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


def test_participants_by_each_funder_s_bands_add_up_and_old_bands_count_as_unknown(engine):
    with engine.begin() as conn:
        centre = centres.add_centre(conn, "Centre social")[0]
    ids = [protocol.new_id() for _ in range(6)]
    push(
        engine,
        centre,
        [
            member(ids[0], "0-15", "woman", 2018),  # 8 in 2026
            member(ids[1], "25-54", "man", 1990),  # 36
            member(ids[2], "65+", "woman", 1950),  # 76
            member(ids[3], "25-54", "woman"),  # a 1.0 kiosk's band alone
            member(ids[4], "65+", "man"),  # a 1.0 band that still answers
            member(ids[5], "unknown", "unsaid"),  # the resident said nothing
            *[visit(i) for i in ids],
        ],
    )
    with engine.connect() as conn:
        people = reports.participants(conn, reports.Period(date(2026, 3, 1), date(2026, 3, 31)))
    assert people.total == 6
    assert people.funder_bands("senacs") == [
        ("0-10", 1),
        ("11-25", 0),
        ("26-59", 1),
        ("60+", 2),
        ("unknown", 2),
    ]
    assert people.funder_bands("fse") == [("0-17", 1), ("18-29", 0), ("30-54", 1), ("55+", 2), ("unknown", 2)]
    assert people.funder_bands("cra") == [
        ("0-11", 1),
        ("12-17", 0),
        ("18-34", 0),
        ("35-59", 1),
        ("60+", 2),
        ("unknown", 2),
    ]
    for scheme in ages.SCHEMES:
        assert sum(n for _band, n in people.funder_bands(scheme)) == people.total
        assert sum(people.funder_bands_by_gender(scheme).values()) == people.total
    assert people.funder_bands_by_gender("senacs")[("man", "60+")] == 1


def test_the_bands_are_counted_at_the_period_s_year(engine):
    with engine.begin() as conn:
        centre = centres.add_centre(conn, "Centre social")[0]
    child = protocol.new_id()
    push(engine, centre, [member(child, "0-15", "woman", 2015), visit(child)])
    with engine.connect() as conn:
        # 11 in 2026: SENACS's 11-25, the CRA's under 12
        people = reports.participants(conn, reports.Period(date(2026, 1, 1), date(2026, 12, 31)))
    assert dict(people.funder_bands("senacs"))["11-25"] == 1
    assert dict(people.funder_bands("cra"))["0-11"] == 1


def test_a_1_0_update_keeps_what_its_band_allows_and_an_erasure_forgets_the_year(engine):
    with engine.begin() as conn:
        centre = centres.add_centre(conn, "Centre social")[0]
    kept, erased = protocol.new_id(), protocol.new_id()
    push(engine, centre, [member(kept, "25-54", "woman", 1990), member(erased, "25-54", "man", 1980)])
    # a kiosk still at 1.0 updates the first member later: its band is all the hub then knows
    push(
        engine,
        centre,
        [
            member(kept, "25-54", "woman", at=T0 + timedelta(days=3), kind="member.updated"),
            protocol.make_event("member.erased", {"member_id": erased}, T0 + timedelta(days=3)),
        ],
        version="1.0",
    )
    m = store.p_members.c
    with engine.connect() as conn:
        rows = dict(
            (row[0], (row[1], row[2]))
            for row in conn.execute(
                sa.select(m.member_id, m.born_from, m.born_to).where(m.centre_id == centre)
            )
        )
        body = conn.execute(
            sa.select(store.events.c.body).where(
                store.events.c.member_id == erased, store.events.c.type == "member.created"
            )
        ).scalar_one()
    assert rows == {kept: (2026 - 54, 2026 - 25), erased: (None, None)}
    assert "1980" not in body


def test_step_6_gives_the_members_held_the_years_their_band_allows(hub_db_url):
    engine = store.create_engine(hub_db_url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in range(1, 6):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
        conn.execute(sa.text("INSERT INTO centres (id, name, created_at) VALUES ('c1', 'C', 'x')"))
        conn.execute(
            sa.text(
                "INSERT INTO p_members (centre_id, member_id, age_band, qpv, as_of, erased_at) VALUES "
                "('c1', 'm1', '25-54', TRUE, '2024-05-01T10:00:00.000Z', NULL), "
                "('c1', 'm2', '65+', FALSE, '2026-01-01T10:00:00.000Z', NULL), "
                "('c1', 'm3', 'unknown', FALSE, '2026-01-01T10:00:00.000Z', NULL), "
                "('c1', 'm4', 'unknown', NULL, '2026-01-01T10:00:00.000Z', '2026-01-01T10:00:00.000Z')"
            )
        )
    assert store.migrate(engine) == store.LATEST_VERSION
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT member_id, born_from, born_to FROM p_members ORDER BY 1")).all()
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("p_members")}
    assert [tuple(row) for row in rows] == [
        ("m1", 1970, 1999),
        ("m2", 1900, 1961),
        ("m3", None, None),
        ("m4", None, None),
    ]
    # step 6 made r_members_born for the members' spans; step 26 dropped both
    assert "r_members_born" not in indexes and "r_members_span" not in indexes
    engine.dispose()
