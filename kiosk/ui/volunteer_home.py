"""The volunteer's menu: check someone in, today's roll calls, a new member,
a member's card (staff see the same four tiles on their own menu); and
their own time, « Je commence » / « Je termine » (kiosk.core.volunteering)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.errors import DomainError
from kiosk.core.volunteering import KIND_LABELS
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def start_checkin() -> None:
    """Check a member in on their behalf: the residents' identify and reason
    screens, with the signed-in person as the actor (KioskApp.check_in)."""
    App.get_running_app().start_checkin()


def duration_text(minutes: int) -> str:
    """« 2 h 30 », « 45 min », not shaped: a part of a longer message, which
    is shaped whole for the screen."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _.text("%(minutes)d min", minutes=rest)
    return _.text("%(hours)d h %(minutes)02d", hours=hours, minutes=rest)


class VolunteerHomeScreen(ModeScreen):
    """The volunteer's tasks, and their own time: « Je commence » (activities,
    or the board and commissions) and « Je termine »."""

    #: what the last tap on « Je commence » / « Je termine » did
    said = StringProperty("")

    def reset(self) -> None:
        self.said = ""

    def refresh(self) -> None:
        app = App.get_running_app()
        box = self.ids.presence
        box.clear_widgets()
        if app.mode.role != "volunteer":  # staff's time is not volunteering
            return
        try:
            current = app.centre.volunteering.current(self.actor)
        except DomainError as error:
            self.said = app.error_text(error)
            return
        if current is None:
            part = Factory.PresenceStart()
            part.ids.activity.bind(on_release=lambda *_a: self.begin("activity"))
            part.ids.governance.bind(on_release=lambda *_a: self.begin("governance"))
        else:
            part = Factory.PresenceEnd()
            part.ids.since.text = _(
                "Commencé à %(time)s : %(kind)s",
                time=current["start"],
                kind=_.gettext(KIND_LABELS[current["kind"]]),
            )
            part.ids.finish.bind(on_release=lambda *_a: self.end())
        box.add_widget(part)

    def begin(self, kind: str) -> None:
        app = App.get_running_app()
        try:
            stretch = app.centre.volunteering.start(self.actor, kind)
        except DomainError as error:
            self.said = app.error_text(error)
        else:
            self.said = _("C'est noté : vous avez commencé à %(time)s.", time=stretch["start"])
        self.refresh()

    def end(self) -> None:
        app = App.get_running_app()
        try:
            stretch = app.centre.volunteering.finish(self.actor)
        except DomainError as error:
            self.said = app.error_text(error)
        else:
            self.said = _("Merci ! %(time)s de bénévolat.", time=duration_text(stretch["minutes"]))
        self.refresh()
