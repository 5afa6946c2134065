"""Families (households, « foyers ») at the hub: member events' household_id
(protocol 1.2) kept on p_members through a real ingest on SQLite and
PostgreSQL, and the families reached in a period counted from it: a family
is reached when one of its members came; its people are all its members;
participants in no household are counted apart."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
import sqlalchemy as sa

from federation import centres, ingest, period_figures, reports, store
from sync import protocol
from tests.conftest_hub import run_federation
from tests.hub_sample import sign_in
from tests.test_hub_funders import FROM, TO, csv_rows, export, plain
from tests.test_hub_funders import demo_hub as demo_hub

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def add_centre(engine, name: str = "Centre social") -> str:
    with engine.begin() as conn:
        return centres.add_centre(conn, name)[0]


def push(engine, centre_id: str, events: list[dict], version: str = "1.2") -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(
            conn, {"protocol": version, "events": events}, centre_id, None, centres.now_iso()
        )


def member(member_id: str, born: int | None, household=None, day: int = 0) -> dict:
    """A member.created; ``household`` ... (Ellipsis) leaves household_id out, as a 1.1 kiosk did."""
    data = {
        "member_id": member_id,
        "age_band": protocol.age_band(born, T0.date()),
        "year_born": born,
        "gender": "woman",
        "commune": None,
        "neighbourhood": None,
        "qpv": False,
    }
    if household is not ...:
        data["household_id"] = household
    return protocol.make_event("member.created", data, T0 + timedelta(days=day))


def updated(member_id: str, born: int, household: str | None, day: int) -> dict:
    return protocol.make_event(
        "member.updated",
        {
            "member_id": member_id,
            "age_band": protocol.age_band(born, T0.date()),
            "year_born": born,
            "gender": "woman",
            "commune": None,
            "neighbourhood": None,
            "qpv": False,
            "household_id": household,
        },
        T0 + timedelta(days=day),
    )


def visit(member_id: str, day: int) -> dict:
    data = {
        "visit_id": protocol.new_id(),
        "member_id": member_id,
        "reason": "accueil",
        "recorded_by": "resident",
    }
    return protocol.make_event("visit.recorded", data, T0 + timedelta(days=day))


def period(first: int = 0, last: int = 60, centre_id: str | None = None) -> reports.Period:
    return reports.Period(T0.date() + timedelta(days=first), T0.date() + timedelta(days=last), centre_id)


def overview(engine, p: reports.Period) -> reports.Overview:
    return period_figures.overview_from(engine, p)


def ids(n: int) -> list[str]:
    return [protocol.new_id() for _ in range(n)]


def test_a_family_is_reached_when_one_of_its_members_came_and_counts_all_its_people(engine):
    centre = add_centre(engine)
    household, adults = protocol.new_id(), protocol.new_id()
    mother, son, daughter, alone, x, y = ids(6)
    push(
        engine,
        centre,
        [
            member(mother, 1985, household),
            member(son, 2015, household),
            member(daughter, 2019, household),
            member(x, 1960, adults),
            member(y, 1962, adults),
            member(alone, 1990, None),
            visit(son, 3),  # only the son came: the family is reached, its three people counted
            visit(son, 4),
            visit(alone, 5),
        ],
    )
    view = overview(engine, period())
    families = view.families
    assert families.parenting == 0
    assert (families.reached, families.people, families.came_in_families) == (1, 3, 1)
    assert (families.with_children, families.children) == (1, 2)
    assert families.without_household == 1
    assert families.came_in_families + families.without_household == view.participants.total == 2
    # the two adults' household has not come yet: not reached, until one of them does
    push(engine, centre, [visit(x, 10)])
    later = overview(engine, period()).families
    assert (later.reached, later.people, later.with_children, later.children) == (2, 5, 1, 2)
    assert overview(engine, period(first=6)).families.reached == 1  # after the son's visits: the adults only


def test_a_member_present_at_a_session_reaches_their_family(engine):
    centre = add_centre(engine)
    household = protocol.new_id()
    father, baby = ids(2)
    workshop, session = protocol.new_id(), protocol.new_id()
    starts = T0 + timedelta(days=2)
    push(
        engine,
        centre,
        [
            member(father, 1980, household),
            member(baby, 2025, household),
            protocol.make_event(
                "workshop.created", {"workshop_id": workshop, "title": "Parents", "theme": "parentalite"}, T0
            ),
            protocol.make_event(
                "session.created",
                {
                    "session_id": session,
                    "workshop_id": workshop,
                    "starts_at": protocol.utc_iso(starts),
                    "ends_at": protocol.utc_iso(starts + timedelta(hours=2)),
                    "capacity": 10,
                },
                T0,
            ),
            protocol.make_event(
                "attendance.taken",
                {
                    "attendance_id": protocol.new_id(),
                    "session_id": session,
                    "member_id": father,
                    "present": True,
                    "walk_in": False,
                },
                starts,
            ),
        ],
    )
    families = overview(engine, period()).families
    assert (families.reached, families.people, families.without_household) == (1, 2, 0)
    assert families.with_children == 1 and families.children == 1
    assert families.parenting == 1  # the father at a « parentalité » session


def test_the_latest_event_says_the_household_whatever_the_order_of_arrival(engine):
    centre = add_centre(engine)
    household = protocol.new_id()
    mother, son = ids(2)
    push(engine, centre, [member(mother, 1985, household), visit(mother, 1)])
    # the son left the household on day 5; that update arrives before his older one that joined it
    push(engine, centre, [updated(son, 2015, None, 5)])
    push(engine, centre, [member(son, 2015, household, day=0), updated(son, 2015, household, 2)])
    held = household_of(engine, centre)
    assert held == {mother: household, son: None}
    assert (overview(engine, period()).families.people) == 1


def test_events_of_older_kiosks_mean_no_household_known(engine):
    centre = add_centre(engine)
    old, new = ids(2)
    event = member(old, 1970, ...)  # a 1.1 kiosk's member.created: no household_id at all
    assert "household_id" not in event["data"]
    answer = push(
        engine, centre, [event, member(new, 1971, protocol.new_id()), visit(old, 1), visit(new, 1)], "1.1"
    )
    assert len(answer.stored) == 4
    families = overview(engine, period()).families
    assert (families.reached, families.people, families.without_household) == (1, 1, 1)


def test_an_erased_member_leaves_their_family_and_counts_apart(engine):
    centre = add_centre(engine)
    household = protocol.new_id()
    mother, son = ids(2)
    push(engine, centre, [member(mother, 1985, household), member(son, 2015, household), visit(son, 1)])
    push(engine, centre, [protocol.make_event("member.erased", {"member_id": son}, T0 + timedelta(days=9))])
    assert household_of(engine, centre)[son] is None
    view = overview(engine, period())
    # the son's visit still counts (counts hold), with no household: the mother's family was not reached
    assert view.participants.total == 1
    assert (view.families.reached, view.families.without_household) == (0, 1)


def test_a_household_id_is_a_centre_s_own_and_the_centre_filter_holds(engine):
    one, two = add_centre(engine, "Un"), add_centre(engine, "Deux")
    same = protocol.new_id()  # the same id at two centres: two families, each its centre's
    a, b = ids(2)
    push(engine, one, [member(a, 1985, same), visit(a, 1)])
    push(engine, two, [member(b, 1986, same), visit(b, 1)])
    assert overview(engine, period()).families.reached == 2
    assert overview(engine, period(centre_id=one)).families.reached == 1
    assert overview(engine, period(centre_id=two)).families.people == 1


def test_a_household_id_that_is_not_an_id_is_refused_by_name(engine):
    centre = add_centre(engine)
    bad = member(protocol.new_id(), 1985, protocol.new_id())
    bad["data"]["household_id"] = "Famille Benali"
    answer = push(engine, centre, [bad])
    assert [r["field"] for r in answer.rejected] == ["data.household_id"]


def household_of(engine, centre_id: str) -> dict[str, str | None]:
    m = store.p_members.c
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(m.member_id, m.household_id).where(m.centre_id == centre_id)).all()
        )


def test_step_8_leaves_the_members_held_in_no_household(hub_db_url):
    engine = store.create_engine(hub_db_url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in range(1, 8):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
        conn.execute(
            sa.text(
                "INSERT INTO p_members (centre_id, member_id, age_band, qpv, as_of) "
                "VALUES ('c1', 'm1', '25-54', false, '2026-03-02T09:00:00.000Z')"
            )
        )
    assert store.migrate(engine) == store.LATEST_VERSION
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT member_id, household_id FROM p_members")).all() == [("m1", None)]
    engine.dispose()


def test_stats_say_the_households_held_whatever_the_period(engine):
    centre = add_centre(engine)
    household = protocol.new_id()
    mother, son, alone, gone = ids(4)
    push(
        engine,
        centre,
        [
            member(mother, 1985, household),
            member(son, 2015, household),
            member(alone, 1990, None),
            member(gone, 1991, None),
            protocol.make_event("member.erased", {"member_id": gone}, T0 + timedelta(days=1)),
        ],
    )
    with engine.connect() as conn:
        figures = centres.stats(conn)
    expected = {"households": 1, "people": 2, "members_without_household": 1}
    (held,) = [c["families"] for c in figures["centres"] if c["id"] == centre]
    assert held == expected and figures["families"] == expected


# ---------------------------------------------------------------- the demo, through a real hub process


def test_the_demo_s_families_come_out_in_the_exports_and_reconcile(demo_hub, tmp_path):
    """The demo links households; pushed by the real sync client to a hub
    process, SENACS's and the CAF's families agree with each other, with
    `federation stats --json`, and with the kiosk's own rows."""
    server, device = demo_hub
    stats = json.loads(run_federation("stats", "--json", db_url=server.db_url).stdout)
    (held,) = [c["families"] for c in stats["centres"] if c["id"] == device["centre_id"]]
    kiosk = sqlite3.connect(tmp_path / "demo.db")
    households, people = kiosk.execute(
        "SELECT count(DISTINCT household_id), count(household_id) FROM members WHERE erased_at IS NULL"
    ).fetchone()
    assert held == {
        "households": households,
        "people": people,
        "members_without_household": kiosk.execute(
            "SELECT count(*) FROM members WHERE household_id IS NULL AND erased_at IS NULL"
        ).fetchone()[0],
    }
    assert households > 0 and stats["families"] == held
    # the families a member of which came, by the kiosk's own rows (every demo visit lies in the period)
    reached = {
        row[0]
        for row in kiosk.execute(
            "SELECT m.household_id FROM members m WHERE m.household_id IS NOT NULL AND ("
            "EXISTS (SELECT 1 FROM visits v WHERE v.member_id = m.id) OR EXISTS (SELECT 1 FROM attendance a "
            "JOIN sessions s ON s.id = a.session_id WHERE a.member_id = m.id AND a.present = 1 "
            "AND s.cancelled_at IS NULL AND s.starts_at < ?))",
            (TO + "T22:00:00.000Z",),
        )
    }
    figures = {}
    for what in ("senacs", "caf"):
        export(server, what, tmp_path / f"{what}.csv")
        figures[what] = {(s, i): v for s, i, v in csv_rows(tmp_path / f"{what}.csv")}
    senacs, caf = figures["senacs"], figures["caf"]
    for rows in (senacs, caf):
        families = int(rows[("Familles", "Familles touchées (foyers dont un membre est venu)")])
        assert families == len(reached) > 0
        came = int(rows[("Familles", "Adhérents venus membres d'une famille")])
        without = int(rows[("Familles", "Adhérents venus sans foyer renseigné")])
        touched = rows.get(("Personnes touchées", "Personnes touchées (adhérents distincts venus)"))
        assert came + without == int(touched)
        in_them = int(rows[("Familles", "Personnes dans ces familles")])
        assert 2 * families <= in_them <= held["people"] and came <= in_them
    assert [(k, v) for k, v in senacs.items() if k[0] == "Familles"] == [
        (k, v) for k, v in caf.items() if k[0] == "Familles" and k in senacs
    ]
    with_children = int(caf[("Familles", "Familles avec au moins un enfant de moins de 18 ans")])
    children = int(caf[("Familles", "Enfants de moins de 18 ans dans ces familles")])
    assert 0 < with_children <= families and with_children <= children
    assert caf[("Familles", "Personnes par famille (moyenne)")] == f"{in_them / families:.1f}".replace(
        ".", ","
    )
    assert int(caf[("Parentalité", "Familles venues aux ateliers parentalité")]) <= families


def families_shown(html: str) -> dict[str, str]:
    """The « Familles » section's table as the dashboard shows it: indicator -> figure."""
    (section,) = re.findall(r'<section aria-labelledby="families-title".*?</section>', html, re.S)
    return {
        unescape(name): plain(value)
        for name, value in re.findall(r'<th scope="row">(.*?)</th><td class="num">(.*?)</td>', section)
    }


def test_the_dashboard_s_families_say_what_the_csv_and_the_funders_say(demo_hub, tmp_path):
    server, device = demo_hub
    period = {"from": FROM, "to": TO}
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert sign_in(browser).status_code == 303
        overview_page = browser.get("/", params=period)
        centre_page = browser.get(f"/centres/{device['centre_id']}", params=period)
        indicators = browser.get("/exports/indicators.csv", params=period)
    assert overview_page.status_code == centre_page.status_code == indicators.status_code == 200
    shown = families_shown(overview_page.text)
    assert shown == families_shown(centre_page.text)  # one centre on this hub: the same figures
    written = {
        row[4]: row[5]
        for row in csv.reader(io.StringIO(indicators.content.decode("utf-8-sig")), delimiter=";")
        if row[3] == "Familles"
    }
    assert shown == written and int(shown["Familles touchées (foyers dont un membre est venu)"]) > 0
    export(server, "caf", tmp_path / "caf.csv")
    caf = {indicator: value for section, indicator, value in csv_rows(tmp_path / "caf.csv")}
    for name in (
        "Familles touchées (foyers dont un membre est venu)",
        "Personnes dans ces familles",
        "Familles avec au moins un enfant de moins de 18 ans",
        "Enfants de moins de 18 ans dans ces familles",
        "Familles venues aux ateliers parentalité",
    ):
        assert shown[name] == caf[name], name
