"""Kivy offscreen for the UI tests: the environment is set here, before any
test module imports Kivy (a real window over Mesa EGL, no display needed)."""

from __future__ import annotations

import tempfile

from kiosk.ui import offscreen

offscreen.prepare(tempfile.mkdtemp(prefix="kivy-home-tests-"))

import pytest  # noqa: E402

from kiosk.core.centre import Centre  # noqa: E402
from kiosk.ui.i18n import _  # noqa: E402


class Monotonic:
    """The app's idle clock, moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def mono() -> Monotonic:
    return Monotonic()


@pytest.fixture
def centre(db_path, clock):
    centre = Centre.open(db_path, clock=clock)
    centre.settings.set("centre_name", "Centre social du Chemin Vert")
    return centre  # the app closes it in on_stop


@pytest.fixture
def app(centre, mono):
    from kiosk.app import KioskApp

    kiosk = KioskApp(centre, kiosk_mode=False, monotonic=mono, confirm_s=0.2)
    offscreen.start(kiosk)
    yield kiosk
    offscreen.stop(kiosk)
    _.switch("fr")


@pytest.fixture
def board(app):
    """An empty layer over the running kiosk, in window coordinates."""
    from kivy.core.window import Window
    from kivy.uix.floatlayout import FloatLayout

    layer = FloatLayout(size=Window.size)
    Window.add_widget(layer)
    yield layer
    Window.remove_widget(layer)
