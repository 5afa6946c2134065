"""Hub-to-hub roll-up, with real processes: child hubs (`federation serve`)
linked to a parent hub with the real `federation add-child` and
`federation link-parent`, kiosks' events posted to the children over HTTP,
figures sent with `federation sync-parent` or by the serving child itself,
through the fault proxy, after a month offline, and after a revocation.

What is checked each time: the parent's `federation stats --json` and its
network page show, for each child and each centre, the figures the child's
own dashboard shows (federation.reports, the dashboard's functions, on the
child's database)."""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape

from federation import parent_sync, period_figures, reports, store
from sync import client, protocol
from tests.conftest_hub import FEDERATION, HubServer, run_federation
from tests.faultproxy import FaultProxy

YEAR = 2026
#: the year's figures compared, from the child's dashboard and from the parent
COMPARED = (
    "visits",
    "participants",
    "new_members",
    "sessions",
    "present",
    "volunteers",
    "volunteer_minutes",
    "families",
    "ideas",
    "outreach_events",
)


def federation(*args: str, db_url: str) -> subprocess.CompletedProcess:
    """The real command, whatever its exit status."""
    return subprocess.run(
        [*FEDERATION, *args, "--db", db_url],
        capture_output=True,
        text=True,
        cwd=tempfile.mkdtemp(prefix="federation-cwd-"),
        timeout=120,
    )


# ---------------------------------------------------------------- a centre's kiosk, posting real events


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@dataclass
class Kiosk:
    """One centre of a child hub, with an enrolled device posting events."""

    hub: HubServer
    name: str
    token: str = ""
    centre_id: str = ""
    members: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    #: the kiosk's pseudonyms of three volunteers
    volunteers: list[str] = field(default_factory=lambda: [protocol.new_id() for _ in range(3)])

    def __post_init__(self):
        answer = self.hub.new_device(self.name)
        self.token, self.centre_id = answer["device_token"], answer["centre_id"]

    def post(self, events: list[dict]) -> None:
        with self.hub.client(self.token) as http:
            for start in range(0, len(events), 500):
                chunk = events[start : start + 500]
                body = {"protocol": protocol.PROTOCOL_VERSION, "events": chunk}
                answer = http.post("/api/v1/batches", json=body)
                assert answer.status_code == 200, answer.text
                assert not answer.json()["rejected"], answer.text

    def month(self, year: int, month: int, members: int = 6, visits_a_day: int = 3) -> None:
        """A month's life: new members, visits on weekdays, a workshop session a week."""
        events = []
        first = date(year, month, 1)
        household = protocol.new_id()  # the month's first two members are a family
        for n in range(members):
            member_id = protocol.new_id()
            self.members.append(member_id)
            events.append(
                protocol.make_event(
                    "member.created",
                    {
                        "member_id": member_id,
                        "age_band": "unknown",
                        "year_born": self.rng.randint(1940, 2015),
                        "gender": self.rng.choice(["woman", "man", None]),
                        "qpv": self.rng.random() < 0.4,
                        "household_id": household if n < 2 else None,
                    },
                    at(first + timedelta(days=self.rng.randint(0, 5)), 9),
                )
            )
        outreach_id = protocol.new_id()  # an event « hors les murs » on the 10th, with a visit at it
        events.append(
            protocol.make_event(
                "outreach.held",
                {"outreach_id": outreach_id, "day": f"{year:04d}-{month:02d}-10", "qpv": True},
                at(first + timedelta(days=9), 18),
            )
        )
        events.append(
            protocol.make_event(
                "visit.recorded",
                {
                    "visit_id": protocol.new_id(),
                    "member_id": None,
                    "reason": "accueil",
                    "recorded_by": "staff",
                    "outreach_id": outreach_id,
                },
                at(first + timedelta(days=9), 16),
            )
        )
        workshop_id = protocol.new_id()
        events.append(
            protocol.make_event(
                "workshop.created",
                {"workshop_id": workshop_id, "title": "Parents-enfants", "theme": "parentalite"},
                at(first, 8),
            )
        )
        day = first
        while day.month == month:
            if day.weekday() < 5:
                for _ in range(visits_a_day):
                    member = self.rng.choice(self.members + [None])
                    events.append(self.visit(day, member))
            if day.weekday() == 2:
                events += self.session(workshop_id, day)
            if day.weekday() == 4:
                events.append(self.volunteering(day))
                events.append(
                    protocol.make_event(
                        "idea.received",
                        {"idea_id": protocol.new_id(), "theme": self.rng.choice(["sorties", "quartier"])},
                        at(day, 11),
                    )
                )
            day += timedelta(days=1)
        self.post(events)

    def visit(self, day: date, member: str | None, reason: str | None = None) -> dict:
        return protocol.make_event(
            "visit.recorded",
            {
                "visit_id": protocol.new_id(),
                "member_id": member,
                "reason": reason or self.rng.choice(["demarches", "permanence", "cafe"]),
                "recorded_by": "staff",
            },
            at(day, self.rng.randint(8, 17)),
        )

    def volunteering(self, day: date) -> dict:
        return protocol.make_event(
            "volunteering.recorded",
            {
                "stretch_id": protocol.new_id(),
                "volunteer_id": self.rng.choice(self.volunteers),
                "kind": self.rng.choice(["activity", "governance"]),
                "day": day.isoformat(),
                "minutes": self.rng.randint(30, 240),
                "version": 1,
                "auto_closed": False,
                "removed": False,
            },
            at(day, 18),
        )

    def session(self, workshop_id: str, day: date) -> list[dict]:
        session_id = protocol.new_id()
        self.sessions.append(session_id)
        events = [
            protocol.make_event(
                "session.created",
                {
                    "session_id": session_id,
                    "workshop_id": workshop_id,
                    "starts_at": protocol.utc_iso(at(day, 14)),
                    "ends_at": protocol.utc_iso(at(day, 16)),
                    "capacity": 8,
                },
                at(day - timedelta(days=3), 9),
            )
        ]
        for member in self.rng.sample(self.members, min(3, len(self.members))):
            events.append(
                protocol.make_event(
                    "registration.changed",
                    {
                        "registration_id": protocol.new_id(),
                        "session_id": session_id,
                        "member_id": member,
                        "status": "booked",
                    },
                    at(day - timedelta(days=2), 9),
                )
            )
            events.append(
                protocol.make_event(
                    "attendance.taken",
                    {
                        "attendance_id": protocol.new_id(),
                        "session_id": session_id,
                        "member_id": member,
                        "present": True,
                        "walk_in": False,
                    },
                    at(day, 15),
                )
            )
        return events


# ---------------------------------------------------------------- the two sides' figures


def own_figures(hub: HubServer, centre_id: str | None = None, year: int = YEAR) -> dict[str, int]:
    """The year's figures on the child's own dashboard (federation.reports)."""
    engine = store.create_engine(hub.db_url)
    try:
        period = reports.Period(date(year, 1, 1), date(year, 12, 31), centre_id)
        view = period_figures.overview_from(engine, period)
    finally:
        engine.dispose()
    return {
        "visits": view.visits,
        "participants": view.participants.total,
        "new_members": view.new_members,
        "sessions": view.workshop_total.sessions,
        "present": view.workshop_total.present,
        "volunteers": view.volunteering.volunteers,
        "volunteer_minutes": view.volunteering.total_minutes,
        "families": view.families.reached,
        "ideas": view.voice.received,
        "outreach_events": view.outreach.held,
    }


def parent_children(parent: HubServer) -> dict[str, dict]:
    """`federation stats --json` on the parent: its children by name."""
    out = run_federation("stats", "--json", db_url=parent.db_url)
    return {child["name"]: child for child in json.loads(out.stdout)["children"]}


def assert_months_add_up(parent: HubServer) -> None:
    """The parent's months (kept by adding each change) are the sums of its days."""
    f, m = store.child_figures.c, store.child_month_figures.c
    month = sa.func.substr(f.period, 1, 7)
    engine = store.create_engine(parent.db_url)
    try:
        with engine.connect() as conn:
            days = conn.execute(
                sa.select(f.child_id, f.centre_id, month, f.dimension, f.key, sa.func.sum(f.value))
                .where(sa.func.length(f.period) == 10)
                .group_by(f.child_id, f.centre_id, month, f.dimension, f.key)
            ).all()
            months = conn.execute(
                sa.select(m.child_id, m.centre_id, m.month, m.dimension, m.key, m.value).where(m.value != 0)
            ).all()
    finally:
        engine.dispose()
    assert sorted(map(tuple, days)) == sorted(map(tuple, months))


def assert_parent_matches(parent: HubServer, children: dict[str, tuple[HubServer, list[Kiosk]]]) -> None:
    assert_months_add_up(parent)
    received = parent_children(parent)
    for name, (hub, kiosks) in children.items():
        child = received[name]
        assert {key: child[key] for key in COMPARED} == own_figures(hub), name
        by_centre = {centre["id"]: centre for centre in child["centres"]}
        for kiosk in kiosks:
            centre = by_centre[kiosk.centre_id]
            assert centre["name"] == kiosk.name
            assert {key: centre[key] for key in COMPARED} == own_figures(hub, kiosk.centre_id), kiosk.name


def network_page(hub: HubServer, year: int = YEAR) -> str:
    """The parent's « Réseau » page, signed in as a staff member through the real form."""
    from federation import users
    from tests.hub_sample import EMAIL, PASSWORD, sign_in

    engine = store.create_engine(hub.db_url)
    try:
        with contextlib.suppress(users.UserError):  # already there
            users.add_user(engine, EMAIL, PASSWORD)
    finally:
        engine.dispose()
    with hub.client() as http:
        assert sign_in(http).status_code in (200, 303)
        page = http.get("/reseau", params={"annee": str(year)})
    assert page.status_code == 200, page.text
    return page.text


def number_fr(n: int) -> str:
    """A count as the dashboard writes it (French digit groups)."""
    from federation import formatting

    return formatting.number(n)


def link(parent: HubServer, child: HubServer, name: str, parent_url: str | None = None) -> str:
    """The real commands: add-child on the parent, link-parent on the child."""
    code = json.loads(run_federation("add-child", name, "--json", db_url=parent.db_url).stdout)
    out = run_federation(
        "link-parent", "--parent", parent_url or parent.url, "--code", code["link_code"], db_url=child.db_url
    )
    assert "Linked to the parent hub" in out.stdout
    return code["child_id"]


def sync_parent(child: HubServer) -> subprocess.CompletedProcess:
    return federation("sync-parent", db_url=child.db_url)


# ---------------------------------------------------------------- tests


@pytest.fixture
def network(hub_server, hub_db_url):
    """A parent hub (SQLite, then PostgreSQL) and two child hubs on SQLite
    that send only when told (`sync-parent`), each with two centres."""
    parent = hub_server(hub_db_url, parent_interval=0)
    children = {}
    for n, name in enumerate(("Fédération du Rhône", "Fédération de l'Ain")):
        hub = hub_server(parent_interval=0)
        kiosks = [Kiosk(hub, f"{name} — centre {k}", rng=random.Random(n * 10 + k)) for k in (1, 2)]
        children[name] = (hub, kiosks)
    return parent, children


def test_two_children_s_figures_reach_the_parent_and_match_their_own_dashboards(network):
    parent, children = network
    for name, (hub, kiosks) in children.items():
        for kiosk in kiosks:
            kiosk.month(YEAR, 9)
            kiosk.month(YEAR, 10)
        assert all(own_figures(hub)[key] > 0 for key in COMPARED)  # every kind of figure is compared
        link(parent, hub, name)
        out = sync_parent(hub)
        assert out.returncode == 0, out.stderr
        assert "Sent" in out.stdout and "stored" in out.stdout
        assert " 0 not kept by it" in out.stdout  # every key the child sends is on the parent's lists
    assert_parent_matches(parent, children)
    # sent again: nothing changed, nothing sent, the parent's figures the same
    hub = next(iter(children.values()))[0]
    again = sync_parent(hub)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert_parent_matches(parent, children)
    # the network's totals are the children's sums
    received = parent_children(parent)
    total = sum(child["visits"] for child in received.values())
    assert total == sum(own_figures(hub)["visits"] for hub, _kiosks in children.values()) > 0
    # the parent's dashboard shows each federation, its centres and the network's total
    page = network_page(parent)
    for name, (_hub, kiosks) in children.items():
        assert str(escape(name)) in page
        for kiosk in kiosks:
            assert str(escape(kiosk.name)) in page
    assert f"<strong>{number_fr(total)}</strong> passages" in page
    assert "Participants du réseau par âge (SENACS)" in page
    # the funders' age bands by sex, as the children's own dashboards count them
    expected: dict[str, int] = {}
    for hub, _kiosks in children.values():
        engine = store.create_engine(hub.db_url)
        try:
            with engine.connect() as conn:
                people = reports.participants(conn, reports.Period(date(YEAR, 1, 1), date(YEAR, 12, 31)))
        finally:
            engine.dispose()
        for (gender, band), n in people.funder_bands_by_gender("senacs").items():
            if n:
                expected[f"{gender or ''}:{band}"] = expected.get(f"{gender or ''}:{band}", 0) + n
    assert held_figures(parent, str(YEAR), "participants.senacs") == expected


def wait_until(condition, timeout: float = 60.0, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def matches(parent: HubServer, children: dict[str, tuple[HubServer, list[Kiosk]]]) -> bool:
    try:
        assert_parent_matches(parent, children)
    except (AssertionError, KeyError):
        return False
    return True


def figures_only(_method: str, path: str) -> bool:
    """The fault proxy's faults hit the figures' requests only."""
    return path.startswith("/api/v1/network/figures")


def link_row(hub: HubServer):
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(store.parent_link)).one()
    finally:
        engine.dispose()


def test_figures_reach_the_parent_exactly_once_through_faults(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    kiosks = [Kiosk(child, f"Centre {k}", rng=random.Random(k)) for k in (1, 2)]
    for kiosk in kiosks:
        for month in range(1, 8):
            kiosk.month(YEAR, month, members=3, visits_a_day=2)
    port = int(parent.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port), delay_s=0.3, applies_to=figures_only) as proxy:
        link(parent, child, "Fédération du Rhône", parent_url=proxy.url)
        proxy.randomize(11, {"pass": 3, "drop": 2, "reset": 1, "cut": 1, "delay": 1, "portal": 1})
        outcomes = []
        for attempt in range(40):
            out = sync_parent(child)
            outcomes.append(out.returncode)
            if attempt == 2:  # late kiosk events change days already sent
                kiosks[0].post([kiosks[0].visit(date(YEAR, 3, 4), None, "cafe") for _ in range(5)])
            if out.returncode == 0 and "up to date" in out.stdout and attempt > 2:
                break
        else:
            pytest.fail(f"never up to date through the faults: {outcomes}")
    assert proxy.counts["drop"] and proxy.counts["reset"] and proxy.counts["portal"]
    assert_parent_matches(parent, {"Fédération du Rhône": (child, kiosks)})
    assert "Traceback" not in parent.log()


def test_a_serving_child_catches_up_after_a_month_offline(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0.5)
    kiosks = [Kiosk(child, f"Centre {k}", rng=random.Random(k)) for k in (1, 2)]
    for kiosk in kiosks:
        kiosk.month(YEAR, 9)
    network = {"Fédération du Rhône": (child, kiosks)}
    port = int(parent.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port), applies_to=figures_only) as proxy:
        link(parent, child, "Fédération du Rhône", parent_url=proxy.url)
        assert wait_until(lambda: matches(parent, network)), "the serving child never sent by itself"
        proxy.plan([], default="reset")  # the parent cannot be reached
        for kiosk in kiosks:
            kiosk.month(YEAR, 10)
            kiosk.month(YEAR, 11)  # a month and more of figures while offline
            # late events from a kiosk that was itself offline: days already sent change
            kiosk.post([kiosk.visit(date(YEAR, 9, 14), kiosk.members[0]) for _ in range(3)])
        assert wait_until(lambda: "cannot be reached" in (link_row(child).last_result or ""), timeout=60)
        assert not matches(parent, network)
        proxy.plan([], default="pass")  # back
        assert wait_until(lambda: matches(parent, network), timeout=90), "no catch-up after the outage"
    assert link_row(child).last_success_at is not None


def test_a_revoked_child_gets_401_and_stops_sending(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0.3)
    kiosk = Kiosk(child, "Centre 1")
    kiosk.month(YEAR, 9)
    network = {"Fédération du Rhône": (child, [kiosk])}
    port = int(parent.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port), applies_to=figures_only) as proxy:
        child_id = link(parent, child, "Fédération du Rhône", parent_url=proxy.url)
        assert wait_until(lambda: matches(parent, network))
        before = parent_children(parent)["Fédération du Rhône"]["visits"]
        out = run_federation("revoke-child", child_id, db_url=parent.db_url)
        assert "revoked" in out.stdout
        kiosk.month(YEAR, 10)  # new figures the parent must not get
        assert wait_until(lambda: link_row(child).revoked_at is not None, timeout=30)
        sent = sum(proxy.counts.values())
        time.sleep(2)  # several intervals: the child no longer tries
        assert sum(proxy.counts.values()) == sent
    now = sync_parent(child)
    assert now.returncode == 3
    assert "revoked" in now.stderr and "link-parent" in now.stderr
    assert "401" in (link_row(child).last_result or "")
    assert parent_children(parent)["Fédération du Rhône"]["visits"] == before
    # the parent refuses the old token itself, whatever the child does
    token = link_row(child).token
    refused = httpx.post(
        f"{parent.url}/api/v1/network/figures", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]


@pytest.fixture
def another_db_url(hub_db_url, request, tmp_path) -> str:
    """A second database on the engine of ``hub_db_url``."""
    if hub_db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'another.db'}"
    return request.getfixturevalue("postgres_cluster").new_database()


def test_a_chain_of_three_hubs_carries_a_departmental_federation_s_figures_to_the_national_one(
    hub_server, hub_db_url, another_db_url
):
    # on PostgreSQL too: the regional hub both receives and sends, the departmental computes and sends
    national = hub_server(parent_interval=0)
    regional = hub_server(hub_db_url, parent_interval=0)
    departmental = hub_server(another_db_url, parent_interval=0)
    kiosks = [Kiosk(departmental, f"Centre {k}", rng=random.Random(k)) for k in (1, 2)]
    for kiosk in kiosks:
        kiosk.month(YEAR, 10)
    link(regional, departmental, "Fédération du Rhône")
    link(national, regional, "Union régionale Auvergne-Rhône-Alpes")
    for hub in (departmental, regional):
        assert sync_parent(hub).returncode == 0
    received = parent_children(national)["Union régionale Auvergne-Rhône-Alpes"]
    assert {key: received[key] for key in COMPARED} == own_figures(departmental)
    assert {centre["federation"] for centre in received["centres"]} == {"Fédération du Rhône"}
    page = network_page(national)
    assert "Union régionale Auvergne-Rhône-Alpes" in page and "Fédération du Rhône" in page
    assert "Centre 1" in page and "Centre 2" in page
    # a change below travels up on the next sends
    kiosks[0].post([kiosks[0].visit(date(YEAR, 10, 6), None) for _ in range(4)])
    for hub in (departmental, regional):
        assert sync_parent(hub).returncode == 0
    received = parent_children(national)["Union régionale Auvergne-Rhône-Alpes"]
    assert {key: received[key] for key in COMPARED} == own_figures(departmental)


def test_only_the_lease_holder_sends(tmp_path, hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    Kiosk(child, "Centre 1").month(YEAR, 9)
    link(parent, child, "Fédération du Rhône")
    engine = store.create_engine(child.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            assert parent_sync._take_lease(conn, "another process")
        busy = sync_parent(child)
        assert busy.returncode == 4 and "another process" in busy.stderr
        assert parent_children(parent)["Fédération du Rhône"]["visits"] == 0
        parent_sync._release_lease(engine, "another process")
    finally:
        engine.dispose()
    assert sync_parent(child).returncode == 0
    assert parent_children(parent)["Fédération du Rhône"]["visits"] == own_figures(child)["visits"] > 0


def good_batch(centre_id: str, generation: int = 5, **changes) -> dict:
    body = {
        "protocol": protocol.PROTOCOL_VERSION,
        "batch_id": protocol.new_id(),
        "generation": generation,
        "centres": [{"id": centre_id, "name": "Centre 1", "federation": ""}],
        "figures": [
            {
                "centre_id": centre_id,
                "period": "2026-03-02",
                "dimension": "visits.reason",
                "values": {"demarches": 4, "cafe": 1},
            },
            {
                "centre_id": centre_id,
                "period": "2026",
                "dimension": "participants.profile",
                "values": {"25-54:woman:yes": 2},
            },
        ],
    }
    return body | changes


def held_sets(parent: HubServer) -> list:
    engine = store.create_engine(parent.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(store.child_figure_sets.c.period, store.child_figure_sets.c.version)
            ).all()
    finally:
        engine.dispose()


def test_the_parent_stores_only_well_formed_bounded_figures(hub_server):
    parent = hub_server(parent_interval=0, pre_auth_rate_limit=0)
    code = json.loads(run_federation("add-child", "Fédération", "--json", db_url=parent.db_url).stdout)
    linked = httpx.post(f"{parent.url}/api/v1/network/link", json={"code": code["link_code"]}).json()
    again = httpx.post(f"{parent.url}/api/v1/network/link", json={"code": code["link_code"]})
    assert again.status_code == 403 and "already used" in again.json()["error"]
    http = httpx.Client(base_url=parent.url, headers={"Authorization": f"Bearer {linked['token']}"})
    centre = protocol.new_id()
    figure = good_batch(centre)["figures"][0]
    bad = {
        "extra field": (good_batch(centre, names=["Fatima"]), "body.names"),
        "member ids": (good_batch(centre, figures=[figure | {"member_id": centre}]), "figures[0].member_id"),
        "unknown key": (
            good_batch(centre, figures=[figure | {"values": {"Fatima Benali": 1}}]),
            "figures[0].values",
        ),
        "negative": (
            good_batch(centre, figures=[figure | {"values": {"cafe": -1}}]),
            "figures[0].values.cafe",
        ),
        "a float": (
            good_batch(centre, figures=[figure | {"values": {"cafe": 1.5}}]),
            "figures[0].values.cafe",
        ),
        "a month for a day": (
            good_batch(centre, figures=[figure | {"period": "2026-03"}]),
            "figures[0].period",
        ),
        "no such day": (good_batch(centre, figures=[figure | {"period": "2026-02-30"}]), "figures[0].period"),
        "a centre not listed": (
            good_batch(centre, figures=[figure | {"centre_id": protocol.new_id()}]),
            "figures[0].centre_id",
        ),
        "twice the same set": (good_batch(centre, figures=[figure, figure]), "figures[1]"),
        "too many sets": (good_batch(centre, figures=[figure] * 2001), "figures"),
        "too many keys": (
            good_batch(centre, figures=[figure | {"values": {f"r{n}": 1 for n in range(401)}}]),
            "figures[0].values",
        ),
        "a NUL in a name": (
            good_batch(centre, centres=[{"id": centre, "name": "A\x00", "federation": ""}]),
            "centres[0].name",
        ),
        "no generation": (good_batch(centre, generation=0), "generation"),
        "an old protocol": (good_batch(centre, protocol="0.9"), "protocol"),
        "not an object": ([1, 2], "body"),
    }
    for what, (body, field_at_fault) in bad.items():
        answer = http.post("/api/v1/network/figures", json=body)
        assert answer.status_code == 400, (what, answer.text)
        assert answer.json()["field"] == field_at_fault, what
    for raw, headers in (
        (b"{not json", {}),
        (b"\x1f\x8b broken gzip", {"Content-Encoding": "gzip"}),
        (gzip.compress(b" " * (40 * 1024 * 1024)), {"Content-Encoding": "gzip"}),
    ):
        answer = http.post("/api/v1/network/figures", content=raw, headers=headers)
        assert answer.status_code in (400, 413), answer.text
    assert held_sets(parent) == []  # nothing of all that stored
    # a good batch, with a dimension this parent does not know: dropped, said so
    newer = good_batch(centre)
    newer["figures"].append(figure | {"dimension": "visits.by_moon_phase"})
    newer["figures"].append(figure | {"dimension": "members.new", "values": {"by_shoe_size": 3}})
    answer = http.post("/api/v1/network/figures", json=newer).json()
    assert (answer["stored"], answer["stale"]) == (2, 0)
    assert [(d["index"], d["dimension"]) for d in answer["dropped"]] == [
        (2, "visits.by_moon_phase"),
        (3, "members.new"),
    ]
    assert "by_shoe_size" in answer["dropped"][1]["reason"]
    # sent again: replaced, not added
    assert http.post("/api/v1/network/figures", json=newer).json()["stored"] == 2
    # an older generation's copy arriving late changes nothing
    late = good_batch(centre, generation=4, figures=[figure | {"values": {"cafe": 99}}])
    assert http.post("/api/v1/network/figures", json=late).json()["stale"] == 1
    [child] = parent_children(parent).values()
    assert (child["visits"], child["participants"]) == (5, 2)
    assert sorted(held_sets(parent)) == [("2026", 5), ("2026-03-02", 5)]
    assert "Traceback" not in parent.log()


def test_a_child_served_by_two_processes_sends_by_itself_and_correctly(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(workers=2, parent_interval=0.3)
    kiosks = [Kiosk(child, f"Centre {k}", rng=random.Random(k)) for k in (1, 2)]
    for kiosk in kiosks:
        kiosk.month(YEAR, 9)
    network = {"Fédération du Rhône": (child, kiosks)}
    link(parent, child, "Fédération du Rhône")
    assert wait_until(lambda: matches(parent, network))
    for kiosk in kiosks:  # more while both processes keep trying to send
        kiosk.month(YEAR, 10)
    assert wait_until(lambda: matches(parent, network))
    assert "Traceback" not in child.log() and "Traceback" not in parent.log()


def held_figures(parent: HubServer, period: str, dimension: str) -> dict[str, int]:
    """The parent's figures of one period and dimension, summed over centres."""
    f = store.child_figures.c
    engine = store.create_engine(parent.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(f.key, sa.func.sum(f.value))
                .where(f.period == period, f.dimension == dimension)
                .group_by(f.key)
            ).all()
    finally:
        engine.dispose()
    return {key: int(n) for key, n in rows}


def as_if_sent_long_ago(child: HubServer) -> None:
    """Date the events the child already sent as received long before its
    last send, as they are in life: the next send must find the days they
    touched from the new events alone (a send re-reads the events of the last
    minutes before the previous one, in case one committed late)."""
    engine = store.create_engine(child.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            cursor = conn.execute(sa.select(store.parent_link.c.cursor_seq)).scalar_one()
            conn.execute(
                store.events.update()
                .where(store.events.c.seq <= cursor)
                .values(received_at="2026-01-01T00:00:00.000Z")
            )
    finally:
        engine.dispose()


def test_late_changes_to_older_days_reach_the_parent(hub_server):
    """Events stored today that change days already sent: an attendance taken
    late, a session cancelled after the fact; members joined in a household,
    which changes the families of the months they came in."""
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    kiosk = Kiosk(child, "Centre 1")
    kiosk.month(YEAR, 9)
    network = {"Fédération du Rhône": (child, [kiosk])}
    link(parent, child, "Fédération du Rhône")
    assert sync_parent(child).returncode == 0
    assert_parent_matches(parent, network)
    as_if_sent_long_ago(child)
    before = own_figures(child)
    now = datetime.now(UTC)
    first, second = kiosk.sessions[0], kiosk.sessions[1]
    kiosk.post(
        [
            protocol.make_event(
                "attendance.taken",
                {
                    "attendance_id": protocol.new_id(),
                    "session_id": first,
                    "member_id": None,
                    "present": True,
                    "walk_in": True,
                },
                now,
            ),
            protocol.make_event("session.cancelled", {"session_id": second}, now),
        ]
    )
    after = own_figures(child)
    assert after["present"] != before["present"] and after["sessions"] == before["sessions"] - 1
    assert sync_parent(child).returncode == 0
    assert_parent_matches(parent, network)

    as_if_sent_long_ago(child)
    september = reports.Period(date(YEAR, 9, 1), date(YEAR, 9, 30))
    families_then = held_figures(parent, f"{YEAR}-09", "families")
    household = protocol.new_id()
    kiosk.post(
        [
            protocol.make_event(
                "member.updated",
                {"member_id": member, "age_band": "unknown", "qpv": False, "household_id": household},
                now,
            )
            for member in kiosk.members[2:5]
        ]
    )
    assert sync_parent(child).returncode == 0
    engine = store.create_engine(child.db_url)
    try:
        with engine.connect() as conn:
            own = reports.families(conn, september)
    finally:
        engine.dispose()
    held = held_figures(parent, f"{YEAR}-09", "families")
    assert held != families_then and held["reached"] == own.reached and held["people"] == own.people


def test_the_commands_say_what_happened(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    kiosks = [Kiosk(child, "Centre 1")]
    kiosks[0].month(YEAR, 9)
    alone = sync_parent(child)
    assert alone.returncode == 2 and "no parent" in alone.stderr
    wrong = federation("link-parent", "--parent", parent.url, "--code", "AAAA-BBBB-CCCC", db_url=child.db_url)
    assert wrong.returncode == 1 and "unknown link code" in wrong.stderr
    nowhere = federation("link-parent", "--parent", "ftp://x", "--code", "AAAA", db_url=child.db_url)
    assert nowhere.returncode == 2 and "--parent" in nowhere.stderr
    code = json.loads(
        run_federation("add-child", "Fédération du Rhône", "--json", db_url=parent.db_url).stdout
    )
    assert "not linked yet" in run_federation("list-children", db_url=parent.db_url).stdout
    run_federation("link-parent", "--parent", parent.url, "--code", code["link_code"], db_url=child.db_url)
    done = federation("sync-parent", "--json", db_url=child.db_url)
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["code"] == "ok" and result["sent"] == result["stored"] > 0
    listed = run_federation("list-children", db_url=parent.db_url).stdout
    assert "Fédération du Rhône" in listed and f"{YEAR}: {own_figures(child)['visits']} visits" in listed
    # what the parent holds, as the child can ask it
    token = link_row(child).token
    status = httpx.get(f"{parent.url}/api/v1/network/status", headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200
    assert status.json()["figure_sets"] == result["stored"] and status.json()["centres"] == 1
    # the token is stored only as its hash at the parent
    engine = store.create_engine(parent.db_url)
    try:
        with engine.connect() as conn:
            [held] = conn.execute(sa.select(store.child_hubs)).all()
    finally:
        engine.dispose()
    assert held.token_hash != token and token not in held.token_hash
    # a parent restored from an older backup lost figures: --resend-all sends them all again
    engine = store.create_engine(parent.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            conn.execute(store.child_figures.delete())
            conn.execute(store.child_figure_sets.delete())
            conn.execute(store.child_month_figures.delete())
    finally:
        engine.dispose()
    assert parent_children(parent)["Fédération du Rhône"]["visits"] == 0
    assert "up to date" in sync_parent(child).stdout  # the child cannot know
    again = federation("sync-parent", "--resend-all", db_url=child.db_url)
    assert again.returncode == 0 and f"Sent {result['sent']} figure sets" in again.stdout
    assert_parent_matches(parent, {"Fédération du Rhône": (child, kiosks)})


def test_a_send_stops_when_the_hub_is_linked_again_meanwhile(hub_server):
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    for k in (1, 2):  # enough figures for two requests
        kiosk = Kiosk(child, f"Centre {k}", rng=random.Random(k))
        for month in range(1, 8):
            kiosk.month(YEAR, month, members=3, visits_a_day=2)
    link(parent, child, "Fédération du Rhône")
    engine = store.create_engine(child.db_url)

    def linked_again(_result) -> None:
        # what `federation link-parent` writes, while this run is between two requests
        if link_row(child).child_id == "01900000-0000-7000-8000-00000000beef":
            return
        with store.writer(engine) as conn, conn.begin():
            conn.execute(store.parent_acked.delete())
            conn.execute(
                store.parent_link.update().values(
                    child_id="01900000-0000-7000-8000-00000000beef",
                    token="another",
                    lease_holder=None,
                    lease_until=None,
                    cursor_seq=None,
                )
            )

    try:
        result = parent_sync.sync_parent(engine, progress=linked_again)
        with engine.connect() as conn:
            acked = conn.execute(sa.select(sa.func.count()).select_from(store.parent_acked)).scalar()
    finally:
        engine.dispose()
    assert result.code == client.LOST_LOCK, result.summary()
    assert result.sent == parent_sync.SETS_PER_BATCH  # the first request, then no other
    assert acked == 0  # nothing of the old link's run counted as sent under the new one
    assert link_row(child).cursor_seq is None


def gauges(hub: HubServer, token: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(f"{hub.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_the_metrics_say_when_figures_last_went_up_and_came_in(hub_server, monkeypatch):
    from federation import metrics

    token = "a-metrics-token-long-enough-" + "x" * 20
    monkeypatch.setenv(metrics.TOKEN_VARIABLE, token)
    parent = hub_server(parent_interval=0)
    child = hub_server(parent_interval=0)
    Kiosk(child, "Centre 1").month(YEAR, 9)
    child_id = link(parent, child, "Fédération du Rhône")
    started = time.time()
    assert sync_parent(child).returncode == 0
    sent = gauges(child, token)
    assert sent[("accueil_hub_parent_last_sent_timestamp_seconds", ())] >= started - 1
    assert sent[("accueil_hub_parent_revoked", ())] == 0
    came = gauges(parent, token)
    key = ("accueil_hub_child_last_received_timestamp_seconds", (("child_id", child_id),))
    assert came[key] >= started - 1
    run_federation("revoke-child", child_id, db_url=parent.db_url)
    assert sync_parent(child).returncode == 3
    assert gauges(child, token)[("accueil_hub_parent_revoked", ())] == 1
