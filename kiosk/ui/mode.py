"""The PIN modes: who is signed in (a volunteer or a staff member), the banner
with their name and « Quitter », the shorter idle time that ends the mode, and
the rule that only staff reach the staff screens.

The rule is checked in ``KioskApp.go`` (every switch goes through
``Mode.route``), and again by each staff screen before it shows anything, so
hiding a button is never the only guard.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.widgets import KioskScreen

log = logging.getLogger(__name__)

#: Screens only a staff member may see.
STAFF_SCREENS = frozenset(
    {
        "staff_home",
        "staff_workshops",
        "staff_sheets",
        "staff_sync",
        "staff_devices",
        "staff_exports",
        "staff_privacy",
        "staff_settings",
        "staff_accounts",
        "staff_audit",
        "staff_backups",
        "staff_ideas",
        "staff_volunteering",
        "staff_review",
        "staff_duplicates",
        "staff_outreach",
        "staff_requests",
    }
)
#: Screens any signed-in person (volunteer or staff) may see.
VOLUNTEER_SCREENS = frozenset(
    {"volunteer", "sessions_today", "roll_call", "member_card", "member_situation", "feedback"}
)
HOMES = {"volunteer": "volunteer", "staff": "staff_home"}


class Mode(EventDispatcher):
    """Who is signed in. ``person`` is what Staff.authenticate returned
    ({id, name, role}); it is the ``actor`` handed to every core call."""

    name = StringProperty("")
    role = StringProperty("")
    person = DictProperty({})

    def __init__(self, app, **kwargs):
        super().__init__(**kwargs)
        self.app = app
        self.idle_s = 30
        self._idle_event = None
        self._residents_idle = None

    @property
    def actor(self) -> dict | None:
        return dict(self.person) if self.person else None

    @property
    def home(self) -> str:
        return HOMES.get(self.role, "home")

    def start(self, person: dict) -> None:
        app = self.app
        self.person, self.name, self.role = dict(person), person["name"], person["role"]
        self.idle_s = app.centre.settings.get("pin_idle_timeout_s")
        # the residents' idle reset would drop the mode without ending it: the
        # mode's own, shorter timer takes over until it ends
        self._residents_idle, app.idle_timeout = app.idle_timeout, float("inf")
        app.pin_mode = True
        app.activity()
        self.stop_timer()
        self._idle_event = Clock.schedule_interval(lambda *_a: self.check_idle(), 1)
        app.go(self.home)

    def end(self) -> None:
        """« Quitter », or the idle timeout: back to the residents' home."""
        if not self.person:
            return
        app = self.app
        self.stop_timer()
        self.person, self.name, self.role = {}, "", ""
        if self._residents_idle is not None:
            app.idle_timeout = self._residents_idle
        app.pin_mode = False
        app.reset_to_home()

    def check_idle(self) -> None:
        if self.person and self.app.monotonic() - self.app.last_activity >= self.idle_s:
            log.info("PIN mode ended after %s s without a touch", self.idle_s)
            self.end()

    def stop_timer(self) -> None:
        if self._idle_event is not None:
            self._idle_event.cancel()
            self._idle_event = None

    def allows(self, name: str) -> bool:
        if name in STAFF_SCREENS:
            return self.role == "staff"
        if name in VOLUNTEER_SCREENS:
            return bool(self.person)
        return True

    def route(self, name: str) -> str:
        """The screen to show when ``name`` is asked for."""
        if not self.allows(name):
            log.warning("refused screen %r to role %r", name, self.role or "resident")
            return self.home
        if name == "home" and self.person:
            return self.home
        return name

    def card_scanned(self, code: str) -> bool:
        """A scan in a PIN mode goes to the screen shown, if it takes cards."""
        screen = self.app.sm.current_screen
        if hasattr(screen, "card_scanned"):
            screen.card_scanned(code)
            return True
        if self.app.sm.current == "checkin":
            screen.identify_by_card(code)
            return True
        return False


class ModeScreen(KioskScreen):
    """A screen of the PIN modes. It shows nothing to someone not signed in,
    and a ``staff_only`` one nothing to a volunteer, whatever name it was
    registered under (the second guard, behind Mode.route)."""

    staff_only = False

    def allowed(self) -> bool:
        mode = App.get_running_app().mode
        if self.staff_only:
            return mode.role == "staff"
        return bool(mode.person) and mode.allows(self.name)

    def on_pre_enter(self, *_args) -> None:
        if not self.allowed():
            app = App.get_running_app()
            log.warning("screen %r entered without the right role: sent back", self.name)
            Clock.schedule_once(lambda *_a: app.go(app.mode.home))
            return
        self.refresh()

    @property
    def actor(self) -> dict | None:
        return App.get_running_app().mode.actor


class ModeBanner(BoxLayout):
    """Under the header while a PIN mode is open: the person, their home, « Quitter »."""

    name = StringProperty("")
    role = StringProperty("")
    #: the itinerant event on today ("" at the centre), the App's outreach_name
    outreach = StringProperty("")

    def on_kv_post(self, *_args) -> None:
        self.content = self.children[0]  # strong (ids are weak): out of the tree outside the modes
        self.remove_widget(self.content)
        app = App.get_running_app()
        app.mode.bind(name=self.setter("name"), role=self.setter("role"))
        self.outreach = app.outreach_name
        app.bind(outreach_name=self.setter("outreach"))

    def on_name(self, *_args) -> None:
        # out of the tree when no one is signed in: its buttons can be neither
        # seen nor touched (a zero-height row would still overlap the header)
        if self.name and self.content.parent is None:
            self.add_widget(self.content)
        elif not self.name and self.content.parent is self:
            self.remove_widget(self.content)

    def go_home(self) -> None:
        app = App.get_running_app()
        app.go(app.mode.home)

    def leave(self) -> None:
        App.get_running_app().mode.end()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
