"""Kivy settings that are read when the window is created: call these before
anything imports ``kivy.core.window`` (``kiosk.app`` does, at import)."""

from __future__ import annotations


def use_touch_keyboard() -> None:
    """Staff and volunteer forms are Kivy TextInputs: on a touchscreen with no
    keyboard plugged in, dock Kivy's on-screen AZERTY keyboard at the bottom
    when one is focused (a USB keyboard keeps working). The residents'
    screens draw their own large keyboard and have no TextInput."""
    from kivy.config import Config

    Config.set("kivy", "keyboard_mode", "systemanddock")
    Config.set("kivy", "keyboard_layout", "azerty")
