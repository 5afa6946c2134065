"""The FSE+ situation at the hub: member events' employment and education
(protocol 1.2) kept on p_members through a real ingest on SQLite and
PostgreSQL, erased with the member, and the FSE+ table's rows by situation
× sex, whose « non renseigné » makes each add up to the participants; then
the demo's export through a real hub process."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, funders, reports, store
from sync import protocol
from tests.conftest_hub import run_federation
from tests.test_hub_funders import csv_rows, export
from tests.test_hub_funders import demo_hub as demo_hub
from tests.test_hub_households import add_centre, push

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EMPLOYMENT_SECTION = "Participants par situation sur le marché du travail"
EDUCATION_SECTION = "Participants par niveau d'études le plus élevé"


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def member(member_id: str, kind: str = "member.created", day: int = 0, gender: str = "woman", **situation):
    """A member event; ``situation`` (employment, education) left out as a
    kiosk sends it when the member did not consent, or an older kiosk."""
    data = {
        "member_id": member_id,
        "age_band": "25-54",
        "year_born": 1985,
        "gender": gender,
        "commune": None,
        "neighbourhood": None,
        "qpv": False,
        **situation,
    }
    return protocol.make_event(kind, data, T0 + timedelta(days=day))


def visit(member_id: str, day: int = 0) -> dict:
    data = {
        "visit_id": protocol.new_id(),
        "member_id": member_id,
        "reason": "accueil",
        "recorded_by": "staff",
    }
    return protocol.make_event("visit.recorded", data, T0 + timedelta(days=day, hours=1))


def held(engine, centre_id: str) -> dict[str, tuple]:
    m = store.p_members.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.member_id, m.employment, m.education).where(m.centre_id == centre_id)
        ).all()
    return {member_id: (employment, education) for member_id, employment, education in rows}


def fse_rows(engine) -> list[funders.Row]:
    period = reports.parse_period("2026-03-01", "2026-03-31", None)
    with engine.connect() as conn:
        return funders.rows(reports.overview(conn, period), "fse")


def test_the_situation_is_kept_the_newest_wins_and_older_events_mean_none(engine):
    centre = add_centre(engine)
    sara, marc, old = (protocol.new_id() for _ in range(3))
    answer = push(
        engine,
        centre,
        [
            member(sara, employment="unemployed", education="isced_3_4"),
            member(sara, "member.updated", day=2, employment="employed", education="isced_3_4"),
            member(marc, employment="unsaid", education=None),
            member(old),
        ],
    )
    assert answer.rejected == [] and len(answer.stored) == 4
    assert held(engine, centre) == {
        sara: ("employed", "isced_3_4"),
        marc: ("unsaid", None),
        old: (None, None),
    }
    # an older update arriving late does not undo the newer answer
    push(engine, centre, [member(sara, "member.updated", day=1, employment="inactive")])
    assert held(engine, centre)[sara] == ("employed", "isced_3_4")
    # a withdrawn consent: the next update carries no situation, the hub forgets it
    push(engine, centre, [member(sara, "member.updated", day=3)])
    assert held(engine, centre)[sara] == (None, None)


def test_erasure_forgets_the_situation(engine):
    centre = add_centre(engine)
    sara = protocol.new_id()
    push(engine, centre, [member(sara, employment="employed", education="isced_5_8")])
    push(engine, centre, [protocol.make_event("member.erased", {"member_id": sara}, T0 + timedelta(days=1))])
    assert held(engine, centre)[sara] == (None, None)


def test_a_situation_outside_the_allow_list_is_refused_by_name(engine):
    centre = add_centre(engine)
    bad = member(protocol.new_id(), employment="employed")
    bad["data"]["employment"] = "handicap"
    answer = push(engine, centre, [bad])
    assert [r["field"] for r in answer.rejected] == ["data.employment"]
    assert held(engine, centre) == {}


def test_the_fse_rows_by_situation_and_sex_add_up_to_the_participants(engine):
    centre = add_centre(engine)
    people = [protocol.new_id() for _ in range(6)]
    events = [
        member(people[0], employment="employed", education="isced_5_8"),
        member(people[1], employment="unemployed"),
        member(people[2], gender="man", employment="unemployed", education="isced_0_2"),
        member(people[3], gender="man", education="unsaid"),
        member(people[4]),  # gave nothing: no consent, or an older kiosk
        member(people[5], employment="in_education", education="isced_3_4"),  # never came
    ]
    push(engine, centre, events + [visit(person, day=3) for person in people[:5]])
    rows = {(section, indicator): value[0] for section, indicator, value in fse_rows(engine)}
    participants = rows[("Participants", "Participants (adhérents distincts venus)")]
    assert participants == 5
    labels = funders.SITUATION_LABELS
    for section, question in ((EMPLOYMENT_SECTION, "employment"), (EDUCATION_SECTION, "education")):
        totals = {i: v for (s, i), v in rows.items() if s == section}
        assert list(totals) == list(labels[question].values())
        assert sum(totals.values()) == participants, section
        crossed = [v for (s, _i), v in rows.items() if s == f"{section} et sexe"]
        assert sum(crossed) == participants, section
    employment, education = labels["employment"], labels["education"]
    assert rows[(EMPLOYMENT_SECTION, employment["unemployed"])] == 2
    assert rows[(EMPLOYMENT_SECTION, employment["in_education"])] == 0  # came only: never counted
    assert rows[(EMPLOYMENT_SECTION, employment[None])] == 2
    assert rows[(f"{EMPLOYMENT_SECTION} et sexe", f"Femmes, {employment[None]}")] == 1
    assert rows[(f"{EMPLOYMENT_SECTION} et sexe", f"Hommes, {employment['unemployed']}")] == 1
    assert rows[(EDUCATION_SECTION, education["unsaid"])] == 1
    assert rows[(EDUCATION_SECTION, education[None])] == 2


def test_stats_say_the_situations_held_whatever_the_period(engine):
    centre = add_centre(engine)
    sara, marc, gone = (protocol.new_id() for _ in range(3))
    push(
        engine,
        centre,
        [
            member(sara, employment="employed", education="isced_5_8"),
            member(marc),
            member(gone, employment="unemployed"),
            protocol.make_event("member.erased", {"member_id": gone}, T0 + timedelta(days=1)),
        ],
    )
    with engine.connect() as conn:
        held = centres.stats(conn)
    (mine,) = [c["situations"] for c in held["centres"] if c["id"] == centre]
    assert mine["employment"] == {**dict.fromkeys(mine["employment"], 0), "employed": 1, "none": 1}
    assert mine["education"]["isced_5_8"] == 1 and mine["education"]["none"] == 1
    assert held["situations"]["employment"]["employed"] >= 1


def test_the_demo_s_fse_table_reconciles_with_its_participants(demo_hub, tmp_path):
    server, device = demo_hub
    stats = json.loads(run_federation("stats", "--json", db_url=server.db_url).stdout)
    (held,) = [c["situations"] for c in stats["centres"] if c["id"] == device["centre_id"]]
    export(server, "fse", tmp_path / "fse.csv")
    rows = csv_rows(tmp_path / "fse.csv")
    values = {(section, indicator): int(value) for section, indicator, value in rows if value.isdigit()}
    participants = values[("Participants", "Participants (adhérents distincts venus)")]
    for section, question in ((EMPLOYMENT_SECTION, "employment"), (EDUCATION_SECTION, "education")):
        totals = {i: v for (s, i), v in values.items() if s == section}
        assert sum(totals.values()) == participants, section
        assert sum(v for (s, _i), v in values.items() if s == f"{section} et sexe") == participants
        # the demo's centre asks: some answered, and some did not
        answered = participants - totals[funders.SITUATION_LABELS[question][None]]
        assert 0 < answered < participants, section
        # the period's participants are some of the members the hub holds
        for code, label in funders.SITUATION_LABELS[question].items():
            assert totals[label] <= held[question][code or "none"], (section, code)


def test_the_period_s_reference_is_the_participants_not_the_members():
    """A member who gave a situation but did not come is in no row (unit check of the arithmetic)."""
    people = reports.Participants(year=date(2026, 3, 31).year)
    people.profile[("25-54", "woman", False)] = 3
    situations = reports.Situations()
    situations.answered[("woman", "employed", None)] = 1
    situations.answered[("woman", None, "isced_3_4")] = 1
    crossed = situations.crossed("employment", people)
    assert crossed == {("woman", "employed"): 1, ("woman", None): 2}
    assert situations.crossed("education", people) == {("woman", "isced_3_4"): 1, ("woman", None): 2}
