"""The hub under load, with real processes: many kiosks' backlogs, a hub
database made ready for them once and copied for each run, `federation serve
--workers N` in a session of its own (so a test can SIGKILL a worker, or the
whole hub, and start it again on the same port), and kiosks pushing at once.

Used by tests/test_hub_load.py and by the benchmarks bench_hub_ingest_pg.py
and bench_hub_day.py. What each piece gives:

* ``demo_backlog(path, seed, members, visits)``: a kiosk database filled by
  `kiosk demo`'s own code (kiosk.core.demo): the demo's mix of events, pending.
* ``clone_backlog(template, target)``: a copy of such a kiosk whose every id
  (events, members, workshops…) is replaced by a fresh one, consistently
  within the copy (``fresh_ids``): another centre's or another device's own
  events, made in milliseconds instead of a demo's seconds.
* ``build_network(folder, layout, cluster)``: centres, their devices and
  each device's kiosk file (a ``Network``), and a template PostgreSQL
  database holding the centres and the enrolled devices
  (``enrolled_database``); ``copy_database(cluster, template_url)`` makes a
  fresh hub database of it with the same ids and tokens, so two runs of the
  same backlogs can be compared figure for figure.
* ``Serving``: `federation serve --workers N` on a fixed port, its workers,
  kill one, kill all and start again.
* ``push_all(kiosks, url)``: every kiosk pushing at once, each in a thread
  of its own (the client's work is I/O; the hub's is in its own processes),
  pushing again until nothing is pending or the deadline passes.
* ``held_ids``, ``stats_json``, ``overview_figures``: what the hub holds,
  counted by (centre, event id), and its figures as the operator and the
  dashboard see them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from sync import client, outbox, protocol

FEDERATION = [sys.executable, "-m", "federation.cli"]
ROOT = Path(__file__).resolve().parent.parent
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---------------------------------------------------------------- kiosks' backlogs


def demo_backlog(path: Path, seed: int, members: int, visits: int) -> int:
    """A kiosk database at ``path`` built by `kiosk demo`'s code; how many
    events are pending in its outbox."""
    from kiosk.core import demo

    demo.build(path, members=members, visits=visits, seed=seed)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone holds it all: copies need no -wal
        return conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def clone_backlog(template: Path, target: Path) -> None:
    """Copy a kiosk's database, its outbox's ids replaced by fresh ones (``fresh_ids``)."""
    shutil.copy(template, target)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        rows = conn.execute("SELECT seq, body FROM outbox ORDER BY seq").fetchall()
        bodies = fresh_ids([body for _seq, body in rows])
        updates = [
            (json.loads(body)["id"], body, seq) for body, (seq, _old) in zip(bodies, rows, strict=True)
        ]
        conn.execute("BEGIN")
        conn.executemany("UPDATE outbox SET event_id = ?, body = ? WHERE seq = ?", updates)
        conn.execute("COMMIT")
    finally:
        conn.close()


def fresh_ids(bodies: list[str]) -> list[str]:
    """Events' canonical JSON texts with every UUID replaced by a fresh
    time-ordered one: the same old id always by the same new one, in the
    order they first appear (so events stay in id order). The texts stay
    canonical: a UUID for a UUID, no key changes."""
    fresh: dict[str, str] = {}

    def renamed(match: re.Match) -> str:
        old = match.group(0)
        new = fresh.get(old)
        if new is None:
            new = fresh[old] = protocol.new_id()
        return new

    return [_UUID.sub(renamed, body) for body in bodies]


def outbox_bodies(path: Path) -> list[str]:
    """A kiosk's outbox, its events' texts in the order they were recorded."""
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM outbox ORDER BY seq")]


def outbox_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM outbox")}


# ---------------------------------------------------------------- the network


@dataclass
class Kiosk:
    """One device: its centre, its token and its database file."""

    name: str
    centre: str
    centre_id: str = ""
    token: str = ""
    path: Path = Path()


@dataclass
class Network:
    """Centres with one or more devices each, their kiosks' backlogs, and a
    template hub database holding the centres and the enrolled devices."""

    folder: Path
    kiosks: list[Kiosk] = field(default_factory=list)
    template_url: str = ""
    #: what a reference run made of the backlogs (tests/test_hub_load.py)
    reference: dict = field(default_factory=dict)

    def centres(self) -> dict[str, str]:
        return {kiosk.centre_id: kiosk.centre for kiosk in self.kiosks}

    def expected_ids(self) -> set[tuple[str, str]]:
        """(centre id, event id) of every event some kiosk holds."""
        return {(kiosk.centre_id, event_id) for kiosk in self.kiosks for event_id in outbox_ids(kiosk.path)}

    def copy_kiosks(self, folder: Path) -> list[Kiosk]:
        """Fresh copies of the kiosks' files (nothing sent yet), in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        copies = []
        for kiosk in self.kiosks:
            target = folder / kiosk.path.name
            shutil.copy(kiosk.path, target)
            copies.append(dataclasses.replace(kiosk, path=target))
        return copies


def build_network(
    folder: Path,
    layout: list[int],
    cluster,
    members: int = 12,
    visits: int = 80,
    templates: int = 3,
    cloned_devices: int = 0,
) -> Network:
    """``layout[i]`` devices for centre i, each with a backlog of its own
    (a clone of one of ``templates`` demo kiosks, fresh ids); in each centre
    of two devices or more, the last ``cloned_devices`` devices hold a copy
    of the first device's backlog, ids included (a kiosk restored from the
    first one's backup onto a second machine): the same events reach the
    hub from two devices. The hub's template database is made on
    ``cluster`` (tests/conftest_hub.py's PostgresCluster)."""
    folder.mkdir(parents=True, exist_ok=True)
    demos = []
    for seed in range(templates):
        path = folder / f"demo-{seed}.db"
        demo_backlog(path, seed + 1, members, visits)
        demos.append(path)
    network = Network(folder)
    for number, devices in enumerate(layout):
        centre = f"Centre social n° {number + 1:03d}"
        first: Path | None = None
        for device in range(devices):
            path = folder / f"kiosk-{number:03d}-{device}.db"
            if first is not None and device >= devices - cloned_devices:
                shutil.copy(first, path)
            else:
                clone_backlog(demos[(number + device) % templates], path)
            first = first or path
            network.kiosks.append(Kiosk(f"{centre} / borne {device + 1}", centre, path=path))
    network.template_url, enrolled = enrolled_database(
        cluster, [(kiosk.centre, kiosk.name) for kiosk in network.kiosks]
    )
    for kiosk, (centre_id, token) in zip(network.kiosks, enrolled, strict=True):
        kiosk.centre_id, kiosk.token = centre_id, token
    return network


def enrolled_database(cluster, devices: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """A new hub database on ``cluster`` holding a centre for each centre
    name in ``devices`` ((centre name, device label) pairs) and each device
    enrolled (through the library the API calls); its URL and each device's
    (centre id, token)."""
    from federation import centres, store

    url = cluster.new_database()
    engine = store.open_engine(url)
    enrolled = []
    try:
        with store.writer(engine) as conn, conn.begin():
            ids: dict[str, str] = {}
            for centre, label in devices:
                if centre not in ids:
                    ids[centre], _code = centres.add_centre(conn, centre)
                code = centres.new_code(conn, ids[centre])
                enrolled.append((ids[centre], centres.enrol(conn, code, label)["device_token"]))
    finally:
        engine.dispose()
    return url, enrolled


def copy_database(cluster, template_url: str) -> str:
    """A new database on ``cluster``, a copy of the template's (no one may
    be connected to the template meanwhile)."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    template = template_url.rsplit("/", 1)[1]
    with psycopg.connect(
        f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return cluster.url(name)


# ---------------------------------------------------------------- the hub's processes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serving:
    """`federation serve --workers N` on ``port``, in a session of its own:
    ``kill_worker()`` SIGKILLs one worker (uvicorn's supervisor starts
    another), ``kill_all()`` SIGKILLs the supervisor and every worker at
    once, ``start()`` starts it again on the same port."""

    def __init__(self, db_url: str, folder: Path, workers: int, port: int | None = None, **options):
        self.db_url, self.folder, self.workers = db_url, folder, workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = {"rate_limit": 0, **options}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 90) -> Serving:
        args = [*FEDERATION, "serve", "--db", self.db_url, "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--workers", str(self.workers)]
        for name, value in self.options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        env = dict(os.environ)
        # the workers' shared metrics folder, ours to leave behind after a SIGKILL
        metrics_dir = self.folder / f"metrics-{self.port}-{self.starts}"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        self.starts += 1
        log = open(self.folder / f"hub-{self.port}-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"federation serve exited with {self.process.returncode}: {self.log()}")
            if len(self.worker_pids()) == self.workers and self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"federation serve did not start its {self.workers} workers: {self.log()}")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        logs = sorted(self.folder.glob(f"hub-{self.port}-*.log"))
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in logs)

    def worker_pids(self) -> list[int]:
        """The serving workers (one process when there is one worker: the
        supervisor serves itself)."""
        if self.process is None or self.process.poll() is not None:
            return []
        if self.workers == 1:
            return [self.process.pid]
        return [
            pid
            for pid in _children(self.process.pid)
            if b"multiprocessing.spawn" in _cmdline(pid) and b"resource_tracker" not in _cmdline(pid)
        ]

    def all_pids(self) -> list[int]:
        return [] if self.process is None else process_tree(self.process.pid)

    def kill_worker(self, choose: Callable[[list[int]], int]) -> int | None:
        pids = self.worker_pids()
        if not pids:
            return None
        pid = choose(pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pid

    def kill_all(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_all()
        else:
            try:  # a worker left behind by an interrupted shutdown
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def process_tree(root: int) -> list[int]:
    tree, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in _children(pid)]
        tree += frontier
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (Linux /proc)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- pushing


#: the client's options under faults: short, so a fault costs little time
UNDER_FAULTS = dict(timeout=(2.0, 15.0), attempts=3, backoff=0.05, retries=2)


@dataclass
class PushReport:
    """What the kiosks' pushes met: each result's error (or "ok"), and the
    pushes still pending at the deadline."""

    outcomes: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def push_until_done(
    kiosk: Kiosk, url: str, report: PushReport, lock: threading.Lock, deadline: float, **options
) -> None:
    """Push ``kiosk`` until nothing is pending, or the deadline."""
    try:
        while True:
            result = client.push(str(kiosk.path), url, kiosk.token, **options)
            with lock:
                key = result.error or "ok"
                report.outcomes[key] = report.outcomes.get(key, 0) + 1
            if result.ok and result.pending == 0:
                return
            if time.monotonic() > deadline:
                with lock:
                    report.unfinished.append(kiosk.name)
                return
            time.sleep(0.05)
    except Exception as error:  # noqa: BLE001 - reported by the test, with the kiosk's name
        with lock:
            report.errors.append(f"{kiosk.name}: {error!r}")


def push_all(kiosks: list[Kiosk], url: str, patience: float = 240, **options) -> PushReport:
    """Every kiosk pushing at once, a thread each."""
    report, lock = PushReport(), threading.Lock()
    deadline = time.monotonic() + patience
    threads = [
        threading.Thread(
            target=push_until_done, args=(kiosk, url, report, lock, deadline), kwargs=options, daemon=True
        )
        for kiosk in kiosks
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    return report


def outbox_counts(path: Path) -> dict[str, int]:
    conn = outbox.connect(str(path))
    try:
        return outbox.counts(conn)
    finally:
        conn.close()


# ---------------------------------------------------------------- what the hub holds


def held_ids(db_url: str) -> tuple[int, set[tuple[str, str]]]:
    """(rows in events, the distinct (centre id, event id) among them)."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT centre_id, event_id FROM events").fetchall()
    return len(rows), set(rows)


def set_aside_counts(db_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("conflicts", "parked")
        }


def stats_json(db_url: str) -> dict:
    """`federation stats --json`, run as the operator runs it, without the
    times of the last sync (which differ from run to run)."""
    out = subprocess.run(
        [*FEDERATION, "stats", "--json", "--db", db_url],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    figures = json.loads(out.stdout)
    for centre in figures["centres"]:
        centre.pop("last_sync")
    return figures


#: the moment the overview is computed at (the demo's events are dated from
#: the time they were built, within the last month)
def overview_figures(db_url: str, now: datetime | None = None) -> dict:
    """The dashboard's overview for the year to today, all centres, as plain
    data, without the centres' sync states (times of the last sync)."""
    from federation import reports, store

    now = now or datetime.now(UTC)
    today = reports.paris_today(now)
    period = reports.Period(today - timedelta(days=365), today + timedelta(days=1))
    engine = store.create_engine(db_url)
    try:
        with engine.connect() as conn:
            view = reports.overview(conn, period, now)
    finally:
        engine.dispose()
    figures = dataclasses.asdict(view)
    figures.pop("centres")
    figures.pop("period")
    figures["visits"] = view.visits
    # workshops of equal figures and title come in the order the database holds them
    figures["workshops"].sort(key=lambda row: (row["centre_id"], row["workshop_id"]))
    return _plain(figures)


def _plain(value: object) -> object:
    """``value`` as JSON-like data that compares equal when the figures do."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(item) for item in value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
