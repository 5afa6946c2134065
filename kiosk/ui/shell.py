"""The frame around every screen: a header with the centre's name and the
language switch (always in view), and the ScreenManager below it."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui import mode, widgets  # noqa: F401  (rules the shell uses)

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class Shell(BoxLayout):
    pass
