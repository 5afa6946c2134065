"""`kiosk run` and `make run` on the machines they meet: no screen at all (a
server, a CI box: say so and exit), a desktop (a real X server, Xvfb: a window
that follows its edges, with a way out), and cage as the installed kiosk runs
it (cage gives the display, the kiosk opens)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.ui.display_check import screen_missing

REPO = Path(__file__).resolve().parent.parent
KIOSK = Path(sys.executable).parent / "kiosk"
NO_SCREEN = "Aucun écran trouvé"
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "KIVY_WINDOW")


def needs(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        pytest.skip(f"{tool} is not installed: run scripts/system-deps.sh test")
    return found


def headless_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES}
    env.update(KIVY_HOME=str(tmp_path / "kivy"), XDG_DATA_HOME=str(tmp_path / "data"), LANG="C.UTF-8")
    return env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    subprocess.run(
        [KIOSK, "demo", "--db", db, "--members", "20", "--visits", "30"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return db


# ---------------------------------------------------------------- no screen


@pytest.mark.parametrize(
    "environ, platform, missing",
    [
        ({}, "linux", True),
        ({"DISPLAY": ""}, "linux", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),  # what cage gives the installed kiosk
        ({"SDL_VIDEODRIVER": "kmsdrm"}, "linux", False),  # a bare console, chosen by hand
        ({}, "android", False),
        ({}, "macosx", False),
        ({}, "win", False),
    ],
)
def test_a_screen_is_missing_only_on_linux_with_no_display_server(environ, platform, missing):
    assert screen_missing(environ, platform) is missing


def test_kiosk_run_with_no_display_says_so_in_french_and_exits_non_zero(tmp_path):
    db = tmp_path / "centre social.db"
    result = subprocess.run(
        [KIOSK, "run", "--db", db], env=headless_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 4, result.stderr
    assert NO_SCREEN in result.stderr
    # how to see the screens anyway, with this very database, ready to paste
    assert f"kiosk screenshot --db '{db}' --screen home --out accueil.png" in result.stderr
    assert "Start application main loop" not in result.stderr
    assert not db.exists(), "nothing is made for a kiosk that did not open"


def test_make_run_with_no_display_fails_with_the_same_message(tmp_path, demo_db):
    needs("make")
    # -o: the venv and the Debian packages are there already; only the run itself
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            "setup",
            "-o",
            f"{venv}/.installed",
            "run",
            f"DEMO_DB={demo_db}",
            f"VENV={venv}",
        ],
        cwd=REPO,
        env=headless_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert NO_SCREEN in result.stderr
    assert "kiosk screenshot --db" in result.stderr


# ---------------------------------------------------------------- a desktop (Xvfb)

# Runs the real `kiosk run --windowed`, and prints what Kivy's window says of
# itself: its size and where the « Fermer » button sits (window pixels, y down).
DRIVER = """
import sys
from kivy.clock import Clock

def report(_dt):
    from kivy.app import App
    from kivy.core.window import Window
    from kiosk.ui.desktop import QuitButton
    app = App.get_running_app()
    if app is None or app.root is None:
        return
    found = [w for w in app.root.walk() if isinstance(w, QuitButton)]
    x, y = found[0].to_window(*found[0].center) if found else (-1, -1)
    print("window", Window.width, Window.height, int(x), int(Window.height - y),
          Window.fullscreen, flush=True)

Clock.schedule_interval(report, 0.25)
from kiosk.cli import main
sys.exit(main(["run", *sys.argv[1:]]))
"""


class Xvfb:
    def __init__(self, tmp_path: Path) -> None:
        read, write = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1200x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as pipe:
            self.display = ":" + pipe.readline().strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def xvfb(tmp_path):
    needs("Xvfb")
    needs("xdotool")
    server = Xvfb(tmp_path)
    yield server
    server.stop()


class Kiosk:
    """`kiosk run --windowed` on the Xvfb display, read through DRIVER."""

    def __init__(self, display: str, db: Path, tmp_path: Path, *options: str) -> None:
        self.env = headless_env(tmp_path) | {"DISPLAY": display}
        self.log = tmp_path / "kiosk.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", DRIVER, "--db", str(db), *options],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                start_new_session=True,
            )
        self.last: list[str] = []

    def report(self, until, timeout: float = 90) -> list[str]:
        """Read the driver's lines until ``until(fields)`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                pytest.fail(f"the kiosk ended: {self.log.read_text(errors='replace')[-3000:]}")
            if line.startswith("window "):
                self.last = line.split()[1:]
                if until(self.last):
                    return self.last
        pytest.fail(f"never saw it; last report {self.last}")

    def xdotool(self, *args: str) -> str:
        return subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def window_id(self) -> str:
        # this xdotool matches no UTF-8 window name: find it in the tree
        tree = subprocess.run(
            ["xwininfo", "-root", "-tree"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        return re.search(r"(0x[0-9a-f]+) \"Accueil\"", tree).group(1)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def test_windowed_kiosk_follows_its_window_and_closes_with_its_button(xvfb, demo_db, tmp_path):
    needs("xwininfo")
    needs("xprop")
    kiosk = Kiosk(xvfb.display, demo_db, tmp_path, "--windowed")
    try:
        width, height, *_rest = kiosk.report(lambda f: f[2] != "-1")
        assert (int(width), int(height)) == (1280, 800)
        window = kiosk.window_id()
        # the window manager is told it may be resized, down to the smallest
        # display the layouts are made for (Xvfb has no window manager to enforce it)
        hints = subprocess.run(
            ["xprop", "-id", window, "WM_NORMAL_HINTS"],
            env=kiosk.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        assert "program specified minimum size: 720 by 480" in hints
        assert "maximum size" not in hints
        # what dragging an edge does: Kivy's window, and the layout, follow
        kiosk.xdotool("windowsize", window, "900", "1000")
        kiosk.report(lambda f: f[:2] == ["900", "1000"], timeout=30)
        kiosk.xdotool("windowsize", window, "1100", "700")
        # the layout settles a frame or two after the size: the button in the window
        width, height, x, y, fullscreen = kiosk.report(
            lambda f: f[:2] == ["1100", "700"] and 0 < int(f[2]) < 1100 and 0 < int(f[3]) < 700, timeout=30
        )
        assert fullscreen == "False"
        # the way out: a click on « Fermer » ends `kiosk run` cleanly
        kiosk.xdotool("mousemove", "--window", window, x, y, "click", "1")
        assert kiosk.process.wait(timeout=60) == 0, kiosk.log.read_text(errors="replace")[-3000:]
    finally:
        kiosk.kill()


def test_kiosk_run_stays_full_screen_with_no_way_out_and_stops_on_sigterm(xvfb, demo_db, tmp_path):
    # what the installed kiosk runs (under cage): no « Fermer », the whole screen
    kiosk = Kiosk(xvfb.display, demo_db, tmp_path)
    try:
        width, height, x, _y, fullscreen = kiosk.report(lambda f: f[:2] == ["1600", "1200"])
        assert fullscreen == "auto"
        assert x == "-1", "a way out on the public kiosk"
        # `systemctl stop` sends SIGTERM: the kiosk ends, though it ignores a close request
        os.kill(kiosk.process.pid, signal.SIGTERM)
        assert kiosk.process.wait(timeout=60) == 0, kiosk.log.read_text(errors="replace")[-3000:]
    finally:
        kiosk.kill()
