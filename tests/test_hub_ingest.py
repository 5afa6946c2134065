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
