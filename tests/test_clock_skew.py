"""The kiosk compares its clock with the hub's (the Date header of the hub's
answers) at each push, and warns staff when they are more than 5 minutes
apart: in `kiosk status` (text and --json) and on the staff sync screen."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync import client, outbox, protocol, status

KIOSK = str(Path(sys.executable).with_name("kiosk"))


def add_events(store, n: int = 3) -> None:
    with store.transaction():
        for _ in range(n):
            store.emit("member.erased", {"member_id": protocol.new_id()})


def shifted(**delta):
    return lambda: datetime.now(UTC) + timedelta(**delta)


@pytest.fixture
def device(hub):
    _centre, code = hub.add_centre("Centre social de l'Horloge")
    return client.enrol(hub.url, code, "Borne accueil")


def test_a_kiosk_ten_minutes_ahead_of_a_real_hub_is_warned(store, hub, device):
    add_events(store)
    result = client.push(store.conn, hub.url, device["device_token"], clock=shifted(minutes=10))
    assert result.ok and result.sent == 3
    assert result.clock_skew_s == pytest.approx(600, abs=5)
    check = status.local_status(store.conn)["clock"]
    assert check["off"] and check["skew_s"] == pytest.approx(600, abs=5)
    assert check["message_fr"].startswith("L'horloge de la borne avance de 10 min sur celle du hub")
    assert "L'horloge de la borne avance de 10 min" in status.describe_fr(status.local_status(store.conn))


def test_a_kiosk_behind_by_hours_is_told_in_hours_and_a_right_clock_clears_it(store, hub, device):
    add_events(store)
    client.push(store.conn, hub.url, device["device_token"], clock=shifted(hours=-3, minutes=-5))
    check = status.local_status(store.conn)["clock"]
    assert check["off"] and "retarde de 3 h" in check["message_fr"]
    add_events(store)
    client.push(store.conn, hub.url, device["device_token"])
    check = status.local_status(store.conn)["clock"]
    assert not check["off"] and abs(check["skew_s"]) < 5 and "message_fr" not in check


def test_a_few_minutes_apart_is_no_warning(store, hub, device):
    add_events(store)
    client.push(store.conn, hub.url, device["device_token"], clock=shifted(minutes=4))
    check = status.local_status(store.conn)["clock"]
    assert check["skew_s"] == pytest.approx(240, abs=5) and not check["off"]


def test_kiosk_status_json_shows_the_clock_check(store, db_path, hub, device):
    add_events(store)
    client.push(store.conn, hub.url, device["device_token"], clock=shifted(days=-3))
    store.close()
    done = subprocess.run(
        [KIOSK, "status", "--db", str(db_path), "--json", "--offline"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    clock = json.loads(done.stdout)["clock"]
    assert clock["off"] and clock["skew_s"] == pytest.approx(-3 * 86400, abs=5)
    assert "retarde de 3 jours" in clock["message_fr"]
    text = subprocess.run(
        [KIOSK, "status", "--db", str(db_path), "--offline"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "retarde de 3 jours" in text


def test_before_any_hub_answer_there_is_no_clock_check(store):
    assert status.local_status(store.conn)["clock"] is None
    with store.transaction():
        outbox.set_state(store.conn, client.CLOCK_KEY, "not json")
    assert status.local_status(store.conn)["clock"] is None


def test_an_unreachable_hub_keeps_the_last_check(store, hub, device):
    add_events(store)
    client.push(store.conn, hub.url, device["device_token"], clock=shifted(minutes=30))
    add_events(store)
    failed = client.push(
        store.conn, "http://127.0.0.1:9", device["device_token"], attempts=1, retries=0, timeout=(0.5, 0.5)
    )
    assert not failed.ok and failed.clock_skew_s is None
    assert status.local_status(store.conn)["clock"]["off"]


def test_a_hub_whose_date_is_off_is_measured_against_the_kiosks_own_clock(store):
    """A hub answering with a Date two hours ahead: the push, on the kiosk's
    real clock, finds the kiosk two hours behind."""
    import gzip
    import threading
    from email.utils import formatdate
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.scripted_hub import accept_all

    class Ahead(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp=None):
            return formatdate(datetime.now(UTC).timestamp() + 7200, usegmt=True)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            _status, body, headers = accept_all(json.loads(raw))
            data = json.dumps(body).encode()
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ahead)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        add_events(store)
        result = client.push(store.conn, f"http://127.0.0.1:{server.server_address[1]}", "t" * 40)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok and result.clock_skew_s == pytest.approx(-7200, abs=5)
    assert "retarde de 2 h" in status.local_status(store.conn)["clock"]["message_fr"]
