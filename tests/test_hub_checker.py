"""The batch checker: a worker process checks the usual batch, the server
writes it; anything else is left to the in-process path, which words it."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import signal

import pytest
import sqlalchemy as sa

from federation import centres, ingest, store
from federation.checker import Checker
from sync import protocol

LIMITS = dict(max_events=protocol.MAX_EVENTS_PER_BATCH, max_decoded_bytes=32 * 1024 * 1024)
AT = "2026-12-01T10:00:00.000Z"


@pytest.fixture(scope="module")
def checker():
    started = Checker(1).start()
    yield started
    started.stop()


def visits(n: int, members: list[str]) -> list[dict]:
    return [protocol.make_event("visit.recorded", {
        "visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "resident",
        "member_id": members[i % len(members)] if i % 4 else None},
        protocol.parse_utc(f"2026-11-{10 + i % 7:02d}T{8 + i % 10:02d}:15:00Z")) for i in range(n)]


def body_of(events: list[dict]) -> bytes:
    return gzip.compress(protocol.batch_from_texts([protocol.canonical_json(e) for e in events]))


def hub(tmp_path, name: str) -> tuple[sa.Engine, str]:
    engine = store.open_engine(f"sqlite:///{tmp_path / name}")
    with store.writer(engine) as conn, conn.begin():
        centre_id, _code = centres.add_centre(conn, "Centre A")
    return engine, centre_id


def held(engine: sa.Engine) -> dict[str, list]:
    """Every table's rows (the centre's id masked: each hub made its own)."""
    tables = ["events", "event_counts", "p_visit_counts", "p_presence", "p_members"]
    with engine.connect() as conn:
        out = {}
        for table in tables:
            columns = [c for c in sa.inspect(conn).get_columns(table) if c["name"] not in ("seq", "centre_id")]
            names = ", ".join(c["name"] for c in columns)
            out[table] = conn.exec_driver_sql(f"SELECT {names} FROM {table} ORDER BY {names}").fetchall()
    return out


def test_a_batch_checked_in_a_worker_is_stored_as_in_process(tmp_path, checker):
    events = visits(300, [protocol.new_id() for _ in range(40)])
    raw = body_of(events)
    worker_engine, worker_centre = hub(tmp_path, "a.db")
    ready = checker.check(raw, "gzip", worker_centre, None, AT, **LIMITS)
    assert isinstance(ready, ingest.Ready) and ready.ids == [e["id"] for e in events]
    with store.writer(worker_engine) as conn, conn.begin():
        answer = ingest.write_new(conn, ready)
    assert answer.stored == ready.ids and answer.duplicates == [] and answer.rejected == []

    local_engine, local_centre = hub(tmp_path, "b.db")
    with store.writer(local_engine) as conn, conn.begin():
        ingest.ingest(conn, json.loads(gzip.decompress(raw)), local_centre, None, AT)
    assert held(worker_engine) == held(local_engine)
    worker_engine.dispose()
    local_engine.dispose()


def test_ready_survives_pickling_and_stores_out_of_order_ids_in_id_order(tmp_path):
    """Ready crosses from the checker as one text a column; a batch whose ids
    are not in order (kiosks send them in order) is still stored whole, the
    answer in the batch's order, the rows the in-process path would write."""
    member = protocol.new_id()
    events = visits(30, [member]) + [protocol.make_event("member.created", {
        "member_id": member, "age_band": "25-54", "gender": "woman", "commune": "Outreau",
        "neighbourhood": None, "qpv": False}, protocol.parse_utc("2026-11-09T08:00:00Z"))]
    events.reverse()
    text = json.dumps({"protocol": "1.0", "events": events}).encode()
    worker_engine, worker_centre = hub(tmp_path, "a.db")
    prepared = ingest.prepare_plain(text, worker_centre, "device-1", AT)
    ready = pickle.loads(pickle.dumps(prepared.ready()))
    assert ready == prepared.ready()
    assert ready.member_ids[0] == member and ready.member_ids[1] is None and ready.device_id == "device-1"
    with store.writer(worker_engine) as conn, conn.begin():
        answer = ingest.write_new(conn, ready)
    assert answer.stored == [e["id"] for e in events]
    with worker_engine.connect() as conn:
        assert [row[0] for row in conn.exec_driver_sql("SELECT event_id FROM events ORDER BY seq")] == \
            sorted(e["id"] for e in events)

    local_engine, local_centre = hub(tmp_path, "b.db")
    with store.writer(local_engine) as conn, conn.begin():
        ingest.ingest(conn, json.loads(text), local_centre, "device-1", AT)
    assert held(worker_engine) == held(local_engine)
    worker_engine.dispose()
    local_engine.dispose()


def test_a_replay_keeps_nothing_and_is_left_to_the_full_path(tmp_path, checker):
    events = visits(50, [protocol.new_id()])
    engine, centre_id = hub(tmp_path, "hub.db")
    with store.writer(engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.0", "events": events[:10]}, centre_id, None, AT)
    before = held(engine)
    ready = checker.check(body_of(events), "gzip", centre_id, None, AT, **LIMITS)
    with store.writer(engine) as conn, conn.begin():
        assert ingest.write_new(conn, ready) is None
    assert held(engine) == before  # not one of the forty new events, no count
    with store.writer(engine) as conn, conn.begin():
        answer = ingest.ingest(conn, {"protocol": "1.0", "events": events}, centre_id, None, AT)
    assert answer.duplicates == [e["id"] for e in events[:10]] and len(answer.stored) == 40
    engine.dispose()


@pytest.mark.parametrize("raw, encoding", [
    (b"not gzip", "gzip"),  # the in-process path says "corrupt"
    (gzip.compress(b'{"protocol": "1.0", "events": [{"id": 1}]}'), "gzip"),  # refused event
    (gzip.compress(b'{"protocol": "9.0", "events": []}'), "gzip"),  # unknown major version
    (gzip.compress(b"[1, 2"), "gzip"),  # not JSON
    (b"{}", "br"),  # unsupported encoding
])
def test_anything_but_the_usual_batch_comes_back_none(checker, raw, encoding):
    assert checker.check(raw, encoding, protocol.new_id(), None, AT, **LIMITS) is None


def test_a_body_over_the_decoded_limit_comes_back_none(checker):
    raw = body_of(visits(100, [protocol.new_id()]))
    assert checker.check(raw, "gzip", protocol.new_id(), None, AT, max_events=5000, max_decoded_bytes=1000) is None
    assert checker.check(raw, "gzip", protocol.new_id(), None, AT, max_events=10, max_decoded_bytes=10**7) is None


def test_a_worker_that_dies_is_replaced():
    checker = Checker(1).start()
    try:
        raw = body_of(visits(20, [protocol.new_id()]))
        assert checker.check(raw, "gzip", protocol.new_id(), None, AT, **LIMITS) is not None
        for pid in list(checker._pool._processes):  # noqa: SLF001 - the test kills the worker
            os.kill(pid, signal.SIGKILL)
        assert checker.check(raw, "gzip", protocol.new_id(), None, AT, **LIMITS) is None  # checked in process
        assert checker.check(raw, "gzip", protocol.new_id(), None, AT, **LIMITS) is not None  # a new worker
    finally:
        checker.stop()


def test_no_workers_means_checking_in_process():
    checker = Checker(0).start()
    assert checker.check(b"", "identity", protocol.new_id(), None, AT, **LIMITS) is None
    checker.stop()
    with pytest.raises(ValueError, match="0 or more"):
        Checker(-1)
