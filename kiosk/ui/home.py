"""Home: the centre, today's date and time, the federation's message of the
day if there is one, three big tiles, the idea box with what the centre did
of residents' ideas lately, the card hint."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.behaviors import ButtonBehavior

from kiosk.core import federation_feed
from kiosk.ui.i18n import _
from kiosk.ui.widgets import DirBox, KioskScreen


class DoneRow(ButtonBehavior, DirBox):
    """The home's line about the residents' ideas (home.kv)."""

    icon = StringProperty("lightbulb")
    text = StringProperty("")


Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class HomeScreen(KioskScreen):
    date_text = StringProperty("")
    #: the itinerant event on today ("" at the centre), and the date line that names it
    outreach_name = StringProperty("")
    outreach_text = StringProperty("")
    time_text = StringProperty("")
    #: « Vous avez proposé… nous l'avons fait : » and an answer, one after
    #: the other each time home shows; "" when no idea was realised lately
    done_text = StringProperty("")
    #: the federation's message shown today, in the resident's language when
    #: translated (French otherwise), and its pictogram; "" when none
    message_text = StringProperty("")
    message_icon = StringProperty("info")
    _shown = 0
    _message = 0

    def refresh(self) -> None:
        # the itinerant event on today, shown beside the date (it ends by itself at midnight)
        app = App.get_running_app()
        event = app.centre.outreach.active()
        app.outreach_name = self.outreach_name = event["name"] if event else ""
        self.refresh_clock()
        self.refresh_message()
        done = App.get_running_app().centre.voice.done_lately()
        if not done:
            self.done_text = ""
            return
        self._shown = (self._shown + 1) % len(done)
        self.done_text = _(
            "Vous avez proposé… nous l'avons fait : %(answer)s", answer=done[self._shown]["answer"]
        )

    def refresh_message(self) -> None:
        """The federation's messages of today, one after the other each time
        home shows (kiosk.core.federation_feed: within their dates)."""
        app = App.get_running_app()
        shown = federation_feed.messages(app.centre.store, _.lang, _.local(app.now()).date())
        if not shown:
            self.message_text = ""
            return
        self._message = (self._message + 1) % len(shown)
        message = shown[self._message]
        # Arabic text is shaped for the label; a French one under Arabic stays as written
        self.message_text = _.display(message["text"]) if message["language"] == _.lang else message["text"]
        self.message_icon = message["pictogram"]

    def speech_parts(self) -> list[str]:
        ids = self.ids
        return [
            ids.checkin.text,
            ids.workshops.text,
            ids.first_visit.text,
            ids.done.text,
            ids.ideas.text,
            ids.hint.text,
        ]

    def refresh_clock(self) -> None:
        now = App.get_running_app().now()
        self.date_text = _.display(_.today(now))
        self.outreach_text = (
            _("%(date)s · Hors les murs : %(name)s", date=_.today(now), name=self.outreach_name)
            if self.outreach_name
            else ""
        )
        self.time_text = _.time_of_day(now)
