"""What the hub refuses, against a real server on SQLite and PostgreSQL: no
token, a wrong or revoked token, writing as another centre, oversized and
malformed bodies, a gzip bomb, an unknown protocol, too many requests — each
with a clear 4xx naming the field, never a 5xx, never a change to stored data."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from federation import store
from sync import protocol
from tests.conftest_hub import run_federation, start_hub
from tests.test_hub_api import batch, visit

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def guarded_hub(request, tmp_path_factory):
    """A hub with small limits, so the tests can reach them cheaply."""
    log_dir = tmp_path_factory.mktemp("hub")
    if request.param == "sqlite":
        db_url = f"sqlite:///{log_dir / 'federation.db'}"
    else:
        db_url = request.getfixturevalue("postgres_cluster").new_database()
    server = start_hub(db_url, log_dir, max_body_bytes=MAX_BODY, max_events=20)
    yield server
    server.stop()


@pytest.fixture
def device(guarded_hub) -> dict:
    return guarded_hub.new_device()


@pytest.fixture
def api(guarded_hub, device):
    with guarded_hub.client(device["device_token"]) as client:
        yield client


def snapshot(db_url: str) -> str:
    """A digest of every row of every table: equal before and after means
    nothing stored was altered."""
    engine = store.create_engine(db_url)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in store.metadata.sorted_tables:
            if table.name in ("devices",):  # last_seen_at moves on accepted requests only
                continue
            if sa.inspect(conn).has_table(table.name):
                ordered = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
                digest.update(repr((table.name, ordered)).encode())
    engine.dispose()
    return digest.hexdigest()


def assert_refused(answer: httpx.Response, status: int, field: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers[protocol.HUB_HEADER] == "1"
    body = answer.json()
    assert body["error"]
    if field is not None:
        assert body.get("field") == field
    return body


# ---------------------------------------------------------------- tokens


def test_no_token_is_refused(guarded_hub):
    before = snapshot(guarded_hub.db_url)
    with guarded_hub.client() as client:
        answer = client.post("/api/v1/batches", json=batch(visit()))
        assert_refused(answer, 401, "authorization")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert_refused(client.get("/api/v1/status"), 401)
    assert snapshot(guarded_hub.db_url) == before


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "token"])
def test_a_wrong_token_is_refused(guarded_hub, header):
    with httpx.Client(base_url=guarded_hub.url, headers={"Authorization": header}) as client:
        assert_refused(client.post("/api/v1/batches", json=batch(visit())), 401, "authorization")


def test_a_revoked_token_is_refused(guarded_hub, api, device):
    assert api.post("/api/v1/batches", json=batch(visit())).status_code == 200
    run_federation("revoke-device", device["device_id"], db_url=guarded_hub.db_url)
    before = snapshot(guarded_hub.db_url)
    assert_refused(api.post("/api/v1/batches", json=batch(visit())), 401, "authorization")
    assert_refused(api.get("/api/v1/status"), 401)
    assert snapshot(guarded_hub.db_url) == before


def test_a_device_cannot_write_as_another_centre(guarded_hub, api, device):
    other = guarded_hub.new_device("Centre voisin")
    before = snapshot(guarded_hub.db_url)
    body = batch(visit()) | {"centre_id": other["centre_id"]}
    assert_refused(api.post("/api/v1/batches", json=body), 400, "centre_id")
    body = batch(visit()) | {"device_id": other["device_id"]}
    assert_refused(api.post("/api/v1/batches", json=body), 400, "device_id")
    assert snapshot(guarded_hub.db_url) == before


def test_events_land_in_the_token_centre_only(guarded_hub, api, device):
    sent = visit()
    api.post("/api/v1/batches", json=batch(sent) | {"centre_id": device["centre_id"]}).raise_for_status()
    engine = store.create_engine(guarded_hub.db_url)
    with engine.connect() as conn:
        owners = (
            conn.execute(sa.select(store.events.c.centre_id).where(store.events.c.event_id == sent["id"]))
            .scalars()
            .all()
        )
    engine.dispose()
    assert owners == [device["centre_id"]]


# ---------------------------------------------------------------- bodies


def test_a_body_over_the_limit_is_refused_and_says_the_limit(guarded_hub, api):
    before = snapshot(guarded_hub.db_url)
    events = [visit(reason="x" * 60) for _ in range(300)]
    answer = api.post("/api/v1/batches", content=json.dumps(batch(*events)).encode())
    body = assert_refused(answer, 413, "body")
    assert str(MAX_BODY) in body["error"]
    assert snapshot(guarded_hub.db_url) == before


def test_a_streamed_body_over_the_limit_is_refused(api):
    def chunks():  # no Content-Length: the hub must count as it reads
        yield b'{"protocol": "1.0", "events": ['
        for _ in range(200):
            yield b'{"id": "' + b"0" * 1000 + b'"},'
        yield b"]}"

    assert_refused(api.post("/api/v1/batches", content=chunks()), 413, "body")


def test_a_gzip_bomb_is_refused_without_eating_memory(guarded_hub, api):
    pid = guarded_hub.process.pid
    bomb = gzip.compress(b" " * (60 * 1024 * 1024), compresslevel=9)  # 60 MiB in ~60 KiB
    assert len(bomb) < MAX_BODY
    answer = api.post("/api/v1/batches", content=bomb, headers={"Content-Encoding": "gzip"})
    assert_refused(answer, 413, "body")
    assert "decompressed" in answer.json()["error"]
    peak_kib = int(
        next(
            line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
        ).split()[1]
    )
    assert peak_kib < 300 * 1024, f"the hub's memory peaked at {peak_kib // 1024} MiB"


@pytest.mark.parametrize(
    "content, encoding, status",
    [
        (b"{not json", None, 400),
        (b"\xff\xfe\x00garbage", None, 400),
        (b"[1, 2, 3]", None, 400),
        (b"[" * 30_000 + b"]" * 30_000, None, 400),
        (b"not gzip at all", "gzip", 400),
        (gzip.compress(b'{"protocol": "1.0", "events": []}', mtime=0)[:-12], "gzip", 400),
        (b'{"protocol": "1.0", "events": []}', "br", 415),
        (b'{"protocol": "1.0", "events": []}', "deflate, gzip", 415),
    ],
)
def test_malformed_bodies_are_refused(guarded_hub, api, content, encoding, status):
    before = snapshot(guarded_hub.db_url)
    headers = {"Content-Encoding": encoding} if encoding else {}
    assert_refused(api.post("/api/v1/batches", content=content, headers=headers), status)
    assert snapshot(guarded_hub.db_url) == before


@pytest.mark.parametrize(
    "envelope, field",
    [
        ({"protocol": "2.0", "events": []}, "protocol"),
        ({"protocol": "one", "events": []}, "protocol"),
        ({"events": []}, "protocol"),
        ({"protocol": "1.0"}, "events"),
        ({"protocol": "1.0", "events": {"a": 1}}, "events"),
    ],
)
def test_a_bad_envelope_is_refused_naming_the_field(guarded_hub, api, envelope, field):
    before = snapshot(guarded_hub.db_url)
    assert_refused(api.post("/api/v1/batches", json=envelope), 400, field)
    assert snapshot(guarded_hub.db_url) == before


def test_too_many_events_in_a_batch_are_refused(guarded_hub, api):
    body = assert_refused(
        api.post("/api/v1/batches", json=batch(*[visit() for _ in range(21)])), 400, "events"
    )
    assert "at most 20" in body["error"]


def test_a_newer_minor_version_is_accepted(api):
    answer = api.post("/api/v1/batches", json={"protocol": "1.7", "events": [visit()], "future": True})
    assert answer.status_code == 200


def test_events_carrying_personal_data_are_refused(api):
    leaky = visit()
    leaky["data"]["last_name"] = "Martin"
    answer = api.post("/api/v1/batches", json=batch(leaky)).json()
    assert answer["stored"] == []
    assert "data.last_name" in answer["rejected"][0]["reason"]


def test_every_answer_carries_the_hub_header(guarded_hub):
    with guarded_hub.client() as client:
        for answer in (client.get("/nowhere"), client.put("/api/v1/batches"), client.get("/api/v1/health")):
            assert answer.headers[protocol.HUB_HEADER] == "1"
            assert answer.status_code < 500


# ---------------------------------------------------------------- load


def test_too_many_requests_from_one_device_get_429(hub_server):
    hub = hub_server(rate_limit=3)
    device = hub.new_device()
    with hub.client(device["device_token"]) as client:
        statuses = [client.get("/api/v1/status") for _ in range(5)]
    assert [a.status_code for a in statuses[:3]] == [200, 200, 200]
    refused = assert_refused(statuses[4], 429)
    assert int(statuses[4].headers["Retry-After"]) >= 1
    assert "too many requests" in refused["error"]


@pytest.mark.slow
def test_a_locked_database_gives_503_and_stores_nothing(hub_server, tmp_path):
    hub = hub_server()
    device = hub.new_device()
    path = hub.db_url.removeprefix("sqlite:///")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    try:
        started = time.monotonic()
        with hub.client(device["device_token"]) as client:
            answer = client.post("/api/v1/batches", json=batch(visit()))
    finally:
        release.set()
        holder.join()
    assert_refused(answer, 503)
    assert answer.headers["Retry-After"]
    assert time.monotonic() - started < 20
    with hub.client(device["device_token"]) as client:
        assert client.get("/api/v1/status").json()["events_total"] == 0
