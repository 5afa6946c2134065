"""The itinerant mode (« hors les murs ») at the hub: ``outreach.held`` and
the visits and new members that carry an ``outreach_id`` (protocol 1.2),
through a real ingest on SQLite and PostgreSQL, counted once whatever the
repeats and whatever the order of arrival; then the demo through a real hub
process: `federation stats --json`, SENACS's « Événements hors les murs »
rows and the dashboard agree with what the kiosk recorded."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx

from federation import reports
from sync import protocol
from tests.conftest_hub import run_federation
from tests.hub_sample import sign_in
from tests.test_hub_funders import FROM, TO, csv_rows, export
from tests.test_hub_funders import demo_hub as demo_hub
from tests.test_hub_households import add_centre, push
from tests.test_hub_households import engine as engine

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def held(outreach_id: str, day: str = "2026-03-02", neighbourhood="Transition", qpv=True) -> dict:
    return protocol.make_event(
        "outreach.held",
        {
            "outreach_id": outreach_id,
            "day": day,
            "commune": "Boulogne-sur-Mer" if neighbourhood else None,
            "neighbourhood": neighbourhood,
            "qpv": qpv,
            "partner_kind": "association",
        },
        T0,
    )


def visit(outreach_id: str | None, minutes: int = 0) -> dict:
    data = {"visit_id": protocol.new_id(), "member_id": None, "reason": "accueil", "recorded_by": "staff"}
    if outreach_id is not ...:
        data["outreach_id"] = outreach_id
    return protocol.make_event("visit.recorded", data, T0 + timedelta(minutes=minutes))


def new_member(outreach_id: str | None) -> dict:
    data = {
        "member_id": protocol.new_id(),
        "age_band": "25-54",
        "year_born": 1990,
        "gender": None,
        "commune": None,
        "neighbourhood": None,
        "qpv": False,
        "outreach_id": outreach_id,
    }
    return protocol.make_event("member.created", data, T0)


def figures(engine, centre_id=None) -> reports.OutreachFigures:
    period = reports.Period(T0.date() - timedelta(days=1), T0.date() + timedelta(days=1), centre_id)
    with engine.connect() as conn:
        return reports.outreach_figures(conn, period)


def test_events_visits_and_new_members_are_counted_once_by_place(engine):
    centre = add_centre(engine)
    fete, marche = protocol.new_id(), protocol.new_id()
    # the visits may arrive before their event: counted under the unknown place until it does
    early = [visit(fete, 1), visit(fete, 2)]
    assert len(push(engine, centre, early).stored) == 2
    assert figures(engine).by_place() == [(None, None, 0, 2, 0)]
    batch = [held(fete), held(marche, neighbourhood=None, qpv=False), visit(marche, 3), new_member(fete)]
    batch += [visit(None, 4), visit(..., 5), new_member(None)]  # at the centre (a 1.1 visit has no key)
    assert len(push(engine, centre, batch).stored) == len(batch)
    # a repeat stores and counts nothing twice
    assert push(engine, centre, batch + early).stored == []
    result = figures(engine)
    assert (result.held, result.visits, result.new_members) == (2, 3, 1)
    assert (result.in_qpv, result.with_partner) == (1, 2)
    assert result.by_place() == [
        ("Boulogne-sur-Mer", "Transition", 1, 2, 1),
        (None, None, 1, 1, 0),
    ]
    # one centre's figures hold only its own events
    other = add_centre(engine, "Autre centre")
    assert len(push(engine, other, [held(protocol.new_id()), visit(None)]).stored) == 2
    assert figures(engine, centre).held == 2 and figures(engine).held == 3
    # a period without the day holds none
    with engine.connect() as conn:
        later = reports.Period(T0.date() + timedelta(days=2), T0.date() + timedelta(days=9))
        assert reports.outreach_figures(conn, later).held == 0


def test_the_demo_s_events_reach_the_dashboard_stats_and_senacs(demo_hub, tmp_path):
    server, device = demo_hub
    kiosk = sqlite3.connect(tmp_path / "demo.db")
    recorded = kiosk.execute(
        "SELECT count(*), (SELECT count(*) FROM visits WHERE outreach_id IS NOT NULL), "
        "(SELECT count(*) FROM members WHERE outreach_id IS NOT NULL) FROM outreach_events"
    ).fetchone()
    kiosk.close()
    assert recorded[0] == 2 and recorded[1] > 0 and recorded[2] > 0
    stats = json.loads(run_federation("stats", "--json", db_url=server.db_url).stdout)
    (mine,) = [c["outreach"] for c in stats["centres"] if c["id"] == device["centre_id"]]
    assert (mine["events"], mine["visits"], mine["new_members"]) == recorded
    assert stats["outreach"] == mine
    export(server, "senacs", tmp_path / "senacs.csv")
    senacs = {(s, i): v for s, i, v in csv_rows(tmp_path / "senacs.csv")}
    section = "Événements hors les murs"
    assert int(senacs[(section, "Événements hors les murs tenus")]) == mine["events"]
    assert int(senacs[(section, "Passages lors de ces événements")]) == mine["visits"]
    met = senacs[(section, "Nouveaux adhérents rencontrés lors de ces événements")]
    assert int(met) == mine["new_members"]
    assert int(senacs[(section, "dont en quartier prioritaire (QPV)")]) == 1  # the Chemin Vert
    by_place = {i: int(v) for (s, i), v in senacs.items() if s == "Événements hors les murs par lieu"}
    assert by_place["Chemin Vert (Boulogne-sur-Mer) : Événements"] == 1
    assert sum(n for i, n in by_place.items() if i.endswith(": Événements")) == mine["events"]
    assert sum(n for i, n in by_place.items() if i.endswith(": Passages")) == mine["visits"]
    # the dashboard's overview and the centre's page show the section
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert sign_in(browser).status_code == 303
        for path in ("/", f"/centres/{device['centre_id']}"):
            page = browser.get(path, params={"from": FROM, "to": TO})
            assert page.status_code == 200, path
            assert "Hors les murs" in page.text, path
            assert "Chemin Vert" in page.text, path
