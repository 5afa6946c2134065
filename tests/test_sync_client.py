"""The sync client against what is not the hub, and against a real hub process.

Hub-less cases use real sockets on 127.0.0.1: a closed port, the fault proxy
serving a wifi portal's page, a tiny HTTP server answering like a hub would
(to check the client's reading of each kind of answer). The end-to-end cases
use the real hub process (fixture ``hub``) from tests/conftest.py."""

from __future__ import annotations

import gzip
import json
import socket
import time
from datetime import UTC, datetime

import pytest

from sync import client, outbox, protocol
from tests.faultproxy import FaultProxy
from tests.scripted_hub import HUB, ScriptedHub, accept_all

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
FAST = dict(timeout=(1.0, 2.0), attempts=2, backoff=0.01, retries=1)


def add_events(store, n: int) -> list[str]:
    ids = []
    with store.transaction():
        for _ in range(n):
            ids.append(store.emit("member.erased", {"member_id": protocol.new_id()}, WHEN))
    return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scripted():
    hubs = []

    def make(answer=accept_all):
        hub = ScriptedHub(answer)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


def pending_ids(store):
    return [row[1] for row in outbox.pending(store.conn, 100_000)]


# ---------------------------------------------------------------- failures that keep everything pending


def test_not_enrolled_sends_nothing_and_says_so(store):
    add_events(store, 3)
    result = client.push(store.conn, None, None)
    assert not result.ok and result.error == client.NOT_ENROLLED
    assert "appairée" in result.summary_fr()
    assert result.pending == 3


def test_unreachable_hub_keeps_events_pending_and_records_the_error(store):
    ids = add_events(store, 5)
    result = client.push(store.conn, f"http://127.0.0.1:{free_port()}", "token", **FAST)
    assert not result.ok and result.error == client.UNREACHABLE
    assert pending_ids(store) == ids
    last_error = json.loads(outbox.get_state(store.conn, "last_error"))
    assert last_error["code"] == client.UNREACHABLE and "ne répond pas" in last_error["message_fr"]
    assert outbox.get_state(store.conn, "last_success") is None


def test_a_wifi_portal_page_served_with_200_is_never_taken_as_stored(store):
    ids = add_events(store, 4)
    with FaultProxy(("127.0.0.1", free_port())) as proxy:
        proxy.plan([], default="portal")
        result = client.push(store.conn, proxy.url, "token", **FAST)
    assert proxy.counts["portal"] >= 1
    assert not result.ok and result.error == client.NOT_HUB
    assert "portail" in result.summary_fr()
    assert pending_ids(store) == ids


def test_an_answer_that_does_not_account_for_every_event_is_a_failure(store, scripted):
    ids = add_events(store, 4)

    def forgetful(batch):
        first = batch["events"][0]["id"]
        return 200, {"protocol": "1.0", "stored": [first], "duplicates": [], "rejected": []}, HUB

    hub = scripted(forgetful)
    result = client.push(store.conn, hub.url, "token", **FAST)
    assert not result.ok and result.error == client.NOT_HUB
    assert pending_ids(store) == ids


def test_401_stops_at_once_and_asks_for_a_new_enrolment(store, scripted):
    add_events(store, 3)
    hub = scripted(lambda batch: (401, {"detail": "revoked"}, HUB))
    result = client.push(store.conn, hub.url, "token", **FAST)
    assert result.error == client.UNAUTHORIZED
    assert "appairer de nouveau" in result.summary_fr()
    assert len(hub.batches) == 1  # not retried
    assert result.pending == 3


def test_503_with_retry_after_is_retried_then_reported_busy(store, scripted):
    add_events(store, 2)
    hub = scripted(lambda batch: (503, {"detail": "maintenance"}, {**HUB, "Retry-After": "0"}))
    result = client.push(store.conn, hub.url, "token", **FAST)
    assert result.error == client.HUB_BUSY
    assert len(hub.batches) >= 3  # urllib3's retries inside each of the client's attempts
    assert result.pending == 2


# ---------------------------------------------------------------- answers that move events


def test_batches_are_gzip_in_order_with_the_token_and_progress(store, scripted):
    ids = add_events(store, 25)
    hub = scripted()
    seen = []
    result = client.push(
        store.conn,
        hub.url,
        "secret",
        batch_size=10,
        in_flight=1,
        progress=lambda sent, total: seen.append((sent, total)),
        **FAST,
    )
    assert result.ok and result.stored == 25 and result.batches == 3
    assert [len(b["batch"]["events"]) for b in hub.batches] == [10, 10, 5]
    assert [e["id"] for b in hub.batches for e in b["batch"]["events"]] == ids
    assert hub.batches[0]["auth"] == "Bearer secret"
    assert seen == [(0, 25), (10, 25), (20, 25), (25, 25)]
    assert pending_ids(store) == []
    assert outbox.get_state(store.conn, "last_success") is not None
    assert "25 données envoyées" in result.summary_fr()


def test_sent_events_are_the_stored_texts_byte_for_byte(store, scripted):
    add_events(store, 3)
    hub = scripted()
    client.push(store.conn, hub.url, "t", **FAST)
    texts = [row[0] for row in store.conn.execute("SELECT body FROM outbox ORDER BY seq")]
    assert [protocol.canonical_json(e) for e in hub.batches[0]["batch"]["events"]] == texts


def test_rejected_events_are_parked_with_the_reason_and_do_not_block_the_rest(store, scripted):
    ids = add_events(store, 6)

    def refuse_second(batch):
        events = batch["events"]
        bad = [e["id"] for e in events if e["id"] == ids[1]]
        good = [e["id"] for e in events if e["id"] not in bad]
        rejected = [{"id": i, "index": 0, "reason": "conflict: other content"} for i in bad]
        return 200, {"protocol": "1.0", "stored": good, "duplicates": [], "rejected": rejected}, HUB

    hub = scripted(refuse_second)
    result = client.push(store.conn, hub.url, "t", batch_size=2, **FAST)
    assert result.ok and result.stored == 5 and result.parked == 1
    assert result.parked_reasons == ["conflict: other content"]
    row = store.conn.execute(
        "SELECT state, parked_reason FROM outbox WHERE event_id = ?", (ids[1],)
    ).fetchone()
    assert row == ("parked", "conflict: other content")
    assert pending_ids(store) == []
    assert "mise(s) de côté" in result.summary_fr()


@pytest.mark.parametrize("answer", ["stored", "unreachable"])
def test_a_push_commits_its_bookkeeping_without_fsync_and_gives_the_connection_back_as_it_was(
    store, scripted, answer
):
    """What a push writes (marks, the lock) may be lost to a power cut: the
    events are sent again and the hub answers duplicates. So it commits with
    synchronous=NORMAL, then the caller's connection is FULL again, after a
    success as after a failure; check-ins, on their own, stay FULL."""
    add_events(store, 12)
    during = []
    url = scripted().url if answer == "stored" else f"http://127.0.0.1:{free_port()}"
    result = client.push(
        store.conn,
        url,
        "t",
        batch_size=5,
        in_flight=1,
        progress=lambda _s, _t: during.append(store.conn.execute("PRAGMA synchronous").fetchone()[0]),
        **FAST,
    )
    assert result.ok is (answer == "stored")
    assert set(during) == {1}  # NORMAL while pushing
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    if answer == "stored":
        assert pending_ids(store) == []


def test_the_synchronous_level_is_left_alone_inside_a_transaction(store):
    """SQLite refuses to change it then: a push that failed with a transaction
    still open must report its own failure, not that refusal."""
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    client._set_synchronous(conn, 1)  # no error…
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # …and no change
    conn.execute("ROLLBACK")
    client._set_synchronous(conn, 1)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    client._set_synchronous(conn, 2)


def test_duplicates_count_as_sent(store, scripted):
    add_events(store, 3)

    def had_them(batch):
        ids = [e["id"] for e in batch["events"]]
        return 200, {"protocol": "1.0", "stored": [], "duplicates": ids, "rejected": []}, HUB

    result = client.push(store.conn, scripted(had_them).url, "t", **FAST)
    assert result.ok and result.duplicates == 3 and result.pending == 0


def test_events_recorded_during_the_push_are_sent_too(store, db_path, scripted):
    add_events(store, 5)

    def accept_and_record_more(batch):
        # the desk records 3 visits while the first batch is on the wire
        other = outbox.connect(str(db_path))
        if len(other.execute("SELECT 1 FROM outbox").fetchall()) < 8:
            other.execute("BEGIN IMMEDIATE")
            for _ in range(3):
                outbox.append(
                    other, protocol.make_event("member.erased", {"member_id": protocol.new_id()}, WHEN)
                )
            other.execute("COMMIT")
        other.close()
        return accept_all(batch)

    seen = []
    hub = scripted(accept_and_record_more)
    result = client.push(
        str(db_path), hub.url, "t", batch_size=5, progress=lambda s, t: seen.append((s, t)), **FAST
    )
    assert result.ok and result.stored == 8 and result.pending == 0
    assert seen[-1] == (8, 8)


def test_a_second_push_while_one_holds_the_lock_is_refused_as_busy(store, db_path, scripted):
    add_events(store, 2)
    from sync.lock import SyncLock

    other = outbox.connect(str(db_path))
    held = SyncLock(other)
    assert held.acquire()
    result = client.push(store.conn, scripted().url, "t", **FAST)
    assert result.error == client.BUSY and result.pending == 2
    held.release()
    other.close()
    assert client.push(store.conn, scripted().url, "t", **FAST).ok


def test_sent_events_older_than_the_retention_are_purged_after_a_success(store, clock, scripted):
    add_events(store, 3)
    hub = scripted()
    assert client.push(store.conn, hub.url, "t", clock=clock, **FAST).ok
    clock.advance(days=91)
    add_events(store, 1)
    assert client.push(store.conn, hub.url, "t", clock=clock, keep_sent_days=90, **FAST).ok
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    counts = outbox.counts(store.conn)
    assert counts["recorded"] == 4 and counts["sent_total"] == 4


def test_batch_size_is_checked(store):
    with pytest.raises(ValueError, match="batch_size"):
        client.push(store.conn, "http://x", "t", batch_size=0)


def test_in_flight_is_checked(store):
    for wrong in (0, client.MAX_IN_FLIGHT + 1):
        with pytest.raises(ValueError, match="in_flight"):
            client.push(store.conn, "http://x", "t", in_flight=wrong)


# ---------------------------------------------------------------- batches in flight together


def test_two_batches_travel_together_and_their_answers_apply_in_order(store, scripted):
    ids = add_events(store, 60)

    def slow(batch):
        time.sleep(0.05)
        return accept_all(batch)

    hub = scripted(slow)
    seen = []
    result = client.push(
        store.conn,
        hub.url,
        "t",
        batch_size=10,
        in_flight=2,
        progress=lambda sent, total: seen.append((sent, total)),
        **FAST,
    )
    assert result.ok and result.stored == 60 and result.batches == 6
    assert hub.max_in_flight == 2
    sent = [e["id"] for b in hub.batches for e in b["batch"]["events"]]
    assert sorted(sent) == sorted(ids) and len(sent) == 60  # each once
    assert seen == [(n, 60) for n in range(0, 61, 10)]
    assert pending_ids(store) == []


def test_a_failed_batch_keeps_the_next_one_pending_even_when_the_hub_took_it(store, scripted):
    # batch 1 never gets a hub's answer; batch 2, on the wire beside it, is
    # stored. Its answer must not be applied: the sent watermark would then
    # pass batch 1's events, which the hub never confirmed.
    ids = add_events(store, 20)
    first = ids[0]
    taken: list[str] = []

    def answer(batch):
        if batch["events"][0]["id"] == first:
            time.sleep(0.05)  # batch 2's answer comes back first
            return 200, {"page": "portail wifi"}, {}  # not the hub
        taken.extend(e["id"] for e in batch["events"])
        return accept_all(batch)

    hub = scripted(answer)
    result = client.push(store.conn, hub.url, "t", batch_size=10, in_flight=2, **FAST)
    assert not result.ok and result.error == client.NOT_HUB
    assert taken == ids[10:]  # the hub holds batch 2
    assert pending_ids(store) == ids  # and yet all twenty wait, batch 2's to come back as duplicates
    assert outbox.sent_through(store.conn) == 0
    assert result.stored == 0 and result.pending == 20

    hub.answer = accept_all
    assert client.push(store.conn, hub.url, "t", batch_size=10, **FAST).sent == 20
    assert pending_ids(store) == []


# ---------------------------------------------------------------- a real hub process


def test_enrol_then_push_to_a_real_hub_stores_each_event_once(store, hub):
    _centre, code = hub.add_centre("Centre social Les Tilleuls")
    device = client.enrol(hub.url, code, "Borne accueil")
    assert {"device_id", "device_token", "centre_id"} <= set(device)
    ids = add_events(store, 2500)
    result = client.push(store.conn, hub.url, device["device_token"], timeout=(5, 30))
    # (a retry after a timeout on a loaded machine would make some duplicates: still sent once)
    assert result.ok and result.sent == 2500 and result.batches == 3
    assert outbox.counts(store.conn)["pending"] == 0
    # a resend after a hub restore: every event comes back as a duplicate
    with store.transaction():
        assert outbox.requeue_sent_since(store.conn, "2000-01-01T00:00:00.000Z") == 2500
    again = client.push(store.conn, hub.url, device["device_token"], timeout=(5, 30))
    assert again.ok and again.duplicates == 2500 and again.stored == 0
    status = client.hub_status(hub.url, device["device_token"])
    assert status["events_total"] == 2500 and status["last_occurred_at"]
    assert len(ids) == 2500


def test_a_used_enrolment_code_is_refused_clearly(hub):
    _centre, code = hub.add_centre("Centre Arc-en-ciel")
    client.enrol(hub.url, code, "Borne 1")
    with pytest.raises(client.SyncError) as refused:
        client.enrol(hub.url, code, "Borne 2")
    assert refused.value.code == client.REFUSED and "403" in str(refused.value)


def test_a_revoked_token_stops_the_push(store, hub):
    ids = add_events(store, 3)
    result = client.push(store.conn, hub.url, "not-a-token", **FAST)
    assert result.error == client.UNAUTHORIZED
    assert pending_ids(store) == ids


def test_a_hub_with_tighter_limits_gets_smaller_batches(store, hub_server):
    hub = hub_server(max_events=20, max_body_bytes=4096)
    device = hub.new_device("Centre Arc-en-ciel")
    add_events(store, 130)
    result = client.push(store.conn, hub.url, device["device_token"], batch_size=1000, timeout=(5, 30))
    assert result.ok and result.sent == 130 and result.pending == 0
    assert client.hub_status(hub.url, device["device_token"])["events_total"] == 130


@pytest.mark.parametrize("with_isal", [True, False])
def test_batch_bodies_are_plain_gzip_with_or_without_isa_l(monkeypatch, with_isal):
    if not with_isal:
        monkeypatch.setattr(client, "_isal_compress", None)
    elif client._isal_compress is None:
        pytest.skip("no ISA-L wheel on this machine")
    raw = protocol.batch_from_texts(
        [
            protocol.canonical_json(
                protocol.make_event("member.erased", {"member_id": protocol.new_id()}, WHEN)
            )
            for _ in range(200)
        ]
    )
    packed = client._gzip(raw)
    assert gzip.decompress(packed) == raw and len(packed) < len(raw) / 3
