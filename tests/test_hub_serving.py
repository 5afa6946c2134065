"""The served hub's deadlines, against a real `federation serve` process:
connections that send nothing, half a request's headers, or half its body
are closed, however many they are, while the hub keeps answering others."""

from __future__ import annotations

import selectors
import socket
import time

import httpx
import pytest

IDLE, HALF_HEADERS, HALF_BODY = 200, 50, 50
HEADER_TIMEOUT_S, BODY_TIMEOUT_S = 1, 2
#: how long the test waits for the hub to close them all
PATIENCE_S = 30


@pytest.fixture
def strict_hub(hub_server):
    # no pre-authentication limit: every half-sent enrolment waits for its body
    return hub_server(header_timeout=HEADER_TIMEOUT_S, body_timeout=BODY_TIMEOUT_S, pre_auth_rate_limit=0)


def open_socket(hub, first_bytes: bytes = b"") -> socket.socket:
    port = int(hub.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    sock.setblocking(False)
    return sock


def wait_until_closed(sockets: list[socket.socket]) -> tuple[list[bytes], float]:
    """What the hub sent on each before closing it, and the seconds it took;
    fails if any is still open after PATIENCE_S."""
    received = {sock: b"" for sock in sockets}
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    start = time.monotonic()
    open_ones = set(sockets)
    while open_ones and time.monotonic() - start < PATIENCE_S:
        for key, _events in selector.select(timeout=1):
            try:
                chunk = key.fileobj.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[key.fileobj] += chunk
            else:
                selector.unregister(key.fileobj)
                open_ones.discard(key.fileobj)
    elapsed = time.monotonic() - start
    for sock in sockets:
        sock.close()
    if open_ones:
        pytest.fail(f"{len(open_ones)} of {len(sockets)} connections still open after {PATIENCE_S} s")
    return [received[sock] for sock in sockets], elapsed


def test_connections_that_never_finish_a_request_are_closed(strict_hub):
    idle = [open_socket(strict_hub) for _ in range(IDLE)]
    half_headers = [
        open_socket(strict_hub, b"POST /api/v1/batches HTTP/1.1\r\nHost: hub\r\n")
        for _ in range(HALF_HEADERS)
    ]
    half_body = [
        open_socket(
            strict_hub,
            b"POST /api/v1/enrol HTTP/1.1\r\nHost: hub\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"code": ',
        )
        for _ in range(HALF_BODY)
    ]
    # the hub answers others meanwhile
    assert httpx.get(f"{strict_hub.url}/api/v1/health", timeout=10).status_code == 200
    answers, _elapsed = wait_until_closed(idle + half_headers + half_body)
    assert "Traceback" not in strict_hub.log()  # a client gone is no error of the hub's
    waiting_for_headers = answers[: IDLE + HALF_HEADERS]
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in waiting_for_headers)
    assert answers[IDLE + HALF_HEADERS :] == [b""] * HALF_BODY  # closed mid-body, no answer
    assert httpx.get(f"{strict_hub.url}/api/v1/health", timeout=10).status_code == 200


def test_headers_sent_a_line_at_a_time_still_meet_the_deadline(strict_hub):
    sock = open_socket(strict_hub, b"GET /api/v1/health HTTP/1.1\r\n")
    deadline = time.monotonic() + PATIENCE_S
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            sock.send(b"X-Slow: 1\r\n")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        try:
            closed = sock.recv(65536) == b"" or closed
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed = True
        time.sleep(0.2)
    sock.close()
    assert closed, "a client trickling header lines kept its connection"


def test_headers_past_the_size_limit_are_refused(strict_hub):
    filler = b"".join(f"X-Filler-{n:05d}: {'x' * 33}\r\n".encode() for n in range(1400))  # 70 kB
    sock = open_socket(strict_hub, b"GET /api/v1/health HTTP/1.1\r\n" + filler)
    answers, _elapsed = wait_until_closed([sock])
    assert answers[0].startswith(b"HTTP/1.1 431")


def request_on(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: hub\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, "the hub closed a kept-alive connection"
        answer += chunk
    return answer


def test_a_kept_alive_connection_may_idle_between_requests(strict_hub):
    port = int(strict_hub.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):
            assert request_on(sock).startswith(b"HTTP/1.1 200")
            time.sleep(HEADER_TIMEOUT_S + 0.5)  # longer than the header deadline, within keep-alive
