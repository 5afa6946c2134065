"""The kiosks' API: enrolment, batch ingest, status and health.

One APIRouter per area; the database engine, the limits and the calling
device come in through ``Depends`` so each endpoint reads as what it does.
Every answer, errors included, is JSON with ``{"error", "field"?}`` for
errors (see ``federation.app``, which installs the handlers and the
``X-Accueil-Hub`` header).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.engine import Engine

from federation import agenda, centres, hub_key, ingest
from federation import store as db
from sync import protocol

MIB = 1024 * 1024


@dataclass
class Limits:
    """What one request may carry. The rate limit is per device and per hub
    process (a token bucket: ``rate_per_minute`` a minute, bursts up to it)."""

    max_body_bytes: int = 8 * MIB  # as sent (compressed or not)
    max_decoded_bytes: int = 32 * MIB  # after gunzip: a gzip bomb stops here
    max_events: int = protocol.MAX_EVENTS_PER_BATCH
    rate_per_minute: int = 1200  # 0: no limit
    window: ingest.Window = ingest.DEFAULT_WINDOW  # when events may have occurred to be stored


class HubError(Exception):
    """An error answer: status, English message, the field at fault."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}


# ---------------------------------------------------------------- dependencies

# async although they do no I/O: FastAPI would run a plain def in its threadpool


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_limits(request: Request) -> Limits:
    return request.app.state.limits


@dataclass
class RateLimiter:
    """Token buckets by device id, in this process's memory."""

    per_minute: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, key: str) -> int:
        """0 if the request may go ahead, else the seconds to wait."""
        if self.per_minute <= 0:
            return 0
        rate = self.per_minute / 60
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return max(1, int((1 - tokens) / rate + 0.999))
            self.buckets[key] = (tokens - 1, now)
            return 0


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HubError(
            401,
            "a device token is required: Authorization: Bearer <token>",
            "authorization",
            {"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def current_device(
    request: Request, authorization: str | None = Header(default=None), engine: Engine = Depends(get_engine)
) -> centres.Device:
    """The enrolled, unrevoked device whose token came with the request."""
    token = _bearer(authorization)
    with engine.connect() as conn:
        device = centres.authenticate(conn, token)
    if device is None:
        raise HubError(
            401,
            "unknown or revoked device token",
            "authorization",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    wait = request.app.state.rate_limiter.retry_after(device.id)
    if wait:
        raise HubError(
            429, f"too many requests from this device: retry in {wait} s", None, {"Retry-After": str(wait)}
        )
    return device


# ---------------------------------------------------------------- models


class EnrolRequest(BaseModel):
    code: str = Field(
        min_length=1, max_length=64, description="the one-time code from `federation add-centre`"
    )
    label: str = Field(
        default="Borne", min_length=1, max_length=200, description="what the device is, for the staff"
    )

    @field_validator("code", "label")
    @classmethod
    def _storable(cls, value: str) -> str:
        # a NUL (PostgreSQL's text cannot hold it), a lone surrogate (no
        # database encodes it), any control character: refused, named
        problem = protocol.unfit_text(value)
        if problem:
            raise ValueError(problem)
        return value


class EnrolAnswer(BaseModel):
    device_id: str
    device_token: str
    centre_id: str
    centre_name: str
    protocol: str
    hub_key: str | None = Field(
        default=None, description="the hub's Ed25519 verify key (hex), which the device pins"
    )


class Rejection(BaseModel):
    id: str | None
    index: int
    field: str | None = Field(default=None, description="what is wrong: 'data.first_name', 'occurred_at'…")
    reason: str


class Dropped(BaseModel):
    id: str
    index: int
    fields: list[str] = Field(description="the unknown fields left out of the stored event")


class BatchAnswer(BaseModel):
    protocol: str
    stored: list[str]
    duplicates: list[str]
    rejected: list[Rejection]
    dropped: list[Dropped] = []


class StatusAnswer(BaseModel):
    protocol: str
    centre_id: str
    centre_name: str
    device_id: str
    events_total: int
    events_by_type: dict[str, int]
    first_occurred_at: str | None
    last_occurred_at: str | None
    last_sync_at: str | None
    events_parked: int = Field(default=0, description="events dated outside the hub's window, kept aside")
    conflicts: int = Field(default=0, description="events whose id the hub holds with another content")


class Health(BaseModel):
    status: str
    protocol: str


class ErrorAnswer(BaseModel):
    error: str
    field: str | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorAnswer} for status in (400, 401, 403, 413, 415, 429, 503)
}

# ---------------------------------------------------------------- enrolment

enrolment = APIRouter(prefix="/api/v1", tags=["enrolment"])


@enrolment.post("/enrol", response_model=EnrolAnswer, responses=_ERRORS)
def enrol(request: EnrolRequest, engine: Engine = Depends(get_engine)) -> dict:
    """Trade a one-time enrolment code for this device's token."""
    try:
        with db.writer(engine) as conn, conn.begin():
            answer = centres.enrol(conn, request.code, request.label.strip() or "Borne")
            # the key the device checks the federation's publications with
            return answer | {"hub_key": hub_key.verify_key_text(conn)}
    except centres.EnrolmentRefused as refused:
        raise HubError(refused.status, refused.message, "code") from None


# ---------------------------------------------------------------- ingest

batches = APIRouter(prefix="/api/v1", tags=["ingest"])

_BATCH_SCHEMA = {
    "type": "object",
    "required": ["protocol", "events"],
    "properties": {
        "protocol": {"type": "string", "example": protocol.PROTOCOL_VERSION},
        "device_id": {"type": "string"},
        "centre_id": {"type": "string"},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "type", "occurred_at", "data"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "type": {"type": "string", "enum": sorted(protocol.EVENT_TYPES)},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "data": {"type": "object"},
                },
            },
        },
    },
}


@batches.post(
    "/batches",
    response_model=BatchAnswer,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BATCH_SCHEMA}}}
    },
)
async def post_batch(
    request: Request,
    device: centres.Device = Depends(current_device),
    limits: Limits = Depends(get_limits),
    engine: Engine = Depends(get_engine),
) -> Response:
    """Store a batch of events; the answer comes only after the commit and
    puts every sent event id in exactly one of stored, duplicates, rejected."""
    raw = await _read_body(request, limits.max_body_bytes)
    encoding = request.headers.get("content-encoding", "identity")
    # decompressing, parsing and storing are CPU and disk work: off the event loop
    version = request.headers.get(protocol.APP_VERSION_HEADER)
    answer = await run_in_threadpool(_store_batch, engine, device, raw, encoding, limits, version)
    if getattr(request.app.state, "metrics", None) is not None:  # federation.metrics
        request.app.state.metrics.count_events(answer)
    # built by the hub itself: no re-validation of its ids against the model,
    # written by orjson; a text orjson refuses (a lone surrogate in a refused
    # id) goes the stdlib's way
    try:
        return Response(orjson.dumps(answer), media_type="application/json")
    except TypeError:  # ASCII escapes: a lone surrogate has no UTF-8 (JSONResponse failed with a 500)
        return Response(json.dumps(answer).encode(), media_type="application/json")


def parse_body(text: bytes) -> object:
    """The body's JSON. orjson parses it (a fraction of the stdlib's time);
    what orjson refuses (a lone surrogate, a byte-order mark, bad JSON) goes
    to the stdlib, which accepts it or words the refusal. orjson reads an
    integer past 64 bits as a float: no allowed field can hold either, so
    the answer is the same (refused alike, or dropped unread)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        # NaN and Infinity are not JSON
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        raise HubError(400, f"the body is not valid JSON: {error}", "body") from None


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str = "the request body") -> HubError:
    return HubError(413, f"{what} is larger than the limit of {limit} bytes: send smaller batches", "body")


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding, never producing more than ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise HubError(
            415, f"unsupported Content-Encoding {encoding!r}: send gzip or nothing", "content-encoding"
        )
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as error:
        raise HubError(400, f"the gzip body is corrupt: {error}", "body") from None
    if len(out) > limit:
        raise _too_large(limit, "the decompressed body")
    if not inflater.eof:
        raise HubError(400, "the gzip body is truncated", "body")
    if inflater.unused_data:  # a second gzip member, or anything else after the first
        raise HubError(400, "the gzip body has data after its end: send one gzip member", "body")
    return out


def _store_batch(
    engine: Engine,
    device: centres.Device,
    raw: bytes,
    encoding: str,
    limits: Limits,
    version: str | None = None,
) -> dict:
    """The ingest, one way: decode, parse, check (``ingest.prepare``, before
    the write lock), then one transaction that writes the batch."""
    received_at = centres.now_iso()
    body = parse_body(decode_body(raw, encoding, limits.max_decoded_bytes))
    try:
        batch = ingest.prepare(
            body, device.centre_id, device.id, received_at, limits.max_events, limits.window
        )
    except protocol.ProtocolError as error:
        raise HubError(400, str(error), error.field) from None
    with (
        db.write_turn(engine),
        db.writer(engine) as conn,
        conn.begin(),
    ):  # the write lock, for the writes only
        answer = ingest.write(conn, batch)
        agenda.after_batch(conn, device.centre_id, batch.events)  # the federation's agenda follows
        centres.mark_synced(conn, device.id, received_at)
        centres.note_version(conn, device.id, version, received_at)
    return answer.as_json()


# ---------------------------------------------------------------- status, health

status = APIRouter(prefix="/api/v1", tags=["status"])


@status.get("/status", response_model=StatusAnswer, responses=_ERRORS)
def get_status(
    device: centres.Device = Depends(current_device), engine: Engine = Depends(get_engine)
) -> dict:
    """What the hub holds of this device's centre."""
    with engine.connect() as conn:
        return centres.device_status(conn, device)


@status.get("/health", response_model=Health)
def health() -> dict:
    """Reachability check for the kiosk's scheduler; no token needed."""
    return {"status": "ok", "protocol": protocol.PROTOCOL_VERSION}


routers = (enrolment, batches, status)
