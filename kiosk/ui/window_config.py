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


def display_dpi(drm: str = "/sys/class/drm") -> float | None:
    """The density of the connected screen, from its EDID (the size in
    millimetres and the native width in pixels of its preferred mode), or
    None when no connected output reports a plausible one: Kivy's own
    ``Window.dpi`` on Linux is 96 times the desktop's scale, never the glass.
    The Raspberry Pi's DSI panels have no EDID: use the setting or --dpi."""
    from pathlib import Path

    from kiosk.ui.theme import PLAUSIBLE_DPI

    for output in sorted(Path(drm).glob("card*-*")):
        try:
            if (output / "status").read_text().strip() != "connected":
                continue
            edid = (output / "edid").read_bytes()
        except OSError:
            continue
        dpi = edid_dpi(edid)
        if dpi is not None and PLAUSIBLE_DPI[0] <= dpi <= PLAUSIBLE_DPI[1]:
            return dpi
    return None


def edid_dpi(edid: bytes) -> float | None:
    """Horizontal density of the first detailed timing of an EDID block."""
    if len(edid) < 128 or edid[:8] != b"\x00\xff\xff\xff\xff\xff\xff\x00":
        return None
    dtd = edid[54:72]
    if dtd[0] == 0 and dtd[1] == 0:  # a display descriptor, not a timing
        return None
    pixels = dtd[2] | (dtd[4] >> 4) << 8
    millimetres = dtd[12] | (dtd[14] >> 4) << 8
    if not pixels or not millimetres:
        return None
    return pixels * 25.4 / millimetres


def choose_dpi(
    asked: float | None = None, setting: float | None = None, reported: float | None = None
) -> float:
    """``kiosk run --dpi`` first, then the kiosk's setting, then what the
    display reports, then theme.FALLBACK_DPI."""
    from kiosk.ui.theme import FALLBACK_DPI

    for value in (asked, setting, reported):
        if value:
            return float(value)
    return FALLBACK_DPI
