"""End-to-end sync throughput and the client's memory, against a real hub.

    python benchmarks/bench_sync.py [--events 100000] [--single 2000] [--runs 3]
                                    [--memory 100000,1000000]

Starts `federation serve` on 127.0.0.1 (SQLite, rate limit off, otherwise
its defaults), then:

1. batched, on two backlogs of --events pending events each, pushed with
   sync.client.push as `kiosk sync` does (batches of 1,000, gzip,
   client.IN_FLIGHT on the wire at once), median of --runs runs, each on a
   fresh copy of the backlog and a fresh centre:
   - the demo's mix: what `kiosk demo` writes (kiosk.core.demo, the kiosk's
     own services): members, visits, workshops, sessions, registrations,
     attendance, in the demo's proportions;
   - visits alone;
2. one request per event (as pretixSCAN and ODK Collect do): the visits'
   push with batch_size=1 on the first --single events;
3. the client's peak memory: a child process pushes a backlog of visits of
   each size in --memory and reports its peak RSS (VmHWM) before and after
   the push; flat means the push holds one batch, never the backlog.

--runs 0 skips 1 and 2 (memory only). Goals: >= 30,000 events/s on the
demo's mix; memory flat between 100,000 and 1,000,000 events. The last
figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.core import demo  # noqa: E402
from kiosk.core.store import Store  # noqa: E402
from sync import client, protocol  # noqa: E402

FEDERATION = [sys.executable, "-m", "federation.cli"]


# ---------------------------------------------------------------- the hub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    def __init__(self, folder: Path):
        self.folder = folder
        self.db_url = f"sqlite:///{folder / 'federation.db'}"
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.log = open(folder / "hub.log", "wb")
        self.process = subprocess.Popen(
            [
                *FEDERATION,
                "serve",
                "--db",
                self.db_url,
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--rate-limit",
                "0",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while not client.health(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start: see {folder / 'hub.log'}")
            time.sleep(0.1)

    def new_token(self) -> str:
        out = subprocess.run(
            [
                *FEDERATION,
                "add-centre",
                f"Bench {uuid.uuid4().hex[:8]}",
                "--json",
                "--db",
                self.db_url,
                "--qr-png",
                str(self.folder / "enrolment.png"),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        code = json.loads(out.stdout)["enrolment_code"]
        return client.enrol(self.url, code, "bench")["device_token"]

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time the hub has used (user + system), from /proc: its server
        process, and the processes it started (if any)."""
        tick = os.sysconf("SC_CLK_TCK")
        server = _cpu_ticks(self.process.pid)
        return server / tick, sum(_cpu_ticks(pid) for pid in _process_tree(self.process.pid)[1:]) / tick

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (field 3 is [0])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_ticks(pid: int) -> int:
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
        return 0
    return int(fields[11]) + int(fields[12])


def _process_tree(root: int) -> list[int]:
    """``root`` and every live process descended from it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


# ---------------------------------------------------------------- backlogs


def make_backlog(path: Path, count: int) -> None:
    """A kiosk database with ``count`` pending visit events, written in bulk
    (validated events built once per shape, then given fresh ids)."""
    Store.open(path).close()
    conn = Store.open(path).conn
    sample = protocol.make_event(
        "visit.recorded",
        {
            "visit_id": protocol.new_id(),
            "reason": "accueil",
            "recorded_by": "resident",
            "member_id": protocol.new_id(),
        },
        protocol.parse_utc("2026-11-26T09:00:00Z"),
    )
    conn.execute("PRAGMA synchronous = OFF")  # building the fixture only
    done = 0
    while done < count:
        rows = []
        for _ in range(min(50_000, count - done)):
            event = dict(
                sample,
                id=protocol.new_id(),
                data=dict(sample["data"], visit_id=protocol.new_id(), member_id=protocol.new_id()),
            )
            rows.append((event["id"], event["type"], event["occurred_at"], protocol.canonical_json(event)))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO outbox (event_id, type, occurred_at, body) VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        done += len(rows)
    conn.close()


def make_mix_backlog(path: Path, count: int) -> int:
    """A kiosk database holding the demo centre `kiosk demo` builds, scaled
    to about ``count`` pending events in the demo's proportions (300 members
    to 2,000 visits, then its workshops, sessions, registrations and
    attendance); returns how many events are pending."""
    members = max(1, count * 3 // 23)
    demo.build(path, members=members, visits=max(0, count - members))
    conn = Store.open(path).conn
    pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    kinds = conn.execute("SELECT type, count(*) FROM outbox GROUP BY type ORDER BY type").fetchall()
    conn.close()
    print("demo mix: " + ", ".join(f"{kind} {n:,}" for kind, n in kinds))
    return pending


def copy_backlog(template: Path, folder: Path) -> Path:
    target = folder / f"kiosk-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, target)
    return target


def timed_push(
    db: Path, hub: Hub, batch_size: int, limit: int | None = None
) -> tuple[int, float, float, tuple[float, float]]:
    """(events stored, wall seconds, client CPU seconds, hub CPU seconds:
    its server process, the processes it started). CPU times tell where the
    work is when the machine is shared."""
    token = hub.new_token()
    if limit is not None:  # keep only the first ``limit`` events pending
        conn = Store.open(db).conn
        conn.execute("DELETE FROM outbox WHERE seq > ?", (limit,))
        conn.close()
    started, cpu, hub_cpu = time.perf_counter(), time.process_time(), hub.cpu_seconds()
    result = client.push(str(db), hub.url, token, batch_size=batch_size)
    seconds = time.perf_counter() - started
    cpu, hub_cpu = (
        time.process_time() - cpu,
        tuple(b - a for a, b in zip(hub_cpu, hub.cpu_seconds(), strict=True)),
    )
    if not result.ok or result.pending:
        raise RuntimeError(f"push failed: {result.summary_en()}")
    return result.stored, seconds, cpu, hub_cpu


def report(
    label: str, run: int, count: int, seconds: float, cpu: float, hub_cpu: tuple[float, float]
) -> float:
    server, children = (part / count * 1e6 for part in hub_cpu)
    print(
        f"{label} run {run}: {count:,} events in {seconds:.2f} s = {count / seconds:,.0f} events/s "
        f"(CPU per event: client {cpu / count * 1e6:.0f} us, hub {server + children:.0f} us"
        + (f" = server {server:.0f} + its children {children:.0f})" if children else ")")
    )
    return count / seconds


# ---------------------------------------------------------------- memory, in a child

CHILD = """
import json, sys, time
from sync import client

def status_kib(key):
    # VmHWM is this process image's peak RSS (getrusage's ru_maxrss also
    # counts the parent's pages inherited across fork+exec, so it is not used)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

db, url, token = sys.argv[1:4]
before = status_kib("VmHWM")
started = time.perf_counter()
result = client.push(db, url, token)
seconds = time.perf_counter() - started
print(json.dumps({"ok": result.ok, "stored": result.stored, "rss_before_kib": before,
                  "rss_peak_kib": status_kib("VmHWM"), "seconds": seconds}))
"""


def child_memory(template: Path, folder: Path, hub: Hub) -> dict:
    db = copy_backlog(template, folder)
    token = hub.new_token()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), hub.url, token],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    db.unlink()
    return json.loads(out.stdout)


# ---------------------------------------------------------------- main


def batched(label: str, runs: int, template: Path, folder: Path, hub: Hub) -> float:
    """The median events/s of ``runs`` batched pushes of fresh copies of ``template``."""
    rates = []
    for run in range(runs):
        db = copy_backlog(template, folder)
        rates.append(report(label, run + 1, *timed_push(db, hub, 1000)))
        db.unlink()
    return statistics.median(rates)


def throughput(args, template: Path, mix: Path, folder: Path, hub: Hub) -> None:
    """Batched (the demo's mix, visits alone) vs one event a request, each on
    fresh copies of the backlog."""
    mixed = batched("batched, demo mix", args.runs, mix, folder, hub)
    visits = batched("batched, visits", args.runs, template, folder, hub)
    singles = []
    for run in range(args.runs):
        db = copy_backlog(template, folder)
        singles.append(report("one-per-request", run + 1, *timed_push(db, hub, 1, limit=args.single)))
        db.unlink()
    single = statistics.median(singles)
    print(f"\nbatched (1,000 a request, gzip), demo mix: median {mixed:,.0f} events/s   (goal >= 30,000)")
    print(f"batched (1,000 a request, gzip), visits:   median {visits:,.0f} events/s")
    print(f"one event a request, visits:               median {single:,.0f} events/s")


def memory(args, template: Path, folder: Path, hub: Hub) -> None:
    """The client's peak RSS for each backlog size, pushed by a child process."""
    for size in [int(s) for s in args.memory.split(",") if s.strip()]:
        backlog = folder / f"backlog-{size}.db"
        if size == args.events:
            backlog = template
        else:
            make_backlog(backlog, size)
        measured = child_memory(backlog, folder, hub)
        print(
            f"client memory, backlog {size:>9,}: peak RSS {measured['rss_peak_kib'] / 1024:.1f} MiB "
            f"(before the push {measured['rss_before_kib'] / 1024:.1f} MiB; "
            f"{measured['stored']:,} events in {measured['seconds']:.1f} s = "
            f"{measured['stored'] / measured['seconds']:,.0f} events/s)"
        )
        if backlog != template:
            backlog.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--memory",
        default="100000,1000000",
        help="backlog sizes for the memory check, comma-separated ('' to skip)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="accueil-bench-sync-"))
    hub = Hub(folder)
    try:
        template = folder / "backlog.db"
        make_backlog(template, args.events)
        if args.runs:
            mix = folder / "mix.db"
            make_mix_backlog(mix, args.events)
            throughput(args, template, mix, folder, hub)
        memory(args, template, folder, hub)
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
