from datetime import UTC, datetime

from sync import outbox, protocol
from tests import queries

WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


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
    batches = list(queries.iter_pending(store.conn, 10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [row[1] for batch in batches for row in batch] == ids


def test_mark_sent_only_touches_named_pending_events(store):
    ids = add(store, 5)
    with store.transaction():
        assert outbox.mark_sent(store.conn, ids[:2], "2026-11-26T10:01:00.000Z") == 2
        assert outbox.mark_sent(store.conn, ids[:2], "2026-11-26T10:02:00.000Z") == 0
    counts = outbox.counts(store.conn)
    assert {k: counts[k] for k in ("recorded", "pending", "sent", "parked")} == {
        "recorded": 5,
        "pending": 3,
        "sent": 2,
        "parked": 0,
    }


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
        assert outbox.purge_sent_before(store.conn, "2026-12-01T00:00:00.000Z") == 3
    # the last row is kept whatever its age, so seqs never go back
    assert [row[0] for row in store.conn.execute("SELECT event_id FROM outbox")] == ids[3:]
    # purged events still count as recorded and sent
    counts = outbox.counts(store.conn)
    assert (counts["recorded"], counts["sent_total"], counts["sent"], counts["pending"]) == (4, 4, 1, 0)
    later = add(store, 1)
    assert [row[0] for row in store.conn.execute("SELECT seq FROM outbox ORDER BY seq")] == [4, 5]
    assert [row[1] for row in outbox.pending(store.conn, 10)] == later


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


# ---------------------------------------------------------------- the sent watermark


def seqs_of(store):
    return [row[0] for row in outbox.pending(store.conn, 1000)]


def state_counts(store):
    counts = outbox.counts(store.conn)
    return {k: counts[k] for k in ("recorded", "pending", "sent", "parked", "sent_total")}


def test_a_whole_batch_is_marked_sent_by_the_watermark_in_one_write(store):
    add(store, 6)
    seqs = seqs_of(store)
    with store.transaction():
        assert outbox.mark_sent_through(store.conn, seqs[:4], "2026-11-26T10:01:00.000Z") == 4
    # no row rewritten: the watermark and one line for the batch
    assert [r[0] for r in store.conn.execute("SELECT state FROM outbox ORDER BY seq")] == ["pending"] * 6
    assert outbox.sent_through(store.conn) == seqs[3]
    assert store.conn.execute("SELECT * FROM outbox_sent").fetchall() == [
        (seqs[3], "2026-11-26T10:01:00.000Z", 4)
    ]
    assert seqs_of(store) == seqs[4:]
    assert state_counts(store) == {"recorded": 6, "pending": 2, "sent": 4, "parked": 0, "sent_total": 4}
    # marking them again changes nothing, one by one or by the watermark
    with store.transaction():
        assert outbox.mark_sent_seqs(store.conn, seqs[:4], "2026-11-26T10:02:00.000Z") == 0
        assert outbox.mark_sent_through(store.conn, seqs[:4], "2026-11-26T10:02:00.000Z") == 0
    assert state_counts(store)["sent"] == 4


def test_the_watermark_never_covers_an_event_that_was_not_in_the_batch(store):
    ids = add(store, 5)
    seqs = seqs_of(store)
    with store.transaction():
        outbox.park(store.conn, ids[1], "refused")
    batch = [seqs[0], seqs[2]]  # read while ids[1] was parked…
    with store.transaction():
        assert outbox.retry_parked(store.conn) == 1  # …which staff put back in the queue meanwhile
        assert outbox.mark_sent_through(store.conn, batch, "2026-11-26T10:01:00.000Z") == 2
    # marked one by one instead: ids[1] is still to send
    assert outbox.sent_through(store.conn) == 0
    assert [row[1] for row in outbox.pending(store.conn, 10)] == [ids[1], ids[3], ids[4]]
    # the next whole batch moves the watermark past the rows marked one by one
    with store.transaction():
        assert (
            outbox.mark_sent_through(store.conn, [seqs[1], seqs[3], seqs[4]], "2026-11-26T10:02:00.000Z") == 3
        )
    assert outbox.sent_through(store.conn) == seqs[4]
    assert state_counts(store) == {"recorded": 5, "pending": 0, "sent": 5, "parked": 0, "sent_total": 5}


def test_retrying_a_parked_event_below_the_watermark_keeps_the_others_sent(store):
    ids = add(store, 4)
    seqs = seqs_of(store)
    with store.transaction():
        outbox.park(store.conn, ids[1], "refused")
        outbox.mark_sent_seqs(store.conn, [seqs[0]], "2026-11-26T10:01:00.000Z")
        outbox.mark_sent_through(store.conn, [seqs[2], seqs[3]], "2026-11-26T10:02:00.000Z")
    assert outbox.sent_through(store.conn) == seqs[3]
    with store.transaction():
        assert outbox.retry_parked(store.conn) == 1
    assert [row[1] for row in outbox.pending(store.conn, 10)] == [ids[1]]
    assert state_counts(store) == {"recorded": 4, "pending": 1, "sent": 3, "parked": 0, "sent_total": 3}
    rows = store.conn.execute("SELECT event_id, state, sent_at FROM outbox ORDER BY seq").fetchall()
    assert rows == [
        (ids[0], "sent", "2026-11-26T10:01:00.000Z"),
        (ids[1], "pending", None),
        (ids[2], "sent", "2026-11-26T10:02:00.000Z"),
        (ids[3], "sent", "2026-11-26T10:02:00.000Z"),
    ]


def test_requeue_sent_since_reaches_below_the_watermark(store):
    ids = add(store, 4)
    later = protocol.make_event(
        "member.erased", {"member_id": protocol.new_id()}, datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    )
    with store.transaction():
        outbox.append(store.conn, later)
    seqs = seqs_of(store)
    with store.transaction():
        outbox.mark_sent_through(store.conn, seqs[:3], "2026-11-26T10:01:00.000Z")
        outbox.mark_sent_through(store.conn, seqs[3:], "2026-11-28T10:01:00.000Z")
        assert outbox.requeue_sent_since(store.conn, "2026-11-27T00:00:00.000Z") == 1
    assert [row[1] for row in outbox.pending(store.conn, 10)] == [later["id"]]
    with store.transaction():
        assert outbox.requeue_sent_since(store.conn, "2026-11-26T00:00:00.000Z") == 4
    assert [row[1] for row in outbox.pending(store.conn, 10)] == [*ids, later["id"]]
    assert state_counts(store) == {"recorded": 5, "pending": 5, "sent": 0, "parked": 0, "sent_total": 0}


def test_purge_forgets_the_watermarks_batches_sent_before_the_cutoff(store):
    add(store, 5)
    seqs = seqs_of(store)
    with store.transaction():
        outbox.mark_sent_through(store.conn, seqs[:2], "2026-08-01T10:00:00.000Z")
        outbox.mark_sent_seqs(store.conn, [seqs[2]], "2026-08-02T10:00:00.000Z")
        outbox.mark_sent_through(store.conn, seqs[3:4], "2026-11-20T10:00:00.000Z")
        assert outbox.purge_sent_before(store.conn, "2026-09-01T00:00:00.000Z") == 3
    left = [row[0] for row in store.conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert left == seqs[3:]
    assert seqs_of(store) == seqs[4:]
    assert state_counts(store) == {"recorded": 5, "pending": 1, "sent": 1, "parked": 0, "sent_total": 4}
    with store.transaction():
        assert outbox.purge_sent_before(store.conn, "2026-12-01T00:00:00.000Z") == 1
    assert state_counts(store) == {"recorded": 5, "pending": 1, "sent": 0, "parked": 0, "sent_total": 4}
    # a new event comes after the watermark, whatever was purged
    new = add(store, 1)
    assert [row[1] for row in outbox.pending(store.conn, 10)][-1] == new[0]


def test_purge_keeps_the_last_row_so_new_events_stay_above_the_watermark(store):
    add(store, 3)
    seqs = seqs_of(store)
    with store.transaction():
        outbox.mark_sent_through(store.conn, seqs, "2026-08-01T10:00:00.000Z")
        assert outbox.purge_sent_before(store.conn, "2026-09-01T00:00:00.000Z") == 2
    assert [row[0] for row in store.conn.execute("SELECT seq FROM outbox")] == seqs[2:]
    assert store.conn.execute("SELECT * FROM outbox_sent").fetchall() == [
        (seqs[2], "2026-08-01T10:00:00.000Z", 1)
    ]
    assert state_counts(store) == {"recorded": 3, "pending": 0, "sent": 1, "parked": 0, "sent_total": 3}
    new = add(store, 2)
    assert [row[1] for row in outbox.pending(store.conn, 10)] == new
    assert seqs_of(store) == [seqs[2] + 1, seqs[2] + 2]
    with store.transaction():  # the kept row goes once a newer one is there
        assert outbox.purge_sent_before(store.conn, "2026-09-01T00:00:00.000Z") == 1
    assert state_counts(store) == {"recorded": 5, "pending": 2, "sent": 0, "parked": 0, "sent_total": 3}


def test_park_leaves_events_sent_by_the_watermark_alone(store):
    ids = add(store, 2)
    with store.transaction():
        outbox.mark_sent_through(store.conn, seqs_of(store), "2026-11-26T10:01:00.000Z")
        outbox.park(store.conn, ids[0], "late refusal")
    assert state_counts(store)["sent"] == 2 and state_counts(store)["parked"] == 0


def test_the_clients_batch_body_is_the_protocols_batch_of_the_stored_texts(store):
    from sync import client

    with store.transaction():
        for commune in ("Équihen-Plage", "Le Portel"):  # accents go on the wire as UTF-8
            event = protocol.make_event(
                "member.created",
                {
                    "member_id": protocol.new_id(),
                    "age_band": "25-54",
                    "gender": "woman",
                    "commune": commune,
                    "neighbourhood": None,
                    "qpv": False,
                },
                WHEN,
            )
            outbox.append(store.conn, event)
    rows = outbox.pending_bodies(store.conn, 10)
    texts = [row[2] for row in outbox.pending(store.conn, 10)]
    assert [row[2] for row in rows] == [text.encode() for text in texts]
    sender = client._BatchSender(None, "http://hub", "t", None, 1, 0, None, "device-1")
    assert sender.encode(rows).raw == protocol.batch_from_texts(texts, "device-1")
