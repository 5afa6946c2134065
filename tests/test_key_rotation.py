"""The centre's key after a device is revoked, and the snapshots the
devices keep fresh on the hub (kiosk/core/key_rotation.py, kiosk.syncing,
federation/relay.py), with three kiosks and a real hub process."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa

from federation import centres, store
from kiosk import syncing
from kiosk.core import key_rotation, replication
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import blob, client, envelope, relay_client
from tests.test_kiosk_replication import enrolled_kiosk, second_kiosk

pytest_plugins = ["tests.conftest_hub"]


def join_all(paths: list[str]) -> None:
    """The centre's first device's keyring on every other, each knowing the
    others' verify keys (what `kiosk join` leaves)."""
    with Store.open(paths[0]) as first:
        ring = replication.keyring(first)
    for path in paths[1:]:
        with Store.open(path) as kiosk:
            device_id = replication.device_id(kiosk)
            with kiosk.transaction():
                kiosk.conn.execute("DELETE FROM replication_device")
            replication.set_up(kiosk, keyring=ring, device_id=device_id)
    keys = {}
    for path in paths:
        with Store.open(path) as kiosk:
            keys[replication.device_id(kiosk)] = bytes(replication.keys(kiosk).verify_key)
    for path in paths:
        with Store.open(path) as kiosk:
            own = replication.device_id(kiosk)
            for device_id, key in keys.items():
                if device_id != own:
                    replication.add_peer(kiosk, device_id, key)


@pytest.fixture
def trio(shared_hub, tmp_path):
    """Three kiosks of one centre: the reception, the tablet and the laptop.
    Returns (paths, centre id)."""
    centre_id, code = shared_hub.add_centre("Centre social Les Tilleuls")
    paths = [enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)]
    paths += [second_kiosk(shared_hub, centre_id, tmp_path / f"{name}.db") for name in ("tablet", "laptop")]
    join_all(paths)
    return paths, centre_id


def device_of(path: str) -> str:
    with Store.open(path) as kiosk:
        return replication.device_id(kiosk) or ""


def ring_of(path: str) -> envelope.Keyring:
    with Store.open(path) as kiosk:
        return replication.keyring(kiosk)


def revoke(hub, path: str) -> None:
    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            assert centres.revoke_device(conn, device_of(path))
    finally:
        engine.dispose()


def relay_held(hub, centre_id: str) -> tuple[list[bytes], bytes | None]:
    """Every blob and the snapshot the hub's relay holds for the centre, read
    from its database."""
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            blobs = [
                bytes(row[0])
                for row in conn.execute(
                    sa.select(store.relay_blobs.c.blob).where(store.relay_blobs.c.centre_id == centre_id)
                )
            ]
            snapshot = conn.execute(
                sa.select(store.relay_snapshots.c.blob).where(store.relay_snapshots.c.centre_id == centre_id)
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    return blobs, None if snapshot is None else bytes(snapshot)


def peers_with_self(path: str) -> dict[str, bytes]:
    with Store.open(path) as kiosk:
        known = {
            d: bytes(k) for d, k in kiosk.conn.execute("SELECT device_id, verify_key FROM replication_peers")
        }
        known[replication.device_id(kiosk) or ""] = bytes(replication.keys(kiosk).verify_key)
    return known


def register(path: str, first: str, last: str) -> str:
    with Centre.open(path) as centre:
        return centre.members.register(first, last, consent_data=True)["id"]


def names(path: str) -> set[str]:
    with Store.open(path) as kiosk:
        return {
            f"{row['first_name']} {row['last_name']}"
            for row in kiosk.query("SELECT first_name, last_name FROM members WHERE erased_at IS NULL")
        }


def test_revoking_a_device_rotates_the_key_and_it_reads_nothing_sealed_after(trio, shared_hub):
    (reception, tablet, laptop), centre_id = trio
    register(reception, "Aïcha", "Benali")
    for path in (reception, tablet, laptop):
        syncing.replicate_once(path)
    old = ring_of(reception).current
    stolen = ring_of(laptop)  # what the laptop (lost, say) holds

    revoke(shared_hub, laptop)
    # the revoked device is stopped at the hub
    with pytest.raises(client.SyncError):
        syncing.replicate_once(laptop)
    # the first remaining device to hear of it rotates, the other adopts
    register(reception, "Bernard", "Ollivier")
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    new = ring_of(reception).current
    assert new != old and ring_of(tablet).current == new
    assert old in ring_of(tablet).keys  # what was sealed before still opens
    assert names(tablet) == {"Aïcha Benali", "Bernard Ollivier"}
    with Store.open(tablet) as kiosk:  # the staff's list of the centre's devices leaves it out
        listed = [device["device_id"] for device in replication.overview(kiosk)["devices"]]
    assert listed == [device_of(reception)]

    register(tablet, "Chloé", "Dufresne")
    syncing.replicate_once(tablet)
    syncing.replicate_once(reception)
    assert "Chloé Dufresne" in names(reception)

    # what the relay holds now: everything sealed after the rotation is out of the laptop's reach
    blobs, snapshot = relay_held(shared_hub, centre_id)
    after = [raw for raw in [*blobs, snapshot] if raw is not None and blob.read_header(raw).key == new]
    assert after, "nothing sealed with the new key reached the relay"
    devices = peers_with_self(reception)
    for raw in after:
        with pytest.raises(envelope.UnknownKey):
            envelope.open_blob(raw, stolen, devices, centre_id)
        header, payload = envelope.open_blob(raw, ring_of(tablet), devices, centre_id)
        assert header.key == new and payload
    # the laptop was sealed nothing: the rotation does not name it
    state = relay_client.keys(shared_hub.url, token_of(tablet), 0)
    assert state["epoch"] == 1 and not state["rotate"] and device_of(laptop) not in state["active"]
    (rotation,) = state["rotations"]
    assert device_of(laptop) not in json.loads(rotation["body"])["sealed"]
    # and what the laptop makes is refused by the hub
    assert (
        httpx.get(
            f"{shared_hub.url}/api/v1/relay/keys", headers={"Authorization": f"Bearer {token_of(laptop)}"}
        )
    ).status_code == 401


def token_of(path: str) -> str:
    with Store.open(path) as kiosk:
        return str(Settings(kiosk).get("device_token"))


def test_two_devices_rotating_at_once_end_with_the_same_key(trio, shared_hub):
    (reception, tablet, laptop), centre_id = trio
    with Store.open(reception) as kiosk:  # nobody revoked yet: no rotation is due
        early = key_rotation.make_rotation(kiosk, centre_id, 0, [device_of(tablet), device_of(laptop)])
    with pytest.raises(client.SyncError):
        relay_client.post_rotation(shared_hub.url, token_of(reception), early)
    revoke(shared_hub, laptop)
    # both heard of the revocation and made a key before either posted
    state = relay_client.keys(shared_hub.url, token_of(reception), 0)
    assert state["rotate"] and state["epoch"] == 1
    bodies = {}
    for path in (tablet, reception):
        with Store.open(path) as kiosk:
            bodies[path] = key_rotation.make_rotation(kiosk, centre_id, state["epoch"], state["active"])
    answers = [
        relay_client.post_rotation(shared_hub.url, token_of(p), bodies[p]) for p in (tablet, reception)
    ]
    assert [a["accepted"] for a in answers] == [True, False]
    # the same body again is the same rotation (a retry after a lost answer)
    assert relay_client.post_rotation(shared_hub.url, token_of(tablet), bodies[tablet])["accepted"]
    register(reception, "Denise", "Morel")
    for path in (reception, tablet, reception):
        syncing.replicate_once(path)
    kept = json.loads(bodies[tablet])["key_id"]
    assert ring_of(reception).current == ring_of(tablet).current == kept
    assert "Denise Morel" in names(tablet)
    # a rotation for an epoch gone by, or sealed to the revoked device, is refused
    with Store.open(reception) as kiosk:
        stale = key_rotation.make_rotation(kiosk, centre_id, 0, state["active"])
        to_revoked = key_rotation.make_rotation(kiosk, centre_id, 1, [*state["active"], device_of(laptop)])
    for body in (stale, to_revoked):
        with pytest.raises(client.SyncError):
            relay_client.post_rotation(shared_hub.url, token_of(reception), body)


def test_a_tampered_rotation_is_refused_and_reported_never_adopted(trio, shared_hub):
    (reception, tablet, laptop), centre_id = trio
    revoke(shared_hub, laptop)
    state = relay_client.keys(shared_hub.url, token_of(reception), 0)
    with Store.open(reception) as kiosk:
        body = json.loads(key_rotation.make_rotation(kiosk, centre_id, 1, state["active"]))
    body["key_id"] = "0" * 16  # the hub cannot tell; the devices can
    forged = json.dumps(body).encode()
    assert relay_client.post_rotation(shared_hub.url, token_of(reception), forged)["accepted"]
    before = ring_of(tablet).current
    syncing.replicate_once(tablet)
    assert ring_of(tablet).current == before
    with Store.open(tablet) as kiosk:
        assert any("TamperedBlob" in row["reason"] for row in replication.refused(kiosk))


def test_after_an_erasure_nothing_on_the_relay_reveals_the_name(trio, shared_hub):
    (reception, tablet, laptop), centre_id = trio
    member_id = register(reception, "Zoubida", "Quennehen")
    register(reception, "Yves", "Lantier")
    for path in (reception, tablet, laptop):
        syncing.replicate_once(path)
    # the laptop stays away (it has not acknowledged what follows); the tablet edits her
    with Centre.open(tablet) as centre:
        centre.members.update(member_id, phone="07 00 00 00 01")
    syncing.replicate_once(tablet)
    syncing.replicate_once(reception)
    with Centre.open(reception) as centre:
        centre.privacy.erase(member_id, None)
    assert syncing.replicate_once(reception)["snapshot"]

    blobs, snapshot = relay_held(shared_hub, centre_id)
    assert snapshot is not None
    ring, devices = ring_of(reception), peers_with_self(reception)
    opened = []
    for raw in [*blobs, snapshot]:
        _header, payload = envelope.open_blob(raw, ring, devices, centre_id)
        opened.append(json.dumps(payload, ensure_ascii=False))
    held = "\n".join(opened)
    assert "Lantier" in held  # the snapshot holds the centre, opened with its key
    assert "Zoubida" not in held and "Quennehen" not in held and "0700000001" not in held

    # the laptop, behind the blobs dropped, starts again from the snapshot
    ended = syncing.replicate_once(laptop)
    assert ended["restart"]
    syncing.replicate_once(tablet)
    assert names(laptop) == {"Yves Lantier"} == names(tablet)
    with Store.open(laptop) as kiosk:
        row = kiosk.one("SELECT erased_at, first_name FROM members WHERE id = ?", (member_id,))
        assert row["erased_at"] is not None and row["first_name"] is None


def test_the_snapshot_is_refreshed_after_changes_or_a_day_and_the_newest_is_kept(
    trio, shared_hub, monkeypatch
):
    (reception, tablet, _laptop), centre_id = trio
    monkeypatch.setattr(key_rotation, "SNAPSHOT_CHANGES", 3)
    register(reception, "Aïcha", "Benali")
    assert syncing.replicate_once(reception)["snapshot"]  # none held yet
    assert not syncing.replicate_once(tablet)["snapshot"]  # fresh: none needed
    first = relay_client.get_snapshot(shared_hub.url, token_of(tablet))
    for n in range(3):
        register(tablet, "Personne", ["Alpha", "Bravo", "Charlie"][n])
    assert syncing.replicate_once(tablet)["snapshot"]  # three changes since
    second = relay_client.get_snapshot(shared_hub.url, token_of(reception))
    assert first is not None and second is not None and second[1] > first[1]
    _header, payload = envelope.open_blob(
        second[0], ring_of(reception), peers_with_self(reception), centre_id
    )
    assert "Charlie" in json.dumps(payload, ensure_ascii=False)
    # a day later, any device refreshes it
    with Store.open(reception) as kiosk:
        state = json.loads(
            kiosk.conn.execute(
                "SELECT value FROM sync_state WHERE key = ?", (key_rotation.SNAPSHOT_KEY,)
            ).fetchone()[0]
        )
        assert not key_rotation.snapshot_due(kiosk, {"through": second[1], "uploaded_at": kiosk.now_iso()})[0]
        assert key_rotation.snapshot_due(
            kiosk, {"through": second[1], "uploaded_at": "2000-01-01T00:00:00.000Z"}
        ) == (True, False)
        assert state["log"] >= 1
    # a snapshot covering less than the one held is not kept
    older = second[0]
    answer = relay_client.put_snapshot(shared_hub.url, token_of(tablet), older, first[1])
    assert answer == {"through": second[1], "kept": False, "dropped": 0}
    assert relay_client.get_snapshot(shared_hub.url, token_of(reception))[1] == second[1]


def test_rotation_and_purge_on_sqlite_and_postgresql(hub_server, hub_db_url, tmp_path):
    hub = hub_server(hub_db_url)
    centre_id, code = hub.add_centre("Centre social Les Tilleuls")
    paths = [enrolled_kiosk(hub, tmp_path / "reception.db", code)]
    paths += [second_kiosk(hub, centre_id, tmp_path / f"{name}.db") for name in ("tablet", "laptop")]
    join_all(paths)
    reception, tablet, laptop = paths
    member_id = register(reception, "Zoubida", "Quennehen")
    for path in paths:
        syncing.replicate_once(path)
    old = ring_of(reception).current
    revoke(hub, laptop)
    with Centre.open(reception) as centre:
        centre.privacy.erase(member_id, None)
    syncing.replicate_once(reception)
    syncing.replicate_once(tablet)
    assert ring_of(reception).current == ring_of(tablet).current != old
    blobs, snapshot = relay_held(hub, centre_id)
    assert blobs == [] and snapshot is not None  # the erasure's purge
    assert blob.read_header(snapshot).key == ring_of(reception).current
    with pytest.raises(envelope.UnknownKey):
        envelope.open_blob(
            snapshot,
            envelope.Keyring({old: ring_of(tablet).keys[old]}, old),
            peers_with_self(tablet),
            centre_id,
        )


def test_the_replay_guard_stays_bounded_after_a_snapshot_leaves_a_gap():
    # a device that started from a snapshot receives another device's blobs from seq 500 on
    guard = envelope.ReplayGuard()
    for seq in range(500, 700):
        header = blob.Header("changes", "c", "d", seq, "0" * 16)
        guard.check(header)
        guard.accept(header)
    assert guard.through["d"] == 699 and not guard.above["d"]
    with pytest.raises(envelope.ReplayedBlob):
        guard.check(blob.Header("changes", "c", "d", 650, "0" * 16))
    # a few missing in a row are still waited for
    for seq in (701, 703):
        guard.accept(blob.Header("changes", "c", "d", seq, "0" * 16))
    assert guard.through["d"] == 699 and guard.above["d"] == {701, 703} and not guard.seen("d", 700)
