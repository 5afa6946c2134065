"""A check-in confirmed to the caller survives the process being killed.

A child process records check-ins in a loop and prints each visit's id once
``check_in`` has returned. The parent kills it with SIGKILL at a random
moment, many times over, and after each kill checks the database: intact,
every confirmed visit stored, every visit with its event and every event
with its visit.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.core.members import Members
from kiosk.core.settings import Settings
from kiosk.core.store import Store

KILLS = 25

CHILD = textwrap.dedent("""
    import sys
    from kiosk.core.settings import Settings
    from kiosk.core.store import Store
    from kiosk.core.visits import Visits

    store = Store.open(sys.argv[1])
    visits = Visits(store, Settings(store))
    member_id = sys.argv[2]
    print("ready", flush=True)
    number = 0
    while True:
        visit = visits.check_in("accueil", member_id=member_id if number % 2 else None)
        print(visit["id"], flush=True)
        number += 1
""")


def _run_and_kill(script: Path, db_path: Path, member_id: str, rng: random.Random) -> list[str]:
    """Start the child, kill it at a random moment; return the visit ids it confirmed."""
    child = subprocess.Popen(
        [sys.executable, str(script), str(db_path), member_id],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert child.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.0, 0.25))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    out = child.stdout.read()
    child.stdout.close()
    lines = out.split("\n")
    return [line for line in lines[:-1] if line]  # the last piece may be cut mid-line


def _check(db_path: Path, confirmed: set[str]) -> int:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        visits = {row[0] for row in conn.execute("SELECT id FROM visits")}
        events = {
            json.loads(row[0])["data"]["visit_id"]
            for row in conn.execute("SELECT body FROM outbox WHERE type = 'visit.recorded'")
        }
        assert confirmed <= visits, f"{len(confirmed - visits)} confirmed visits lost"
        assert visits == events, "a visit without its event, or an event without its visit"
        return len(visits)
    finally:
        conn.close()


@pytest.mark.slow
def test_confirmed_check_ins_survive_sigkill(tmp_path, db_path):
    with Store.open(db_path) as store:
        member = Members(store, Settings(store)).register(
            first_name="Aïcha", last_name="Benali", consent_data=True
        )
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(int(os.environ.get("CRASH_SEED", "2")))
    confirmed: set[str] = set()
    for _ in range(KILLS):
        confirmed.update(_run_and_kill(script, db_path, member["id"], rng))
        stored = _check(db_path, confirmed)
    assert len(confirmed) > KILLS  # the kills did land among check-ins
    assert stored >= len(confirmed)
