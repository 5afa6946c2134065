"""``member.merged`` (protocol 1.3) at the hub: staff merged two records of
one person on a kiosk, and the hub then counts one participant, whatever the
period (a calendar month or year, read from the rollups, or any span of
days) and whatever came after the merge under the merged pseudonym.

Through a real hub process (batches posted as a kiosk posts them), and
through the ingest on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, reports, store
from sync import protocol

pytest_plugins = ["tests.conftest_hub"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris
MARCH = reports.Period(date(2026, 3, 1), date(2026, 3, 31))
YEAR = reports.Period(date(2026, 1, 1), date(2026, 12, 31))
SOME_DAYS = reports.Period(date(2026, 3, 2), date(2026, 3, 20))
PERIODS = (MARCH, YEAR, SOME_DAYS)


def created(member_id: str, day: int = 0) -> dict:
    data = {
        "member_id": member_id,
        "age_band": "25-54",
        "gender": "woman",
        "commune": "Lyon",
        "neighbourhood": None,
        "qpv": False,
    }
    return protocol.make_event("member.created", data, T0 + timedelta(days=day))


def visit(member_id: str, day: int) -> dict:
    data = {
        "visit_id": protocol.new_id(),
        "member_id": member_id,
        "reason": "accueil",
        "recorded_by": "staff",
    }
    return protocol.make_event("visit.recorded", data, T0 + timedelta(days=day))


def merged(gone: str, kept: str, day: int) -> dict:
    return protocol.make_event(
        "member.merged", {"member_id": gone, "into_member_id": kept}, T0 + timedelta(days=day)
    )


def counts(engine) -> list[int]:
    with engine.connect() as conn:
        return [reports.participants(conn, period).total for period in PERIODS]


# ---------------------------------------------------------------- a real hub


@pytest.fixture
def device(shared_hub):
    centre_id, code = shared_hub.add_centre("Centre social des Doublons")
    return centre_id, shared_hub.enrol(code)["device_token"]


def post(hub, token: str, events: list[dict]) -> None:
    with hub.client(token) as client:
        response = client.post(
            "/api/v1/batches", json={"protocol": protocol.PROTOCOL_VERSION, "events": events}
        )
    response.raise_for_status()
    assert sorted(response.json()["stored"]) == sorted(e["id"] for e in events)


def test_the_hub_counts_one_participant_once_two_records_are_merged(shared_hub, device):
    centre_id, token = device
    kept, gone = protocol.new_id(), protocol.new_id()
    post(shared_hub, token, [created(kept), created(gone), visit(kept, 1), visit(gone, 3), visit(gone, 40)])
    engine = store.create_engine(shared_hub.db_url)
    try:
        before = counts(engine)
        post(shared_hub, token, [merged(gone, kept, 5)])
        after = counts(engine)
    finally:
        engine.dispose()
    # this centre's two people are one now, in every kind of period
    assert [b - a for a, b in zip(after, before, strict=True)] == [1, 1, 1]


def test_what_the_merged_record_sends_after_the_merge_still_counts_once(shared_hub, device):
    """A device that had not heard of the merge sends the merged record's
    creation and visits later: they are the kept person's."""
    _centre_id, token = device
    kept, gone = protocol.new_id(), protocol.new_id()
    post(shared_hub, token, [created(kept), visit(kept, 1)])
    engine = store.create_engine(shared_hub.db_url)
    try:
        before = counts(engine)
        post(shared_hub, token, [merged(gone, kept, 5)])
        post(shared_hub, token, [created(gone), visit(gone, 3), visit(gone, 12)])
        assert counts(engine) == before
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the ingest, on both databases


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def push(engine, centre_id: str, events: list[dict]) -> None:
    with store.writer(engine) as conn, conn.begin():
        ingest.ingest(conn, {"protocol": "1.3", "events": events}, centre_id, None, centres.now_iso())


def test_merges_chained_and_both_ways_leave_one_participant(engine):
    with engine.begin() as conn:
        centre_id = centres.add_centre(conn, "Centre social")[0]
    one, two, three = protocol.new_id(), protocol.new_id(), protocol.new_id()
    push(engine, centre_id, [created(m) for m in (one, two, three)])
    push(engine, centre_id, [visit(one, 1), visit(two, 2), visit(three, 3), visit(three, 60)])
    assert counts(engine) == [3, 3, 3]
    # three into two, then two into one: the second merge arrives first
    push(engine, centre_id, [merged(two, one, 8)])
    push(engine, centre_id, [merged(three, two, 6)])
    assert counts(engine) == [1, 1, 1]
    # the same pair merged the other way on another device changes nothing more
    push(engine, centre_id, [merged(one, two, 9)])
    assert counts(engine) == [1, 1, 1]
    with engine.connect() as conn:
        held = conn.execute(store.p_members.select().where(store.p_members.c.centre_id == centre_id)).all()
    assert [row.member_id for row in held] == [one]


def test_erasing_the_kept_person_redacts_the_merged_record_too(engine):
    with engine.begin() as conn:
        centre_id = centres.add_centre(conn, "Centre social")[0]
    kept, gone, later = protocol.new_id(), protocol.new_id(), protocol.new_id()
    push(engine, centre_id, [created(kept), created(gone), created(later), visit(gone, 1)])
    push(engine, centre_id, [merged(gone, kept, 2)])
    push(
        engine, centre_id, [protocol.make_event("member.erased", {"member_id": kept}, T0 + timedelta(days=3))]
    )
    # merged into someone already erased: redacted as it arrives
    push(engine, centre_id, [merged(later, kept, 4)])
    with engine.connect() as conn:
        bodies = conn.execute(
            sa.select(store.events.c.member_id, store.events.c.body).where(
                store.events.c.centre_id == centre_id, store.events.c.type == "member.created"
            )
        ).all()
    assert {member for member, _body in bodies} == {kept, gone, later}
    for _member, body in bodies:
        assert json.loads(body)["data"]["redacted"] is True and "gender" not in body
    assert counts(engine) == [1, 1, 1]  # erasure keeps the count: one person came
