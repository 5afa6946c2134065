"""The kiosk UI's speed, offscreen (Kivy over Mesa, no display):

1. start-up: from process start to the first frame of the home screen, and
   the process's peak RSS (goals: <= 1.0 s and <= 250 MB). Baseline: a bare
   Kivy window showing one Label, started the same way.
2. check-in: the handler time from the last tap (a reason tile) to the
   confirmation screen being set, transitions excluded (goal: p99 <= 50 ms).
   Baseline: the core's ``visits.check_in`` alone on the same database.
3. resize: the time to lay the screen out again after the window changes
   size, 1280x800 -> 800x480 -> 1080x1920 (each at its display's density),
   on the home and the check-in screens: from the new size to the last frame
   in which a widget still moved (goal: median <= 100 ms).

    python benchmarks/bench_ui.py [--runs 5] [--checkins 200] [--resizes 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD_KIOSK = """
import sys, time
from kiosk.ui import offscreen
offscreen.prepare()
from kiosk.app import KioskApp
from kiosk.core.centre import Centre
app = KioskApp(Centre.open(sys.argv[1]), kiosk_mode=False)
app._run_prepare()
offscreen.frames(1)
print(time.time(), flush=True)
"""

CHILD_BARE = """
import time
from kiosk.ui import offscreen
offscreen.prepare()
from kivy.app import App
from kivy.uix.label import Label
class Bare(App):
    def load_kv(self, filename=None):
        return False  # no .kv to look for (and no source file to look beside)

    def get_application_config(self, defaultpath=None):
        return None

    def build(self):
        return Label(text="Accueil", font_size=40)
Bare()._run_prepare()
offscreen.frames(1)
print(time.time(), flush=True)
"""


def start_once(code: str, db: str) -> tuple[float, float]:
    """(seconds to first frame, peak RSS in MB) of one fresh process."""
    started = time.time()
    child = subprocess.Popen([sys.executable, "-c", code, db], stdout=subprocess.PIPE, cwd=ROOT)
    first_frame = float(child.stdout.readline())
    _pid, _status, usage = os.wait4(child.pid, 0)
    child.stdout.close()
    return first_frame - started, usage.ru_maxrss / 1024


def startup(db: str, runs: int) -> None:
    kiosk = [start_once(CHILD_KIOSK, db) for _ in range(runs)]
    bare = [start_once(CHILD_BARE, db) for _ in range(runs)]
    k_time, k_rss = statistics.median(t for t, _ in kiosk), max(r for _, r in kiosk)
    b_time, b_rss = statistics.median(t for t, _ in bare), max(r for _, r in bare)
    print(
        f"start-up to first home frame: median {k_time:.3f} s over {runs} runs (goal <= 1.0 s); "
        f"bare Kivy window {b_time:.3f} s; ratio {k_time / b_time:.2f}"
    )
    print(
        f"peak RSS: {k_rss:.0f} MB (goal <= 250 MB); bare Kivy window {b_rss:.0f} MB; "
        f"ratio {k_rss / b_rss:.2f}"
    )


def checkin_handler(db: str, count: int) -> None:
    from kiosk.ui import offscreen

    offscreen.prepare()
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch

    from kiosk.app import KioskApp
    from kiosk.core.centre import Centre

    app = KioskApp(Centre.open(db), kiosk_mode=False, confirm_s=3600)
    offscreen.start(app)
    deadline = time.monotonic() + 30
    while not app.warmed_up and time.monotonic() < deadline:
        Clock.tick()  # as a kiosk idles after start: the other screens load
    members = app.centre.members.search("a", limit=8) or [None]
    ui_ms = []
    for i in range(count):
        app.flow = {"purpose": "checkin", "member": members[i % len(members)]}
        app.go("reason")
        for _ in range(4):
            Clock.tick()  # lay out the reason tiles
        tile = app.screen("reason").ids.grid.children[-1]
        x, y = tile.to_window(*tile.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        start = time.perf_counter()
        touch.touch_up()  # the release is the tap that checks in
        assert app.sm.current == "confirmation"
        ui_ms.append((time.perf_counter() - start) * 1000)
    core_ms = []
    for i in range(count):
        member = members[i % len(members)]
        start = time.perf_counter()
        app.centre.visits.check_in("accueil", member_id=member["id"] if member else None)
        core_ms.append((time.perf_counter() - start) * 1000)
    offscreen.stop(app)
    ui_p99, core_p99 = percentile(ui_ms, 99), percentile(core_ms, 99)
    print(
        f"check-in, last tap to confirmation: median {statistics.median(ui_ms):.1f} ms, "
        f"p99 {ui_p99:.1f} ms over {count} (goal p99 <= 50 ms); core check_in alone p99 "
        f"{core_p99:.1f} ms; ratio {ui_p99 / core_p99:.2f}"
    )


RESIZES = [((1280, 800), 150), ((800, 480), 133), ((1080, 1920), 100)]


def resize(db: str, runs: int) -> None:
    from kiosk.ui import offscreen

    offscreen.prepare(size=(1920, 1920))  # the offscreen surface holds the largest window
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.app import KioskApp
    from kiosk.core.centre import Centre
    from kiosk.ui.sizes import sizes

    app = KioskApp(Centre.open(db), kiosk_mode=False, confirm_s=3600)
    offscreen.start(app)
    deadline = time.monotonic() + 30
    while not app.warmed_up and time.monotonic() < deadline:
        Clock.tick()
    for screen in ("home", "checkin"):
        app.go(screen)
        timings: dict[str, list[float]] = {}
        for _run in range(runs + 1):  # the first round warms the caches up
            for (size, dpi), (before, _dpi) in zip(RESIZES[1:] + RESIZES[:1], RESIZES, strict=True):
                label = f"{before[0]}x{before[1]} -> {size[0]}x{size[1]}"
                ms = relayout(app, Window, sizes, size, dpi)
                if _run:
                    timings.setdefault(label, []).append(ms)
        for label, values in timings.items():
            if label.endswith("1280x800"):
                continue  # back to the start: not one of the asked transitions
            print(
                f"resize {screen}, {label}: median {statistics.median(values):.0f} ms, "
                f"max {max(values):.0f} ms over {len(values)} (goal median <= 100 ms)"
            )
    offscreen.stop(app)


def relayout(app, window, sizes, size, dpi) -> float:
    """Milliseconds from setting the size to the end of the last frame in
    which a widget moved (walking the tree to compare is not counted)."""
    from kiosk.ui import offscreen

    start = time.perf_counter()
    walking = 0.0
    window.size = size
    sizes.follow(window, dpi)
    before, steady, settled = None, 0, start
    for _ in range(40):
        offscreen.frames(1)
        frame_end = time.perf_counter()
        now = [tuple(w.pos) + tuple(w.size) for w in app.root.walk(restrict=True)]
        walk_end = time.perf_counter()
        if now != before:
            settled, before, steady = frame_end - walking, now, 0
        else:
            steady += 1
            if steady >= 2:
                break
        walking += walk_end - frame_end
    return (settled - start) * 1000


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkins", type=int, default=200)
    parser.add_argument("--resizes", type=int, default=7, help="rounds of the three sizes")
    args = parser.parse_args()
    from kiosk.core import demo

    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        demo.build(db)
        startup(db, args.runs)
        resize(db, args.resizes)
        checkin_handler(db, args.checkins)


if __name__ == "__main__":
    main()
