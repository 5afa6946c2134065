"""The hub's relay between a centre's devices (federation/relay.py), against
a real `federation serve` process: blobs sealed on the devices
(sync/envelope.py) go through it unread, each centre's apart, and what it
keeps stays bounded."""

from __future__ import annotations

import ast
import base64
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from federation import centres, relay, store
from kiosk.core import demo
from sync import envelope, protocol
from sync.clock import utc_now
from sync.envelope import DeviceKeys, Header, Keyring
from sync.replication import HybridClock, make_change

pytest_plugins = ["tests.conftest_hub"]


class Device:
    """One enrolled device of a centre, with its own key pair and the centre's keyring."""

    def __init__(self, hub, answer: dict, keyring: Keyring):
        self.hub, self.keyring, self.keys = hub, keyring, DeviceKeys.new()
        self.id, self.token, self.centre = answer["device_id"], answer["device_token"], answer["centre_id"]
        self.seq = 0
        self.http = hub.client(self.token)

    def seal(self, payload, kind: str = "changes") -> bytes:
        header = Header(kind, self.centre, self.id, self.seq, self.keyring.current)
        self.seq += 1
        return envelope.seal(self.keyring, self.keys, header, payload)

    def upload(self, payload) -> httpx.Response:
        return self.http.post(
            "/api/v1/relay/blobs",
            content=self.seal(payload),
            headers={"Content-Type": "application/octet-stream"},
        )

    def fetch(self, after: int = 0) -> dict:
        response = self.http.get("/api/v1/relay/blobs", params={"after": after})
        assert response.status_code == 200, response.text
        return response.json()

    def ack(self, through: int) -> httpx.Response:
        return self.http.post("/api/v1/relay/ack", json={"through": through})


def second_code(hub, centre_id: str) -> str:
    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            return centres.new_code(conn, centre_id)
    finally:
        engine.dispose()


def revoke(hub, device_id: str) -> None:
    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            assert centres.revoke_device(conn, device_id)
    finally:
        engine.dispose()


def usage(hub, centre_id: str) -> dict:
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return relay.usage(conn, centre_id)
    finally:
        engine.dispose()


def new_centre(hub, devices: int = 2, name: str = "Centre social Les Tilleuls") -> list[Device]:
    centre_id, code = hub.add_centre(name)
    keyring = Keyring.new()
    enrolled = [Device(hub, hub.enrol(code), keyring)]
    for _ in range(devices - 1):
        enrolled.append(Device(hub, hub.enrol(second_code(hub, centre_id)), keyring))
    return enrolled


def verify_keys(*devices: Device) -> dict[str, bytes]:
    return {device.id: bytes(device.keys.verify_key) for device in devices}


# ---------------------------------------------------------------- exchange


def test_a_centre_s_devices_exchange_sealed_blobs_through_the_relay(hub_server, hub_db_url):
    hub = hub_server(hub_db_url)
    reception, tablet = new_centre(hub)
    payloads = [{"changes": [f"change {n}"]} for n in range(3)]
    stored = [reception.upload(payload).json() for payload in payloads]
    assert [s["duplicate"] for s in stored] == [False] * 3
    page = tablet.fetch()
    assert [b["seq"] for b in page["blobs"]] == [s["seq"] for s in stored]
    assert page["cursor"] == stored[-1]["seq"] and not page["more"] and not page["restart"]
    opened = [
        envelope.open_blob(
            base64.b64decode(b["blob"]), tablet.keyring, verify_keys(reception), tablet.centre
        )[1]
        for b in page["blobs"]
    ]
    assert opened == payloads
    # a device is not handed its own blobs, but its cursor moves past them
    own = reception.fetch()
    assert own["blobs"] == [] and own["cursor"] == stored[-1]["seq"]
    # fetched again after the cursor: nothing new
    assert tablet.fetch(page["cursor"])["blobs"] == []


def test_an_upload_sent_again_is_stored_once(shared_hub):
    reception, tablet = new_centre(shared_hub)
    blob = reception.seal({"changes": []})
    first, again = (reception.http.post("/api/v1/relay/blobs", content=blob).json() for _ in range(2))
    assert first == {"seq": first["seq"], "duplicate": False}
    assert again == {"seq": first["seq"], "duplicate": True}
    assert len(tablet.fetch()["blobs"]) == 1


def test_the_same_counter_with_another_content_is_a_conflict(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    reception.upload({"changes": ["one"]})
    reception.seq = 0
    response = reception.upload({"changes": ["other"]})
    assert response.status_code == 409 and "another content" in response.json()["error"]


def test_a_page_is_bounded_and_says_there_is_more(shared_hub):
    reception, tablet = new_centre(shared_hub)
    for n in range(5):
        reception.upload({"changes": [n]})
    response = tablet.http.get("/api/v1/relay/blobs", params={"after": 0, "limit": 2})
    page = response.json()
    assert len(page["blobs"]) == 2 and page["more"]
    rest = tablet.fetch(page["cursor"])
    assert len(rest["blobs"]) == 3 and not rest["more"]


# ---------------------------------------------------------------- scope and auth


def test_a_device_of_centre_a_can_neither_read_nor_write_centre_b_s_relay(shared_hub):
    (a,) = new_centre(shared_hub, devices=1, name="Centre A")
    (b,) = new_centre(shared_hub, devices=1, name="Centre B")
    a.upload({"changes": ["A's"]})
    snapshot = a.seal({"rows": []}, kind="snapshot")
    assert a.http.put("/api/v1/relay/snapshot", params={"through": 0}, content=snapshot).status_code == 200
    # B reads its own centre's relay only: empty, and no snapshot
    assert b.fetch()["blobs"] == []
    assert b.http.get("/api/v1/relay/snapshot").status_code == 404
    # a blob naming centre A, sealed and signed by B, is refused
    b.centre = a.centre
    refused = b.upload({"changes": ["into A"]})
    assert refused.status_code == 403 and refused.json()["field"] == "body"
    # and one naming A's device too
    b.id = a.id
    assert b.upload({"changes": ["as A's device"]}).status_code == 403
    assert (
        b.http.put(
            "/api/v1/relay/snapshot", params={"through": 0}, content=b.seal({}, "snapshot")
        ).status_code
        == 403
    )
    assert usage(shared_hub, a.centre)["blobs"] == 1


def test_a_revoked_device_gets_401_everywhere(shared_hub):
    reception, tablet = new_centre(shared_hub)
    reception.upload({"changes": []})
    revoke(shared_hub, tablet.id)
    calls = [
        tablet.http.get("/api/v1/relay/blobs"),
        tablet.upload({"changes": []}),
        tablet.ack(1),
        tablet.http.get("/api/v1/relay/snapshot"),
        tablet.http.put("/api/v1/relay/snapshot", params={"through": 0}, content=tablet.seal({}, "snapshot")),
    ]
    assert [call.status_code for call in calls] == [401] * 5
    assert shared_hub.client().get("/api/v1/relay/blobs").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not a blob at all", 400, "not a replication blob"),
        (b"", 400, "not a replication blob"),
        ("snapshot", 400, "where a changes blob goes"),
    ],
)
def test_what_is_not_a_changes_blob_is_refused(shared_hub, body, status, says):
    (reception,) = new_centre(shared_hub, devices=1)
    if body == "snapshot":
        body = reception.seal({}, kind="snapshot")
    response = reception.http.post("/api/v1/relay/blobs", content=body)
    assert response.status_code == status and says in response.json()["error"]
    assert usage(shared_hub, reception.centre)["blobs"] == 0


def test_a_blob_over_the_size_limit_is_refused(hub_server, monkeypatch):
    monkeypatch.setenv("FEDERATION_RELAY_MAX_BLOB_BYTES", "4096")
    hub = hub_server()
    (reception,) = new_centre(hub, devices=1)
    big = {"changes": [base64.b64encode(os.urandom(8000)).decode()]}  # sealed, it stays that big
    response = reception.upload(big)
    assert response.status_code == 413
    assert usage(hub, reception.centre)["blobs"] == 0


@pytest.mark.parametrize("through", [-1, 2**53, "x"])
def test_an_acknowledgement_out_of_range_is_refused(shared_hub, through):
    (reception,) = new_centre(shared_hub, devices=1)
    assert reception.ack(through).status_code == 400


def test_an_acknowledgement_past_the_newest_blob_is_refused(shared_hub):
    reception, tablet = new_centre(shared_hub)
    seq = reception.upload({"changes": []}).json()["seq"]
    response = tablet.ack(seq + 1)
    assert response.status_code == 400 and response.json()["field"] == "through"


# ---------------------------------------------------------------- what the relay keeps


def test_a_blob_every_active_device_acknowledged_is_dropped(shared_hub):
    reception, tablet, laptop = new_centre(shared_hub, devices=3)
    seqs = [reception.upload({"changes": [n]}).json()["seq"] for n in range(3)]
    assert tablet.ack(seqs[-1]).json() == {"through": seqs[-1], "dropped": 0}
    assert usage(shared_hub, reception.centre)["blobs"] == 3
    reception.ack(seqs[-1])
    # the laptop is gone: revoked, it no longer holds the blobs back
    revoke(shared_hub, laptop.id)
    assert tablet.ack(seqs[-1]).json()["dropped"] == 3
    assert usage(shared_hub, reception.centre) == {"blobs": 0, "bytes": 0, "snapshot_bytes": 0}


def test_storage_stays_bounded_as_devices_come_and_go(shared_hub):
    devices = new_centre(shared_hub, devices=2)
    centre_id, silent = devices[0].centre, None
    for round_ in range(6):
        # a device comes; everyone talking uploads a blob
        devices.append(
            Device(shared_hub, shared_hub.enrol(second_code(shared_hub, centre_id)), devices[0].keyring)
        )
        for device in devices:
            device.upload({"changes": [f"round {round_} from {device.id}"]})
        uploaded = len(devices)
        # last round's silent device is revoked; the oldest falls silent, still enrolled
        if silent is not None:
            revoke(shared_hub, silent.id)
        silent = devices.pop(0)
        for device in devices:
            page = device.fetch()
            while page["more"]:
                page = device.fetch(page["cursor"])
            device.ack(page["cursor"])
        # held: only this round's blobs, which the silent device has not acknowledged
        assert usage(shared_hub, centre_id)["blobs"] == uploaded, f"round {round_}"
    revoke(shared_hub, silent.id)
    devices[0].ack(devices[0].fetch()["cursor"])
    assert usage(shared_hub, centre_id) == {"blobs": 0, "bytes": 0, "snapshot_bytes": 0}


def test_the_centre_s_quota_refuses_more_until_its_devices_catch_up(hub_server, monkeypatch):
    monkeypatch.setenv("FEDERATION_RELAY_QUOTA_BYTES", "3000")
    hub = hub_server()
    reception, tablet = new_centre(hub)
    statuses = [
        reception.upload({"changes": [base64.b64encode(os.urandom(300)).decode()]}).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 200 and statuses[-1] == 413
    assert usage(hub, reception.centre)["bytes"] <= 3000
    tablet.ack(tablet.fetch()["cursor"])
    reception.ack(reception.fetch()["cursor"])
    assert reception.upload({"changes": ["again"]}).status_code == 200


def test_blobs_older_than_the_keep_days_are_dropped_and_a_late_device_restarts(tmp_path):
    engine = store.open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    limits = relay.Limits()
    with store.writer(engine) as conn, conn.begin():
        centre_id, code = centres.add_centre(conn, "Centre")
        answer = centres.enrol(conn, code, "Borne")
        late = centres.enrol(conn, centres.new_code(conn, centre_id), "Portable")
    device = centres.Device(answer["device_id"], centre_id, "Centre", "Borne")
    late_device = centres.Device(late["device_id"], centre_id, "Centre", "Portable")
    keys, keyring = DeviceKeys.new(), Keyring.new()
    long_ago = utc_now() - timedelta(days=31)
    with store.writer(engine) as conn, conn.begin():
        for seq in range(3):
            raw = envelope.seal(
                keyring, keys, Header("changes", centre_id, device.id, seq, keyring.current), {}
            )
            relay.store_blob(conn, device, raw, limits, now=long_ago + timedelta(hours=seq))
        assert relay.prune(conn, centre_id, limits, now=long_ago + timedelta(days=1)) == 0
        assert relay.prune(conn, centre_id, limits) == 3
    with engine.connect() as conn:
        page = relay.fetch_blobs(conn, late_device, 0, 100, limits)
        assert page["blobs"] == [] and page["restart"]
        assert relay.usage(conn, centre_id)["blobs"] == 0
    # a centre whose devices went quiet: the daily upkeep drops its old blobs
    with store.writer(engine) as conn, conn.begin():
        raw = envelope.seal(keyring, keys, Header("changes", centre_id, device.id, 9, keyring.current), {})
        relay.store_blob(conn, device, raw, limits, now=long_ago)
    assert relay.prune_all(engine, limits, now=long_ago + timedelta(days=29)) == 0
    assert relay.prune_all(engine, limits) == 1
    engine.dispose()


def test_a_joining_device_starts_from_the_snapshot(shared_hub):
    reception, tablet = new_centre(shared_hub)
    first = reception.upload({"changes": ["before"]}).json()["seq"]
    snapshot = reception.seal({"rows": {"members": {}}}, kind="snapshot")
    answer = reception.http.put("/api/v1/relay/snapshot", params={"through": first}, content=snapshot)
    assert answer.json() == {"through": first, "kept": True, "dropped": 0}
    after = reception.upload({"changes": ["after"]}).json()["seq"]
    got = tablet.http.get("/api/v1/relay/snapshot")
    assert got.status_code == 200 and got.content == snapshot
    assert int(got.headers["X-Relay-Through"]) == first
    header, payload = envelope.open_blob(got.content, tablet.keyring, verify_keys(reception), tablet.centre)
    assert header.kind == "snapshot" and payload == {"rows": {"members": {}}}
    assert [b["seq"] for b in tablet.fetch(first)["blobs"]] == [after]
    # a snapshot cannot claim to cover blobs that do not exist yet
    later = reception.seal({}, kind="snapshot")
    assert (
        reception.http.put("/api/v1/relay/snapshot", params={"through": after + 5}, content=later).status_code
        == 400
    )


# ---------------------------------------------------------------- what the hub can read


def demo_members(count: int = 60) -> list[dict]:
    # names of 4 bytes or more (a 3-letter one would turn up in random bytes by chance)
    firsts = [name for name in demo.WOMEN + demo.MEN if len(name.encode()) >= 4]
    lasts = [name for name in demo.LAST_NAMES if len(name.encode()) >= 4]
    people = []
    for n in range(count):
        first, last = firsts[n % len(firsts)], lasts[(n * 7) % len(lasts)]
        people.append(
            {
                "first_name": first,
                "last_name": last,
                "phone": f"+3361234{n:04d}",
                "email": f"{first.lower()}.{last.lower()}{n}@exemple.fr",
                "card_code": f"K7QM{n:04d}",
                "created_at": "2026-12-01T08:00:00.000Z",
            }
        )
    return people


def test_the_hub_s_database_holds_no_name_in_clear(hub_server, hub_db_url):
    hub = hub_server(hub_db_url)
    reception, tablet = new_centre(hub)
    clock = HybridClock(reception.id)
    people = demo_members()
    changes = [make_change(clock, "members", protocol.new_id(), fields).to_json() for fields in people]
    for start in range(0, len(changes), 10):
        assert reception.upload({"changes": changes[start : start + 10]}).status_code == 200
    snapshot = reception.seal({"changes": changes}, kind="snapshot")
    assert (
        reception.http.put("/api/v1/relay/snapshot", params={"through": 1}, content=snapshot).status_code
        == 200
    )
    # exact bytes, case kept: random ciphertext matching a name of 4 bytes or
    # more by chance is far rarer than one in a thousand runs
    secrets = {value.encode() for person in people for key, value in person.items() if key != "created_at"}
    assert min(len(s) for s in secrets) >= 4
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            searched = 0
            for table in tables.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for column, value in row._mapping.items():
                        if isinstance(value, str | bytes | memoryview):
                            text = bytes(value) if not isinstance(value, str) else value.encode()
                            searched += 1
                            found = [s for s in secrets if s in text]
                            assert not found, f"{table.name}.{column} holds {found[:3]}"
    finally:
        engine.dispose()
    assert searched > 20 and "relay_blobs" in tables.tables and "relay_snapshots" in tables.tables
    # the names are there, sealed: the centre's devices read them back
    page = tablet.fetch()
    opened = [
        change["fields"]["last_name"]
        for blob in page["blobs"]
        for change in envelope.open_blob(
            base64.b64decode(blob["blob"]), tablet.keyring, verify_keys(reception), tablet.centre
        )[1]["changes"]
    ]
    assert opened == [person["last_name"] for person in people]


def test_the_hub_holds_nothing_that_opens_a_centre_s_blobs():
    """The hub signs its own publications (Ed25519) but never loads what opens
    a centre's blobs: no envelope, no secret box, no sealed box, no private
    key of a centre's."""
    code = (
        "import sys, federation.relay, federation.app, federation.cli; "
        "print(sorted(m for m in sys.modules if m in ('sync.envelope', 'nacl.secret')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for path in Path("federation").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = {alias.name for alias in node.names}
                module = getattr(node, "module", None) or ""
                imported = {module, *(f"{module}.{n}" if module else n for n in names)}
                assert not imported & {"sync.envelope", "nacl.secret", "nacl.public"}, path
                assert not names & {"envelope", "SecretBox", "SealedBox", "PrivateKey", "Box"}, path


# ---------------------------------------------------------------- pairing


def test_an_invite_is_its_centre_s_only_and_used_once(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1, name="Centre A")
    (other,) = new_centre(shared_hub, devices=1, name="Centre B")
    made = reception.http.post("/api/v1/relay/invites").json()
    assert set(made) == {"invite_id", "code", "expires_at", "short_code"}
    assert made["short_code"] is None  # the inviter gave no key: the QR code only
    newcomer = Device(shared_hub, shared_hub.enrol(made["code"]), reception.keyring)
    assert newcomer.centre == reception.centre
    key = bytes(newcomer.keys.verify_key).hex()
    path = f"/api/v1/relay/invites/{made['invite_id']}"
    # another centre's device cannot see it, join it, or hand a key over
    assert other.http.get(path).status_code == 404
    assert other.http.post(path + "/join", json={"verify_key": key}).status_code == 404
    assert other.http.post(path + "/keyring", content=b"x").status_code == 404
    # the inviter cannot hand over before anyone joined, nor join its own invite
    assert reception.http.post(path + "/keyring", content=b"x").status_code == 409
    assert reception.http.post(path + "/join", json={"verify_key": key}).status_code == 409
    assert newcomer.http.post(path + "/join", json={"verify_key": "not hex"}).status_code == 400
    assert newcomer.http.post(path + "/join", json={"verify_key": key}).json() == {"inviter_id": reception.id}
    assert newcomer.http.post(path + "/join", json={"verify_key": key}).status_code == 200  # said again
    # a third device of the centre cannot take the invite over, nor read it
    third = Device(shared_hub, shared_hub.enrol(second_code(shared_hub, reception.centre)), reception.keyring)
    assert third.http.post(path + "/join", json={"verify_key": key}).status_code == 409
    assert third.http.get(path).status_code == 403
    assert third.http.post(path + "/keyring", content=b"x").status_code == 403
    # the inviter hands the sealed keyring over; only the joiner opens it
    sealed = envelope.seal_keyring(reception.keyring, bytes(newcomer.keys.verify_key))
    assert reception.http.post(path + "/keyring", content=sealed).status_code == 200
    state = newcomer.http.get(path).json()
    assert state["joiner_id"] == newcomer.id and state["joiner_key"] == key
    opened = envelope.open_keyring(base64.b64decode(state["sealed"]), newcomer.keys)
    assert opened.to_json() == reception.keyring.to_json()
    # and a revoked device's token opens nothing
    revoke(shared_hub, newcomer.id)
    assert newcomer.http.get(path).status_code == 401
    assert newcomer.http.post("/api/v1/relay/invites").status_code == 401


def test_an_invite_s_code_lasts_ten_minutes(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    made = reception.http.post("/api/v1/relay/invites").json()
    engine = store.create_engine(shared_hub.db_url)
    with engine.connect() as conn:
        codes = store.enrolment_codes.c
        row = conn.execute(
            sa.select(codes.created_at, codes.expires_at).where(
                codes.code_hash == centres.sha256(centres.normalise_code(made["code"]))
            )
        ).one()
    engine.dispose()
    created, expires = (protocol.parse_utc(text) for text in row)
    assert expires - created == timedelta(minutes=10)
    assert made["expires_at"] == row.expires_at


def test_the_hub_s_daily_upkeep_empties_the_relay_of_a_centre_gone_quiet(hub_server, hub_db_url):
    """Blobs go through a real hub; then its devices stop talking. The
    upkeep the hub runs daily drops what every active device has (after a
    revocation nobody acknowledges again) and, later, what is past its days."""
    from federation import retention

    hub = hub_server(hub_db_url)
    reception, tablet, laptop = new_centre(hub, devices=3)
    last = [reception.upload({"changes": [f"change {n}"]}).json()["seq"] for n in range(3)][-1]
    reception.ack(last)
    tablet.ack(tablet.fetch()["cursor"])  # the tablet has them all; the laptop none
    (other,) = new_centre(hub, devices=1, name="Centre social du Port")
    assert other.upload({"changes": ["a change nobody else will fetch"]}).status_code == 200
    revoke(hub, laptop.id)  # at the hub's page: no device speaks afterwards
    assert usage(hub, reception.centre)["blobs"] == 3  # nothing pruned them yet

    engine = store.create_engine(hub.db_url)
    try:
        retention.upkeep(engine, None, relay.Limits())
        assert usage(hub, reception.centre)["blobs"] == 0  # every active device has them
        assert usage(hub, other.centre)["blobs"] == 1  # its one device never acknowledged
        retention.upkeep(engine, None, relay.Limits(), now=utc_now() + timedelta(days=29))
        assert usage(hub, other.centre)["blobs"] == 1
        retention.upkeep(engine, None, relay.Limits(), now=utc_now() + timedelta(days=31))
        assert usage(hub, other.centre)["blobs"] == 0
    finally:
        engine.dispose()
    # the hub still serves the centre as before
    assert reception.upload({"changes": ["after the upkeep"]}).status_code == 200


def test_every_hub_runs_the_daily_upkeep_while_it_serves(tmp_path, monkeypatch):
    from federation import app as hub_app

    monkeypatch.setenv("FEDERATION_DB", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.delenv("FEDERATION_RETENTION_MONTHS", raising=False)
    monkeypatch.setenv("FEDERATION_PARENT_INTERVAL", "0")
    served = hub_app.app_from_environment()
    try:
        assert served.state.events_upkeep._thread.is_alive()  # on SQLite and with no retention too
    finally:
        served.state.events_upkeep.stop()
