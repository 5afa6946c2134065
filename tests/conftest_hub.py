"""Fixtures for tests that need the hub: a real `federation serve` process on
127.0.0.1, on SQLite or on a throwaway PostgreSQL cluster.

Registered from tests/conftest.py (``pytest_plugins``). What they give:

* ``postgres_cluster`` (session): a PostgreSQL started with initdb + pg_ctl
  in a temp dir on a free port; ``.new_database()`` returns the URL of a fresh
  empty database. Skipped, with the reason, only if no server binaries exist.
* ``postgres_url``: a fresh database's URL on that cluster.
* ``hub_db_url``: parametrised over "sqlite" and "postgresql" — a test using
  it runs once on each.
* ``hub_server``: a factory ``hub_server(db_url=None, **options)`` starting
  `federation serve` (options become --max-body-bytes, --rate-limit, …) and
  returning a ``HubServer`` once /api/v1/health answers; stopped at teardown.
* ``hub``: one running hub on SQLite, for tests that need any hub.
* ``shared_hub`` (module): one hub on SQLite for a whole test module
  (starting one costs seconds); each test enrols a centre of its own.
* ``web_hub`` (module): a hub on the sample federation's data
  (tests/hub_sample.py) with its staff account, for the dashboard's tests;
  ``sample_hub(root, …)`` starts such a hub with other accounts or options.

``HubServer.add_centre(name)`` makes a centre and its code in the hub's database;
``HubServer.enrol(code)`` trades the code at POST /api/v1/enrol;
``HubServer.new_device(name)`` does both and returns the enrolment answer.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import httpx
import pytest

FEDERATION = [sys.executable, "-m", "federation.cli"]
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_federation(
    *args: str, db_url: str, stdin: str | None = None, cwd: str | Path | None = None
) -> subprocess.CompletedProcess:
    """Run the real `federation` command; raises on a non-zero exit. It runs
    in a fresh folder unless told (add-centre writes its QR code image in the
    current folder: never in the checkout)."""
    return subprocess.run(
        [*FEDERATION, *args, "--db", db_url],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd or tempfile.mkdtemp(prefix="federation-cwd-"),
        timeout=60,
    )


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """A throwaway cluster. PostgreSQL refuses to run as root, so as root the
    server runs as the ``postgres`` system user (CI runs as root)."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="accueil-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=240)

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self.serve("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")

    def serve(self, options: str) -> None:
        """Start the server on ``self.port`` with ``options``, waiting up to
        three minutes for it to accept connections (a hot standby reaches a
        consistent state first, slow on a machine busy with test workers).
        free_port() only found the port free: when another process took it
        meanwhile, the server starts again on a new one, up to three times;
        any other failure is raised with the server's log."""
        log = self.root / "log"
        for attempt in range(3):
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(log),
                    "-o",
                    f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {options}",
                    "-w",
                    "-t",
                    "180",
                    "start",
                )
                return
            except subprocess.CalledProcessError as error:
                said = log.read_text(errors="replace") if log.exists() else ""
                if attempt < 2 and ("could not bind" in said or "already in use" in said):
                    self.port = free_port()
                    continue
                raise RuntimeError(f"PostgreSQL did not start:\n{said[-3000:]}") from error

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb): run scripts/system-deps.sh test")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    return postgres_cluster.new_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'federation.db'}"
    return request.getfixturevalue("postgres_cluster").new_database()


# ---------------------------------------------------------------- the hub process


@dataclass
class HubServer:
    url: str
    db_url: str
    process: subprocess.Popen
    log_path: Path
    centres: list[str] = field(default_factory=list)

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def add_centre(self, name: str = "Centre social Les Tilleuls") -> tuple[str, str]:
        """(centre id, enrolment code), written in the hub's database by the
        library the CLI calls (tests/test_hub_cli.py runs the command itself;
        a subprocess per centre would slow every API test down)."""
        from federation import centres, store

        engine = store.create_engine(self.db_url)
        try:
            with store.writer(engine) as conn, conn.begin():
                return centres.add_centre(conn, name)
        finally:
            engine.dispose()

    def enrol(self, code: str, label: str = "Borne accueil") -> dict:
        response = httpx.post(f"{self.url}/api/v1/enrol", json={"code": code, "label": label}, timeout=30)
        response.raise_for_status()
        return response.json()

    def new_device(self, centre_name: str = "Centre social Les Tilleuls") -> dict:
        """A new centre with one enrolled device: the enrolment answer."""
        _centre_id, code = self.add_centre(centre_name)
        return self.enrol(code)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_hub(db_url: str, log_dir: Path, **options) -> HubServer:
    """Start `federation serve` on a free port and wait until it answers."""
    port = free_port()
    args = [*FEDERATION, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    log_path = log_dir / f"hub-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    server = HubServer(f"http://127.0.0.1:{port}", db_url, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"federation serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"federation serve did not answer within {START_TIMEOUT_S} s:\n{server.log()}")


@pytest.fixture
def hub_server(tmp_path):
    started: list[HubServer] = []

    def start(db_url: str | None = None, **options) -> HubServer:
        server = start_hub(
            db_url or f"sqlite:///{tmp_path / f'federation-{len(started)}.db'}", tmp_path, **options
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def hub(hub_server) -> HubServer:
    return hub_server()


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory):
    """One hub process on SQLite for the module; each test enrols a centre of its own."""
    folder = tmp_path_factory.mktemp("hub")
    server = start_hub(f"sqlite:///{folder / 'federation.db'}", folder)
    yield server
    server.stop()


@contextlib.contextmanager
def sample_hub(
    root: Path,
    accounts: dict[str, str] | None = None,
    add_user_commands: dict[str, str] | None = None,
    **options,
):
    """A hub serving the sample federation (tests/hub_sample.py) from ``root``,
    with ``accounts`` (e-mail: password) added through the library and
    ``add_user_commands`` through the real `federation add-user`; ``options``
    go to ``start_hub``. Stopped when the block ends."""
    from datetime import datetime

    from federation import users
    from tests import hub_sample

    url, engine = hub_sample.make_db(root / "hub.db", now=datetime.now(UTC))
    for email, password in (accounts or {}).items():
        users.add_user(engine, email, password)
    engine.dispose()
    for email, password in (add_user_commands or {}).items():
        run_federation("add-user", email, db_url=url, stdin=password + "\n")
    server = start_hub(url, root, **options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web_hub(tmp_path_factory):
    """The sample federation's hub, with the staff account the pages are signed in with."""
    from tests.hub_sample import EMAIL, PASSWORD

    with sample_hub(tmp_path_factory.mktemp("hub-web"), accounts={EMAIL: PASSWORD}) as server:
        yield server
