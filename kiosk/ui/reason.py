"""Why are you here today? The centre's reasons (setting "reasons") as tiles."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder

from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

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
            tile = Factory.ReasonTile(icon=reason["icon"], text=_(reason["label"]))
            tile.reason = reason["code"]
            tile.bind(on_release=self.choose)
            grid.add_widget(tile)

    def speech_parts(self) -> list[str]:
        # the tiles in the order a reader meets them (the grid fills from its end)
        return [self.ids.title.text] + [tile.text for tile in reversed(self.ids.grid.children)]

    def choose(self, tile) -> None:
        App.get_running_app().check_in(tile.reason)
