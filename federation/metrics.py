"""The hub's health and metrics: ``GET /healthz`` and ``GET /metrics``.

``/healthz`` is for the reverse proxy, systemd and the monitoring: no token,
a tiny JSON, 200 ``{"status": "ok"}`` when this process answers and its
database does, else 503 ``{"status": "unavailable"}``. It never says why (the
log does): it is public, and a database error names hosts and users.

``/metrics`` is Prometheus's text format, made by the official client
(prometheus-client). It is closed unless the hub has a metrics token
(``FEDERATION_METRICS_TOKEN``, at least ``MIN_TOKEN_CHARS`` characters):
without one it answers 404, with one it wants ``Authorization: Bearer
<token>`` and answers 401 otherwise. A token rather than "loopback only":
behind a reverse proxy on the same machine every request comes from
127.0.0.1, and the rule must not depend on ``--trusted-proxy`` being right.

What it gives:

* ``accueil_hub_batches_total{outcome,status}``: POST /api/v1/batches
  answered, by outcome (accepted, refused, failed) and HTTP status;
* ``accueil_hub_events_total{outcome}``: the events of accepted batches,
  stored, duplicate or rejected;
* ``accueil_hub_batch_duration_seconds``: a histogram of the time from a
  batch's request to its answer (body read, checks, the write and commit);
* ``accueil_hub_batches_in_progress``: batches being handled now, the hub's
  queue: each is being read, checked, waiting for its turn to write (a
  connection, a lock) or writing;
* ``accueil_hub_db_pool_connections{state}``: this process's database
  connections in use and idle;
* ``accueil_hub_centre_last_batch_timestamp_seconds{centre_id}``: when the
  hub last stored a batch from each centre (from the database: the same for
  every process), and ``accueil_hub_database_up``.

Each hub process counts what it handled. `federation serve --workers N`
(N > 1) gives its workers one ``PROMETHEUS_MULTIPROC_DIR`` (see
``multiprocess_dir``), so whichever worker answers reports the sum; the
pool figures are those of the worker that answered. Processes started apart
(``accueil-hub@8081``, ``@8082``…) are scraped one by one, each on its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, exposition, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from federation import store as db

log = logging.getLogger("federation")

TOKEN_VARIABLE = "FEDERATION_METRICS_TOKEN"
MIN_TOKEN_CHARS = 16
#: how long /healthz waits for the database before answering 503
HEALTH_DB_TIMEOUT_S = 3.0
#: how long /metrics waits for its figures (Prometheus gives up after 10 s by default)
METRICS_TIMEOUT_S = 8.0
#: the request whose handling is counted and timed
BATCH_REQUEST = ("POST", "/api/v1/batches")
#: seconds; from a small batch on an idle hub to one that waits its turn behind many
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


class HubMetrics:
    """One app's metrics, in a registry of its own (two apps in one process,
    as in tests, never share counts)."""

    def __init__(self, engine: Engine, token: str | None = None):
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"{TOKEN_VARIABLE} must be at least {MIN_TOKEN_CHARS} characters long "
                f"(it has {len(token)}); make one with: openssl rand -hex 24"
            )
        self.engine = engine
        self.token = token or None
        self.registry = CollectorRegistry()
        self.batches = Counter(
            "accueil_hub_batches",
            "Batches answered, by outcome and HTTP status",
            ["outcome", "status"],
            registry=self.registry,
        )
        self.events = Counter(
            "accueil_hub_events",
            "Events of accepted batches, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "accueil_hub_batch_duration_seconds",
            "Time from a batch's request to its answer",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "accueil_hub_batches_in_progress",
            "Batches being handled now",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        for outcome in ("stored", "duplicate", "rejected"):
            self.events.labels(outcome)  # shown at 0 before the first batch
        self.ping = SingleFlight()
        self.scrape = SingleFlight()

    # ------------------------------------------------------------ counting

    def count_events(self, answer: dict) -> None:
        """Count an accepted batch's answer (federation.api calls it)."""
        self.events.labels("stored").inc(len(answer.get("stored", ())))
        self.events.labels("duplicate").inc(len(answer.get("duplicates", ())))
        self.events.labels("rejected").inc(len(answer.get("rejected", ())))

    def count_batch(self, status: int | None, seconds: float) -> None:
        if status is not None and 200 <= status < 300:
            outcome = "accepted"
        elif status is not None and 400 <= status < 500:
            outcome = "refused"
        else:  # a 5xx, or no answer at all (the client went, an error)
            outcome = "failed"
        self.batches.labels(outcome, str(status) if status else "none").inc()
        self.duration.observe(seconds)

    # ------------------------------------------------------------ exposition

    def exposition(self) -> bytes:
        if os.environ.get(_MULTIPROCESS):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        collector = _DatabaseFigures(self.engine)
        registry.register(collector)
        try:
            return exposition.generate_latest(registry)
        finally:
            registry.unregister(collector)

    def authorised(self, authorization: str | None) -> bool:
        scheme, _, given = (authorization or "").partition(" ")
        return (
            self.token is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), self.token.encode())
        )


class _DatabaseFigures:
    """Figures read at each scrape: the pool of this process and, from the
    database, each centre's last batch."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        pool = GaugeMetricFamily(
            "accueil_hub_db_pool_connections", "This process's database connections", labels=["state"]
        )
        in_use = getattr(self.engine.pool, "checkedout", None)
        idle = getattr(self.engine.pool, "checkedin", None)
        if in_use is not None and idle is not None:
            pool.add_metric(["in_use"], in_use())
            pool.add_metric(["idle"], idle())
        yield pool
        up = GaugeMetricFamily("accueil_hub_database_up", "1 when the database answered this scrape")
        last = GaugeMetricFamily(
            "accueil_hub_centre_last_batch_timestamp_seconds",
            "When the hub last stored a batch from the centre (Unix time)",
            labels=["centre_id"],
        )
        try:
            rows = _last_batches(self.engine)
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: the database did not answer: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for centre_id, last_sync_at in rows:
            last.add_metric([centre_id], _unix_time(last_sync_at))
        yield up
        yield last
        yield from _roll_up(self.engine)


def _roll_up(engine: Engine):
    """Hub to hub (docs/rollup-protocol.md): on a child, when its figures last
    reached the parent and whether the parent revoked it; on a parent, when
    each child's figures last arrived."""
    sent = GaugeMetricFamily(
        "accueil_hub_parent_last_sent_timestamp_seconds",
        "When this hub's figures last all reached its parent hub (Unix time)",
    )
    revoked = GaugeMetricFamily(
        "accueil_hub_parent_revoked", "1 when the parent hub refused this hub's token: nothing is sent"
    )
    received = GaugeMetricFamily(
        "accueil_hub_child_last_received_timestamp_seconds",
        "When this hub last stored figures from the child hub (Unix time)",
        labels=["child_id"],
    )
    link, h = db.parent_link.c, db.child_hubs.c
    try:
        with engine.connect() as conn:
            parent = conn.execute(sa.select(link.last_success_at, link.revoked_at)).first()
            children = conn.execute(
                sa.select(h.id, h.last_received_at).where(h.last_received_at.is_not(None)).order_by(h.id)
            ).all()
    except sa.exc.SQLAlchemyError as error:
        log.warning("metrics: the roll-up's figures did not answer: %s", error)
        return
    if parent is not None:
        if parent.last_success_at:
            sent.add_metric([], _unix_time(parent.last_success_at))
        revoked.add_metric([], 1 if parent.revoked_at else 0)
        yield sent
        yield revoked
    for child_id, last_received_at in children:
        received.add_metric([child_id], _unix_time(last_received_at))
    yield received


def _last_batches(engine: Engine) -> list[tuple[str, str]]:
    c = db.devices.c
    query = (
        sa.select(c.centre_id, sa.func.max(c.last_sync_at))
        .where(c.last_sync_at.is_not(None))
        .group_by(c.centre_id)
        .order_by(c.centre_id)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _unix_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- the batch hook


class BatchTimer:
    """ASGI middleware counting and timing POST /api/v1/batches, whatever
    answers it (the handler, a refusal before it, an error)."""

    def __init__(self, app, metrics: HubMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or (scope["method"], scope["path"]) != BATCH_REQUEST:
            return await self.app(scope, receive, send)
        status = None

        async def send_and_watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            status = status or 500  # what the server's error handler answers
            raise
        finally:
            self.metrics.in_progress.dec()
            self.metrics.count_batch(status, time.perf_counter() - started)


class SingleFlight:
    """A blocking call run in the thread pool at most once at a time: a
    caller that comes while it runs waits for the same result. A database
    that does not answer (a host dropping packets) then holds one thread of
    the pool however often /healthz or /metrics is asked, never enough of
    them to starve the batches. Used from the event loop only."""

    def __init__(self) -> None:
        self._running: asyncio.Future | None = None

    async def run(self, function, *args, timeout: float):
        running = self._running
        if running is None or running.done():
            running = self._running = asyncio.ensure_future(run_in_threadpool(function, *args))
            running.add_done_callback(_consume)
        return await asyncio.wait_for(asyncio.shield(running), timeout)


def _consume(future: asyncio.Future) -> None:
    # a failure nobody waited for any more (it timed out) is not logged again
    if not future.cancelled():
        future.exception()


# ---------------------------------------------------------------- endpoints

router = APIRouter(tags=["monitoring"], include_in_schema=False)


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Liveness and database reachability; no token, nothing but a word."""
    try:
        await request.app.state.metrics.ping.run(_ping, request.app.state.engine, timeout=HEALTH_DB_TIMEOUT_S)
    except (TimeoutError, sa.exc.SQLAlchemyError, OSError) as error:
        log.warning("healthz: the database did not answer: %s", error or type(error).__name__)
        return JSONResponse(
            {"status": "unavailable"},
            status_code=503,
            headers={"Cache-Control": "no-store", "Retry-After": "5"},
        )
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    metrics: HubMetrics = request.app.state.metrics
    if metrics.token is None:
        return JSONResponse(
            {"error": f"metrics are off: set {TOKEN_VARIABLE} to turn them on"}, status_code=404
        )
    if not metrics.authorised(request.headers.get("authorization")):
        return JSONResponse(
            {
                "error": "the metrics token is required: Authorization: Bearer <token>",
                "field": "authorization",
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        body = await metrics.scrape.run(metrics.exposition, timeout=METRICS_TIMEOUT_S)
    except TimeoutError:
        return JSONResponse(
            {"error": "the figures took too long: retry later"}, status_code=503, headers={"Retry-After": "5"}
        )
    return Response(
        body, media_type=exposition.CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )


# ---------------------------------------------------------------- several workers


@contextlib.contextmanager
def multiprocess_dir(workers: int) -> Iterator[None]:
    """For `federation serve --workers N`: with N > 1 and no
    PROMETHEUS_MULTIPROC_DIR of the operator's, a fresh folder for the
    workers' counts (set before they start, removed when they are done), so
    each worker's /metrics reports all of them. The operator's own folder is
    theirs to empty between runs, as prometheus-client asks."""
    if workers <= 1 or os.environ.get(_MULTIPROCESS):
        yield
        return
    folder = tempfile.mkdtemp(prefix="accueil-hub-metrics-")
    os.environ[_MULTIPROCESS] = folder
    try:
        yield
    finally:
        del os.environ[_MULTIPROCESS]
        shutil.rmtree(folder, ignore_errors=True)
