"""The kiosks' endpoint of the federation's publications (the contract is
sync.publications'; what is published and the signed page are
federation.publications'):

- ``GET /api/v1/publications?since=N&nonce=X``: the calling device's page,
  gzipped when it asks and the answer is over ``GZIP_FROM_BYTES``;
- ``POST``/``PUT``/``PATCH``/``DELETE`` on the same path: refused, since a
  device never publishes (401 without a token, 403 with a device's).
"""

from __future__ import annotations

import gzip

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from federation import centres
from federation.api import HubError, current_device, get_engine
from federation.publications import page
from sync import publications as wire

#: answers at least this long are sent gzipped to a client that accepts it
GZIP_FROM_BYTES = 1024

router = APIRouter(prefix="/api/v1", tags=["publications"])


@router.get("/publications")
def get_publications(
    request: Request,
    since: int = Query(default=0, ge=0, lt=2**53, description="the kiosk's cursor: the last page's"),
    nonce: str = Query(min_length=16, max_length=64, pattern=wire.NONCE_RE.pattern),
    device: centres.Device = Depends(current_device),
    engine: Engine = Depends(get_engine),
) -> Response:
    """What the federation published for this device's centre since its
    cursor, signed by the hub (sync.publications describes the answer)."""
    with engine.connect() as conn:
        answer = page(conn, device.centre_id, since, nonce)
    raw = orjson.dumps(answer)
    headers = {"Cache-Control": "no-store"}
    if len(raw) >= GZIP_FROM_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        raw = gzip.compress(raw, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return Response(raw, media_type="application/json", headers=headers)


@router.api_route("/publications", methods=["POST", "PUT", "PATCH", "DELETE"])
def refuse_device_publishing(device: centres.Device = Depends(current_device)) -> None:
    """A device never publishes: the federation's staff do, on the dashboard
    (no token: 401, from ``current_device``; a device's token: 403)."""
    raise HubError(403, "only the federation's staff publish, from the dashboard: a device cannot", None)
