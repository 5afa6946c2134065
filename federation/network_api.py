"""A parent hub's API for its child hubs: link with a one-time code, send
figures, read what the parent holds. The wire format is in
docs/rollup-protocol.md; federation.network validates and stores.

Errors are JSON ``{"error", "field"}`` like the kiosks' API (api.HubError);
a child's token is checked on every request, and a revoked child gets 401.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.engine import Engine

from federation import api, centres, network, rollup_figures
from federation import store as db
from sync import protocol

router = APIRouter(prefix="/api/v1/network", tags=["hub-to-hub roll-up"])


class LinkRequest(BaseModel):
    code: str = Field(
        min_length=1, max_length=64, description="the one-time code from `federation add-child`"
    )

    @field_validator("code")
    @classmethod
    def _storable(cls, value: str) -> str:
        problem = protocol.unfit_text(value)
        if problem:
            raise ValueError(problem)
        return value


class LinkAnswer(BaseModel):
    child_id: str
    token: str
    name: str = Field(description="the name the parent gave this child federation")
    protocol: str


class Dropped(BaseModel):
    index: int
    dimension: str
    reason: str


class FiguresAnswer(BaseModel):
    protocol: str
    batch_id: str
    stored: int = Field(description="sets stored, each replacing the one it names")
    stale: int = Field(description="sets the parent already holds from a later generation, left as they are")
    dropped: list[Dropped] = Field(description="sets of a dimension this parent does not keep")


class ChildStatus(BaseModel):
    protocol: str
    child_id: str
    name: str
    figure_sets: int
    centres: int
    last_received_at: str | None


def current_child(
    authorization: str | None = Header(default=None), engine: Engine = Depends(api.get_engine)
) -> network.ChildHub:
    """The linked, unrevoked child hub whose token came with the request."""
    token = api._bearer(authorization)
    with engine.connect() as conn:
        child = network.authenticate(conn, token)
    if child is None:
        raise api.HubError(
            401,
            "unknown or revoked child hub token: link this hub again with a new code",
            "authorization",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return child


@router.post("/link", response_model=LinkAnswer, responses=api._ERRORS)
def link(request: LinkRequest, engine: Engine = Depends(api.get_engine)) -> dict:
    """Trade a one-time link code for the child hub's token."""
    try:
        with db.writer(engine) as conn, conn.begin():
            return network.link(conn, request.code)
    except centres.EnrolmentRefused as refused:
        raise api.HubError(refused.status, refused.message, "code") from None


_FIGURES_SCHEMA = {
    "type": "object",
    "required": ["protocol", "batch_id", "generation", "centres", "figures"],
    "additionalProperties": False,
    "properties": {
        "protocol": {"type": "string", "example": protocol.PROTOCOL_VERSION},
        "batch_id": {"type": "string", "format": "uuid"},
        "generation": {"type": "integer", "minimum": 1, "maximum": network.MAX_GENERATION},
        "centres": {
            "type": "array",
            "maxItems": network.MAX_CENTRES,
            "items": {
                "type": "object",
                "required": ["id", "name", "federation"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "federation": {"type": "string", "maxLength": 300},
                },
            },
        },
        "figures": {
            "type": "array",
            "maxItems": network.MAX_SETS,
            "items": {
                "type": "object",
                "required": ["centre_id", "period", "dimension", "values"],
                "additionalProperties": False,
                "properties": {
                    "centre_id": {"type": "string", "format": "uuid"},
                    "period": {"type": "string", "example": "2026-03-02"},
                    "dimension": {"type": "string", "enum": sorted(rollup_figures.DIMENSIONS)},
                    "values": {
                        "type": "object",
                        "maxProperties": rollup_figures.MAX_KEYS,
                        "additionalProperties": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": rollup_figures.MAX_COUNT,
                        },
                    },
                },
            },
        },
    },
}


@router.post(
    "/figures",
    response_model=FiguresAnswer,
    responses=api._ERRORS,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _FIGURES_SCHEMA}}}
    },
)
async def post_figures(
    request: Request,
    child: network.ChildHub = Depends(current_child),
    limits: api.Limits = Depends(api.get_limits),
    engine: Engine = Depends(api.get_engine),
) -> dict:
    """Store a batch of figure sets; the answer comes only after the commit."""
    raw = await api._read_body(request, limits.max_body_bytes)
    encoding = request.headers.get("content-encoding", "identity")
    return await run_in_threadpool(_store, engine, child, raw, encoding, limits)


def _store(engine: Engine, child: network.ChildHub, raw: bytes, encoding: str, limits: api.Limits) -> dict:
    body = api.parse_body(api.decode_body(raw, encoding, limits.max_decoded_bytes))
    try:
        batch = network.validate(body)
    except network.FiguresRefused as error:
        raise api.HubError(400, str(error), error.field) from None
    with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
        return network.store(conn, child, batch, centres.now_iso())


@router.get("/status", response_model=ChildStatus, responses=api._ERRORS)
def status(
    child: network.ChildHub = Depends(current_child), engine: Engine = Depends(api.get_engine)
) -> dict:
    """What the parent holds of this child."""
    s, c = db.child_figure_sets.c, db.child_centres.c
    with engine.connect() as conn:
        sets = conn.execute(sa.select(sa.func.count()).where(s.child_id == child.id)).scalar_one()
        held = conn.execute(sa.select(sa.func.count()).where(c.child_id == child.id)).scalar_one()
        last = conn.execute(
            sa.select(db.child_hubs.c.last_received_at).where(db.child_hubs.c.id == child.id)
        ).scalar()
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "child_id": child.id,
        "name": child.name,
        "figure_sets": int(sets),
        "centres": int(held),
        "last_received_at": last,
    }
