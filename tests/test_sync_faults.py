"""Every network fault between a real kiosk database and a real hub process.

The fault proxy (tests/faultproxy.py) sits between them and spoils the
batch requests as planned; each test ends with the hub holding every event
exactly once (its own count, GET /api/v1/status) and nothing pending."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from sync import client, outbox, protocol
from tests.faultproxy import FaultProxy

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
# generous, so a loaded machine does not add timeouts of its own to the planned
# faults; the tests that need the client to give up pass SHORT instead
FAST = dict(timeout=(2.0, 10.0), attempts=4, backoff=0.05, retries=2)
READ_TIMEOUT = 1.5
SHORT = dict(timeout=(1.0, READ_TIMEOUT))


@pytest.fixture
def kiosk(store, shared_hub):
    """(store, enrolment answer) for a new centre on the shared hub."""
    device = shared_hub.new_device(f"Centre {protocol.new_id()[:8]}")
    return store, device


def only_batches(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/batches")


@pytest.fixture
def proxy(shared_hub):
    port = int(shared_hub.url.rsplit(":", 1)[1])
    with FaultProxy(("127.0.0.1", port), delay_s=0.3, applies_to=only_batches) as proxy:
        yield proxy


def add_events(store, n: int) -> list[str]:
    with store.transaction():
        return [
            store.emit(
                "visit.recorded",
                {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "resident"},
                WHEN,
            )
            for _ in range(n)
        ]


def assert_hub_holds_exactly(hub, device, store, n: int) -> None:
    status = client.hub_status(hub.url, device["device_token"])
    assert status["events_total"] == n
    assert status["events_by_type"] == {"visit.recorded": n}
    counts = outbox.counts(store.conn)
    assert counts["pending"] == 0 and counts["parked"] == 0 and counts["sent"] == n


def push(store, proxy, device, **options):
    """One batch on the wire at a time, so each planned fault meets the request
    the test means (with two in flight, which comes first is the network's
    choice): test_faults_with_batches_in_flight_together covers the default."""
    return client.push(store.conn, proxy.url, device["device_token"], **{**FAST, "in_flight": 1, **options})


def test_connection_reset_before_the_hub_sees_the_batch(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 250)
    proxy.plan(["reset", "reset"])
    result = push(store, proxy, device, batch_size=100)
    assert proxy.counts["reset"] == 2
    assert result.ok and result.stored == 250 and result.duplicates == 0
    assert_hub_holds_exactly(shared_hub, device, store, 250)


def test_swallowed_request_times_out_and_is_sent_again(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 120)
    proxy.plan(["swallow"])
    started = time.monotonic()
    result = push(store, proxy, device, batch_size=100, **SHORT)
    assert time.monotonic() - started >= READ_TIMEOUT  # it did wait for the read timeout
    assert proxy.counts["swallow"] == 1
    assert result.ok and result.sent == 120
    assert_hub_holds_exactly(shared_hub, device, store, 120)


def test_short_delay_is_only_slow(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 50)
    proxy.plan(["delay"])
    result = push(store, proxy, device)
    assert proxy.counts["delay"] == 1 and proxy.counts["pass"] == 0  # answered, not retried
    assert result.ok and result.stored == 50
    assert_hub_holds_exactly(shared_hub, device, store, 50)


def test_delay_past_the_timeout_lands_late_as_a_replay(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 80)
    proxy.delay_s = READ_TIMEOUT + 1.0
    proxy.plan(["delay"])
    result = push(store, proxy, device, **SHORT)
    assert result.ok and result.stored + result.duplicates == 80
    time.sleep(proxy.delay_s)  # let the late copy reach the hub: it must change nothing
    assert_hub_holds_exactly(shared_hub, device, store, 80)


def test_answer_cut_short_counts_as_not_sent_then_comes_back_duplicate(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 300)
    proxy.plan(["cut"])
    result = push(store, proxy, device, batch_size=300)
    assert proxy.counts["cut"] == 1
    # the hub had committed before its answer was cut: the resend finds them all there
    assert result.ok and result.duplicates == 300 and result.stored == 0
    assert_hub_holds_exactly(shared_hub, device, store, 300)


def test_answer_dropped_after_the_hub_committed(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 230)
    proxy.plan(["pass", "drop", "pass", "drop"])
    result = push(store, proxy, device, batch_size=100)
    assert proxy.counts["drop"] == 2
    # batch 1 passes; batches 2 and 3 are committed, their answers lost, and
    # their resends come back as duplicates
    assert result.ok and result.stored == 100 and result.duplicates == 130
    assert_hub_holds_exactly(shared_hub, device, store, 230)


def test_wifi_portal_page_is_a_failure_until_the_hub_answers_again(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 40)
    proxy.plan([], default="portal")
    first = push(store, proxy, device)
    assert not first.ok and first.error == client.NOT_HUB and first.pending == 40
    assert client.hub_status(shared_hub.url, device["device_token"])["events_total"] == 0
    proxy.plan([], default="pass")
    second = push(store, proxy, device)
    assert second.ok and second.stored == 40
    assert_hub_holds_exactly(shared_hub, device, store, 40)


def test_hub_down_then_back_nothing_lost(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 60)
    proxy.plan([], default="reset")
    down = push(store, proxy, device)
    assert not down.ok and down.error == client.UNREACHABLE and down.pending == 60
    add_events(store, 15)  # the desk keeps recording while offline
    proxy.plan([], default="pass")
    assert push(store, proxy, device).ok
    assert_hub_holds_exactly(shared_hub, device, store, 75)


def test_every_fault_in_one_push(kiosk, proxy, shared_hub):
    store, device = kiosk
    add_events(store, 700)
    proxy.plan(["reset", "pass", "swallow", "cut", "pass", "drop", "portal", "delay", "pass"])
    result = push(store, proxy, device, batch_size=100, timeout=(1.0, 3.0))
    assert result.ok and result.pending == 0
    assert all(proxy.counts[f] == 1 for f in ("reset", "swallow", "cut", "drop", "portal", "delay"))
    assert_hub_holds_exactly(shared_hub, device, store, 700)


@pytest.mark.parametrize("in_flight", [2, client.MAX_IN_FLIGHT])
def test_faults_with_batches_in_flight_together(kiosk, proxy, shared_hub, in_flight):
    # the pipeline: answers come back in any order, some lost after the commit,
    # some never reaching the hub; whatever the order, each event is held once
    # and the sent watermark never passes an event the hub did not confirm
    store, device = kiosk
    add_events(store, 1000)
    proxy.plan(["pass", "drop", "reset", "pass", "cut", "pass", "drop", "pass", "portal", "pass", "drop"])
    result = push(store, proxy, device, batch_size=50, in_flight=in_flight, timeout=(1.0, 3.0))
    assert result.ok and result.pending == 0
    # each event is marked once, by the one answer applied for it
    assert result.stored + result.duplicates == 1000
    assert result.duplicates >= 50  # a batch whose answer was dropped came back duplicate
    assert all(proxy.counts[f] >= 1 for f in ("drop", "reset", "cut", "portal"))
    assert_hub_holds_exactly(shared_hub, device, store, 1000)
