"""Staff forms on a touchscreen: `kiosk run` docks Kivy's on-screen AZERTY
keyboard when a text field is focused. Run in a child process, because the
keyboard mode is read when the window is created (the other UI tests share
one window made without it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, tempfile
    from kiosk.ui import offscreen
    offscreen.prepare()
    from kiosk.ui.window_config import use_touch_keyboard
    use_touch_keyboard()
    from kiosk.app import KioskApp
    from kivy.core.window import Window
    from kivy.uix.vkeyboard import VKeyboard
    from kiosk.core.centre import Centre
    from kiosk.ui.mode_widgets import Field
    app = KioskApp(Centre.open(tempfile.mkdtemp() + "/k.db"), kiosk_mode=False)
    offscreen.start(app)
    before = [w for w in Window.children if isinstance(w, VKeyboard)]
    field = Field(label="Nom")
    Window.add_widget(field)
    offscreen.frames(2)
    field.ids.input.focus = True
    offscreen.frames(3)
    shown = [w for w in Window.children if isinstance(w, VKeyboard)]
    print(len(before), len(shown), shown[0].layout if shown else None)
    offscreen.stop(app)
""")


def test_focusing_a_staff_field_docks_the_azerty_keyboard():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    before, shown, layout = result.stdout.split()[-3:]
    assert (before, shown) == ("0", "1")
    assert "azerty" in layout
