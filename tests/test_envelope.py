"""The envelope (sync/envelope.py): sealed with the centre's key, signed by
the device, refused when tampered with or replayed."""

from __future__ import annotations

import pytest

from sync import envelope, protocol
from sync.blob import read_header
from sync.envelope import (
    DeviceKeys,
    EnvelopeError,
    Header,
    Keyring,
    ReplayedBlob,
    ReplayGuard,
    TamperedBlob,
    UnknownDevice,
    UnknownKey,
)

CENTRE = protocol.new_id()
PAYLOAD = {"changes": [{"table": "members", "fields": {"first_name": "Aïcha", "last_name": "Benali"}}]}


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.new()


@pytest.fixture
def reception() -> DeviceKeys:
    return DeviceKeys.new()


def header(keyring: Keyring, device: str = "reception", seq: int = 0, kind: str = "changes") -> Header:
    return Header(kind, CENTRE, device, seq, keyring.current)


def known(*pairs: tuple[str, DeviceKeys]) -> dict[str, bytes]:
    return {name: bytes(keys.verify_key) for name, keys in pairs}


def test_a_sealed_blob_opens_with_the_centre_key_and_hides_the_names(keyring, reception):
    blob = envelope.seal(keyring, reception, header(keyring), PAYLOAD)
    assert b"Benali" not in blob and b"A\xc3\xafcha" not in blob and "Benali".encode("utf-16-le") not in blob
    opened_header, payload = envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)
    assert payload == PAYLOAD and opened_header == header(keyring)


@pytest.mark.parametrize("where", ["header", "signature", "ciphertext", "last byte"])
def test_a_blob_changed_anywhere_is_refused(keyring, reception, where):
    blob = bytearray(envelope.seal(keyring, reception, header(keyring), PAYLOAD))
    head = int.from_bytes(blob[4:6], "big")
    index = {
        "header": 6 + head - 3,
        "signature": 6 + head + 10,
        "ciphertext": 6 + head + 64 + 30,
        "last byte": -1,
    }
    blob[index[where]] ^= 0x01
    with pytest.raises(TamperedBlob):
        envelope.open_blob(bytes(blob), keyring, known(("reception", reception)), CENTRE)


def test_a_blob_cut_short_or_not_a_blob_is_refused(keyring, reception):
    blob = envelope.seal(keyring, reception, header(keyring), PAYLOAD)
    for bad in (blob[:40], b"", b"ACR1", b"PK\x03\x04" + blob[4:], "text"):
        with pytest.raises(TamperedBlob):
            envelope.open_blob(bad, keyring, known(("reception", reception)), CENTRE)


def test_a_header_swapped_onto_another_blob_is_refused(keyring, reception):
    one = envelope.seal(keyring, reception, header(keyring, seq=1), PAYLOAD)
    two = envelope.seal(keyring, reception, header(keyring, seq=2), {"changes": []})
    head = 6 + int.from_bytes(one[4:6], "big")
    # seq 1's header and signature on seq 2's ciphertext
    with pytest.raises(TamperedBlob):
        envelope.open_blob(
            one[: head + 64] + two[head + 64 :], keyring, known(("reception", reception)), CENTRE
        )


def test_a_device_cannot_pass_its_blob_off_as_another_devices(keyring, reception):
    tablet = DeviceKeys.new()
    forged = envelope.seal(keyring, tablet, header(keyring, device="reception"), PAYLOAD)
    with pytest.raises(TamperedBlob, match="signature"):
        envelope.open_blob(forged, keyring, known(("reception", reception), ("tablet", tablet)), CENTRE)


def test_a_blob_from_an_unknown_device_is_refused(keyring, reception):
    blob = envelope.seal(keyring, reception, header(keyring, device="stranger"), PAYLOAD)
    with pytest.raises(UnknownDevice):
        envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)


def test_a_blob_of_another_centre_is_refused(keyring, reception):
    other = Header("changes", protocol.new_id(), "reception", 0, keyring.current)
    blob = envelope.seal(keyring, reception, other, PAYLOAD)
    with pytest.raises(TamperedBlob, match="not for centre"):
        envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)


def test_a_blob_sealed_with_a_key_this_device_lacks_is_refused(keyring, reception):
    theirs = Keyring.new()
    blob = envelope.seal(theirs, reception, header(theirs), PAYLOAD)
    with pytest.raises(UnknownKey):
        envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)


def test_the_same_key_id_with_another_key_is_refused(keyring, reception):
    impostor = Keyring({keyring.current: b"\x00" * 32}, keyring.current)
    blob = envelope.seal(impostor, reception, header(impostor), PAYLOAD)
    with pytest.raises(TamperedBlob, match="centre key"):
        envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)


def test_a_replayed_blob_is_refused_and_gaps_are_allowed(keyring, reception):
    guard = ReplayGuard()
    devices = known(("reception", reception))
    blobs = [envelope.seal(keyring, reception, header(keyring, seq=seq), PAYLOAD) for seq in range(4)]
    for seq in (0, 2, 1):
        envelope.open_blob(blobs[seq], keyring, devices, CENTRE, guard)
    for seq in (0, 1, 2):
        with pytest.raises(ReplayedBlob, match=f"reception/{seq}"):
            envelope.open_blob(blobs[seq], keyring, devices, CENTRE, guard)
    envelope.open_blob(blobs[3], keyring, devices, CENTRE, guard)
    assert guard.to_json() == {"through": {"reception": 3}, "above": {}}
    # kept in the database as JSON, read back the same
    again = ReplayGuard.from_json(guard.to_json())
    with pytest.raises(ReplayedBlob):
        envelope.open_blob(blobs[2], keyring, devices, CENTRE, again)


def test_a_refused_blob_is_not_recorded_as_accepted(keyring, reception):
    guard = ReplayGuard()
    blob = bytearray(envelope.seal(keyring, reception, header(keyring, seq=0), PAYLOAD))
    blob[-1] ^= 1
    with pytest.raises(TamperedBlob):
        envelope.open_blob(bytes(blob), keyring, known(("reception", reception)), CENTRE, guard)
    assert not guard.seen("reception", 0)


def test_after_a_rotation_old_blobs_still_open_and_new_ones_use_the_new_key(keyring, reception):
    old = envelope.seal(keyring, reception, header(keyring, seq=0), PAYLOAD)
    first = keyring.current
    keyring.rotate()
    new = envelope.seal(keyring, reception, header(keyring, seq=1), PAYLOAD)
    assert read_header(new).key != first
    devices = known(("reception", reception))
    assert envelope.open_blob(old, keyring, devices, CENTRE)[1] == PAYLOAD
    assert envelope.open_blob(new, keyring, devices, CENTRE)[1] == PAYLOAD
    # a revoked device kept only the old keyring: it cannot read what follows
    revoked = Keyring({first: keyring.keys[first]}, first)
    with pytest.raises(UnknownKey):
        envelope.open_blob(new, revoked, devices, CENTRE)


def test_the_keyring_sealed_to_a_new_device_opens_only_there(keyring):
    newcomer, other = DeviceKeys.new(), DeviceKeys.new()
    sealed = envelope.seal_keyring(keyring, bytes(newcomer.verify_key))
    assert keyring.keys[keyring.current] not in sealed
    assert envelope.open_keyring(sealed, newcomer).to_json() == keyring.to_json()
    with pytest.raises(TamperedBlob):
        envelope.open_keyring(sealed, other)
    with pytest.raises(TamperedBlob):
        envelope.open_keyring(sealed[:-1] + bytes([sealed[-1] ^ 1]), newcomer)


def test_a_device_key_pair_survives_being_stored_as_its_seed():
    keys = DeviceKeys.new()
    again = DeviceKeys.from_seed(keys.seed)
    assert bytes(again.verify_key) == bytes(keys.verify_key)
    assert bytes(again.public_key) == bytes(keys.public_key)


@pytest.mark.parametrize(
    "data",
    [
        {"current": "0" * 16, "keys": {}},
        {"current": "0" * 16, "keys": {"0" * 16: "AAAA"}},
        {"keys": {}},
        [],
        {"current": "x", "keys": {"x": "not base64!"}},
    ],
)
def test_a_bad_keyring_is_refused(data):
    with pytest.raises(EnvelopeError, match="not a keyring"):
        Keyring.from_json(data)


@pytest.mark.parametrize(
    "bad", [{"centre": "../x"}, {"device": "A B"}, {"seq": -1}, {"seq": "1"}, {"kind": "script"}]
)
def test_a_header_that_is_not_what_a_device_writes_is_refused(keyring, reception, bad):
    fields = {"kind": "changes", "centre": CENTRE, "device": "reception", "seq": 0, "key": keyring.current}
    blob = envelope.seal(keyring, reception, Header(**(fields | bad)), {})
    with pytest.raises(TamperedBlob, match="header"):
        envelope.open_blob(blob, keyring, known(("reception", reception)), CENTRE)


def test_a_blob_sealed_with_an_old_key_is_refused_at_sealing(keyring, reception):
    stale = header(keyring)
    keyring.rotate()
    with pytest.raises(EnvelopeError, match="current key"):
        envelope.seal(keyring, reception, stale, PAYLOAD)


def test_a_replay_under_a_new_seq_written_in_the_clear_header_is_refused(keyring, reception):
    guard = ReplayGuard()
    devices = known(("reception", reception))
    blob = envelope.seal(keyring, reception, header(keyring, seq=1), PAYLOAD)
    envelope.open_blob(blob, keyring, devices, CENTRE, guard)
    renumbered = blob.replace(b'"seq":1', b'"seq":7', 1)
    assert renumbered != blob and read_header(renumbered).seq == 7
    with pytest.raises(TamperedBlob, match="signature"):
        envelope.open_blob(renumbered, keyring, devices, CENTRE, guard)
