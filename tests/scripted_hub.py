"""An HTTP server on 127.0.0.1 answering batches the way a test scripts it.

Not a replacement for the hub (tests/conftest_hub.py starts the real one):
it exists to check how the client reads each kind of answer — a forgetful
answer, a 401, a 503 with Retry-After — and to watch how requests overlap."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sync import protocol

HUB = {protocol.HUB_HEADER: "1"}


def accept_all(batch):
    ids = [event["id"] for event in batch["events"]]
    return 200, {"protocol": "1.0", "stored": ids, "duplicates": [], "rejected": []}, HUB


class ScriptedHub:
    """An HTTP server on 127.0.0.1 that answers each POST with a function of
    the decoded batch: to test how the client reads each kind of answer."""

    def __init__(self, answer):
        self.answer = answer
        self.batches: list[dict] = []
        self.guard = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # how many batches were ever being answered at once
        self.tokens_in_flight: dict[str, int] = {}
        self.max_tokens_in_flight = 0  # how many senders (by token) ever had a batch answered at once
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                batch = json.loads(raw)
                outer.batches.append({"batch": batch, "auth": self.headers.get("Authorization")})
                auth = self.headers.get("Authorization") or ""
                with outer.guard:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    outer.tokens_in_flight[auth] = outer.tokens_in_flight.get(auth, 0) + 1
                    outer.max_tokens_in_flight = max(outer.max_tokens_in_flight, len(outer.tokens_in_flight))
                try:
                    status, body, headers = outer.answer(batch)
                finally:
                    with outer.guard:
                        outer.in_flight -= 1
                        outer.tokens_in_flight[auth] -= 1
                        if not outer.tokens_in_flight[auth]:
                            del outer.tokens_in_flight[auth]
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
