"""Ingest in-process on a real SQLite file: the pieces the live-server tests
cannot reach cheaply."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from federation import centres, ingest, store
from sync import protocol

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


plain_values = st.none() | st.booleans() | st.integers() | st.text()


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), plain_values, max_size=6)  # orjson's path
    | st.dictionaries(st.text(max_size=10), json_values, max_size=6)
)  # mostly the stdlib's
def test_canonical_json_is_the_stdlib_s_compact_sorted_text(data):
    """One canonical writer: where orjson writes it (the hub), the bytes are the stdlib's."""
    event = {
        "id": protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": "2026-12-01T09:00:00.000Z",
        "data": data,
    }
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert protocol.canonical_json(event) == text
    assert protocol.canonical_bytes(event) == text.encode()


_times = st.sampled_from(
    [
        "2026-12-01T09:00:00.000Z",
        "2026-12-01T23:59:59.999Z",
        "2026-12-01T10:00:00.000+01:00",
        "2026-12-01T09:00:00Z",
    ]
)


@st.composite
def _batch_events(draw):
    """Valid events as a batch carries them: kinds with and without a member
    id, times as kiosks write them or with an offset, some with unknown
    fields (plain, or values orjson and the stdlib write differently)."""
    events = []
    for _ in range(draw(st.integers(1, 8))):
        member_id = protocol.new_id()
        if draw(st.booleans()):
            kind, data = (
                "visit.recorded",
                {
                    "visit_id": protocol.new_id(),
                    "reason": "accueil",
                    "recorded_by": "resident",
                    "member_id": draw(st.sampled_from([member_id, None])),
                },
            )
        else:
            kind, data = (
                "member.created",
                {
                    "member_id": member_id,
                    "age_band": "25-54",
                    "qpv": False,
                    "commune": draw(
                        st.text(min_size=1, max_size=5)
                        .filter(str.strip)
                        .filter(lambda t: protocol.unfit_text(t) is None)
                    ),
                },
            )
        event = {"id": protocol.new_id(), "type": kind, "occurred_at": draw(_times), "data": data}
        if draw(st.integers(0, 3)) == 0:
            # (values only: a key of a nested object could name personal data and refuse the event)
            event["extra"] = draw(
                plain_values | st.lists(plain_values | st.floats(allow_nan=False), max_size=3) | st.just(1e-7)
            )  # orjson writes 1e-7, the stdlib 1e-07
        if draw(st.integers(0, 3)) == 0:
            data["note"] = draw(plain_values | st.floats(allow_nan=False, allow_infinity=False))
        events.append(event)
    return events


@settings(max_examples=300, deadline=None)
@given(_batch_events())
def test_a_batch_s_rows_are_each_event_s_row(events):
    received = "2026-12-01T10:00:00.000Z"
    batch = ingest.prepare({"protocol": "1.0", "events": events}, "c", "d", received)
    expected = []
    for event in events:
        clean, _dropped = protocol.check_event(event)
        expected.append(
            (
                "c",
                event["id"],
                event["type"],
                protocol.utc_text(event["occurred_at"]),
                received,
                "d",
                clean["data"]["member_id"] if event["type"].startswith("member.") else None,
                protocol.canonical_json(clean),
                protocol.content_hash(clean),
            )
        )
    assert batch.rows == expected
    assert batch.indexes == list(range(len(events)))
    assert [dict(zip(ingest.EVENT_COLUMNS, row, strict=True))["event_id"] for row in batch.rows] == [
        e["id"] for e in events
    ]


def test_validation_happens_before_any_write(tmp_path):
    engine = store.open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.writer(engine) as conn, conn.begin():
        centre_id, _code = centres.add_centre(conn, "Centre A")
    event = protocol.make_event(
        "visit.recorded",
        {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "staff"},
        datetime.now(UTC),
    )
    prepared = ingest.prepare(
        {"protocol": "1.0", "events": [event, {"id": 3}]}, centre_id, None, store.utc_now_iso()
    )
    assert [row[1] for row in prepared.rows] == [event["id"]]
    assert prepared.rejected[0]["index"] == 1
    with store.writer(engine) as conn, conn.begin():
        answer = ingest.write(conn, prepared)
    assert answer.stored == [event["id"]]
    assert answer.rejected == prepared.rejected
    engine.dispose()


def test_a_float_is_written_by_the_stdlib():
    # orjson writes 1e-7 where the stdlib writes 1e-07: the canonical writer must notice the fifth key
    plain = {
        "id": protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": "2026-12-01T09:00:00.000Z",
        "data": {"reason": "accueil"},
    }
    odd = dict(plain, id=protocol.new_id(), extra=1e-7)
    assert '"extra":1e-07' in protocol.canonical_json(odd)
    assert protocol.content_hash(odd) == hashlib.sha256(protocol.canonical_json(odd).encode()).hexdigest()


AT = "2026-12-01T10:00:00.000Z"


def _visits(n: int, members: list[str]) -> list[dict]:
    return [
        protocol.make_event(
            "visit.recorded",
            {
                "visit_id": protocol.new_id(),
                "reason": "accueil",
                "recorded_by": "resident",
                "member_id": members[i % len(members)] if i % 4 else None,
            },
            protocol.parse_utc(f"2026-11-{10 + i % 7:02d}T{8 + i % 10:02d}:15:00Z"),
        )
        for i in range(n)
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_hub(request, tmp_path):
    """``new_hub(name)``: a hub's database of its own with one centre, on
    SQLite or PostgreSQL (whose events are partitioned by month): (engine,
    centre id)."""
    engines = []

    def make(name: str):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / name}"
        else:
            url = request.getfixturevalue("postgres_cluster").new_database()
        engine = store.open_engine(url)
        engines.append(engine)
        with store.writer(engine) as conn, conn.begin():
            centre_id, _code = centres.add_centre(conn, "Centre A")
        return engine, centre_id

    yield make
    for engine in engines:
        engine.dispose()


def _held(engine) -> dict[str, list]:
    """Every table's rows (the centre's id masked: each hub made its own)."""
    tables = ["events", "event_counts", "p_visit_counts", "p_presence", "p_members"]
    with engine.connect() as conn:
        out = {}
        for table in tables:
            columns = [
                c for c in sa.inspect(conn).get_columns(table) if c["name"] not in ("seq", "centre_id")
            ]
            names = ", ".join(c["name"] for c in columns)
            out[table] = conn.exec_driver_sql(f"SELECT {names} FROM {table} ORDER BY {names}").fetchall()
    return out


def test_out_of_order_ids_are_stored_whole_in_id_order(new_hub):
    """A batch whose ids are not in order (kiosks send them in order) is
    stored whole, the answer in the batch's order, the rows in id order
    (the order every transaction takes its locks in), the same as in order."""
    member = protocol.new_id()
    events = _visits(30, [member]) + [
        protocol.make_event(
            "member.created",
            {
                "member_id": member,
                "age_band": "25-54",
                "gender": "woman",
                "commune": "Outreau",
                "neighbourhood": None,
                "qpv": False,
            },
            protocol.parse_utc("2026-11-09T08:00:00Z"),
        )
    ]
    reversed_engine, reversed_centre = new_hub("a.db")
    with store.writer(reversed_engine) as conn, conn.begin():
        answer = ingest.ingest(
            conn, {"protocol": "1.0", "events": events[::-1]}, reversed_centre, "device-1", AT
        )
    assert answer.stored == [e["id"] for e in events[::-1]]
    with reversed_engine.connect() as conn:
        assert [row[0] for row in conn.exec_driver_sql("SELECT event_id FROM events ORDER BY seq")] == sorted(
            e["id"] for e in events
        )
    ordered_engine, ordered_centre = new_hub("b.db")
    with store.writer(ordered_engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.0", "events": events}, ordered_centre, "device-1", AT)
    assert _held(reversed_engine) == _held(ordered_engine)


def test_a_replay_is_answered_from_one_try_of_its_insert(new_hub, monkeypatch):
    """Ten events held, fifty sent: the ten are duplicates, the forty stored,
    the counts and projections those of fifty events; the batch's INSERT
    runs once (the database says which rows went in)."""
    events = _visits(50, [protocol.new_id()])
    engine, centre_id = new_hub("hub.db")
    with store.writer(engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.0", "events": events[:10]}, centre_id, None, AT)
    inserts: list[str] = []
    make_insert = ingest._insert_sql
    monkeypatch.setattr(
        ingest, "_insert_sql", lambda *args: inserts.append(make_insert(*args)) or inserts[-1]
    )
    with store.writer(engine) as conn, conn.begin():
        answer = ingest.ingest(conn, {"protocol": "1.0", "events": events}, centre_id, None, AT)
    assert len(inserts) == 1
    assert answer.duplicates == [e["id"] for e in events[:10]] and len(answer.stored) == 40
    whole_engine, whole_centre = new_hub("whole.db")
    with store.writer(whole_engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.0", "events": events}, whole_centre, None, AT)
    assert _held(engine) == _held(whole_engine)
