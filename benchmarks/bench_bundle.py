"""The PyInstaller bundle of the kiosk: size, build time, and how fast it
starts compared with the same commands run from the virtualenv.

    python benchmarks/bench_bundle.py [--bundle dist/accueil-kiosk] [--runs 5]

Without --bundle it builds one (about 2 minutes) into the temp dir, cached
there for the next run. Figures, each the median of --runs runs:

- start: `accueil-kiosk --version` beside `python -m kiosk.cli --version`
  from the virtualenv (the baseline). Goal: ratio <= 2.
- home screen: `accueil-kiosk screenshot` (Kivy offscreen, the home screen
  of a demo centre) beside the same command from the virtualenv.
  Goal: ratio <= 1.5 — a kiosk restarted by systemd must be back quickly.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "packaging" / "pyinstaller" / "accueil-kiosk.spec"
CACHE = Path(tempfile.gettempdir()) / "accueil-bench-bundle"


def build() -> tuple[Path, float | None]:
    program = CACHE / "dist" / "accueil-kiosk" / "accueil-kiosk"
    if program.exists():
        return program, None
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "ERROR",
            "--distpath",
            str(CACHE / "dist"),
            "--workpath",
            str(CACHE / "build"),
            str(SPEC),
        ],
        check=True,
        capture_output=True,
    )
    return program, time.perf_counter() - started


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - started


def median_pair(bundle: list[str], baseline: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    # interleaved, so both share the machine's conditions
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(timed(bundle, cwd))
        theirs.append(timed(baseline, cwd))
    return statistics.median(ours), statistics.median(theirs)


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="folder of a built bundle (default: build one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    if args.bundle:
        program, build_s = args.bundle / "accueil-kiosk", None
    else:
        program, build_s = build()
    venv_kiosk = [sys.executable, "-m", "kiosk.cli"]
    print(f"bundle: {program.parent} ({folder_mb(program.parent):.0f} MB)")
    if build_s is not None:
        print(f"build: {build_s:.0f} s (one run)")

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        db = work / "demo.db"
        subprocess.run(
            [*venv_kiosk, "demo", "--db", str(db), "--members", "60", "--visits", "200"],
            check=True,
            capture_output=True,
        )
        ours, base = median_pair([str(program), "--version"], [*venv_kiosk, "--version"], args.runs, work)
        print(
            f"start (--version): bundle {ours * 1000:.0f} ms, venv {base * 1000:.0f} ms, "
            f"ratio {ours / base:.2f} (goal <= 2)"
        )
        shot = ["screenshot", "--db", str(db), "--out", str(work / "home.png")]
        ours, base = median_pair([str(program), *shot], [*venv_kiosk, *shot], args.runs, work)
        print(
            f"home screen (screenshot): bundle {ours:.2f} s, venv {base:.2f} s, "
            f"ratio {ours / base:.2f} (goal <= 1.5)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
