"""What `kiosk run --windowed` adds for trying the kiosk on a desktop: a
« Fermer » button in the header. The installed kiosk has none: it runs full
screen and is left through the staff mode."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

from kiosk.ui.widgets import TileButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class QuitButton(TileButton):
    """Stops the app, as the window's own close button does in this mode."""
