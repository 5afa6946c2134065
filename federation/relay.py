"""The relay between a centre's devices: sealed blobs in, sealed blobs out.

The devices of a centre replicate its working data through the hub
(docs/replication.md). What they send is sealed on the device with the
centre's key (``sync.envelope``); the hub cannot read it, holds no key and
imports nothing that handles one. It checks what it can see — the blob's
clear frame (``sync.blob``: its kind, centre, device and counter), sizes,
the device's token — files each blob under its centre, hands them out after
a cursor, and drops them once every active device of the centre has
acknowledged them, or after ``Limits.keep_days``.

Every endpoint is scoped to the calling device's centre (its bearer token,
``api.current_device``): a device cannot name another centre, so it can
neither read nor write another centre's relay. A revoked device's token is
refused (401) like an unknown one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from federation import centres
from federation import store as db
from federation.api import HubError, _read_body, current_device, get_engine
from sync import blob as frame
from sync import protocol
from sync.clock import utc_now

MIB = 1024 * 1024
#: the cursor row that says how far a centre's blobs were dropped
DROPPED = ""


@dataclass
class Limits:
    """What the relay accepts and keeps. ``quota_bytes`` bounds a centre's
    blobs held at once; the snapshot is bounded on its own."""

    max_blob_bytes: int = 4 * MIB
    max_snapshot_bytes: int = frame.MAX_BLOB_BYTES
    quota_bytes: int = 256 * MIB
    keep_days: int = 30
    page_bytes: int = 8 * MIB  # the most blob bytes one fetch returns
    page_blobs: int = 500

    @classmethod
    def from_environment(cls) -> Limits:
        """Defaults, or $FEDERATION_RELAY_MAX_BLOB_BYTES,
        $FEDERATION_RELAY_QUOTA_BYTES and $FEDERATION_RELAY_KEEP_DAYS."""
        limits = cls()
        for attribute, variable in (
            ("max_blob_bytes", "FEDERATION_RELAY_MAX_BLOB_BYTES"),
            ("quota_bytes", "FEDERATION_RELAY_QUOTA_BYTES"),
            ("keep_days", "FEDERATION_RELAY_KEEP_DAYS"),
        ):
            if os.environ.get(variable):
                setattr(limits, attribute, int(os.environ[variable]))
        return limits


async def get_limits(request: Request) -> Limits:
    limits = getattr(request.app.state, "relay_limits", None)
    return limits if limits is not None else Limits()


# ---------------------------------------------------------------- the store


def _checked(raw: bytes, kind: str, device: centres.Device) -> frame.Header:
    """The blob's clear header, when the blob is one this device may upload."""
    try:
        header = frame.read_header(raw)
    except frame.EnvelopeError as error:
        raise HubError(400, f"the body is not a replication blob: {error}", "body") from None
    if header.kind != kind:
        raise HubError(400, f"a {header.kind} blob was sent where a {kind} blob goes", "body")
    if header.centre != device.centre_id or header.device != device.id:
        raise HubError(403, "a device uploads blobs of its own, for its own centre only", "body")
    return header


def _bytes_held(conn: Connection, centre_id: str) -> int:
    c = db.relay_blobs.c
    held = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c.size), 0)).where(c.centre_id == centre_id))
    return int(held.scalar_one())


def store_blob(
    conn: Connection, device: centres.Device, raw: bytes, limits: Limits, now: datetime | None = None
) -> dict:
    """File one blob of ``device``; the same (device, seq) again is the
    same blob, answered as a duplicate; with another content, a conflict.
    Runs in the caller's write transaction."""
    header = _checked(raw, "changes", device)
    digest = hashlib.sha256(raw).hexdigest()
    c = db.relay_blobs.c
    held = conn.execute(
        sa.select(c.seq, c.sha256).where(c.device_id == device.id, c.device_seq == header.seq)
    ).first()
    if held is not None:
        if held.sha256 != digest:
            raise HubError(409, f"blob {header.seq} of this device is held with another content", "body")
        return {"seq": int(held.seq), "duplicate": True}
    prune(conn, device.centre_id, limits, now)
    if _bytes_held(conn, device.centre_id) + len(raw) > limits.quota_bytes:
        raise HubError(
            413,
            f"the centre's relay holds its limit of {limits.quota_bytes} bytes: "
            "its devices must fetch and acknowledge what is held first",
            "body",
        )
    seq = conn.execute(
        db.relay_blobs.insert()
        .values(
            centre_id=device.centre_id,
            device_id=device.id,
            device_seq=header.seq,
            size=len(raw),
            sha256=digest,
            blob=raw,
            received_at=centres.now_iso(now),
        )
        .returning(c.seq)
    ).scalar_one()
    return {"seq": int(seq), "duplicate": False}


def fetch_blobs(conn: Connection, device: centres.Device, after: int, limit: int, limits: Limits) -> dict:
    """The centre's blobs after cursor ``after``, but the device's own, up to
    ``limit`` blobs and ``limits.page_bytes``. ``restart`` says the relay
    dropped blobs the device has not had: it starts again from the snapshot."""
    c = db.relay_blobs.c
    rows = conn.execute(
        sa.select(c.seq, c.device_id, c.size, c.blob)
        .where(c.centre_id == device.centre_id, c.seq > after)
        .order_by(c.seq)
        .limit(min(limit, limits.page_blobs) + 1)  # one more: is there more?
    ).all()
    page = min(limit, limits.page_blobs)
    blobs, size, cursor, taken = [], 0, after, 0
    for row in rows[:page]:
        if size and size + row.size > limits.page_bytes:
            break
        taken, cursor = taken + 1, int(row.seq)
        if row.device_id == device.id:
            continue  # the device has its own
        size += row.size
        blobs.append({"seq": cursor, "device_id": row.device_id, "blob": base64.b64encode(row.blob).decode()})
    more = taken < len(rows)
    epoch, rotated = _epochs(conn, device.centre_id)
    return {
        "blobs": blobs,
        "cursor": cursor,
        "more": more,
        "restart": after < _dropped_through(conn, device.centre_id),
        "rotate": epoch > rotated,
        "key_epoch": rotated,
        "snapshot": _snapshot_info(conn, device.centre_id),
    }


def _snapshot_info(conn: Connection, centre_id: str) -> dict | None:
    """The centre's snapshot as a device decides whether to refresh it:
    the cursor it covers and when it came (not its bytes)."""
    s = db.relay_snapshots.c
    row = conn.execute(sa.select(s.through, s.uploaded_at).where(s.centre_id == centre_id)).first()
    return None if row is None else {"through": int(row.through), "uploaded_at": row.uploaded_at}


def _dropped_through(conn: Connection, centre_id: str) -> int:
    c = db.relay_cursors.c
    found = conn.execute(
        sa.select(c.acked).where(c.centre_id == centre_id, c.device_id == DROPPED)
    ).scalar_one_or_none()
    return int(found or 0)


def _set_cursor(conn: Connection, centre_id: str, device_id: str, through: int, now: str) -> int:
    """Move a cursor forward (never back); returns where it stands."""
    c = db.relay_cursors.c
    current = conn.execute(
        sa.select(c.acked).where(c.centre_id == centre_id, c.device_id == device_id)
    ).scalar_one_or_none()
    if current is None:
        conn.execute(
            db.relay_cursors.insert().values(
                centre_id=centre_id, device_id=device_id, acked=through, acked_at=now
            )
        )
        return through
    if through > current:
        conn.execute(
            db.relay_cursors.update()
            .where(c.centre_id == centre_id, c.device_id == device_id)
            .values(acked=through, acked_at=now)
        )
        return through
    return int(current)


def acknowledge(
    conn: Connection, device: centres.Device, through: int, limits: Limits, now: datetime | None = None
) -> dict:
    """The device has applied its centre's blobs up to ``through``."""
    c = db.relay_blobs.c
    newest = conn.execute(sa.select(sa.func.max(c.seq)).where(c.centre_id == device.centre_id)).scalar()
    if through > max(int(newest or 0), _dropped_through(conn, device.centre_id)):
        raise HubError(400, f"cursor {through} is past the centre's newest blob", "through")
    acked = _set_cursor(conn, device.centre_id, device.id, through, centres.now_iso(now))
    dropped = prune(conn, device.centre_id, limits, now)
    return {"through": acked, "dropped": dropped}


def prune(conn: Connection, centre_id: str, limits: Limits, now: datetime | None = None) -> int:
    """Drop the centre's blobs every active device has acknowledged, and
    those older than ``limits.keep_days``; forget the cursors of revoked
    devices. Returns how many blobs were dropped."""
    d, cur, b = db.devices.c, db.relay_cursors.c, db.relay_blobs.c
    active = [
        row.id
        for row in conn.execute(sa.select(d.id).where(d.centre_id == centre_id, d.revoked_at.is_(None)))
    ]
    conn.execute(
        db.relay_cursors.delete().where(
            cur.centre_id == centre_id, cur.device_id != DROPPED, cur.device_id.not_in(active)
        )
    )
    acked = dict(
        conn.execute(
            sa.select(cur.device_id, cur.acked).where(cur.centre_id == centre_id, cur.device_id != DROPPED)
        ).all()
    )
    # a centre whose devices are all revoked keeps nothing for anyone
    floor = min((int(acked.get(device, 0)) for device in active), default=2**62)
    too_old = protocol.utc_iso((now or utc_now()) - timedelta(days=limits.keep_days))
    doomed = sa.and_(b.centre_id == centre_id, sa.or_(b.seq <= floor, b.received_at < too_old))
    last = conn.execute(sa.select(sa.func.max(b.seq), sa.func.count()).where(doomed)).one()
    if not last[1]:
        return 0
    # age drops the oldest first and acknowledgements a prefix: what is
    # dropped is always everything up to the last dropped
    conn.execute(db.relay_blobs.delete().where(b.centre_id == centre_id, b.seq <= int(last[0])))
    _set_cursor(conn, centre_id, DROPPED, int(last[0]), centres.now_iso(now))
    return int(last[1])


def prune_all(engine: Engine, limits: Limits, now: datetime | None = None) -> int:
    """``prune`` for every centre holding blobs, one transaction each: what
    the hub's daily upkeep runs, so a centre whose devices all went quiet
    still sees its blobs go after ``limits.keep_days``. Returns how many
    were dropped."""
    with engine.connect() as conn:
        held = [row[0] for row in conn.execute(sa.select(db.relay_blobs.c.centre_id).distinct())]
    dropped = 0
    for centre_id in held:
        with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
            dropped += prune(conn, centre_id, limits, now)
    return dropped


def store_snapshot(
    conn: Connection,
    device: centres.Device,
    raw: bytes,
    through: int,
    now: datetime | None = None,
    purge: bool = False,
) -> dict:
    """Replace the centre's snapshot; ``through`` is the cursor it covers.
    The relay keeps one snapshot a centre, the newest: one covering less
    than the one held is not kept (``kept`` false), so a device behind never
    puts back a name an erasure took out of the newer one. ``purge`` (after
    an erasure): the centre's blobs up to ``through``, which the snapshot
    held covers, are dropped now, so the erased person's sealed history
    leaves the relay at once; a device behind restarts from the snapshot."""
    _checked(raw, "snapshot", device)
    c = db.relay_blobs.c
    newest = conn.execute(sa.select(sa.func.max(c.seq)).where(c.centre_id == device.centre_id)).scalar()
    if not 0 <= through <= max(int(newest or 0), _dropped_through(conn, device.centre_id)):
        raise HubError(
            400, f"a snapshot cannot cover cursor {through}, past the centre's newest blob", "through"
        )
    s = db.relay_snapshots.c
    held = conn.execute(sa.select(s.through).where(s.centre_id == device.centre_id)).scalar_one_or_none()
    dropped = 0
    if purge:
        doomed = sa.and_(c.centre_id == device.centre_id, c.seq <= through)
        dropped = int(conn.execute(sa.select(sa.func.count()).where(doomed)).scalar_one())
        if dropped:
            conn.execute(db.relay_blobs.delete().where(doomed))
            _set_cursor(conn, device.centre_id, DROPPED, through, centres.now_iso(now))
    if held is not None and int(held) > through:
        return {"through": int(held), "kept": False, "dropped": dropped}
    values = {
        "device_id": device.id,
        "through": through,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "blob": raw,
        "uploaded_at": centres.now_iso(now),
    }
    if held is not None:
        conn.execute(db.relay_snapshots.update().where(s.centre_id == device.centre_id).values(**values))
    else:
        conn.execute(db.relay_snapshots.insert().values(centre_id=device.centre_id, **values))
    return {"through": through, "kept": True, "dropped": dropped}


def usage(conn: Connection, centre_id: str) -> dict:
    """What the relay holds for a centre (its blobs, their bytes, the snapshot's)."""
    c, s = db.relay_blobs.c, db.relay_snapshots.c
    blobs, size = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(c.size), 0)).where(c.centre_id == centre_id)
    ).one()
    snapshot = conn.execute(sa.select(s.size).where(s.centre_id == centre_id)).scalar_one_or_none()
    return {"blobs": int(blobs), "bytes": int(size), "snapshot_bytes": int(snapshot or 0)}


# ---------------------------------------------------------------- pairing a new device

#: how long an invite (and its enrolment code) is valid
INVITE_LIFETIME = timedelta(minutes=10)
#: how long a sealed keyring waits for its joiner
HANDOVER_KEPT = timedelta(days=1)
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


#: the short code to type: SHORT_LENGTH characters of centres.CODE_ALPHABET
#: (no 0/O, 1/I/L), shown « K7P4-QX9M »; the first SHORT_SLOT find the
#: invite, and MAX_SHORT_TRIES wrong codes on one invite burn it
SHORT_LENGTH = 8
SHORT_SLOT = 3
MAX_SHORT_TRIES = 5


def _short_code(conn: Connection, now: datetime) -> tuple[str, str]:
    """A short code whose slot no invite held now has (so a slot names one invite)."""
    i = db.relay_invites.c
    while True:
        raw = "".join(secrets.choice(centres.CODE_ALPHABET) for _ in range(SHORT_LENGTH))
        slot = raw[:SHORT_SLOT]
        if conn.execute(sa.select(i.id).where(i.short_slot == slot)).first() is None:
            return raw[:4] + "-" + raw[4:], slot


def create_invite(
    conn: Connection, device: centres.Device, now: datetime | None = None, verify_key: str | None = None
) -> dict:
    """An invite to ``device``'s centre: a one-time enrolment code valid
    ``INVITE_LIFETIME``, which the new device trades at POST /enrol. Given
    the inviting device's ``verify_key``, also a short code to type, which
    ``lookup_short`` trades for the invite (its key included)."""
    now = now or utc_now()
    if verify_key is not None and _HEX_KEY.fullmatch(verify_key) is None:
        raise HubError(400, "verify_key must be 64 lowercase hex digits", "verify_key")
    i = db.relay_invites.c
    conn.execute(
        db.relay_invites.delete().where(
            i.centre_id == device.centre_id, i.expires_at < protocol.utc_iso(now - HANDOVER_KEPT)
        )
    )
    code = centres.new_code(conn, device.centre_id, now, lifetime=INVITE_LIFETIME)
    invite_id = protocol.new_id()
    expires_at = protocol.utc_iso(now + INVITE_LIFETIME)
    short, slot = _short_code(conn, now) if verify_key is not None else (None, None)
    conn.execute(
        db.relay_invites.insert().values(
            id=invite_id,
            centre_id=device.centre_id,
            inviter_id=device.id,
            code_hash=centres.sha256(centres.normalise_code(code)),
            created_at=protocol.utc_iso(now),
            expires_at=expires_at,
            short_slot=slot,
            short_hash=centres.sha256(centres.normalise_code(short)) if short else None,
            inviter_key=verify_key,
        )
    )
    return {"invite_id": invite_id, "code": code, "expires_at": expires_at, "short_code": short}


def lookup_short(conn: Connection, short: str, now: datetime | None = None) -> tuple[int, dict]:
    """The invite a short code names, for a device that typed it: ``(200,
    {"code", "invite_id", "inviter_id", "inviter_key", "expires_at"})``, or
    ``(status, {"error", "reason"})``: 403 ``unknown`` (a wrong code: it
    counts against the invite its slot names, burnt after
    ``MAX_SHORT_TRIES``), 410 ``expired`` or ``burnt``, 409 ``used``. Returns
    rather than raises, so that a wrong try is counted in the caller's
    committed transaction."""
    now_text = centres.now_iso(now)
    typed = centres.normalise_code(short)
    if len(typed) != SHORT_LENGTH or not set(typed) <= set(centres.CODE_ALPHABET):
        return 400, {"error": f"a short code is {SHORT_LENGTH} of {centres.CODE_ALPHABET}", "reason": "form"}
    i = db.relay_invites.c
    invite = conn.execute(sa.select(db.relay_invites).where(i.short_slot == typed[:SHORT_SLOT])).first()
    if invite is None:
        return 403, {"error": "unknown short code", "reason": "unknown"}
    if invite.burnt_at is not None:
        return 410, {"error": "this code was blocked after too many wrong tries", "reason": "burnt"}
    if invite.short_hash != centres.sha256(typed):
        tries = invite.tries + 1
        conn.execute(
            db.relay_invites.update()
            .where(i.id == invite.id)
            .values(tries=tries, burnt_at=now_text if tries >= MAX_SHORT_TRIES else None)
        )
        return 403, {"error": "unknown short code", "reason": "unknown"}
    if invite.joiner_id is not None:
        return 409, {"error": "this invite was already used by another device", "reason": "used"}
    if invite.expires_at < now_text:
        return 410, {"error": "this invite has expired: ask for a new one", "reason": "expired"}
    # the enrolment code itself is not kept: a new one, valid as long as the invite
    code = centres.new_code(conn, invite.centre_id, now, lifetime=INVITE_LIFETIME)
    conn.execute(
        db.enrolment_codes.update()
        .where(db.enrolment_codes.c.code_hash == centres.sha256(centres.normalise_code(code)))
        .values(expires_at=invite.expires_at)
    )
    return 200, {
        "code": code,
        "invite_id": invite.id,
        "inviter_id": invite.inviter_id,
        "inviter_key": invite.inviter_key,
        "expires_at": invite.expires_at,
    }


def _invite(conn: Connection, device: centres.Device, invite_id: str) -> sa.Row:
    i = db.relay_invites.c
    row = conn.execute(
        sa.select(db.relay_invites).where(i.id == invite_id, i.centre_id == device.centre_id)
    ).first()
    if row is None:  # another centre's invites are not even named
        raise HubError(404, "no such invite for this device's centre", "invite_id")
    return row


def join_invite(
    conn: Connection, device: centres.Device, invite_id: str, verify_key: str, now: datetime | None = None
) -> dict:
    """The joining device (enrolled with the invite's code) gives the verify
    key the centre's keyring is to be sealed to. Once only."""
    if _HEX_KEY.fullmatch(verify_key) is None:
        raise HubError(400, "verify_key must be 64 lowercase hex digits", "verify_key")
    invite = _invite(conn, device, invite_id)
    if device.id == invite.inviter_id:
        raise HubError(409, "a device cannot join its own invite", "invite_id")
    if invite.joiner_id is not None:
        if invite.joiner_id == device.id and invite.joiner_key == verify_key:
            return {"inviter_id": invite.inviter_id}  # said again
        raise HubError(409, "this invite was already used by another device", "invite_id")
    if invite.expires_at < centres.now_iso(now):
        raise HubError(410, "this invite has expired: ask for a new one", "invite_id")
    conn.execute(
        db.relay_invites.update()
        .where(db.relay_invites.c.id == invite_id)
        .values(joiner_id=device.id, joiner_key=verify_key, joined_at=centres.now_iso(now))
    )
    return {"inviter_id": invite.inviter_id}


def read_invite(conn: Connection, device: centres.Device, invite_id: str) -> dict:
    """Where an invite stands, for its inviter or its joiner only."""
    invite = _invite(conn, device, invite_id)
    if device.id not in (invite.inviter_id, invite.joiner_id):
        raise HubError(403, "only the inviting and the joining device read an invite", "invite_id")
    d = db.devices.c
    labels = dict(
        conn.execute(
            sa.select(d.id, d.label).where(
                d.centre_id == device.centre_id, d.id.in_([invite.inviter_id, invite.joiner_id])
            )
        ).all()
    )
    return {
        "invite_id": invite.id,
        "inviter_id": invite.inviter_id,
        "inviter_label": labels.get(invite.inviter_id),
        "joiner_id": invite.joiner_id,
        "joiner_label": labels.get(invite.joiner_id),
        "joiner_key": invite.joiner_key,
        "expires_at": invite.expires_at,
        "sealed": base64.b64encode(invite.sealed).decode() if invite.sealed is not None else None,
    }


def hand_over(
    conn: Connection, device: centres.Device, invite_id: str, sealed: bytes, now: datetime | None = None
) -> dict:
    """The inviter leaves the keyring sealed to the joiner's key (opaque here)."""
    invite = _invite(conn, device, invite_id)
    if device.id != invite.inviter_id:
        raise HubError(403, "only the inviting device hands the centre's key over", "invite_id")
    if invite.joiner_id is None:
        raise HubError(409, "no device has joined this invite yet", "invite_id")
    if not 0 < len(sealed) <= MAX_HANDOVER_BYTES:
        raise HubError(413, f"a sealed keyring is 1 to {MAX_HANDOVER_BYTES} bytes", "body")
    conn.execute(
        db.relay_invites.update()
        .where(db.relay_invites.c.id == invite_id)
        .values(sealed=sealed, sealed_at=centres.now_iso(now))
    )
    return {"invite_id": invite_id}


MAX_HANDOVER_BYTES = 256 * 1024


# ---------------------------------------------------------------- key rotations after a revocation

#: the largest rotation body (the new key sealed to each remaining device)
MAX_ROTATION_BYTES = 256 * 1024
_KEY_ID = re.compile(r"[0-9a-f]{16}")


def _epochs(conn: Connection, centre_id: str) -> tuple[int, int]:
    """(how many of the centre's devices were revoked, the newest rotation's
    epoch): the first ahead of the second means a device holding the
    centre's key was revoked since its last rotation, and the remaining
    devices must rotate."""
    d, k = db.devices.c, db.relay_keys.c
    revoked = conn.execute(
        sa.select(sa.func.count()).where(d.centre_id == centre_id, d.revoked_at.is_not(None))
    ).scalar_one()
    rotated = conn.execute(sa.select(sa.func.max(k.epoch)).where(k.centre_id == centre_id)).scalar()
    return int(revoked), int(rotated or 0)


def key_state(conn: Connection, device: centres.Device, after: int) -> dict:
    """What a device needs to follow its centre's key: the epoch, whether a
    rotation is due, the active devices (the ones to seal a new key to) and
    the rotations after epoch ``after``, oldest first."""
    epoch, rotated = _epochs(conn, device.centre_id)
    d, k = db.devices.c, db.relay_keys.c
    active = sorted(
        row.id
        for row in conn.execute(
            sa.select(d.id).where(d.centre_id == device.centre_id, d.revoked_at.is_(None))
        )
    )
    rotations = [
        {
            "epoch": int(row.epoch),
            "device_id": row.device_id,
            "key_id": row.key_id,
            "body": base64.b64encode(row.body).decode(),
        }
        for row in conn.execute(
            sa.select(k.epoch, k.device_id, k.key_id, k.body)
            .where(k.centre_id == device.centre_id, k.epoch > after)
            .order_by(k.epoch)
        )
    ]
    return {"epoch": epoch, "rotate": epoch > rotated, "active": active, "rotations": rotations}


def store_rotation(conn: Connection, device: centres.Device, raw: bytes, now: datetime | None = None) -> dict:
    """Keep a device's rotation of its centre's key: the first posted for
    the current epoch wins (``accepted``); a second, made at the same time
    by another device, is not kept, and that device adopts the first. The
    hub reads the body's ids only: the key is sealed to each device."""
    try:
        body = orjson.loads(raw)
        epoch, key_id, sealed = body["epoch"], body["key_id"], body["sealed"]
        centre_id, device_id = body["centre"], body["device"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise HubError(400, f"the body is not a key rotation: {error}", "body") from None
    if type(epoch) is not int or not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise HubError(400, "a key rotation names its epoch and its key's id", "body")
    if not isinstance(sealed, dict) or not sealed:
        raise HubError(400, "a key rotation seals the new key to the remaining devices", "body")
    if centre_id != device.centre_id or device_id != device.id:
        raise HubError(403, "a device rotates its own centre's key, as itself", "body")
    current, _rotated = _epochs(conn, device.centre_id)
    if current == 0:
        raise HubError(409, "no device of this centre was revoked: no rotation is due", "epoch")
    if epoch != current:
        raise HubError(
            409, f"the rotation is for epoch {epoch}, the centre is at {current}: rotate again", "epoch"
        )
    d = db.devices.c
    active = {
        row.id
        for row in conn.execute(
            sa.select(d.id).where(d.centre_id == device.centre_id, d.revoked_at.is_(None))
        )
    }
    if device.id not in sealed or not set(sealed) <= active:
        raise HubError(
            409, "a new key is sealed to the centre's active devices only, its maker included", "body"
        )
    k = db.relay_keys.c
    held = conn.execute(
        sa.select(k.device_id, k.body).where(k.centre_id == device.centre_id, k.epoch == epoch)
    ).first()
    if held is not None:
        return {"epoch": epoch, "accepted": held.device_id == device.id and bytes(held.body) == raw}
    conn.execute(
        db.relay_keys.insert().values(
            centre_id=device.centre_id,
            epoch=epoch,
            device_id=device.id,
            key_id=key_id,
            body=raw,
            created_at=centres.now_iso(now),
        )
    )
    return {"epoch": epoch, "accepted": True}


# ---------------------------------------------------------------- the API


class Stored(BaseModel):
    seq: int = Field(description="the blob's place in the centre's relay (the cursor after it)")
    duplicate: bool = Field(description="true when this device's blob of that counter was already held")


class RelayBlob(BaseModel):
    seq: int
    device_id: str
    blob: str = Field(description="the sealed blob, base64")


class SnapshotInfo(BaseModel):
    through: int
    uploaded_at: str


class Page(BaseModel):
    blobs: list[RelayBlob]
    cursor: int = Field(description="fetch after this next time; acknowledge it once applied")
    more: bool
    restart: bool = Field(description="blobs after the given cursor were dropped: start from the snapshot")
    rotate: bool = Field(description="a device was revoked since the centre's key last rotated: rotate it")
    key_epoch: int = Field(description="the newest key rotation's epoch (GET /relay/keys), 0 when none")
    snapshot: SnapshotInfo | None = Field(description="the centre's snapshot held, None when none yet")


class Ack(BaseModel):
    through: int = Field(ge=0, lt=2**53)


class Acked(BaseModel):
    through: int
    dropped: int


class SnapshotStored(BaseModel):
    through: int = Field(description="the cursor the snapshot held covers")
    kept: bool = Field(description="false: the relay holds a snapshot covering more, and kept it")
    dropped: int = Field(description="the blobs dropped by a purge")


class Rotation(BaseModel):
    epoch: int
    device_id: str
    key_id: str
    body: str = Field(description="the rotating device's signed body, base64")


class KeyState(BaseModel):
    epoch: int = Field(description="how many of the centre's devices were revoked")
    rotate: bool = Field(description="true: no rotation for this epoch yet, a device makes one")
    active: list[str] = Field(description="the centre's active devices, to seal a new key to")
    rotations: list[Rotation]


class RotationStored(BaseModel):
    epoch: int
    accepted: bool = Field(description="false: another device's rotation for this epoch came first")


router = APIRouter(prefix="/api/v1/relay", tags=["relay"])
_OCTETS = {"requestBody": {"required": True, "content": {"application/octet-stream": {}}}}


def _write(engine: Engine, work: Callable[..., dict], *args: object) -> dict:
    with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
        return work(conn, *args)


@router.post("/blobs", response_model=Stored, openapi_extra=_OCTETS)
async def post_blob(
    request: Request,
    device: centres.Device = Depends(current_device),
    limits: Limits = Depends(get_limits),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Hand one sealed blob of this device to its centre's other devices."""
    raw = await _read_body(request, limits.max_blob_bytes)
    return await run_in_threadpool(_write, engine, store_blob, device, raw, limits)


@router.get("/blobs", response_model=Page)
def get_blobs(
    after: int = Query(default=0, ge=0, lt=2**53, description="the cursor of the last blob applied"),
    limit: int = Query(default=100, ge=1, le=500),
    device: centres.Device = Depends(current_device),
    limits: Limits = Depends(get_limits),
    engine: Engine = Depends(get_engine),
) -> Response:
    """The centre's blobs after the cursor, other devices' only, oldest first."""
    with engine.connect() as conn:
        page = fetch_blobs(conn, device, after, limit, limits)
    return Response(orjson.dumps(page), media_type="application/json")


@router.post("/ack", response_model=Acked)
def post_ack(
    ack: Ack,
    device: centres.Device = Depends(current_device),
    limits: Limits = Depends(get_limits),
    engine: Engine = Depends(get_engine),
) -> dict:
    """This device has applied its centre's blobs up to ``through``."""
    return _write(engine, acknowledge, device, ack.through, limits)


@router.put("/snapshot", response_model=SnapshotStored, openapi_extra=_OCTETS)
async def put_snapshot(
    request: Request,
    through: int = Query(ge=0, lt=2**53, description="the cursor the snapshot covers"),
    purge: bool = Query(default=False, description="drop the blobs it covers now (after an erasure)"),
    device: centres.Device = Depends(current_device),
    limits: Limits = Depends(get_limits),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Replace the centre's sealed snapshot, the start of a joining device."""
    raw = await _read_body(request, limits.max_snapshot_bytes)
    return await run_in_threadpool(_write, engine, store_snapshot, device, raw, through, None, purge)


@router.get("/snapshot", responses={200: {"content": {"application/octet-stream": {}}}})
def get_snapshot(
    device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)
) -> Response:
    """The centre's sealed snapshot; ``X-Relay-Through`` is the cursor it covers."""
    s = db.relay_snapshots.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(s.blob, s.through, s.device_id).where(s.centre_id == device.centre_id)
        ).first()
    if row is None:
        raise HubError(404, "no snapshot of this centre yet: another device uploads one", None)
    return Response(
        bytes(row.blob),
        media_type="application/octet-stream",
        headers={"X-Relay-Through": str(row.through), "X-Relay-Device": row.device_id},
    )


class InviteCreated(BaseModel):
    invite_id: str
    code: str = Field(description="the one-time enrolment code the new device trades at POST /enrol")
    expires_at: str
    short_code: str | None = Field(
        default=None, description="the code to type (« K7P4-QX9M »), when the inviter gave its verify_key"
    )


class InviteRequest(BaseModel):
    verify_key: str | None = Field(
        default=None,
        min_length=64,
        max_length=64,
        description="the inviting device's Ed25519 key, hex: a device that types the short code gets it",
    )


class ShortCode(BaseModel):
    code: str = Field(min_length=1, max_length=32, description="the short code typed, « K7P4-QX9M »")


class FoundInvite(BaseModel):
    code: str = Field(description="a one-time enrolment code for POST /enrol, valid as long as the invite")
    invite_id: str
    inviter_id: str
    inviter_key: str
    expires_at: str


class JoinRequest(BaseModel):
    verify_key: str = Field(min_length=64, max_length=64, description="the new device's Ed25519 key, hex")


class Joined(BaseModel):
    inviter_id: str


class Invite(BaseModel):
    invite_id: str
    inviter_id: str
    inviter_label: str | None = Field(default=None, description="the label the inviting device enrolled with")
    joiner_id: str | None
    joiner_label: str | None = Field(default=None, description="the label the joining device enrolled with")
    joiner_key: str | None
    expires_at: str
    sealed: str | None = Field(description="the centre's keyring sealed to the joiner's key, base64")


class HandedOver(BaseModel):
    invite_id: str


_INVITE_ID = Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")


@router.post("/invites", response_model=InviteCreated)
def post_invite(
    request: InviteRequest | None = None,
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Invite a new device to this device's centre (valid ten minutes)."""
    verify_key = request.verify_key if request is not None else None
    return _write(engine, create_invite, device, None, verify_key)


@router.post("/invites/lookup", response_model=FoundInvite)
def post_lookup(request: ShortCode, engine: Engine = Depends(get_engine)) -> dict:
    """The invite a short code names, for the new device that typed it (no
    token yet). A wrong code gets 403 and counts: per client address (the
    hub's limit before authentication) and per invite (burnt after
    ``MAX_SHORT_TRIES``); 410 expired or burnt, 409 already used."""
    with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
        status, answer = lookup_short(conn, request.code)
    if status != 200:
        raise HubError(status, f"{answer['reason']}: {answer['error']}", "code")
    return answer


@router.post("/invites/{invite_id}/join", response_model=Joined)
def post_join(
    request: JoinRequest,
    invite_id: str = _INVITE_ID,
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """The new device, enrolled with the invite's code, gives its verify key."""
    return _write(engine, join_invite, device, invite_id, request.verify_key)


@router.get("/invites/{invite_id}", response_model=Invite)
def get_invite(
    invite_id: str = _INVITE_ID,
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Where the invite stands (the inviter waits for the joiner, the joiner for the key)."""
    with engine.connect() as conn:
        return read_invite(conn, device, invite_id)


@router.post("/invites/{invite_id}/keyring", response_model=HandedOver, openapi_extra=_OCTETS)
async def post_keyring(
    request: Request,
    invite_id: str = _INVITE_ID,
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """The inviter hands the centre's keyring over, sealed to the joiner's key."""
    raw = await _read_body(request, MAX_HANDOVER_BYTES)
    return await run_in_threadpool(_write, engine, hand_over, device, invite_id, raw)


@router.get("/keys", response_model=KeyState)
def get_keys(
    after: int = Query(default=0, ge=0, lt=2**31, description="the newest rotation epoch already known"),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Where the centre's key stands: the rotations after ``after``, and whether one is due."""
    with engine.connect() as conn:
        return key_state(conn, device, after)


@router.post("/keys", response_model=RotationStored, openapi_extra=_OCTETS)
async def post_keys(
    request: Request,
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """A new centre key, sealed by this device to each remaining device."""
    raw = await _read_body(request, MAX_ROTATION_BYTES)
    return await run_in_threadpool(_write, engine, store_rotation, device, raw)
