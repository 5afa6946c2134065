"""The hub's ASGI application: ``create_app(db_url)``.

Mounts the kiosks' API (federation.api) and, when it is installed, the
dashboard (federation.web.router). Every answer carries ``X-Accueil-Hub: 1``
so a kiosk can tell the hub from a wifi portal; every error is JSON
``{"error", "field"}`` and none of them is a 5xx for anything a client sent.
"""

from __future__ import annotations

import gc
import logging
import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from federation import (
    api,
    ingest,
    metrics,
    network_api,
    parent_sync,
    period_figures,
    publications_api,
    ratelimit,
    relay,
    retention,
    seat_requests,
)
from federation import store as db
from sync import protocol

log = logging.getLogger("federation")

#: how long a client waits before retrying when the database is busy
BUSY_RETRY_AFTER_S = 2


def create_app(
    db_url: str | None = None,
    limits: api.Limits | None = None,
    pre_auth_per_minute: int = ratelimit.DEFAULT_PER_MINUTE,
    metrics_token: str | None = None,
    read_db_url: str | None = None,
) -> FastAPI:
    """Open (and migrate) the database at ``db_url`` and build the app.
    ``metrics_token`` opens /metrics to whoever sends it (federation.metrics;
    None: closed).
    ``read_db_url``, a read replica of the database, serves the dashboard's
    figures (never migrated nor written: the replica follows the database)."""
    # no public /docs, /redoc or /openapi.json: the schema is served to
    # signed-in staff by the dashboard (federation.web), and the interactive
    # pages would load their scripts from a CDN, which the hub never does
    app = FastAPI(
        title="Accueil federation hub",
        version=protocol.PROTOCOL_VERSION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.engine = db.open_engine(db_url)
    app.state.read_engine = db.create_engine(read_db_url) if read_db_url else None
    app.state.limits = limits or api.Limits()
    app.state.rate_limiter = api.RateLimiter(app.state.limits.rate_per_minute)
    app.state.metrics = metrics.HubMetrics(app.state.engine, metrics_token)
    for router in api.routers:
        app.include_router(router)
    app.include_router(network_api.router)  # child hubs' roll-up (federation.network)
    app.state.relay_limits = relay.Limits.from_environment()
    app.include_router(relay.router)  # sealed blobs between a centre's devices
    app.include_router(seat_requests.router)  # sealed seat requests between centres
    app.include_router(publications_api.router)  # what the federation publishes, signed
    app.include_router(metrics.router)
    _mount_dashboard(app)
    _install_error_handlers(app)

    # inside HubHeader, so its refusals carry the header too
    app.add_middleware(ratelimit.PreAuthLimit, per_minute=pre_auth_per_minute)
    app.add_middleware(HubHeader)
    # outermost: every batch request is counted and timed, refusals included
    app.add_middleware(metrics.BatchTimer, metrics=app.state.metrics)
    return app


class HubHeader:
    """Adds ``X-Accueil-Hub: 1`` to every answer. Plain ASGI: Starlette's
    BaseHTTPMiddleware costs about a millisecond of CPU a request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_header(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), _HUB_HEADER]
            await send(message)

        await self.app(scope, receive, send_with_header)


_HUB_HEADER = (protocol.HUB_HEADER.lower().encode(), b"1")


def app_from_environment() -> FastAPI:
    """The app `federation serve` runs (in each worker): the database from
    $FEDERATION_DB, limits from $FEDERATION_MAX_BODY_BYTES,
    $FEDERATION_MAX_EVENTS and $FEDERATION_RATE_LIMIT (requests a minute),
    the window from $FEDERATION_WINDOW_PAST_YEARS and
    $FEDERATION_WINDOW_FUTURE_DAYS, the refusals
    a minute per client address from $FEDERATION_PRE_AUTH_RATE_LIMIT, the
    token that opens /metrics from $FEDERATION_METRICS_TOKEN, the dashboard's
    read replica from $FEDERATION_READ_DB."""
    limits = api.Limits()
    for attribute, variable in (
        ("max_body_bytes", "FEDERATION_MAX_BODY_BYTES"),
        ("max_events", "FEDERATION_MAX_EVENTS"),
        ("rate_per_minute", "FEDERATION_RATE_LIMIT"),
    ):
        if os.environ.get(variable):
            setattr(limits, attribute, int(os.environ[variable]))
    limits.max_decoded_bytes = max(limits.max_decoded_bytes, limits.max_body_bytes)
    # when events may have occurred to be stored (years before, days after their arrival)
    limits.window = ingest.Window(
        int(os.environ.get("FEDERATION_WINDOW_PAST_YEARS") or limits.window.past_years),
        int(os.environ.get("FEDERATION_WINDOW_FUTURE_DAYS") or limits.window.future_days),
    )
    pre_auth = os.environ.get("FEDERATION_PRE_AUTH_RATE_LIMIT")
    app = create_app(
        os.environ.get("FEDERATION_DB"),
        limits,
        int(pre_auth) if pre_auth else ratelimit.DEFAULT_PER_MINUTE,
        os.environ.get(metrics.TOKEN_VARIABLE) or None,
        os.environ.get("FEDERATION_READ_DB") or None,
    )
    # sends this hub's figures to its parent hub, if it has one: a thread per
    # worker process, one sending at a time (federation.parent_sync's lease)
    interval = float(os.environ.get(PARENT_INTERVAL_VARIABLE) or parent_sync.DEFAULT_INTERVAL_S)
    if interval > 0:
        app.state.parent_sync = parent_sync.Background(os.environ.get("FEDERATION_DB"), interval).start()
    # keeps each centre's figures of the periods people read (the
    # dashboard's default period, this year and month...) computed ahead,
    # so a page reads the centres changed since alone (federation.period_figures)
    figures_interval = float(
        os.environ.get(period_figures.INTERVAL_VARIABLE) or period_figures.DEFAULT_INTERVAL_S
    )
    if figures_interval > 0:
        app.state.period_figures = period_figures.Background(
            os.environ.get("FEDERATION_DB"), figures_interval
        ).start()
    # the daily upkeep: the events' months ahead made (PostgreSQL), the
    # retention applied if one is set, the relay's blobs every device has
    # or past their days dropped (federation.retention), on every hub
    months = os.environ.get(retention.MONTHS_VARIABLE)
    policy = retention.Policy(int(months), limits.window) if months else None
    app.state.events_upkeep = retention.Background(os.environ.get("FEDERATION_DB"), policy).start()
    # the modules and app built at start live as long as the process: keep the
    # garbage collector from walking them again after every batch's garbage
    gc.collect()
    gc.freeze()
    # a batch allocates tens of thousands of short-lived dicts and lists, which
    # at the default threshold of 700 set off a score of young collections a
    # batch; at GC_YOUNG_THRESHOLD most have been freed by their reference
    # counts before a collection comes, and cycles are still collected
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return app


#: seconds between two sends to the parent hub (0: never by itself)
PARENT_INTERVAL_VARIABLE = "FEDERATION_PARENT_INTERVAL"

#: net container allocations between two young collections in the server
GC_YOUNG_THRESHOLD = 100_000


def _mount_dashboard(app: FastAPI) -> None:
    try:
        from federation import web
    except ImportError as error:
        log.info("dashboard not mounted: %s", error)
        return
    router = getattr(web, "router", None)
    if router is not None:
        app.include_router(router)


def _error(status: int, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": message} | ({"field": field} if field else {})
    return JSONResponse(body, status_code=status, headers=headers)  # HubHeader adds ours


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(api.HubError)
    async def hub_error(_request: Request, error: api.HubError) -> JSONResponse:
        return _error(error.status, error.message, error.field, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "header")]
        return _error(400, f"invalid request: {first.get('msg', 'bad input')}", ".".join(where) or "body")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), None, dict(error.headers or {}))

    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, error: OperationalError) -> JSONResponse:
        # locked SQLite file, PostgreSQL restarting: nothing was committed, retry later
        log.warning("database unavailable: %s", error.orig)
        return _error(
            503, "the hub's database is busy: retry later", None, {"Retry-After": str(BUSY_RETRY_AFTER_S)}
        )
