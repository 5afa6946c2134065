"""Why are you here today? The centre's reasons (setting "reasons") as tiles.

A reason that asks (``asks_body``, « Aide pour un papier sur internet » by
default) then shows, on the same screen, which body the papers are for
(kiosk.core.settings.BODIES): the visit takes that body's administrative
domain. « Retour » goes back to the reasons."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.settings import BODIES
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class ReasonScreen(KioskScreen):
    _built_for = None
    #: the reason whose body is being asked, "" while the reasons are shown
    asking = StringProperty("")

    def on_pre_enter(self, *args) -> None:
        self.asking = ""  # each visitor starts from the reasons
        super().on_pre_enter(*args)

    def refresh(self) -> None:
        app = App.get_running_app()
        reasons = app.centre.settings.get("reasons")
        key = (_.lang, repr(reasons), self.asking)
        if key == self._built_for:  # rebuilding seven tiles costs ~0.1 s: only when they change
            return
        self._built_for = key
        grid = self.ids.grid
        grid.clear_widgets()
        if self.asking:
            for body in BODIES:
                tile = Factory.ReasonTile(icon=body["icon"], text=_(body["label"]))
                tile.reason = self.asking
                tile.body = body["code"]
                tile.bind(on_release=self.choose_body)
                grid.add_widget(tile)
            return
        self._asks = {reason["code"] for reason in reasons if reason.get("asks_body")}
        for reason in reasons:
            tile = Factory.ReasonTile(icon=reason["icon"], text=_(reason["label"]))
            tile.reason = reason["code"]
            tile.bind(on_release=self.choose)
            grid.add_widget(tile)

    def speech_parts(self) -> list[str]:
        # the tiles in the order a reader meets them (the grid fills from its end)
        return [self.ids.title.text] + [tile.text for tile in reversed(self.ids.grid.children)]

    def choose(self, tile) -> None:
        if tile.reason in self._asks:
            self.asking = tile.reason
            self.refresh()
            return
        App.get_running_app().check_in(tile.reason)

    def choose_body(self, tile) -> None:
        self.asking = ""
        App.get_running_app().check_in(tile.reason, body=tile.body)

    def back(self) -> None:
        if self.asking:  # from the bodies back to the reasons
            self.asking = ""
            self.refresh()
            return
        App.get_running_app().go("checkin")
