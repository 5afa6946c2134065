"""Seat requests between centres: relayed sealed, never read.

A resident at centre B's kiosk asks for a seat in a session of centre A.
B's device seals the request (names, phone, consent) to A's public key
(``sync.envelope.seal_to_centre``); the hub files it under A and hands it to
A's devices only. A's staff decide; A's device seals the answer to B's key
and the hub hands it to the device that asked. The hub holds no key and
imports nothing that handles one: it sees ids, sizes and times.

What it keeps is bounded and short-lived: a request's sealed content is
emptied once a device of the target centre took it; the row goes once the
asking device took the answer; whatever is left goes after ``KEEP_DAYS``.

Each centre registers its public key once (``PUT /api/v1/centre-key``), the
first its devices give holds; any enrolled device reads another centre's
(``GET /api/v1/centres/{id}/key``) to seal to it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from federation import centres
from federation import store as db
from federation.api import HubError, current_device, get_engine
from sync import protocol
from sync.clock import utc_now

#: the most bytes of a sealed request (names, phone, consent and the
#: session's words fit in well under a kilobyte) and of a sealed answer
MAX_REQUEST_BYTES = 4096
MAX_ANSWER_BYTES = 2048
#: the most requests a centre's devices may send in a day, and hold unanswered
MAX_PER_DAY = 100
MAX_WAITING = 300
#: how long anything of a request stays, answered or not
KEEP_DAYS = 30
#: the most requests or answers one fetch hands out
PAGE = 50

_HEX_KEY = re.compile(r"[0-9a-f]{64}")
_ID_PATTERN = r"^[0-9a-f-]{36}$"


def _id_path() -> Any:
    # one per parameter: FastAPI binds a Path() to the first name it meets
    return Path(min_length=36, max_length=36, pattern=_ID_PATTERN)


def _sealed(text: str, limit: int, field: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise HubError(400, f"{field} must be base64", field) from error
    if not 48 <= len(raw) <= limit:  # a SealedBox is at least its key and tag
        raise HubError(413 if len(raw) > limit else 400, f"{field} is 48 to {limit} bytes sealed", field)
    return raw


# ---------------------------------------------------------------- centre keys


def register_key(
    conn: Connection, device: centres.Device, public_key: str, now: datetime | None = None
) -> dict:
    """The device's centre's public key; the first registered holds (another
    one is refused: a centre has one exchange key)."""
    if _HEX_KEY.fullmatch(public_key) is None:
        raise HubError(400, "public_key must be 64 lowercase hex digits", "public_key")
    k = db.centre_keys.c
    held = conn.execute(sa.select(k.public_key).where(k.centre_id == device.centre_id)).scalar()
    if held is None:
        conn.execute(
            db.centre_keys.insert().values(
                centre_id=device.centre_id,
                public_key=public_key,
                device_id=device.id,
                registered_at=centres.now_iso(now),
            )
        )
    elif held != public_key:
        raise HubError(409, "this centre already registered another public key", "public_key")
    return {"centre_id": device.centre_id, "public_key": public_key}


def centre_key(conn: Connection, centre_id: str) -> dict:
    row = conn.execute(
        sa.select(db.centre_keys.c.public_key, db.centres.c.name)
        .join(db.centres, db.centres.c.id == db.centre_keys.c.centre_id)
        .where(db.centre_keys.c.centre_id == centre_id)
    ).first()
    if row is None:
        raise HubError(404, "this centre has no public key yet", "centre_id")
    return {"centre_id": centre_id, "centre_name": row.name, "public_key": row.public_key}


# ---------------------------------------------------------------- requests


def prune(conn: Connection, now: datetime | None = None) -> int:
    """Drop what is older than ``KEEP_DAYS``, answered or not."""
    before = protocol.utc_iso((now or utc_now()) - timedelta(days=KEEP_DAYS))
    return conn.execute(db.seat_requests.delete().where(db.seat_requests.c.created_at < before)).rowcount or 0


def submit(
    conn: Connection,
    device: centres.Device,
    request_id: str,
    to_centre: str,
    sealed: bytes,
    now: datetime | None = None,
) -> dict:
    """File a request sealed to ``to_centre``'s key. The same id again from
    the same device is a duplicate (the first copy kept); from another, a
    conflict."""
    now = now or utc_now()
    prune(conn, now)
    r = db.seat_requests.c
    held = conn.execute(sa.select(r.from_device, r.sealed).where(r.id == request_id)).first()
    if held is not None:
        # the same device saying it again (a seal is new each time: the first is kept)
        if held.from_device == device.id:
            return {"id": request_id, "duplicate": True}
        raise HubError(409, "a request with this id is already held", "id")
    if to_centre == device.centre_id:
        raise HubError(400, "a seat request goes to another centre", "to_centre")
    if (
        conn.execute(
            sa.select(db.centre_keys.c.centre_id).where(db.centre_keys.c.centre_id == to_centre)
        ).first()
        is None
    ):
        raise HubError(404, "no such centre with a public key", "to_centre")
    day_ago = protocol.utc_iso(now - timedelta(days=1))
    mine = r.from_centre == device.centre_id
    if (
        conn.execute(sa.select(sa.func.count()).where(mine, r.created_at >= day_ago)).scalar_one()
        >= MAX_PER_DAY
    ):
        raise HubError(429, f"a centre sends at most {MAX_PER_DAY} seat requests a day", "id")
    if conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one() >= MAX_WAITING:
        raise HubError(429, f"a centre has at most {MAX_WAITING} seat requests waiting", "id")
    conn.execute(
        db.seat_requests.insert().values(
            id=request_id,
            from_centre=device.centre_id,
            from_device=device.id,
            to_centre=to_centre,
            sealed=sealed,
            created_at=protocol.utc_iso(now),
        )
    )
    return {"id": request_id, "duplicate": False}


def _receiver(conn: Connection, centre_id: str) -> str | None:
    """The device of a centre that takes its requests: its first enrolled
    among the active ones (the reception kiosk, usually), so the requests
    all reach one staff screen and not whichever tablet synced first; when
    it is revoked, the next one takes those still waiting."""
    d = db.devices.c
    return conn.execute(
        sa.select(d.id)
        .where(d.centre_id == centre_id, d.revoked_at.is_(None))
        .order_by(d.enrolled_at, d.id)
        .limit(1)
    ).scalar()


def inbox(conn: Connection, device: centres.Device) -> dict:
    """The requests sealed to the device's centre not yet taken, oldest
    first; empty for a device that is not the centre's receiver."""
    if _receiver(conn, device.centre_id) != device.id:
        return {"requests": []}
    r, c = db.seat_requests.c, db.centres.c
    rows = conn.execute(
        sa.select(r.id, r.from_centre, c.name, r.sealed, r.created_at)
        .join(db.centres, c.id == r.from_centre)
        .where(r.to_centre == device.centre_id, r.sealed.is_not(None))
        .order_by(r.created_at, r.id)
        .limit(PAGE)
    ).all()
    return {
        "requests": [
            {
                "id": row.id,
                "from_centre": row.from_centre,
                "from_centre_name": row.name,
                "sealed": base64.b64encode(row.sealed).decode(),
                "created_at": row.created_at,
            }
            for row in rows
        ]
    }


def _addressed(conn: Connection, device: centres.Device, request_id: str) -> sa.Row:
    r = db.seat_requests.c
    row = conn.execute(
        sa.select(db.seat_requests).where(r.id == request_id, r.to_centre == device.centre_id)
    ).first()
    if row is None:  # another centre's requests are not even named
        raise HubError(404, "no such seat request for this device's centre", "id")
    return row


def received(conn: Connection, device: centres.Device, request_id: str, now: datetime | None = None) -> dict:
    """A device of the target centre holds the request: its content leaves the hub."""
    _addressed(conn, device, request_id)
    conn.execute(
        db.seat_requests.update()
        .where(db.seat_requests.c.id == request_id, db.seat_requests.c.sealed.is_not(None))
        .values(sealed=None, delivered_at=centres.now_iso(now))
    )
    return {"id": request_id}


def answer(
    conn: Connection, device: centres.Device, request_id: str, sealed: bytes, now: datetime | None = None
) -> dict:
    """The target centre's answer, sealed to the asking centre's key."""
    row = _addressed(conn, device, request_id)
    if row.sealed is not None:
        raise HubError(409, "take the request (received) before answering it", "id")
    if row.answer is not None:
        if row.answer == sealed:
            return {"id": request_id}
        raise HubError(409, "this seat request was already answered", "id")
    conn.execute(
        db.seat_requests.update()
        .where(db.seat_requests.c.id == request_id)
        .values(answer=sealed, answered_at=centres.now_iso(now))
    )
    return {"id": request_id}


def answers(conn: Connection, device: centres.Device) -> dict:
    """The answers to the requests this very device sent."""
    r = db.seat_requests.c
    rows = conn.execute(
        sa.select(r.id, r.to_centre, r.answer, r.answered_at)
        .where(r.from_device == device.id, r.answer.is_not(None))
        .order_by(r.answered_at, r.id)
        .limit(PAGE)
    ).all()
    return {
        "answers": [
            {
                "id": row.id,
                "to_centre": row.to_centre,
                "answer": base64.b64encode(row.answer).decode(),
                "answered_at": row.answered_at,
            }
            for row in rows
        ]
    }


def done(conn: Connection, device: centres.Device, request_id: str) -> dict:
    """The asking device holds the answer: nothing of the request stays."""
    r = db.seat_requests.c
    row = conn.execute(sa.select(r.answer).where(r.id == request_id, r.from_device == device.id)).first()
    if row is None:
        raise HubError(404, "no such seat request from this device", "id")
    if row.answer is None:
        raise HubError(409, "this seat request has no answer yet", "id")
    conn.execute(db.seat_requests.delete().where(r.id == request_id))
    return {"id": request_id}


# ---------------------------------------------------------------- the API


class KeyIn(BaseModel):
    public_key: str = Field(min_length=64, max_length=64, description="X25519 public key, lowercase hex")


class CentreKey(BaseModel):
    centre_id: str
    public_key: str
    centre_name: str | None = None


class RequestIn(BaseModel):
    id: str = Field(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")
    to_centre: str = Field(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")
    sealed: str = Field(max_length=2 * MAX_REQUEST_BYTES, description="sealed to the target centre, base64")


class AnswerIn(BaseModel):
    sealed: str = Field(max_length=2 * MAX_ANSWER_BYTES, description="sealed to the asking centre, base64")


class Filed(BaseModel):
    id: str
    duplicate: bool = False


class Done(BaseModel):
    id: str


class Waiting(BaseModel):
    id: str
    from_centre: str
    from_centre_name: str
    sealed: str
    created_at: str


class Inbox(BaseModel):
    requests: list[Waiting]


class Answer(BaseModel):
    id: str
    to_centre: str
    answer: str
    answered_at: str


class Answers(BaseModel):
    answers: list[Answer]


router = APIRouter(prefix="/api/v1", tags=["seat requests"])


def _write(engine: Engine, work: Callable[..., dict], *args: object) -> dict:
    with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
        return work(conn, *args)


@router.put("/centre-key", response_model=CentreKey)
def put_centre_key(
    body: KeyIn, device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)
) -> dict:
    """Register this device's centre's public key (the first one holds)."""
    return _write(engine, register_key, device, body.public_key)


@router.get("/centres/{centre_id}/key", response_model=CentreKey)
def get_centre_key(
    centre_id: str = _id_path(),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """Another centre's public key, to seal a seat request to it."""
    with engine.connect() as conn:
        return centre_key(conn, centre_id)


@router.post("/seat-requests", response_model=Filed)
def post_request(
    body: RequestIn, device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)
) -> dict:
    """File a seat request sealed to another centre."""
    sealed = _sealed(body.sealed, MAX_REQUEST_BYTES, "sealed")
    return _write(engine, submit, device, body.id, body.to_centre, sealed)


@router.get("/seat-requests/inbox", response_model=Inbox)
def get_inbox(device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)) -> dict:
    """The requests sealed to this device's centre, not yet taken."""
    with engine.connect() as conn:
        return inbox(conn, device)


@router.post("/seat-requests/{request_id}/received", response_model=Done)
def post_received(
    request_id: str = _id_path(),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """This device holds the request: the hub lets its content go."""
    return _write(engine, received, device, request_id)


@router.post("/seat-requests/{request_id}/answer", response_model=Done)
def post_answer(
    body: AnswerIn,
    request_id: str = _id_path(),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """The target centre's answer, sealed to the asking centre."""
    sealed = _sealed(body.sealed, MAX_ANSWER_BYTES, "sealed")
    return _write(engine, answer, device, request_id, sealed)


@router.get("/seat-requests/answers", response_model=Answers)
def get_answers(
    device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)
) -> dict:
    """The answers to the requests this device sent."""
    with engine.connect() as conn:
        return answers(conn, device)


@router.post("/seat-requests/{request_id}/done", response_model=Done)
def post_done(
    request_id: str = _id_path(),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> dict:
    """This device holds the answer: the request leaves the hub."""
    return _write(engine, done, device, request_id)
