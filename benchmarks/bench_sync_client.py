"""The sync client's own CPU per event, against a hub stub that answers at once.

    python benchmarks/bench_sync_client.py [--events 100000] [--runs 5] [--gzip-levels 1,6]

``bench_sync.py`` measures the push end to end against the real hub, where
the hub's work dominates and a shared machine blurs the client's share. Here
the hub is a stub in a process of its own (stdlib HTTP server, keep-alive):
it reads each batch's event ids with one regular expression and answers
"all stored" at once, so the figure is the client alone: reading the outbox,
building and compressing each batch, checking the answer, marking it sent.

Each run pushes a fresh copy of a backlog of --events pending visit events
(the bulk writer of bench_sync.py); the client's CPU time (process time, the
wire thread included) per event is the median of --runs runs (the last
figures: docs/performance.md).

Also printed: the CPU of gzip alone on one batch at each level of
--gzip-levels, and the compressed size, to choose the client's level.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import free_port, make_backlog  # noqa: E402

from sync import client, outbox, protocol  # noqa: E402

STUB = r"""
import gzip, json, re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDS = re.compile(rb'"id":"([0-9a-f-]{36})","occurred_at"')  # an event's own id, not its data's ids
HUB, VERSION = sys.argv[2], sys.argv[3]

class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        ids = [m.decode() for m in IDS.findall(body)]
        answer = json.dumps({"protocol": VERSION, "stored": ids, "duplicates": [], "rejected": []}).encode()
        self.send_response(200)
        self.send_header(HUB, "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
"""


def start_stub() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", STUB, str(port), protocol.HUB_HEADER, protocol.PROTOCOL_VERSION]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the stub hub did not start")


def one_push(template: Path, folder: Path, url: str) -> tuple[int, float, float]:
    """(events, wall seconds, client CPU seconds) of one push of a fresh copy."""
    db = folder / f"kiosk-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, db)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = client.push(str(db), url, "token", batch_size=1000)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not result.ok or result.pending:
            raise RuntimeError(f"push failed: {result.summary_en()}")
        conn = outbox.connect(str(db))
        counts = outbox.counts(conn)
        conn.close()
        if counts["pending"] or counts["sent_total"] != result.stored:
            raise RuntimeError(f"outbox after the push: {counts}")
        return result.stored, seconds, cpu
    finally:
        for path in folder.glob(db.name + "*"):
            path.unlink()


def gzip_levels(template: Path, levels: list[int]) -> None:
    conn = outbox.connect(str(template))
    rows = outbox.pending(conn, 1000)
    conn.close()
    raw = protocol.batch_from_texts([row[2] for row in rows])
    for level in levels:
        times = []
        for _ in range(20):
            start = time.process_time()
            packed = gzip.compress(raw, compresslevel=level)
            times.append(time.process_time() - start)
        print(
            f"gzip level {level}: {statistics.median(times) / len(rows) * 1e6:.2f} us an event, "
            f"{len(raw) / len(packed):.1f}x smaller ({len(packed) / len(rows):.0f} bytes an event)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gzip-levels", default="1,6")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="accueil-bench-client-"))
    stub, url = start_stub()
    try:
        template = folder / "backlog.db"
        make_backlog(template, args.events)
        per_event, rates = [], []
        for run in range(args.runs):
            count, seconds, cpu = one_push(template, folder, url)
            per_event.append(cpu / count * 1e6)
            rates.append(count / seconds)
            print(
                f"run {run + 1}: {count:,} events in {seconds:.2f} s = {count / seconds:,.0f} events/s, "
                f"client CPU {cpu / count * 1e6:.2f} us an event"
            )
        print(f"\nclient CPU per event: median {statistics.median(per_event):.2f} us   (goal <= 8 us)")
        print(f"events/s against the instant stub: median {statistics.median(rates):,.0f}")
        gzip_levels(template, [int(level) for level in args.gzip_levels.split(",") if level.strip()])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"median of {args.runs} runs; load average {load:.1f} on {os.cpu_count()} cores")
    finally:
        stub.kill()
        stub.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
