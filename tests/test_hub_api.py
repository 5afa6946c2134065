"""The kiosks' API against a real `federation serve` process on 127.0.0.1,
once on SQLite and once on PostgreSQL: enrolment, ingest, replays, conflicts,
status, and the reporting projections (erasure included)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import store
from sync import protocol
from tests.conftest_hub import run_federation, start_hub

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T0_PAST = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live_hub(request, tmp_path_factory):
    """One hub process per database for the module; each test makes its own
    centre, so tests do not see each other's events."""
    log_dir = tmp_path_factory.mktemp("hub")
    if request.param == "sqlite":
        db_url = f"sqlite:///{log_dir / 'federation.db'}"
    else:
        db_url = request.getfixturevalue("postgres_cluster").new_database()
    server = start_hub(db_url, log_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def engine(live_hub):
    engine = store.create_engine(live_hub.db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def device(live_hub) -> dict:
    return live_hub.new_device()


@pytest.fixture
def api(live_hub, device):
    with live_hub.client(device["device_token"]) as client:
        yield client


def event(kind: str, data: dict, at: datetime = T0, event_id: str | None = None) -> dict:
    return protocol.make_event(kind, data, at, event_id)


def visit(at: datetime = T0, reason: str = "accueil", member_id: str | None = None) -> dict:
    return event(
        "visit.recorded",
        {"visit_id": protocol.new_id(), "member_id": member_id, "reason": reason, "recorded_by": "resident"},
        at,
    )


def member(kind: str, member_id: str, at: datetime = T0, **attrs) -> dict:
    data = {
        "member_id": member_id,
        "age_band": "25-54",
        "gender": "woman",
        "commune": "Lyon",
        "neighbourhood": "Les Minguettes",
        "qpv": True,
    } | attrs
    return event(kind, data, at)


def batch(*events: dict) -> dict:
    return {"protocol": protocol.PROTOCOL_VERSION, "events": list(events)}


def send(api, *events: dict) -> dict:
    response = api.post("/api/v1/batches", json=batch(*events))
    assert response.status_code == 200, response.text
    return response.json()


def rows(engine, table: sa.Table, centre_id: str) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(sa.select(table).where(table.c.centre_id == centre_id))
        ]


# ---------------------------------------------------------------- enrolment


def test_enrolment_trades_the_code_for_a_token_of_that_centre(live_hub):
    centre_id, code = live_hub.add_centre("Maison pour tous Bellevue")
    answer = live_hub.enrol(code, "Borne accueil")
    assert answer["centre_id"] == centre_id
    assert answer["centre_name"] == "Maison pour tous Bellevue"
    assert answer["protocol"] == protocol.PROTOCOL_VERSION
    assert len(answer["device_token"]) >= 43


def test_the_token_is_stored_only_as_its_hash(live_hub, engine, device):
    with engine.connect() as conn:
        held = conn.execute(sa.select(store.devices).where(store.devices.c.id == device["device_id"])).one()
    assert device["device_token"] not in held.token_hash
    assert len(held.token_hash) == 64


def test_a_code_works_once(live_hub):
    _centre, code = live_hub.add_centre()
    live_hub.enrol(code)
    with live_hub.client() as client:
        again = client.post("/api/v1/enrol", json={"code": code, "label": "Seconde borne"})
    assert again.status_code == 403
    assert "already used" in again.json()["error"]


def test_an_expired_code_is_refused(live_hub, engine):
    _centre, code = live_hub.add_centre()
    with engine.begin() as conn:
        conn.execute(store.enrolment_codes.update().values(expires_at="2020-01-01T00:00:00.000Z"))
    with live_hub.client() as client:
        answer = client.post("/api/v1/enrol", json={"code": code, "label": "Borne"})
    assert answer.status_code == 403
    assert "expired" in answer.json()["error"]


def test_an_unknown_code_is_refused(live_hub):
    with live_hub.client() as client:
        answer = client.post("/api/v1/enrol", json={"code": "AAAA-BBBB-CCCC", "label": "Borne"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "unknown enrolment code"
    assert answer.headers[protocol.HUB_HEADER] == "1"


def test_enrolment_without_a_code_names_the_field(live_hub):
    with live_hub.client() as client:
        answer = client.post("/api/v1/enrol", json={"label": "Borne"})
    assert answer.status_code == 400
    assert answer.json()["field"] == "code"


# ---------------------------------------------------------------- ingest


def test_a_batch_is_stored_and_every_id_accounted_for(api, engine, device):
    events = [visit(), visit(reason="cafe"), visit(reason="demarches")]
    answer = send(api, *events)
    assert answer == {
        "protocol": protocol.PROTOCOL_VERSION,
        "stored": [e["id"] for e in events],
        "duplicates": [],
        "rejected": [],
    }
    held = rows(engine, store.events, device["centre_id"])
    assert {r["event_id"] for r in held} == {e["id"] for e in events}
    assert {r["body"] for r in held} == {protocol.canonical_json(e) for e in events}
    assert all(r["device_id"] == device["device_id"] for r in held)


def test_a_replay_is_answered_as_duplicates_and_stores_nothing_new(api, engine, device):
    events = [visit(), visit()]
    send(api, *events)
    again = send(api, events[1], events[0], visit_new := visit())
    assert again["stored"] == [visit_new["id"]]
    assert again["duplicates"] == [events[1]["id"], events[0]["id"]]
    assert len(rows(engine, store.events, device["centre_id"])) == 3
    counts = rows(engine, store.p_visit_counts, device["centre_id"])
    assert sum(r["visits"] for r in counts) == 3


def test_the_same_id_with_other_content_is_a_conflict_kept_aside(api, engine, device):
    original = visit(reason="accueil")
    send(api, original)
    forged = dict(original, data=dict(original["data"], reason="cafe"))
    answer = send(api, forged)
    assert answer["stored"] == [] and answer["duplicates"] == []
    assert answer["rejected"][0]["id"] == original["id"]
    assert answer["rejected"][0]["reason"].startswith("conflict:")
    [stored] = rows(engine, store.events, device["centre_id"])
    assert stored["body"] == protocol.canonical_json(original)  # never merged
    send(api, forged)  # resent: still one conflict row
    [conflict] = rows(engine, store.conflicts, device["centre_id"])
    assert conflict["body"] == protocol.canonical_json(forged)
    assert conflict["stored_hash"] == protocol.content_hash(original)


def test_a_bad_event_is_refused_alone(api, engine, device):
    good, bad = visit(), visit()
    bad["data"]["recorded_by"] = "robot"
    answer = send(api, good, bad)
    assert answer["stored"] == [good["id"]]
    assert answer["rejected"] == [
        {
            "id": bad["id"],
            "index": 1,
            "field": "data.recorded_by",
            "reason": pytest.approx(answer["rejected"][0]["reason"]),
        }
    ]
    assert "data.recorded_by" in answer["rejected"][0]["reason"]
    assert len(rows(engine, store.events, device["centre_id"])) == 1


def test_a_gzip_body_is_accepted(api, device, engine):
    events = [visit() for _ in range(50)]
    body = gzip.compress(json.dumps(batch(*events)).encode())
    answer = api.post(
        "/api/v1/batches",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["stored"]) == 50


def test_two_centres_may_hold_the_same_event_id(live_hub, engine):
    first, second = live_hub.new_device("Centre A"), live_hub.new_device("Centre B")
    shared = visit()
    for device in (first, second):
        with live_hub.client(device["device_token"]) as client:
            assert send(client, shared)["stored"] == [shared["id"]]


def test_the_device_last_sync_is_recorded(api, engine, device):
    send(api, visit())
    with engine.connect() as conn:
        held = conn.execute(sa.select(store.devices).where(store.devices.c.id == device["device_id"])).one()
    assert held.last_sync_at is not None and held.last_seen_at is not None


# ---------------------------------------------------------------- status, health


def test_status_tells_the_device_what_the_hub_holds(api, device):
    send(api, visit(T0), visit(T0 + timedelta(hours=2)), member("member.created", protocol.new_id()))
    status = api.get("/api/v1/status").json()
    assert status["centre_id"] == device["centre_id"]
    assert status["device_id"] == device["device_id"]
    assert status["events_total"] == 3
    assert status["events_by_type"] == {"member.created": 1, "visit.recorded": 2}
    assert status["first_occurred_at"] == "2026-12-01T09:00:00.000Z"
    assert status["last_occurred_at"] == "2026-12-01T11:00:00.000Z"
    assert status["last_sync_at"] is not None


def test_health_answers_without_a_token(live_hub):
    with live_hub.client() as client:
        answer = client.get("/api/v1/health")
    assert answer.json() == {"status": "ok", "protocol": protocol.PROTOCOL_VERSION}
    assert answer.headers[protocol.HUB_HEADER] == "1"


# ---------------------------------------------------------------- projections


def test_visits_count_on_the_paris_day(api, engine, device):
    late_evening = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 00:30 on the 2nd in Paris
    send(api, visit(T0), visit(T0, reason="cafe"), visit(late_evening), visit(T0))
    counts = {
        (r["day"], r["reason"]): r["visits"] for r in rows(engine, store.p_visit_counts, device["centre_id"])
    }
    assert counts == {("2026-12-01", "accueil"): 2, ("2026-12-01", "cafe"): 1, ("2026-12-02", "accueil"): 1}


def test_the_latest_member_update_wins_whatever_the_arrival_order(api, engine, device):
    member_id = protocol.new_id()
    newer = member("member.updated", member_id, T0 + timedelta(days=2), commune="Vénissieux", qpv=False)
    send(api, newer)
    send(api, member("member.created", member_id, T0, commune="Lyon"))
    [held] = rows(engine, store.p_members, device["centre_id"])
    assert held["commune"] == "Vénissieux" and held["qpv"] is False
    assert held["created_day"] == "2026-12-01"
    assert held["as_of"] == "2026-12-03T09:00:00.000Z"


def test_erasure_removes_attributes_and_keeps_counts(api, engine, device):
    member_id = protocol.new_id()
    send(api, member("member.created", member_id), visit(member_id=member_id), visit(member_id=member_id))
    send(api, event("member.erased", {"member_id": member_id}, T0 + timedelta(days=1)))
    [held] = rows(engine, store.p_members, device["centre_id"])
    assert (held["age_band"], held["gender"], held["commune"], held["neighbourhood"], held["qpv"]) == (
        "unknown",
        None,
        None,
        None,
        None,
    )
    assert held["erased_at"] == "2026-12-02T09:00:00.000Z"
    assert sum(r["visits"] for r in rows(engine, store.p_visit_counts, device["centre_id"])) == 2
    # two visits on one day: one day of presence, one month of the member's
    assert [(r["member_id"], r["day"]) for r in rows(engine, store.p_presence, device["centre_id"])] == [
        (member_id, "2026-12-01")
    ]
    assert [
        (r["member_id"], r["month"]) for r in rows(engine, store.r_member_months, device["centre_id"])
    ] == [(member_id, "2026-12")]
    bodies = [
        r["body"] for r in rows(engine, store.events, device["centre_id"]) if r["type"] == "member.created"
    ]
    assert "Lyon" not in bodies[0] and "Minguettes" not in bodies[0]


def test_an_update_arriving_after_the_erasure_does_not_bring_attributes_back(api, engine, device):
    member_id = protocol.new_id()
    created = member("member.created", member_id, T0)
    send(api, event("member.erased", {"member_id": member_id}, T0 + timedelta(days=1)))
    answer = send(api, created, member("member.updated", member_id, T0 + timedelta(days=2), commune="Bron"))
    assert len(answer["stored"]) == 2
    [held] = rows(engine, store.p_members, device["centre_id"])
    assert held["commune"] is None and held["age_band"] == "unknown"
    bodies = " ".join(r["body"] for r in rows(engine, store.events, device["centre_id"]))
    assert "Bron" not in bodies and "Lyon" not in bodies
    assert send(api, created)["duplicates"] == [created["id"]]  # redacted, still recognised


def test_workshop_sessions_registrations_and_attendance(api, engine, device):
    workshop_id, session_id, member_id = protocol.new_id(), protocol.new_id(), protocol.new_id()
    registration_id, attendance_id = protocol.new_id(), protocol.new_id()
    starts = T0 + timedelta(days=1)
    session = {
        "session_id": session_id,
        "workshop_id": workshop_id,
        "starts_at": protocol.utc_iso(starts),
        "ends_at": protocol.utc_iso(starts + timedelta(hours=2)),
        "capacity": 8,
    }
    send(
        api,
        event(
            "workshop.created",
            {"workshop_id": workshop_id, "title": "Atelier numérique", "theme": "numerique"},
        ),
        event("session.created", session),
        event(
            "registration.changed",
            {
                "registration_id": registration_id,
                "session_id": session_id,
                "member_id": member_id,
                "status": "waitlisted",
            },
        ),
        event(
            "registration.changed",
            {
                "registration_id": registration_id,
                "session_id": session_id,
                "member_id": member_id,
                "status": "booked",
            },
            T0 + timedelta(hours=1),
        ),
        event(
            "attendance.taken",
            {
                "attendance_id": attendance_id,
                "session_id": session_id,
                "member_id": member_id,
                "present": True,
                "walk_in": False,
            },
            starts,
        ),
    )
    [workshop] = rows(engine, store.p_workshops, device["centre_id"])
    assert (workshop["title"], workshop["theme"]) == ("Atelier numérique", "numerique")
    [held] = rows(engine, store.p_sessions, device["centre_id"])
    assert (held["capacity"], held["cancelled"], held["starts_at"]) == (8, False, "2026-12-02T09:00:00.000Z")
    [registration] = rows(engine, store.p_registrations, device["centre_id"])
    assert registration["status"] == "booked"
    [attendance] = rows(engine, store.p_attendance, device["centre_id"])
    assert attendance["present"] is True and attendance["walk_in"] is False


def test_a_cancellation_arriving_first_is_kept_and_the_session_filled_in(api, engine, device):
    session_id, workshop_id = protocol.new_id(), protocol.new_id()
    send(api, event("session.cancelled", {"session_id": session_id}, T0 + timedelta(days=1)))
    send(
        api,
        event(
            "session.created",
            {
                "session_id": session_id,
                "workshop_id": workshop_id,
                "starts_at": "2026-12-05T09:00:00.000Z",
                "ends_at": "2026-12-05T11:00:00.000Z",
                "capacity": 12,
            },
            T0,
        ),
    )
    [held] = rows(engine, store.p_sessions, device["centre_id"])
    assert held["cancelled"] is True
    assert (held["workshop_id"], held["capacity"]) == (workshop_id, 12)


def test_a_replayed_batch_leaves_projections_unchanged(api, engine, device):
    events = [visit(), member("member.created", protocol.new_id())]
    send(api, *events)
    before = (
        rows(engine, store.p_visit_counts, device["centre_id"]),
        rows(engine, store.p_members, device["centre_id"]),
    )
    send(api, *events)
    assert (
        rows(engine, store.p_visit_counts, device["centre_id"]),
        rows(engine, store.p_members, device["centre_id"]),
    ) == before


def test_stats_command_counts_what_was_ingested(live_hub, api, device):
    send(api, visit(), visit(), member("member.created", protocol.new_id()))
    figures = json.loads(run_federation("stats", "--json", db_url=live_hub.db_url).stdout)
    [mine] = [c for c in figures["centres"] if c["id"] == device["centre_id"]]
    assert mine["events"] == {"member.created": 1, "visit.recorded": 2}
    assert mine["events_total"] == 3 and mine["last_sync"] is not None
    assert figures["events_total"] == sum(c["events_total"] for c in figures["centres"])


def test_the_counts_by_type_are_those_of_the_stored_events(api, engine, device):
    """The rollup kept per batch (store.event_counts) against a count of the
    events themselves: replays, conflicts, refusals and late events included."""
    early, late = visit(T0 - timedelta(days=3)), visit(T0 + timedelta(days=3))
    send(api, visit(), member("member.created", protocol.new_id()), late)
    send(
        api,
        late,
        early,
        dict(late, data=dict(late["data"], reason="atelier")),  # replay, conflict
        {"id": protocol.new_id(), "type": "visit.recorded", "occurred_at": "hier", "data": {}},
    )  # refused
    with engine.connect() as conn:
        held = {
            (kind, n, first, last)
            for kind, n, first, last in conn.execute(
                sa.select(
                    store.events.c.type,
                    sa.func.count(),
                    sa.func.min(store.events.c.occurred_at),
                    sa.func.max(store.events.c.occurred_at),
                )
                .where(store.events.c.centre_id == device["centre_id"])
                .group_by(store.events.c.type)
            )
        }
        rolled = {
            (row.type, row.events, row.first_occurred_at, row.last_occurred_at)
            for row in conn.execute(
                sa.select(store.event_counts).where(store.event_counts.c.centre_id == device["centre_id"])
            )
        }
    assert (
        rolled
        == held
        == {
            ("member.created", 1, "2026-12-01T09:00:00.000Z", "2026-12-01T09:00:00.000Z"),
            ("visit.recorded", 3, "2026-11-28T09:00:00.000Z", "2026-12-04T09:00:00.000Z"),
        }
    )
    status = api.get("/api/v1/status").json()
    assert (status["events_total"], status["first_occurred_at"], status["last_occurred_at"]) == (
        4,
        "2026-11-28T09:00:00.000Z",
        "2026-12-04T09:00:00.000Z",
    )


def test_a_conflicting_copy_of_an_erased_member_keeps_no_attributes(api, engine, device):
    member_id = protocol.new_id()
    created = member("member.created", member_id, commune="Givors")
    send(api, created, event("member.erased", {"member_id": member_id}, T0 + timedelta(days=1)))
    other = dict(created, data=dict(created["data"], commune="Oullins"))
    assert send(api, other)["rejected"][0]["reason"].startswith("conflict:")
    [conflict] = rows(engine, store.conflicts, device["centre_id"])
    assert "Oullins" not in conflict["body"] and '"redacted":true' in conflict["body"]


def test_one_id_twice_in_a_batch_with_other_content_is_kept_aside(api, engine, device):
    first = visit(reason="accueil")
    second = dict(first, data=dict(first["data"], reason="cafe"))
    answer = send(api, first, second)
    assert answer["stored"] == [first["id"]]
    [conflict] = rows(engine, store.conflicts, device["centre_id"])
    assert conflict["body"] == protocol.canonical_json(second)


def test_times_with_an_offset_are_stored_in_utc(api, engine, device):
    sent = visit()
    sent["occurred_at"] = "2026-12-01T10:30:00+01:00"
    send(api, sent)
    [held] = rows(engine, store.events, device["centre_id"])
    assert held["occurred_at"] == "2026-12-01T09:30:00.000Z"
    assert held["body"] == protocol.canonical_json(sent)  # the body is what was sent


def test_the_served_app_collects_young_garbage_less_often(tmp_path, monkeypatch):
    import gc

    from federation import app as hub_app

    before = gc.get_threshold()
    monkeypatch.setenv("FEDERATION_DB", f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        hub_app.app_from_environment()
        assert gc.get_threshold() == (hub_app.GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_a_batch_of_visits_only_counts_months_and_days_as_event_by_event(api, engine, device):
    """The one-type batch (counts, months and days taken a column at a time):
    visits out of order, two members over several days, an anonymous one."""
    one, two = protocol.new_id(), protocol.new_id()
    T0 = T0_PAST  # every visit within the hub's window, which ends a day after it receives them
    send(api, member("member.created", one), member("member.created", two, T0 + timedelta(days=9)))
    days = [5, -2, 0, 5, 3]
    send(
        api,
        *[visit(T0 + timedelta(days=d), member_id=one) for d in days],
        visit(T0 + timedelta(days=1), member_id=two),
        visit(T0 - timedelta(days=4)),
    )
    months = sorted(
        (r["member_id"], r["month"]) for r in rows(engine, store.r_member_months, device["centre_id"])
    )
    assert months == sorted([(one, "2026-11"), (two, "2026-11")])
    presence = sorted((r["member_id"], r["day"]) for r in rows(engine, store.p_presence, device["centre_id"]))
    assert presence == sorted(
        [
            (one, "2026-11-19"),
            (one, "2026-11-21"),
            (one, "2026-11-24"),
            (one, "2026-11-26"),
            (two, "2026-11-22"),
        ]
    )
    counts = {r["day"]: r["visits"] for r in rows(engine, store.p_visit_counts, device["centre_id"])}
    assert counts == {
        "2026-11-17": 1,
        "2026-11-19": 1,
        "2026-11-21": 1,
        "2026-11-22": 1,
        "2026-11-24": 1,
        "2026-11-26": 2,
    }
    with engine.connect() as conn:
        rolled = {
            row.type: (row.events, row.first_occurred_at, row.last_occurred_at)
            for row in conn.execute(
                sa.select(store.event_counts).where(store.event_counts.c.centre_id == device["centre_id"])
            )
        }
    assert rolled["visit.recorded"] == (7, "2026-11-17T09:00:00.000Z", "2026-11-26T09:00:00.000Z")


@pytest.mark.parametrize("odd", [2**70, -(2**63) - 1, 1e-7, 1.0, [1, 2.5], {"n": 2**64}])
def test_odd_numbers_in_unknown_fields_are_dropped_and_replays_recognised(api, engine, device, odd):
    """The hub parses a batch with orjson only when no number in its events
    could read differently (orjson makes an integer past 64 bits a float):
    such a batch is parsed again by the stdlib. The unknown field holding
    the number is dropped (the answer says so), the rest stored as sent."""
    plain, other = visit(), visit()
    odd_event = dict(other, data=dict(other["data"], extra=odd))
    body = json.dumps({**batch(plain, odd_event), "note": 1.5})  # a float in the envelope: ignored
    response = api.post("/api/v1/batches", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == [plain["id"], odd_event["id"]]
    assert response.json()["dropped"] == [{"id": odd_event["id"], "index": 1, "fields": ["data.extra"]}]
    held = {r["event_id"]: r for r in rows(engine, store.events, device["centre_id"])}
    assert held[odd_event["id"]]["body"] == protocol.canonical_json(other)
    assert held[odd_event["id"]]["content_hash"] == protocol.content_hash(other)
    assert held[plain["id"]]["body"] == protocol.canonical_json(plain)
    # sent again: a replay, not a conflict
    again = api.post("/api/v1/batches", content=body, headers={"Content-Type": "application/json"}).json()
    assert again["duplicates"] == [plain["id"], odd_event["id"]] and again["rejected"] == []


def test_a_byte_order_mark_or_a_lone_surrogate_is_read_as_before(api, engine, device):
    """What orjson refuses goes to the stdlib's parse, which decides as it always did."""
    first = visit()
    body = "\ufeff" + json.dumps(batch(first))
    response = api.post(
        "/api/v1/batches", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["stored"] == [first["id"]]
    response = api.post(
        "/api/v1/batches",
        content=b'{"protocol": "1.0", "events": [{"id": "\\ud800"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["rejected"][0]["reason"] == "id: must be a lowercase UUID"
