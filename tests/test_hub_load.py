"""The hub on PostgreSQL under load, with real processes: 50 kiosks of 30
centres pushing at once through `federation serve --workers N`, several
devices of a centre among them (their batches reach different hub processes
at the same moment), one of them a copy of another's backlog (a kiosk
restored from another's backup: the same events arrive from two devices at
once); then through the fault proxy while hub workers, and once the whole
hub, are killed by SIGKILL mid-push; and one centre's overlapping batches
sent at the same moment to two separate `federation serve` processes on one
database (several processes behind nginx).

Each run ends with every event held exactly once, counted by (centre, event
id) on the hub, every kiosk's outbox acknowledged, nothing set aside, and
the figures (`federation stats --json` and the dashboard's overview for the
year) the same as a single hub process gave for the same backlogs, pushed
one kiosk after the other. The bigger run is benchmarks/bench_hub_day.py.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sync import protocol
from tests import hub_load
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.postgres

#: devices per centre: 20 centres of one, 5 of two, 5 of four (50 kiosks)
LAYOUT = [1] * 20 + [2] * 5 + [4] * 5
#: batches small enough that each kiosk sends several, four on the wire at once
PUSH = dict(batch_size=50)
#: every kiosk here shares one address, 127.0.0.1, where each centre has its
#: own in production: the limit on refusals an address may earn (which counts
#: the requests in flight) would hold back the 200 batches on the wire at once
HUB_OPTIONS = dict(pre_auth_rate_limit=0)
FAULT_WEIGHTS = {"pass": 0.7, "reset": 0.08, "drop": 0.1, "cut": 0.06, "delay": 0.06}


@pytest.fixture(scope="module")
def network(postgres_cluster, tmp_path_factory):
    """The centres, devices and backlogs, and what one hub process made of
    them (the kiosks pushing one after the other): the figures every run
    must give again."""
    folder = tmp_path_factory.mktemp("load")
    network = hub_load.build_network(folder / "kiosks", LAYOUT, postgres_cluster, cloned_devices=1)
    now = datetime.now(UTC)
    db_url = hub_load.copy_database(postgres_cluster, network.template_url)
    hub = hub_load.Serving(db_url, folder, workers=1, **HUB_OPTIONS).start()
    try:
        for kiosk in network.copy_kiosks(folder / "reference"):
            report = hub_load.push_all([kiosk], hub.url, patience=120, **PUSH)
            assert report.outcomes == {"ok": 1}, (kiosk.name, report)
    finally:
        hub.stop()
    rows, held = hub_load.held_ids(db_url)
    assert rows == len(held) == len(network.expected_ids())
    network.reference = {
        "now": now,
        "stats": hub_load.stats_json(db_url),
        "overview": hub_load.overview_figures(db_url, now),
    }
    return network


def assert_held_exactly_once(network, kiosks, db_url: str) -> None:
    rows, held = hub_load.held_ids(db_url)
    expected = network.expected_ids()
    assert rows == len(held), f"{rows - len(held)} events stored twice"
    assert held == expected
    assert hub_load.set_aside_counts(db_url) == {"conflicts": 0, "parked": 0}
    for kiosk in kiosks:
        counts = hub_load.outbox_counts(kiosk.path)
        assert counts["pending"] == counts["parked"] == 0, (kiosk.name, counts)
        assert counts["sent"] == counts["recorded"] > 0, (kiosk.name, counts)


def assert_same_figures_as_one_process(network, db_url: str) -> None:
    reference = network.reference
    stats = hub_load.stats_json(db_url)
    assert stats["events_total"] == len(network.expected_ids())
    assert stats == reference["stats"]
    overview = hub_load.overview_figures(db_url, reference["now"])
    assert overview["visits"] > 0 and overview["workshops"]
    assert overview == reference["overview"]


@pytest.mark.parametrize("workers", [2, 4])
def test_fifty_kiosks_at_once_through_several_hub_processes_store_each_event_once(
    network, postgres_cluster, tmp_path, workers
):
    db_url = hub_load.copy_database(postgres_cluster, network.template_url)
    kiosks = network.copy_kiosks(tmp_path / "kiosks")
    hub = hub_load.Serving(db_url, tmp_path, workers=workers, **HUB_OPTIONS).start()
    try:
        assert len(set(hub.worker_pids())) == workers
        report = hub_load.push_all(kiosks, hub.url, **PUSH)
    finally:
        hub.stop()
    assert not report.errors and not report.unfinished, report
    assert report.outcomes == {"ok": len(kiosks)}, report  # no fault: each push went through at once
    assert_held_exactly_once(network, kiosks, db_url)
    assert_same_figures_as_one_process(network, db_url)


def kill_while_pushing(hub, pushing: threading.Event, kills: list[str], rng: random.Random) -> None:
    """While the kiosks push: SIGKILL a worker now and then (the supervisor
    starts another), and once the whole hub, started again on its port."""
    plan = ["worker", "worker", "hub", "worker", "worker", "worker"]
    for what in plan:
        time.sleep(rng.uniform(0.4, 1.0))
        if not pushing.is_set():
            return
        if what == "worker":
            if hub.kill_worker(rng.choice) is not None:
                kills.append("worker")
        else:
            hub.kill_all()
            kills.append("hub")
            time.sleep(0.3)  # the kiosks meet a hub that is down, then back
            hub.start()


@pytest.mark.slow
def test_hub_processes_killed_mid_push_through_the_fault_proxy_lose_and_double_nothing(
    network, postgres_cluster, tmp_path
):
    rng = random.Random(20261205)
    db_url = hub_load.copy_database(postgres_cluster, network.template_url)
    kiosks = network.copy_kiosks(tmp_path / "kiosks")
    hub = hub_load.Serving(db_url, tmp_path, workers=2, **HUB_OPTIONS).start()
    kills: list[str] = []
    pushing = threading.Event()
    try:
        with FaultProxy(
            ("127.0.0.1", hub.port), delay_s=0.5, applies_to=lambda method, path: path.endswith("/batches")
        ) as proxy:
            proxy.randomize(seed=17, weights=FAULT_WEIGHTS)
            pushing.set()
            killer = threading.Thread(target=kill_while_pushing, args=(hub, pushing, kills, rng))
            killer.start()
            report = hub_load.push_all(kiosks, proxy.url, **PUSH, **hub_load.UNDER_FAULTS)
            pushing.clear()
            killer.join()
        workers_after = hub.worker_pids()
    finally:
        pushing.clear()
        hub.stop()
    assert not report.errors and not report.unfinished, report
    # the faults and the kills were met mid-push: some pushes failed and were pushed again
    assert kills.count("hub") == 1 and kills.count("worker") >= 2, kills
    assert all(proxy.counts[fault] > 0 for fault in FAULT_WEIGHTS), proxy.counts
    assert sum(n for error, n in report.outcomes.items() if error != "ok") > 0, report.outcomes
    assert len(workers_after) == 2  # the supervisor replaced the workers killed
    assert_held_exactly_once(network, kiosks, db_url)
    assert_same_figures_as_one_process(network, db_url)


def same_centre_events(n: int, at: datetime) -> list[dict]:
    """A centre's morning: a member now and then, visits, some by members."""
    events, members = [], []
    for i in range(n):
        moment = at + timedelta(seconds=i)
        if i % 7 == 0:
            members.append(protocol.new_id())
            data = {"member_id": members[-1], "age_band": "25-54", "gender": "woman", "qpv": True}
            events.append(protocol.make_event("member.created", data, moment))
        else:
            data = {
                "visit_id": protocol.new_id(),
                "member_id": members[-1] if i % 3 == 0 else None,
                "reason": "accueil",
                "recorded_by": "resident",
            }
            events.append(protocol.make_event("visit.recorded", data, moment))
    return events


def test_one_centre_s_overlapping_batches_on_two_hub_processes_at_the_same_moment(postgres_cluster, tmp_path):
    # two `federation serve` processes on one database, as behind nginx; two
    # devices of one centre send batches sharing half their events, each to
    # its own process, released together: each event is stored by exactly
    # one of the two answers and held once
    db_url, devices = hub_load.enrolled_database(
        postgres_cluster, [("Centre social du Lac", "Borne 1"), ("Centre social du Lac", "Borne 2")]
    )
    centre_id = devices[0][0]
    hubs = [hub_load.Serving(db_url, tmp_path, workers=1, **HUB_OPTIONS).start() for _ in range(2)]
    at = datetime.now(UTC) - timedelta(days=1)
    stored: list[str] = []
    sent: set[str] = set()
    try:
        clients = [httpx.Client(base_url=hub.url, timeout=60) for hub in hubs]
        with ThreadPoolExecutor(max_workers=2) as pool:
            for round_ in range(15):
                events = same_centre_events(300, at + timedelta(minutes=10 * round_))
                halves = [events[:200], events[100:]]  # 100 events in both
                sent.update(event["id"] for event in events)
                barrier = threading.Barrier(2)

                def post(device: int, halves=halves, barrier=barrier) -> dict:
                    body = {"protocol": protocol.PROTOCOL_VERSION, "events": halves[device]}
                    headers = {"Authorization": f"Bearer {devices[device][1]}"}
                    barrier.wait()
                    answer = clients[device].post("/api/v1/batches", json=body, headers=headers)
                    assert answer.status_code == 200, answer.text
                    return answer.json()

                answers = list(pool.map(post, [0, 1]))
                for answer, half in zip(answers, halves, strict=True):
                    assert sorted(answer["stored"] + answer["duplicates"]) == sorted(e["id"] for e in half)
                    assert answer["rejected"] == []
                    stored += answer["stored"]
        for client in clients:
            client.close()
    finally:
        for hub in hubs:
            hub.stop()
    assert len(stored) == len(set(stored)) == len(sent)  # each stored by one answer only
    assert set(stored) == sent
    rows, held = hub_load.held_ids(db_url)
    assert rows == len(held) == len(sent) and {event for _centre, event in held} == sent
    stats = hub_load.stats_json(db_url)
    assert stats["events_total"] == len(sent)
    (centre,) = stats["centres"]
    assert centre["id"] == centre_id and centre["events"]["member.created"] == 15 * 43
