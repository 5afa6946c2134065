from datetime import datetime, timezone

from sync import outbox, protocol

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


def add(store, n):
    ids = []
    with store.transaction():
        for _ in range(n):
            event = protocol.make_event("member.erased", {"member_id": protocol.new_id()}, WHEN)
            outbox.append(store.conn, event)
            ids.append(event["id"])
    return ids


def test_pending_reads_in_order_one_batch_at_a_time(store):
    ids = add(store, 25)
    batches = list(outbox.iter_pending(store.conn, 10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [row[1] for batch in batches for row in batch] == ids


def test_mark_sent_only_touches_named_pending_events(store):
    ids = add(store, 5)
    with store.transaction():
        assert outbox.mark_sent(store.conn, ids[:2], "2026-11-26T10:01:00.000Z") == 2
        assert outbox.mark_sent(store.conn, ids[:2], "2026-11-26T10:02:00.000Z") == 0
    counts = outbox.counts(store.conn)
    assert {k: counts[k] for k in ("recorded", "pending", "sent", "parked")} == {
        "recorded": 5, "pending": 3, "sent": 2, "parked": 0}


def test_parked_events_leave_the_queue_and_can_be_retried(store):
    ids = add(store, 3)
    with store.transaction():
        outbox.park(store.conn, ids[1], "data.reason: unknown")
    assert [r[1] for r in outbox.pending(store.conn, 10)] == [ids[0], ids[2]]
    with store.transaction():
        assert outbox.retry_parked(store.conn) == 1
    assert len(outbox.pending(store.conn, 10)) == 3


def test_requeue_sent_since_and_purge(store):
    ids = add(store, 4)
    with store.transaction():
        outbox.mark_sent(store.conn, ids, "2026-11-26T10:05:00.000Z")
        assert outbox.requeue_sent_since(store.conn, "2026-11-26T00:00:00.000Z") == 4
        outbox.mark_sent(store.conn, ids, "2026-11-26T10:05:00.000Z")
        assert outbox.purge_sent_before(store.conn, "2026-12-01T00:00:00.000Z") == 4
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    # purged events still count as recorded and sent
    counts = outbox.counts(store.conn)
    assert (counts["recorded"], counts["sent_total"], counts["pending"]) == (4, 4, 0)


def test_sync_state_keys(store):
    with store.transaction():
        outbox.set_state(store.conn, "last_success", "x")
        outbox.set_state(store.conn, "last_success", "y")
    assert outbox.get_state(store.conn, "last_success") == "y"
    with store.transaction():
        outbox.set_state(store.conn, "last_success", None)
    assert outbox.get_state(store.conn, "last_success") is None


def test_mark_sent_by_seq_only_touches_named_pending_rows(store):
    ids = add(store, 4)
    seqs = [row[0] for row in outbox.pending(store.conn, 10)]
    with store.transaction():
        outbox.park(store.conn, ids[0], "refused")
        assert outbox.mark_sent_seqs(store.conn, seqs[:2], "2026-11-26T10:01:00.000Z") == 1
    states = [row[0] for row in store.conn.execute("SELECT state FROM outbox ORDER BY seq")]
    assert states == ["parked", "sent", "pending", "pending"]
