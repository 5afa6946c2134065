"""The frame of a replication blob, readable without any key.

The device seals (``sync.envelope``); the hub's relay only needs to read
the clear header to file a blob under its centre and device, and to refuse
what is not a blob, without importing anything that handles keys. One
owner for the frame: both ends read it here.

A blob is ``MAGIC``, the header's length (2 bytes, big-endian), the header
(canonical JSON: format, kind, centre, device, seq, key id), the device's
signature (64 bytes) and the ciphertext (nonce first). The header names no
one: ids, a counter and a key id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAGIC = b"ACR1"
FORMAT = 1
KINDS = ("changes", "snapshot")
#: the largest blob a device makes or accepts (a snapshot's, compressed)
MAX_BLOB_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 1024
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_NAME_RE = re.compile(r"[0-9a-z][0-9a-z-]{0,63}")
_SIGNATURE_BYTES = 64
_NONCE_BYTES = 24  # libsodium secretbox's


class EnvelopeError(ValueError):
    """A blob or key that cannot be trusted or opened."""


class TamperedBlob(EnvelopeError):
    """The blob was changed (or made) by someone without the keys."""


@dataclass(frozen=True)
class Header:
    """What a blob says in clear: no name, no data, only who and which."""

    kind: str
    centre: str
    device: str
    seq: int
    key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "v": FORMAT,
            "kind": self.kind,
            "centre": self.centre,
            "device": self.device,
            "seq": self.seq,
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: Any) -> Header:
        if not isinstance(data, dict) or set(data) != {"v", "kind", "centre", "device", "seq", "key"}:
            raise TamperedBlob("blob header has the wrong fields")
        if data["v"] != FORMAT:
            raise EnvelopeError(f"blob format {data['v']!r} is not {FORMAT}: update this device")
        header = cls(data["kind"], data["centre"], data["device"], data["seq"], data["key"])
        if (
            header.kind not in KINDS
            or not isinstance(header.centre, str)
            or _NAME_RE.fullmatch(header.centre) is None
            or not isinstance(header.device, str)
            or _NAME_RE.fullmatch(header.device) is None
            or type(header.seq) is not int
            or not 0 <= header.seq < 2**53
            or not isinstance(header.key, str)
            or _KEY_ID_RE.fullmatch(header.key) is None
        ):
            raise TamperedBlob("blob header is malformed")
        return header


def header_bytes(header: Header) -> bytes:
    """The header as the frame carries it (and the signature covers it)."""
    return json.dumps(header.to_json(), sort_keys=True, separators=(",", ":")).encode()


def frame(head: bytes, signature: bytes, ciphertext: bytes) -> bytes:
    """The blob: magic, header length, header, signature, ciphertext."""
    if len(head) > MAX_HEADER_BYTES or len(signature) != _SIGNATURE_BYTES:
        raise EnvelopeError("a blob's header or signature has the wrong size")
    blob = MAGIC + len(head).to_bytes(2, "big") + head + signature + ciphertext
    if len(blob) > MAX_BLOB_BYTES:
        raise EnvelopeError(f"blob of {len(blob)} bytes is over {MAX_BLOB_BYTES}")
    return blob


def read_header(blob: bytes) -> Header:
    """The clear header, unverified (to know which key and device to check with)."""
    return split(blob)[0]


def split(blob: bytes) -> tuple[Header, bytes, bytes, bytes]:
    """(header, its bytes, signature, ciphertext); TamperedBlob when the
    frame is not one a device makes."""
    if not isinstance(blob, bytes | bytearray) or len(blob) > MAX_BLOB_BYTES:
        raise TamperedBlob("not a blob, or too large")
    if blob[:4] != MAGIC or len(blob) < 6:
        raise TamperedBlob("not a replication blob")
    size = int.from_bytes(blob[4:6], "big")
    if size > MAX_HEADER_BYTES or len(blob) < 6 + size + _SIGNATURE_BYTES + _NONCE_BYTES:
        raise TamperedBlob("blob is cut short")
    head = bytes(blob[6 : 6 + size])
    try:
        header = Header.from_json(json.loads(head))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedBlob("blob header is not JSON") from error
    signature = bytes(blob[6 + size : 6 + size + _SIGNATURE_BYTES])
    ciphertext = bytes(blob[6 + size + _SIGNATURE_BYTES :])
    return header, head, signature, ciphertext
