"""The volunteer and staff modes' own cost on top of the core, offscreen:

1. sign-in: the PIN pad's « Valider » handler until the person's menu is set
   (authenticate + mode start + building/entering the menu). Baseline:
   ``Staff.authenticate`` alone with the same people.
2. roll call: one « Présent » tap's handler, which stores the mark and
   updates its row, on a session of 30 booked people. Baseline:
   ``Workshops.mark_attendance`` alone on the same database. Also the time
   to draw the whole list (entering the screen), against ``roll_call`` alone.

Each figure is the median of --runs; the ratio says what the screen adds.

    python benchmarks/bench_pin_modes.py [--runs 15] [--people 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.ui import offscreen

offscreen.prepare(tempfile.mkdtemp(prefix="kivy-bench-"))

from timing import median_ms  # noqa: E402

from kiosk.app import KioskApp  # noqa: E402
from kiosk.core.centre import Centre  # noqa: E402

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def build_centre(path: Path, people: int, booked: int = 30):
    centre = Centre.open(path, clock=lambda: NOW)
    for i in range(people - 1):
        centre.staff.add(f"Bénévole {i}", "volunteer", f"{5000 + i}")
    staff = centre.staff.add("Karim Haddad", "staff", "1357")
    workshop = centre.workshops.create_workshop("Atelier numérique", "numerique")
    session = centre.workshops.add_session(
        workshop["id"], NOW + timedelta(minutes=30), NOW + timedelta(hours=2), booked
    )
    names = ["Aïcha", "Bernard", "Chloé", "Djamel", "Élise", "Fatou"]
    members = [
        centre.members.register(names[i % 6], "Nom-" + "abcdefghij"[i // 6], 1980, consent_data=True)
        for i in range(booked)
    ]
    for member in members:
        centre.workshops.register(session["id"], member["id"])
    return centre, staff, session, members


def bench_sign_in(app, runs: int) -> float:
    pad = app.screen("pin")

    def sign_in() -> None:
        app.go("pin")
        pad.digits = "1357"
        pad.submit()
        assert app.sm.current == "staff_home"
        app.mode.end()

    sign_in()  # the menu's first build is start-up, not sign-in
    return median_ms(sign_in, runs)


def bench_roll_call(app, staff, session, members, runs: int) -> tuple[float, float]:
    app.mode.start(staff)
    screen = app.screen("roll_call")
    screen.session_id = session["id"]
    app.go("roll_call")
    flip = iter(range(10**6))
    mark = median_ms(lambda: screen.mark(members[0]["id"], next(flip) % 2 == 0), runs)
    draws = []
    for _ in range(runs):  # from an empty list to the rows drawn on the next frame
        screen.ids.roll.data = []
        offscreen.frames(1)
        start = time.perf_counter()
        screen.refresh()
        offscreen.frames(1)
        draws.append((time.perf_counter() - start) * 1000)
    return mark, statistics.median(draws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--people", type=int, default=10, help="active volunteers and staff")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-modes-"))
    centre, staff, session, members = build_centre(folder / "kiosk.db", args.people)

    base_auth = median_ms(lambda: centre.staff.authenticate("1357"), args.runs)
    flip = iter(range(10**6))
    base_mark = median_ms(
        lambda: centre.workshops.mark_attendance(
            session["id"], members[1]["id"], next(flip) % 2 == 0, actor=staff
        ),
        args.runs,
    )
    base_list = median_ms(lambda: centre.workshops.roll_call(session["id"]), args.runs)

    app = KioskApp(centre, kiosk_mode=False)
    offscreen.start(app)
    try:
        sign_in = bench_sign_in(app, args.runs)
        mark, draw = bench_roll_call(app, staff, session, members, args.runs)
    finally:
        offscreen.stop(app)
    print(
        f"sign-in (Valider → staff menu), {args.people} people, staff PIN most recent: "
        f"median {sign_in:.1f} ms; baseline Staff.authenticate {base_auth:.1f} ms; "
        f"ratio {sign_in / base_auth:.2f}"
    )
    print(
        f"roll call « Présent » with 30 booked (store + its row): median {mark:.1f} ms; "
        f"baseline Workshops.mark_attendance {base_mark:.1f} ms; ratio {mark / base_mark:.2f}"
    )
    print(
        f"roll call drawn (30 rows and the waitlist, with one frame): median {draw:.1f} ms; "
        f"baseline Workshops.roll_call {base_list:.1f} ms; ratio {draw / base_list:.1f}"
    )


if __name__ == "__main__":
    main()
