"""« Écouter »: the time from a tap on the button to the speech engine
running (goal: <= 150 ms), offscreen (Kivy over Mesa, no display).

The tap is a real touch (down and up) on the header's button; the clock stops
when espeak-ng's process has started and has its text (``Speaker.on_start``,
called in the speech worker thread). Each run reads a screen in one of the
three languages, in turn. The engine's volume is set to 0 here (``-a 0``):
the benchmark measures the start, and stays silent. Baseline: starting the
same espeak-ng command directly (``subprocess.Popen``), without the kiosk.

    python benchmarks/bench_speech.py [--runs 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KIVY_NO_ARGS", "1")  # --runs is ours, not Kivy's

SCREENS = ("home", "reason", "consent", "workshops", "first_visit")
LANGS = ("fr", "en", "ar")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(name: str, values: list[float]) -> None:
    print(
        f"{name:<38} median {statistics.median(values):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms"
        f"   max {max(values):6.1f} ms   ({len(values)} runs)"
    )


def baseline(runs: int) -> list[float]:
    from kiosk.ui import speech

    command = [shutil.which("espeak-ng"), "-v", "fr", "-s", str(speech.RATE), "-a", "0", "--stdin"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        process.stdin.write(b"Bonjour.")
        process.stdin.close()
        times.append((time.perf_counter() - started) * 1000)
        process.terminate()
        process.wait()
    return times


def kiosk_runs(runs: int) -> list[float]:
    from kiosk.ui import offscreen

    offscreen.prepare(tempfile.mkdtemp(prefix="kivy-home-bench-"))
    from kivy.tests.common import UnitTestTouch

    from kiosk.app import KioskApp
    from kiosk.core import demo
    from kiosk.core.centre import Centre
    from kiosk.ui import speech

    started = threading.Event()
    speaker = speech.Speaker("espeak-ng", on_start=lambda _command, _text: started.set())
    speaker.command = lambda lang, command=speaker.command: [
        part if part != str(speech.AMPLITUDE) else "0" for part in command(lang)
    ]  # silent
    folder = Path(tempfile.mkdtemp(prefix="bench-speech-"))
    db = folder / "bench.db"
    demo.build(db)  # a believable centre: its week of workshops, its reasons
    app = KioskApp(Centre.open(db), kiosk_mode=False, speaker=speaker)
    offscreen.start(app)
    listen = app.root.ids.listen
    times = []
    try:
        for run in range(runs):
            app.set_language(LANGS[run % len(LANGS)])
            app.go(SCREENS[run % len(SCREENS)])
            offscreen.frames(3)
            x, y = listen.to_window(*listen.center)
            started.clear()
            touch = UnitTestTouch(x, y)
            tapped = time.perf_counter()
            touch.touch_down()
            touch.touch_up()
            if not started.wait(5):
                raise SystemExit("the engine did not start")
            times.append((time.perf_counter() - tapped) * 1000)
            speaker.stop()
            time.sleep(0.05)  # the worker stops the engine before the next tap
    finally:
        offscreen.stop(app)
        shutil.rmtree(folder, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (scripts/system-deps.sh run installs it)")
    report("baseline: espeak-ng started alone", baseline(args.runs))
    report("tap on « Écouter » -> engine started", kiosk_runs(args.runs))
    print("goal: <= 150 ms")


if __name__ == "__main__":
    main()
