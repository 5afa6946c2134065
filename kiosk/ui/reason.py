"""Why are you here today? The centre's reasons (setting "reasons") as tiles."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder

from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen, TileButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class ReasonScreen(KioskScreen):
    _built_for = None

    def refresh(self) -> None:
        app = App.get_running_app()
        reasons = app.centre.settings.get("reasons")
        key = (_.lang, repr(reasons))
        if key == self._built_for:  # rebuilding seven tiles costs ~0.1 s: only when they change
            return
        self._built_for = key
        grid = self.ids.grid
        grid.clear_widgets()
        for reason in reasons:
            tile = TileButton(icon=reason["icon"], text=_(reason["label"]), font_size=26, icon_size=80)
            tile.reason = reason["code"]
            tile.bind(on_release=self.choose)
            grid.add_widget(tile)

    def choose(self, tile) -> None:
        App.get_running_app().check_in(tile.reason)
