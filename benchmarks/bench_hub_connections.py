"""Connections that never finish a request, against a real hub.

    python benchmarks/bench_hub_connections.py [--connections 1000] [--header-timeout 10] [--body-timeout 20]

Starts `federation serve` on 127.0.0.1 (SQLite, no pre-authentication limit,
its defaults otherwise), opens --connections sockets of three kinds (a third
send nothing, a third half of a request's headers, a third the headers and
half a body), then prints how
many the hub still holds as time passes, when the last was closed, and how
long a health check took meanwhile.

The body deadline is shorter than the served default (60 s), for a quicker run.
Goal: none left after the header deadline (and the body deadline for those
that sent their headers); the health check answers throughout.
"""

from __future__ import annotations

import argparse
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FEDERATION = [sys.executable, "-m", "federation.cli"]
KINDS = [
    b"",
    b"POST /api/v1/batches HTTP/1.1\r\nHost: hub\r\n",
    b'POST /api/v1/enrol HTTP/1.1\r\nHost: hub\r\nContent-Length: 1000\r\n\r\n{"code": ',
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_hub(folder: Path, port: int, header_timeout: float, body_timeout: float) -> subprocess.Popen:
    log = open(folder / "hub.log", "wb")
    process = subprocess.Popen(
        [
            *FEDERATION,
            "serve",
            "--db",
            f"sqlite:///{folder / 'federation.db'}",
            "--port",
            str(port),
            "--header-timeout",
            str(header_timeout),
            "--body-timeout",
            str(body_timeout),
            # every half-sent enrolment waits for its body, none is turned away at once
            "--pre-auth-rate-limit",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the hub did not start: see {folder / 'hub.log'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--header-timeout", type=float, default=10)
    parser.add_argument("--body-timeout", type=float, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))

    folder = Path(tempfile.mkdtemp(prefix="accueil-bench-connections-"))
    port = free_port()
    hub = start_hub(folder, port, args.header_timeout, args.body_timeout)
    selector = selectors.DefaultSelector()
    try:
        start = time.monotonic()
        for n in range(args.connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if KINDS[n % 3]:
                sock.sendall(KINDS[n % 3])
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        print(
            f"{args.connections} connections opened in {time.monotonic() - start:.1f} s "
            f"(header deadline {args.header_timeout:g} s, body deadline {args.body_timeout:g} s)"
        )
        held, last_report, health = args.connections, 0.0, []
        limit = args.header_timeout + args.body_timeout + 30
        while held and time.monotonic() - start < limit:
            for key, _events in selector.select(timeout=0.5):
                try:
                    chunk = key.fileobj.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    held -= 1
            elapsed = time.monotonic() - start
            if elapsed - last_report >= 2:
                asked = time.monotonic()
                httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).raise_for_status()
                health.append(time.monotonic() - asked)
                print(f"  after {elapsed:5.1f} s: {held} still open")
                last_report = elapsed
        elapsed = time.monotonic() - start
        print(
            f"open after {elapsed:.1f} s: {held} of {args.connections}"
            + ("" if held else " (all closed by the hub)")
        )
        if health:
            print(f"health check meanwhile: slowest {max(health) * 1000:.0f} ms of {len(health)}")
        return 0 if held == 0 else 1
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        hub.terminate()
        hub.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
