"""A fault-injecting HTTP proxy of our own, for the sync's fault tests.

A stdlib TCP server on 127.0.0.1 between a kiosk and a real hub process. It
reads each HTTP/1.1 request whole (headers, then Content-Length bytes), then
applies the next fault of its plan to that request:

- ``pass``: forward it, pass the whole answer back;
- ``reset``: close the client's connection with a TCP RST; the hub never sees it;
- ``swallow``: never answer and never forward (the client times out);
- ``delay``: wait ``delay_s`` seconds, then forward normally;
- ``cut``: forward it, pass back only the first part of the answer, then close;
- ``drop``: forward it, let the hub answer (so it has committed), then close
  the client's connection without passing the answer on;
- ``portal``: answer 200 with a wifi portal's HTML page, hub never contacted;
- ``tamper``: forward it, pass back the hub's answer with its body rewritten
  by ``proxy.tamper`` (bytes -> bytes, on the body as decoded: a gzipped
  answer is gunzipped, rewritten and gzipped again), as an attacker between
  the two would.

Each request to the hub goes over a fresh upstream connection; the client's
connection is kept alive between requests unless a fault closes it.
``proxy.counts`` tells which faults really happened, so a test can check the
fault it meant to inject was met.
"""

from __future__ import annotations

import collections
import gzip
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable

FAULTS = ("pass", "reset", "swallow", "delay", "cut", "drop", "portal", "tamper")

PORTAL_PAGE = (
    b"<!DOCTYPE html><html><head><title>Connexion Wi-Fi</title></head><body>"
    b"<h1>Bienvenue sur le Wi-Fi de la mairie</h1>"
    b"<p>Acceptez les conditions d'utilisation pour continuer.</p>"
    b"<form method=post><button>J'accepte</button></form></body></html>"
)


class FaultProxy:
    """``with FaultProxy(("127.0.0.1", hub_port)) as proxy: proxy.url`` ...

    ``plan(["drop", "pass"])`` queues faults for the next requests (then
    ``default``); ``randomize(seed, weights)`` draws one per request instead.
    ``applies_to(method, path)`` limits faults to some requests (default: all);
    the others pass.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        delay_s: float = 1.0,
        applies_to: Callable[[str, str], bool] | None = None,
    ):
        self.upstream = upstream
        self.delay_s = delay_s
        self.applies_to = applies_to or (lambda method, path: True)
        self.default = "pass"
        self.tamper: Callable[[bytes], bytes] = lambda body: body
        self._plan: collections.deque[str] = collections.deque()
        self._random: tuple[random.Random, list[str], list[float]] | None = None
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)

    # ------------------------------------------------------------ control

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._server.close()
        except OSError:
            pass
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _close(client)
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plan(self, faults: Iterable[str], default: str = "pass") -> None:
        faults = list(faults)
        for fault in [*faults, default]:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._plan = collections.deque(faults)
            self.default = default
            self._random = None

    def randomize(self, seed: int, weights: dict[str, float]) -> None:
        for fault in weights:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._random = (random.Random(seed), list(weights), list(weights.values()))
            self._plan.clear()

    def _next_fault(self, method: str, path: str) -> str:
        if not self.applies_to(method, path):
            return "pass"
        with self._lock:
            if self._plan:
                fault = self._plan.popleft()
            elif self._random:
                rng, names, weights = self._random
                fault = rng.choices(names, weights)[0]
            else:
                fault = self.default
            self.counts[fault] += 1
            return fault

    # ------------------------------------------------------------ serving

    def _accept_loop(self) -> None:
        self._server.settimeout(0.1)  # closing a socket does not wake accept(): poll
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while not self._stopping.is_set():
                request = _read_message(reader, is_request=True)
                if request is None:
                    return
                head = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                fault = self._next_fault(head[0], head[1] if len(head) > 1 else "/")
                if not self._apply(fault, client, request):
                    return
        except OSError:
            return
        finally:
            reader.close()
            with self._lock:
                self._clients.discard(client)
            _close(client)

    def _apply(self, fault: str, client: socket.socket, request: bytes) -> bool:
        """Carry out ``fault`` for one request; False when the connection is done."""
        if fault == "reset":
            _reset(client)
            return False
        if fault == "swallow":
            # hold the connection open, unanswered, until the client gives up
            while not self._stopping.is_set():
                client.settimeout(0.2)
                try:
                    if client.recv(65536) == b"":
                        return False
                except TimeoutError:
                    continue
            return False
        if fault == "portal":
            client.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n" % len(PORTAL_PAGE) + PORTAL_PAGE
            )
            return True
        if fault == "delay":
            self._stopping.wait(self.delay_s)
        answer = self._forward(request)
        if answer is None:
            _reset(client)
            return False
        if fault == "drop":
            _reset(client)  # the hub has answered, so it has committed
            return False
        if fault == "cut":
            client.sendall(answer[: max(1, len(answer) // 2)])
            _close(client)
            return False
        if fault == "tamper":
            answer = _rewritten(answer, self.tamper)
        client.sendall(answer)
        return True

    def _forward(self, request: bytes) -> bytes | None:
        try:
            with socket.create_connection(self.upstream, timeout=120) as upstream:
                upstream.sendall(request)
                with upstream.makefile("rb") as reader:
                    return _read_message(reader, is_request=False)
        except OSError:
            return None


# ---------------------------------------------------------------- HTTP framing


def _read_message(reader, is_request: bool) -> bytes | None:
    """One whole HTTP/1.1 message (head and body) as raw bytes, or None at EOF."""
    head = bytearray()
    while True:
        line = reader.readline(65537)
        if not line:
            return None if not head else bytes(head)
        if not head and line in (b"\r\n", b"\n") and is_request:
            continue  # stray blank line between keep-alive requests
        head += line
        if line in (b"\r\n", b"\n"):
            break
    headers = _headers(bytes(head))
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return bytes(head) + _read_chunked(reader)
    if "content-length" in headers:
        return bytes(head) + reader.read(int(headers["content-length"]))
    if is_request:
        return bytes(head)
    return bytes(head) + reader.read()  # answer delimited by the connection's close


def _read_chunked(reader) -> bytes:
    body = bytearray()
    while True:
        size_line = reader.readline()
        body += size_line
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, up to the blank line
                line = reader.readline()
                body += line
                if line in (b"\r\n", b"\n", b""):
                    return bytes(body)
        body += reader.read(size + 2)


def _headers(head: bytes) -> dict[str, str]:
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _rewritten(answer: bytes, rewrite: Callable[[bytes], bytes]) -> bytes:
    """``answer`` (with a Content-Length) with its body rewritten."""
    head, _, body = answer.partition(b"\r\n\r\n")
    gzipped = "gzip" in _headers(head + b"\r\n").get("content-encoding", "")
    body = rewrite(gzip.decompress(body) if gzipped else body)
    body = gzip.compress(body) if gzipped else body
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length:")]
    return b"\r\n".join([*lines, b"Content-Length: %d" % len(body)]) + b"\r\n\r\n" + body


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a box rebooting or a NAT timing out does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")
