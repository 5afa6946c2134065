"""Ingest in-process on a real SQLite file: the pieces the live-server tests
cannot reach cheaply."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from federation import centres, ingest, store
from sync import protocol

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


plain_values = st.none() | st.booleans() | st.integers() | st.text()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), plain_values, max_size=6)  # orjson's path
       | st.dictionaries(st.text(max_size=10), json_values, max_size=6))  # mostly the stdlib's
def test_canonical_text_is_the_protocol_canonical_json(data):
    event = {"id": protocol.new_id(), "type": "visit.recorded", "occurred_at": "2026-12-01T09:00:00.000Z",
             "data": data}
    assert ingest.canonical_text(event) == protocol.canonical_json(event)



_times = st.sampled_from(["2026-12-01T09:00:00.000Z", "2026-12-01T23:59:59.999Z",
                          "2026-12-01T10:00:00.000+01:00", "2026-12-01T09:00:00Z"])


@st.composite
def _batch_events(draw):
    """Events as a batch carries them: kinds with and without a member id,
    plain data or not, the usual four keys or one more, times as kiosks
    write them or with an offset."""
    events = []
    for _ in range(draw(st.integers(1, 8))):
        data = draw(st.dictionaries(st.text(max_size=10), plain_values, max_size=4)
                    | st.dictionaries(st.text(max_size=10), json_values, max_size=4))
        if draw(st.booleans()):
            data["member_id"] = protocol.new_id()
        event = {"id": protocol.new_id(), "type": draw(st.sampled_from(["visit.recorded", "member.created"])),
                 "occurred_at": draw(_times), "data": data}
        if draw(st.integers(0, 4)) == 0:
            event["extra"] = draw(plain_values | json_values | st.just(1e-7))  # orjson writes 1e-7, the stdlib 1e-07
        events.append(event)
    return events


@settings(max_examples=300, deadline=None)
@given(_batch_events())
def test_a_batch_s_rows_are_the_per_event_rows(events):
    per_event = [ingest._event_row(event, "c", "d", "2026-12-01T10:00:00.000Z", index, index)
                 for index, event in enumerate(events)]
    columns = ingest._columns_in_order(events, "c", "d", "2026-12-01T10:00:00.000Z")
    if columns is None:  # a time with an offset: left to _event_row
        assert not all(store.UTC_ISO.fullmatch(event["occurred_at"]) for event in events)
        return
    assert columns.rows() == per_event
    assert columns.values() == [tuple(row[name] for name in ingest._EVENT_COLUMNS) for row in per_event]


def test_validation_happens_before_any_write(tmp_path):
    engine = store.open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.writer(engine) as conn, conn.begin():
        centre_id, _code = centres.add_centre(conn, "Centre A")
    event = protocol.make_event("visit.recorded", {"visit_id": protocol.new_id(), "reason": "accueil",
                                                   "recorded_by": "staff"}, datetime.now(timezone.utc))
    prepared = ingest.prepare({"protocol": "1.0", "events": [event, {"id": 3}]}, centre_id, None,
                              store.utc_now_iso())
    assert [row["event_id"] for row in prepared.rows] == [event["id"]]
    assert prepared.rejected[0]["index"] == 1
    with store.writer(engine) as conn, conn.begin():
        answer = ingest.write(conn, prepared)
    assert answer.stored == [event["id"]]
    assert answer.rejected == prepared.rejected
    engine.dispose()


def test_a_batch_s_rows_leave_a_float_outside_data_to_the_stdlib():
    # orjson writes 1e-7 where canonical_json writes 1e-07: the batch path must notice the fifth key
    plain = {"id": protocol.new_id(), "type": "visit.recorded", "occurred_at": "2026-12-01T09:00:00.000Z",
             "data": {"reason": "accueil"}}
    odd = dict(plain, id=protocol.new_id(), extra=1e-7)
    rows = ingest._columns_in_order([plain, odd], "c", None, "2026-12-01T10:00:00.000Z").rows()
    assert [row["body"] for row in rows] == [protocol.canonical_json(plain), protocol.canonical_json(odd)]
    assert rows[1]["content_hash"] == protocol.content_hash(odd)
