"""The envelope: what a centre's devices replicate, sealed on the device.

libsodium through PyNaCl, nothing home-made:

- the centre's data travels in ``SecretBox`` (XSalsa20-Poly1305) under the
  centre's key, so the hub relays blobs it cannot read or alter unseen;
- each blob is signed by the device that made it (Ed25519,
  ``SigningKey``/``VerifyKey``), so a device of the centre cannot pass its
  blobs off as another's, and the signature covers the clear header too;
- the centre's keys are handed to a new device sealed to that device's own
  key pair (``SealedBox``, to the X25519 key derived from its signing key).

A blob is ``MAGIC``, the header's length (2 bytes), the header (canonical
JSON: format, kind, centre, device, seq, key id), the signature (64 bytes)
and the ciphertext. The header is also inside the ciphertext and must match.
``seq`` grows by one per blob of a device; :class:`ReplayGuard` refuses a
(device, seq) already accepted, so a blob replayed by the relay (or anyone)
is refused instead of applied twice.

Errors are :class:`EnvelopeError` subclasses with an English message for the
log; the kiosk shows staff a French one.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.hash
import nacl.pwhash
import nacl.utils
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey

from sync import check_words
from sync.blob import EnvelopeError, Header, TamperedBlob, frame, header_bytes, split

#: the most keys a keyring holds (each revocation adds one)
MAX_KEYS = 64
#: the most seqs of one device a ReplayGuard keeps above its watermark
MAX_ABOVE = 64


class ReplayedBlob(EnvelopeError):
    """A blob this device has already accepted, received again."""


class UnknownKey(EnvelopeError):
    """Sealed with a centre key this device does not hold."""


class UnknownDevice(EnvelopeError):
    """Signed by a device this device does not know."""


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(key: bytes) -> str:
    """A centre key's public name: a hash of it, which reveals nothing of it."""
    return nacl.hash.blake2b(key, digest_size=8, encoder=RawEncoder).hex()


# ---------------------------------------------------------------- keys


@dataclass
class Keyring:
    """A centre's keys: the current one seals, every one kept opens (blobs
    sealed before a rotation stay readable until the relay drops them)."""

    keys: dict[str, bytes]
    current: str
    #: the centre's X25519 private key (32 bytes), which opens what other
    #: centres seal to this one (``seal_to_centre``); None in a keyring made
    #: before it existed, which then derives it (``exchange_key``)
    exchange: bytes | None = None

    @classmethod
    def new(cls) -> Keyring:
        key = nacl.utils.random(SecretBox.KEY_SIZE)
        return cls({key_id(key): key}, key_id(key), bytes(PrivateKey.generate()))

    def exchange_key(self) -> PrivateKey:
        """The centre's key pair for what other centres send it. A keyring
        from before it existed derives it from its first key (by id), so
        every device of an existing centre, upgraded on its own, finds the
        same one without talking to the others."""
        if self.exchange is not None:
            return PrivateKey(self.exchange)
        first = self.keys[min(self.keys)]
        return PrivateKey(
            nacl.hash.blake2b(first, digest_size=32, person=b"accueil-centrex", encoder=RawEncoder)
        )

    def rotate(self) -> str:
        """A new current key (after a device is revoked); returns its id."""
        if len(self.keys) >= MAX_KEYS:
            raise EnvelopeError(f"a keyring holds at most {MAX_KEYS} keys")
        key = nacl.utils.random(SecretBox.KEY_SIZE)
        self.current = key_id(key)
        self.keys[self.current] = key
        return self.current

    def add(self, key: bytes, current: bool = False) -> str:
        """Keep ``key`` (a rotation's, adopted), the current one if asked; returns its id."""
        if len(key) != SecretBox.KEY_SIZE:
            raise EnvelopeError("a centre key is 32 bytes")
        kid = key_id(key)
        if kid not in self.keys and len(self.keys) >= MAX_KEYS:
            raise EnvelopeError(f"a keyring holds at most {MAX_KEYS} keys")
        self.keys[kid] = key
        if current:
            self.current = kid
        return kid

    def box(self, kid: str) -> SecretBox:
        key = self.keys.get(kid)
        if key is None:
            raise UnknownKey(f"blob sealed with centre key {kid!r}, which this device does not hold")
        return SecretBox(key)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "current": self.current,
            "keys": {kid: base64.b64encode(key).decode() for kid, key in sorted(self.keys.items())},
        }
        if self.exchange is not None:
            data["exchange"] = base64.b64encode(self.exchange).decode()
        return data

    @classmethod
    def from_json(cls, data: Any) -> Keyring:
        try:
            keys = {kid: base64.b64decode(text, validate=True) for kid, text in data["keys"].items()}
            current = data["current"]
            exchange = data.get("exchange")
            exchange = None if exchange is None else base64.b64decode(exchange, validate=True)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise EnvelopeError(f"not a keyring: {error}") from error
        if exchange is not None and len(exchange) != PrivateKey.SIZE:
            raise EnvelopeError("not a keyring: its exchange key is not 32 bytes")
        if not keys or len(keys) > MAX_KEYS or current not in keys:
            raise EnvelopeError("not a keyring: its current key is missing, or it holds too many")
        for kid, key in keys.items():
            if len(key) != SecretBox.KEY_SIZE or key_id(key) != kid:
                raise EnvelopeError(f"not a keyring: key {kid!r} does not match its id")
        return cls(keys, current, exchange)


@dataclass(frozen=True)
class DeviceKeys:
    """A device's own key pair: it signs what it sends, and the X25519 key
    derived from it receives the centre's keyring sealed at pairing."""

    signing: SigningKey

    @classmethod
    def new(cls) -> DeviceKeys:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceKeys:
        return cls(SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self.signing)

    @property
    def verify_key(self) -> VerifyKey:
        return self.signing.verify_key

    @property
    def public_key(self) -> PublicKey:
        return self.signing.verify_key.to_curve25519_public_key()

    @property
    def private_key(self) -> PrivateKey:
        return self.signing.to_curve25519_private_key()


def seal_to_device(data: Any, device_verify_key: bytes) -> bytes:
    """JSON-able ``data`` sealed to one device (known by its public verify
    key): only that device opens it, and the sealer stays anonymous."""
    recipient = VerifyKey(device_verify_key).to_curve25519_public_key()
    return bytes(SealedBox(recipient).encrypt(_canonical(data)))


def open_sealed(sealed: bytes, device: DeviceKeys) -> Any:
    """What ``seal_to_device`` sealed to this device."""
    try:
        plain = SealedBox(device.private_key).decrypt(sealed)
    except nacl.exceptions.CryptoError as error:
        raise TamperedBlob("what was sealed to this device does not open with its key") from error
    try:
        return json.loads(plain)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedBlob("what was sealed to this device is not JSON") from error


def centre_public_key(keyring: Keyring) -> bytes:
    """The public half of the centre's exchange key (32 bytes), which the
    hub hands to other centres' devices."""
    return bytes(keyring.exchange_key().public_key)


def seal_to_centre(data: Any, public_key: bytes) -> bytes:
    """JSON-able ``data`` sealed to another centre (its public exchange key,
    from the hub): only that centre's devices open it, the hub cannot."""
    try:
        recipient = PublicKey(public_key)
    except (TypeError, ValueError, nacl.exceptions.CryptoError) as error:
        raise EnvelopeError(f"not a centre's public key: {error}") from error
    return bytes(SealedBox(recipient).encrypt(_canonical(data)))


def open_for_centre(sealed: bytes, keyring: Keyring) -> Any:
    """What another centre sealed to this one (``seal_to_centre``)."""
    try:
        plain = SealedBox(keyring.exchange_key()).decrypt(sealed)
    except (nacl.exceptions.CryptoError, TypeError, ValueError) as error:
        raise TamperedBlob("what was sealed to this centre does not open with its key") from error
    try:
        return json.loads(plain)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedBlob("what was sealed to this centre is not JSON") from error


#: how many words of ``check_words.WORDS`` the check word has
CHECK_WORDS = 3
_CHECK_SALT = b"accueil-check-w1"


def check_word(invite_id: str, inviter_key: bytes, joiner_key: bytes) -> str:
    """The check word both devices show before the key is handed over,
    « pomme-lapin-sirop »: three words drawn from a hash of the invite and
    both devices' keys, so a relay that swapped a key makes the two screens
    disagree. The hash is Argon2id (memory-hard, as for a password): a hub
    handing both devices keys of its own would have to try keys until the
    two words agree, and each try costs it that much."""
    digest = nacl.hash.blake2b(
        invite_id.encode() + b"|" + inviter_key + b"|" + joiner_key, digest_size=16, encoder=RawEncoder
    )
    stretched = nacl.pwhash.argon2id.kdf(
        16,  # libsodium's shortest; the first CHECK_WORDS bytes are taken
        digest,
        _CHECK_SALT,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    )
    return "-".join(check_words.WORDS[byte] for byte in stretched[:CHECK_WORDS])


def seal_keyring(keyring: Keyring, device_verify_key: bytes) -> bytes:
    """The keyring sealed to a new device (known by its public verify key)."""
    return seal_to_device(keyring.to_json(), device_verify_key)


def open_keyring(sealed: bytes, device: DeviceKeys) -> Keyring:
    return Keyring.from_json(open_sealed(sealed, device))


# ---------------------------------------------------------------- rotating the centre's key

#: a rotation body's format
ROTATION_FORMAT = 1


@dataclass(frozen=True)
class Rotation:
    """A rotation of the centre's key, opened by one device: who made it,
    for which epoch (how many of the centre's devices had been revoked),
    the new key's id, and the key itself when it was sealed to this device
    (None otherwise: a device that joined later holds it from its keyring)."""

    epoch: int
    device: str
    key_id: str
    key: bytes | None


def make_rotation(
    device: DeviceKeys,
    device_id: str,
    centre: str,
    epoch: int,
    key: bytes,
    recipients: Mapping[str, bytes],
) -> bytes:
    """The new centre ``key`` sealed to each of ``recipients`` (device id ->
    verify key; the maker itself among them), signed by the maker: what it
    posts to the relay after a revocation. The revoked device is not a
    recipient, so it never holds the key. The hub reads the ids only."""
    kid = key_id(key)
    sealed = {
        recipient: base64.b64encode(
            seal_to_device(
                {"centre": centre, "epoch": epoch, "key": base64.b64encode(key).decode()}, verify_key
            )
        ).decode()
        for recipient, verify_key in sorted(recipients.items())
    }
    body: dict[str, Any] = {
        "v": ROTATION_FORMAT,
        "centre": centre,
        "device": device_id,
        "epoch": epoch,
        "key_id": kid,
        "sealed": sealed,
    }
    signature = device.signing.sign(_canonical(body), encoder=RawEncoder).signature
    return _canonical({**body, "signature": base64.b64encode(bytes(signature)).decode()})


def open_rotation(
    raw: bytes, device: DeviceKeys, device_id: str, devices: Mapping[str, bytes], centre: str
) -> Rotation:
    """Check a rotation's signature by its maker (``devices`` maps the
    centre's device ids to their verify keys) and its centre, and open the
    key sealed to this device, if any. Raises an :class:`EnvelopeError`."""
    try:
        body = json.loads(raw)
        signature = base64.b64decode(body.pop("signature"), validate=True)
        maker, epoch, kid, sealed = body["device"], body["epoch"], body["key_id"], body["sealed"]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TamperedBlob(f"not a key rotation: {error}") from error
    if body.get("v") != ROTATION_FORMAT or not isinstance(sealed, dict) or type(epoch) is not int:
        raise TamperedBlob("not a key rotation this device reads")
    verify_key = devices.get(maker) if isinstance(maker, str) else None
    if verify_key is None:
        raise UnknownDevice(f"key rotation from device {maker!r}, which is not one of this centre's")
    try:
        VerifyKey(verify_key).verify(_canonical(body), signature)
    except nacl.exceptions.BadSignatureError as error:
        raise TamperedBlob(f"key rotation {epoch} fails its device's signature") from error
    if body.get("centre") != centre:
        raise TamperedBlob(f"key rotation of centre {body.get('centre')!r} is not for centre {centre!r}")
    mine = sealed.get(device_id)
    if mine is None:
        return Rotation(epoch, maker, str(kid), None)
    try:
        inner = open_sealed(base64.b64decode(mine, validate=True), device)
        key = base64.b64decode(inner["key"], validate=True)
    except (ValueError, KeyError, TypeError) as error:
        raise TamperedBlob(f"key rotation {epoch} holds no key for this device: {error}") from error
    if inner.get("centre") != centre or inner.get("epoch") != epoch or key_id(key) != kid:
        raise TamperedBlob(f"key rotation {epoch}: the sealed key does not match its header")
    return Rotation(epoch, maker, kid, key)


def new_key() -> bytes:
    """A new centre key (a rotation's)."""
    return nacl.utils.random(SecretBox.KEY_SIZE)


# ---------------------------------------------------------------- blobs


def seal(keyring: Keyring, device: DeviceKeys, header: Header, payload: Any) -> bytes:
    """Seal ``payload`` (JSON-able) under the centre's current key, signed by
    ``device``. The caller gives the header its kind, centre, device and
    seq; its ``key`` must be the keyring's current one."""
    if header.key != keyring.current:
        raise EnvelopeError("a blob is sealed with the keyring's current key")
    head = header_bytes(header)
    plain = zlib.compress(_canonical({"header": header.to_json(), "payload": payload}))
    ciphertext = bytes(keyring.box(header.key).encrypt(plain))
    signature = device.signing.sign(head + ciphertext, encoder=RawEncoder).signature
    return frame(head, bytes(signature), ciphertext)


def open_blob(
    blob: bytes,
    keyring: Keyring,
    devices: Mapping[str, bytes],
    centre: str,
    guard: ReplayGuard | None = None,
) -> tuple[Header, Any]:
    """Verify and open a blob: the device's signature (``devices`` maps the
    centre's device ids to their verify keys), the centre, the seal, the
    header inside, then (with ``guard``) that it was not accepted before.
    Returns (header, payload); raises an :class:`EnvelopeError` otherwise,
    having recorded nothing."""
    header, head, signature, ciphertext = split(blob)
    verify_key = devices.get(header.device)
    if verify_key is None:
        raise UnknownDevice(f"blob from device {header.device!r}, which is not one of this centre's")
    try:
        VerifyKey(verify_key).verify(head + ciphertext, signature)
    except nacl.exceptions.BadSignatureError as error:
        raise TamperedBlob(f"blob {header.device}/{header.seq} fails its device's signature") from error
    if header.centre != centre:
        raise TamperedBlob(f"blob of centre {header.centre!r} is not for centre {centre!r}")
    try:
        plain = keyring.box(header.key).decrypt(ciphertext)
    except nacl.exceptions.CryptoError as error:
        raise TamperedBlob(f"blob {header.device}/{header.seq} fails the centre key's check") from error
    try:
        inner = json.loads(zlib.decompress(plain))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedBlob("blob content is not what a device seals") from error
    if not isinstance(inner, dict) or inner.get("header") != header.to_json() or "payload" not in inner:
        raise TamperedBlob("blob header does not match the sealed one")
    if guard is not None:
        guard.check(header)
        guard.accept(header)
    return header, inner["payload"]


# ---------------------------------------------------------------- replays


@dataclass
class ReplayGuard:
    """Which (device, seq) blobs were accepted: all up to ``through[device]``
    and the few above it in ``above`` (blobs may come with gaps, e.g. after
    the relay dropped old ones). A device keeps it in its database."""

    through: dict[str, int] = field(default_factory=dict)
    above: dict[str, set[int]] = field(default_factory=dict)

    def seen(self, device: str, seq: int) -> bool:
        return seq <= self.through.get(device, -1) or seq in self.above.get(device, set())

    def check(self, header: Header) -> None:
        if self.seen(header.device, header.seq):
            raise ReplayedBlob(f"blob {header.device}/{header.seq} was already accepted")

    def accept(self, header: Header) -> None:
        device = header.device
        extra = self.above.setdefault(device, set())
        extra.add(header.seq)
        through = self.through.get(device, -1)
        if len(extra) > MAX_ABOVE:
            # a device's blobs reach the relay, and come back, in its own
            # order: a gap this far below is blobs the relay dropped (a
            # snapshot holds their changes), never to come; without this a
            # device that started from a snapshot would keep every seq after it
            through = max(through, min(extra) - 1)
        while through + 1 in extra:
            through += 1
            extra.discard(through)
        self.through[device] = through

    def accept_through(self, device: str, seq: int) -> None:
        """Everything of ``device`` up to ``seq`` is known (a snapshot holds it)."""
        self.through[device] = max(self.through.get(device, -1), seq)
        self.above[device] = {s for s in self.above.get(device, set()) if s > self.through[device]}

    def to_json(self) -> dict[str, Any]:
        return {
            "through": dict(sorted(self.through.items())),
            "above": {device: sorted(seqs) for device, seqs in sorted(self.above.items()) if seqs},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReplayGuard:
        above: Iterable[tuple[str, list[int]]] = data.get("above", {}).items()
        return cls(dict(data.get("through", {})), {device: set(seqs) for device, seqs in above})
