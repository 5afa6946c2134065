"""The limit before authentication: how many refusals one client address may
earn a minute at the doors a stranger can knock on.

The doors are sign-in (``POST /login``), enrolment (``POST /api/v1/enrol``),
an invite's short code (``POST /api/v1/relay/invites/lookup``), the batches
(``POST /api/v1/batches``, whose token is checked on every request) and the
metrics (``GET /metrics``, federation.metrics). Each client
address has a token bucket of ``per_minute`` tokens, refilled continuously.
A request takes a token before anything else is done (no body read, no
database); the token is given back unless the answer was a
refusal of who the caller is (401, 403; at sign-in a 429 too). So a guesser gets
``per_minute`` guesses a minute and then cheap 429s, while devices and staff
whose credentials are right never spend anything, however many they are
behind one address. Taking the token first makes the bound hold for
simultaneous requests too.

A bearer credential the hub accepted lately (its hash, for KNOWN_SECONDS, at
most MAX_KNOWN of them) takes no token first: however many of its requests
are in flight at once (many kiosks of a centre behind one address), none is
held back; a refusal of it still spends a token, and forgets it.

The client address is the connection's peer, or the address a trusted proxy
forwarded (``federation serve --trusted-proxy``); clients cannot choose it.
Buckets live in this process's memory (a hub with N processes lets an address
N times as much); at most ``max_addresses`` are kept, the least recently seen
dropped first.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

#: refusals a minute per client address, and the burst allowed
DEFAULT_PER_MINUTE = 30
MAX_ADDRESSES = 10_000
#: (method, path) of the requests counted
GUARDED = frozenset(
    {("POST", "/login"), ("POST", "/api/v1/enrol"), ("POST", "/api/v1/batches"), ("GET", "/metrics")}
    # an invite's short code, typed on a new device (federation.relay)
    | {("POST", "/api/v1/relay/invites/lookup")}
    # a child hub's link code and token (federation.network_api)
    | {
        ("POST", "/api/v1/network/link"),
        ("POST", "/api/v1/network/figures"),
        ("GET", "/api/v1/network/status"),
    }
)
#: answers that spend the token: the caller was not who it said; at sign-in,
#: also an attempt past the per-person limits (a device over its own rate
#: limit spends nothing here: its token was right)
CHARGED = frozenset({401, 403})
CHARGED_AT_SIGN_IN = CHARGED | {429}
#: how long, and how many, bearer credentials accepted lately are trusted to
#: go in without taking a token first
KNOWN_SECONDS = 600
MAX_KNOWN = 10_000


class RefusalBudget:
    """Token buckets by client address. Used from the event loop only."""

    def __init__(
        self, per_minute: int = DEFAULT_PER_MINUTE, max_addresses: int = MAX_ADDRESSES, clock=time.monotonic
    ):
        self.per_minute = per_minute
        self.max_addresses = max_addresses
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, address: str) -> int:
        """Take a token: 0 if the request may go on, else the seconds to wait."""
        rate = self.per_minute / 60
        now = self.clock()
        tokens, last = self.buckets.pop(address, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens < 1:
            self._keep(address, tokens, now)
            return max(1, int((1 - tokens) / rate + 0.999))
        self._keep(address, tokens - 1, now)
        return 0

    def give_back(self, address: str) -> None:
        if address in self.buckets:
            tokens, last = self.buckets[address]
            self.buckets[address] = (min(float(self.per_minute), tokens + 1), last)

    def _keep(self, address: str, tokens: float, now: float) -> None:
        self.buckets[address] = (tokens, now)
        while len(self.buckets) > self.max_addresses:
            self.buckets.popitem(last=False)


class KnownCredentials:
    """Hashes of the bearer credentials accepted lately, each for
    KNOWN_SECONDS; at most MAX_KNOWN, the least recently accepted dropped first."""

    def __init__(self, seconds: float = KNOWN_SECONDS, most: int = MAX_KNOWN, clock=time.monotonic):
        self.seconds, self.most, self.clock = seconds, most, clock
        self.until: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        until = self.until.get(key)
        if until is None:
            return False
        if until < self.clock():
            del self.until[key]
            return False
        return True

    def accepted(self, key: str) -> None:
        self.until.pop(key, None)
        self.until[key] = self.clock() + self.seconds
        while len(self.until) > self.most:
            self.until.popitem(last=False)

    def refused(self, key: str) -> None:
        self.until.pop(key, None)


def _bearer_key(scope) -> str | None:
    """The hash of the request's Authorization header, if it has one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return hashlib.sha256(value).hexdigest()
    return None


class PreAuthLimit:
    """ASGI middleware applying a RefusalBudget to the GUARDED requests."""

    def __init__(self, app, per_minute: int = DEFAULT_PER_MINUTE):
        self.app = app
        self.budget = RefusalBudget(per_minute) if per_minute > 0 else None
        self.known = KnownCredentials()

    async def __call__(self, scope, receive, send):
        if self.budget is None or scope["type"] != "http" or (scope["method"], scope["path"]) not in GUARDED:
            return await self.app(scope, receive, send)
        address = scope["client"][0] if scope.get("client") else "unknown"
        key = _bearer_key(scope)
        if key is not None and key in self.known:
            return await self._known(scope, receive, send, address, key)
        wait = self.budget.take(address)
        if wait:
            return await _refuse(scope, send, wait)
        watched, answer = _watching(send)
        charged = CHARGED_AT_SIGN_IN if scope["path"] == "/login" else CHARGED
        try:
            await self.app(scope, receive, watched)
        finally:
            status = answer.get("status")
            if status not in charged:
                self.budget.give_back(address)
            if key is not None and status is not None and status < 400:
                self.known.accepted(key)

    async def _known(self, scope, receive, send, address: str, key: str) -> None:
        """A credential accepted lately: in at once; a refusal spends a token."""
        assert self.budget is not None
        watched, answer = _watching(send)
        try:
            await self.app(scope, receive, watched)
        finally:
            if answer.get("status") in CHARGED:
                self.known.refused(key)
                self.budget.take(address)


def _watching(send):
    """``send`` wrapped to note the answer's status in the dict returned beside it."""
    answer: dict[str, int] = {}

    async def watched(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        await send(message)

    return watched, answer


async def _refuse(scope, send, wait: int) -> None:
    if scope["path"].startswith("/api/"):
        body = json.dumps({"error": f"too many refused requests from this address: retry in {wait} s"})
        content_type = b"application/json"
    else:
        body = _PAGE.format(minutes=max(1, (wait + 59) // 60))
        content_type = b"text/html; charset=utf-8"
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
                (b"retry-after", str(wait).encode()),
                (b"cache-control", b"no-store"),
                (b"content-security-policy", b"default-src 'self'; style-src 'self'; frame-ancestors 'none'"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Trop de tentatives — Accueil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/style.css"></head>
<body><main class="refused"><h1>Trop de tentatives</h1>
<p>Trop de tentatives de connexion depuis cette adresse. Réessayez dans {minutes} minute(s).</p>
<p><a href="/login">Revenir à la page de connexion</a></p></main></body></html>
"""
