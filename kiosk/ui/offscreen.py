"""Running the kiosk without a display: screenshots, tests and benchmarks.

``prepare()`` must run before the first ``import kivy``: it quiets Kivy
(no argument parsing, no config file, no logs), keeps its home in a temporary
folder and unsets DISPLAY so SDL2 falls back to its offscreen driver over Mesa
EGL. ``start(app)`` builds the app and puts it in the window without entering
Kivy's blocking loop; ``frames(n)`` then draws frames one by one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SIZE = (1280, 800)


def prepare(kivy_home: str | None = None, size: tuple[int, int] = SIZE) -> None:
    os.environ.update(
        KIVY_NO_ARGS="1",
        KIVY_NO_CONFIG="1",
        KIVY_NO_FILELOG="1",
        KIVY_NO_CONSOLELOG="1",
        KIVY_HOME=kivy_home or tempfile.mkdtemp(prefix="kivy-home-"),
        KIVY_METRICS_DENSITY="1",
        KIVY_LOG_MODE="PYTHON",  # leave sys.stderr alone: errors must show
    )
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("graphics", "maxfps", "0")  # no frame pacing: tests and renders draw on demand


def start(app) -> None:
    """Build ``app`` and show it, as App.run() does before its loop."""
    app._run_prepare()
    frames(2)


def frames(count: int = 1) -> None:
    from kivy.base import EventLoop

    for _ in range(count):
        EventLoop.idle()


def stop(app) -> None:
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.lang.parser import global_idmap

    app.dispatch("on_stop")
    if app.root is not None:
        Window.remove_widget(app.root)
    frames(1)
    # As App._stop() does, minus stopping the event loop (the next test reuses
    # it): forget the app, including the kv rules' cached ``app`` proxy, which
    # the last frame may have filled again.
    App._running_app = None
    object.__setattr__(global_idmap["app"], "_obj", None)
    import gc

    gc.unfreeze()  # the app froze its objects after warming up; they are garbage now


def screenshot(out: str | Path) -> Path:
    """Write what the window shows to ``out`` (PNG)."""
    from kivy.core.window import Window

    out = Path(out).resolve()
    frames(2)
    # Kivy numbers the file (name0001.png, the first free number): move it to ``out``
    written = Window.screenshot(name=str(out.with_name(f"{out.stem}-kivy{out.suffix}")))
    os.replace(written, out)
    return out
