"""The staff's menu: the volunteer's four tasks, then the centre's side
(« À vérifier » with how many items wait, volunteers' hours, workshops,
sync, exports, data protection, settings, accounts, audit log, backups),
and the program's version."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

import kiosk
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class StaffHomeScreen(ModeScreen):
    staff_only = True
    version = StringProperty(kiosk.__version__)
    #: the items waiting in « À vérifier » (kiosk.core.review)
    review_count = NumericProperty(0)
    #: the residents' ideas still to answer (kiosk.core.voice)
    ideas_count = NumericProperty(0)
    #: the itinerant event on today ("" at the centre)
    outreach_name = StringProperty("")

    def refresh(self) -> None:
        centre = App.get_running_app().centre
        self.review_count = centre.review.count()
        self.ideas_count = centre.voice.counts()["open"]
        # the itinerant event on today (it may have ended by itself at midnight)
        event = centre.outreach.active()
        App.get_running_app().outreach_name = self.outreach_name = event["name"] if event else ""
