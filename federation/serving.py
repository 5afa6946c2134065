"""uvicorn's HTTP protocol with deadlines, for `federation serve`.

uvicorn closes a connection that idles between requests (keep-alive), but
waits for ever for a request's headers or body: a client that connects and
sends nothing, or a byte now and then, holds a connection and its memory as
long as it likes (a thousand of them stayed open). Here:

* the headers of a request must all arrive within ``HEADER_TIMEOUT_S`` of
  its first byte (or of the connection, for the first request), and weigh no
  more than ``MAX_HEADER_BYTES``; else the hub answers 408 or 431 and closes;
* a request's body must all arrive within ``BODY_TIMEOUT_S`` of its headers;
  else the connection is closed (the handler sees the client gone, stores
  nothing).

The limits come from the environment (``FEDERATION_HEADER_TIMEOUT``,
``FEDERATION_BODY_TIMEOUT``, seconds), which `federation serve` sets from
its options before uvicorn starts its workers; the classes stay plain
module-level classes so uvicorn can hand them to worker processes.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # checked against one of the two: they have the same attributes
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
else:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
    except ImportError:  # no httptools: uvicorn's pure-Python parser
        from uvicorn.protocols.http.h11_impl import H11Protocol as _Base

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 64 * 1024


def _seconds(variable: str, default: float) -> float:
    value = os.environ.get(variable)
    return float(value) if value else default


def _reply(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\nx-accueil-hub: 1\r\n\r\n"


class DeadlineProtocol(_Base):
    """uvicorn's protocol, with a deadline on each request's headers and body."""

    header_timeout = _seconds("FEDERATION_HEADER_TIMEOUT", HEADER_TIMEOUT_S)
    body_timeout = _seconds("FEDERATION_BODY_TIMEOUT", BODY_TIMEOUT_S)
    max_header_bytes = MAX_HEADER_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        self._tracked: RequestResponseCycle | None = None  # the request cycle whose body is awaited
        self._header_bytes = 0
        super().connection_made(transport)
        self._expect("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is None and (self.cycle is None or self.cycle.response_complete):
            self._expect("headers")  # the first bytes of the next request
        if self._phase == "headers":
            self._header_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle is not self._tracked and not self.cycle.response_complete:
            self._tracked = self.cycle  # this chunk completed a request's headers
            self._header_bytes = 0
            if self.cycle.more_body:
                self._expect("body")
            else:
                self._cancel()
        elif self._phase == "body" and self._tracked is not None and not self._tracked.more_body:
            self._cancel()
        elif self._phase == "headers" and self._header_bytes > self.max_header_bytes:
            self._close(b"431 Request Header Fields Too Large")

    def _expect(self, phase: str) -> None:
        self._cancel()
        self._phase = phase
        delay = self.header_timeout if phase == "headers" else self.body_timeout
        self._deadline = asyncio.get_running_loop().call_later(delay, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, None

    def _expired(self) -> None:
        phase, self._deadline = self._phase, None
        if phase == "headers":
            self._close(b"408 Request Timeout")
        elif phase == "body" and not self.transport.is_closing():
            self.transport.close()  # a response may be on its way: no status line of ours

    def _close(self, status: bytes) -> None:
        self._cancel()
        if not self.transport.is_closing():
            self.transport.write(_reply(status))
            self.transport.close()
