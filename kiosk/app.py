"""KioskApp: the residents' kiosk. It holds the open Centre and what the
screens show (language, centre name, clock, the flow in progress); the screens
live in kiosk/ui, one module each, listed in kiosk.ui.SCREENS.

Kiosk behaviour: full screen, no cursor, Escape and the window's close button
ignored (except in a PIN mode, see ``pin_mode``), idle reset to the French
home screen, a USB card scanner recognised wherever the resident is.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.clock import Clock
from kivy.config import Config
from kivy.core.window import Window
from kivy.properties import BooleanProperty, ListProperty, StringProperty

from kiosk import syncing
from kiosk.core import backup, search
from kiosk.core.errors import DomainError
from kiosk.core.store import Store
from kiosk.core.volunteering import Volunteering
from kiosk.ui import SCREENS
from kiosk.ui.i18n import _
from kiosk.ui.mode import Mode
from kiosk.ui.scanner import ScanBurst
from kiosk.ui.speech import Speaker

if TYPE_CHECKING:
    from kiosk.ui.widgets import StillTherePrompt

log = logging.getLogger(__name__)

#: After the idle time, a form asks « Vous êtes toujours là ? » for this long.
PROMPT_S = 20
#: The confirmation screen goes home by itself after this many seconds.
CONFIRM_S = 6
ENTER_KEYS = (13, 271)
PRODUCT = "Accueil"  # the product's name, the same in every language
ESCAPE_KEY = 27


class KioskApp(App):
    lang = StringProperty("fr")
    rtl = BooleanProperty(False)
    halign = StringProperty("left")
    centre_name = StringProperty("")
    #: the itinerant event on today on this device ("" at the centre): home and the staff banner show it
    outreach_name = StringProperty("")
    languages = ListProperty(["fr", "en", "ar"])
    pin_mode = BooleanProperty(False)
    """True while a volunteer or staff PIN mode is open: Escape and closing
    the window work again (kiosk.ui.mode sets it)."""
    sync_state = StringProperty("")
    """The background sync's state ("idle", "syncing", "offline", …) and its
    last result in plain French words, for the staff screens."""
    sync_message = StringProperty("")

    def __init__(
        self,
        centre,
        kiosk_mode: bool = True,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        confirm_s: float = CONFIRM_S,
        scheduler=None,
        dpi: float | None = None,
        display_dpi: float | None = None,
        desktop: bool = False,
        speaker: Speaker | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # the screen's density: ``dpi`` (kiosk run --dpi) wins over the
        # setting display_dpi, which wins over ``display_dpi`` (what the
        # display reported, kiosk.ui.window_config.display_dpi)
        self.asked_dpi = dpi
        self.display_dpi = display_dpi
        self.register_event_type("on_pin_request")
        self.centre = centre
        self.kiosk_mode = kiosk_mode
        # `kiosk run --windowed`: a resizable window with a « Fermer » button
        # in the header (tests and screenshots draw the kiosk without it)
        self.desktop = desktop and not kiosk_mode
        self.now = now or centre.store.now
        self.monotonic = monotonic
        self.confirm_s = confirm_s
        self.speak = kiosk_mode  # read confirmations aloud by themselves (kiosk.ui.speech)
        # « Écouter » on the resident screens: espeak-ng where it is installed;
        # tests and screenshots get no engine unless they hand one in
        self.speaker = speaker if speaker is not None else Speaker("espeak-ng" if kiosk_mode else None)
        self.scanner = ScanBurst()
        self.mode = Mode(self)  # who is signed in with a PIN, if anyone
        self.flow: dict[str, Any] = {}
        self.screen_classes: list[tuple[str, str]] = list(SCREENS)
        self.last_activity = monotonic()
        self.prompt: StillTherePrompt | None = None
        self._at_rest = True
        self.warmed_up = False
        self.title = PRODUCT
        # the background sync (sync.scheduler.Scheduler), started with the
        # window and stopped with it; None in tests that do not sync
        self.scheduler = scheduler

    # ------------------------------------------------------------ building

    def get_application_config(self, defaultpath=None):
        return None  # settings live in the database, not in an .ini next to the code

    def open_settings(self, *_args) -> bool:
        return False  # no Kivy settings panel (F1) on a public kiosk

    def register_screen(self, name: str, target: str) -> None:
        """Add a screen ("module:Class") before build(), e.g. the PIN modes."""
        self.screen_classes.append((name, target))

    def build(self):
        from kiosk.ui.shell import Shell

        self.centre_name = self.centre.settings.get("centre_name")
        self.languages = self.centre.settings.get("languages")
        self.idle_timeout = self.centre.settings.get("idle_timeout_s")
        from kiosk.ui.sizes import sizes
        from kiosk.ui.window_config import choose_dpi

        sizes.follow(
            Window, choose_dpi(self.asked_dpi, self.centre.settings.get("display_dpi"), self.display_dpi)
        )
        root = Shell()
        self.sm = root.ids.sm
        self.go("home")
        if self.desktop:
            from kiosk.ui.desktop import QuitButton

            root.ids.buttons.add_widget(QuitButton())  # after the language buttons
        self._bind_window()
        Clock.schedule_interval(self.tick, 1)
        # the daily backup to the configured folder (a USB stick), checked hourly
        self._backup_event = Clock.schedule_interval(lambda *_a: self._daily_backup_in_background(), 3600)
        # fired by reset_to_home; one pending call however often it is fired
        self._rest_trigger = Clock.create_trigger(lambda *_a: self._tidy_at_rest(), 0.5)
        # The other screens are built when first shown, so the home screen
        # appears fast; their modules load in the background meanwhile.
        Clock.schedule_once(lambda *_a: self._warm_up(), 0.5)
        if self.scheduler is not None:
            self.scheduler.add_listener(self._sync_changed)
            self.scheduler.start()
        return root

    def _sync_changed(self, status: dict) -> None:
        """Called in the sync thread: hop back to the UI thread."""
        Clock.schedule_once(lambda *_a: self._show_sync(status))

    def _show_sync(self, status: dict) -> None:
        self.sync_state = status.get("state") or ""
        self.sync_message = _.display(syncing.describe(status, _.catalogue()))

    def sync_scheduler(self):
        """The scheduler every push of this app goes through: the background
        one, or (an app started without it) one made on first use that syncs
        only when asked, stopped with the app."""
        if self.scheduler is None:
            self.scheduler = syncing.make_scheduler(self.centre.store.path, interval=None)
            self.scheduler.add_listener(self._sync_changed)
        return self.scheduler

    def _warm_up(self) -> None:
        """Load the other screens' modules one per clock tick on the UI thread
        (their .kv must not be parsed while the UI thread builds widgets), and
        fpdf2, behind card printing, on a thread (plain Python, no Kivy)."""
        import threading

        threading.Thread(target=importlib.import_module, args=("kiosk.core.card_print",), daemon=True).start()
        pending = [target.split(":")[0] for _name, target in self.screen_classes]

        def next_module(*_args) -> None:
            if pending:
                importlib.import_module(pending.pop(0))
                Clock.schedule_once(next_module, 0.05)
                return
            # Everything built so far lives as long as the app: move it out of
            # the collector's sight, so a full collection no longer walks every
            # widget in the middle of a tap (a pause a resident would feel).
            gc.collect()
            gc.freeze()
            self.warmed_up = True

        next_module()

    def _make_screen(self, name: str):
        for known, target in self.screen_classes:
            if known == name:
                module, cls = target.split(":")
                screen = getattr(importlib.import_module(module), cls)(name=name)
                self.sm.add_widget(screen)
                return screen
        raise KeyError(f"no screen named {name!r}")

    def _bind_window(self) -> None:
        Window.fbind("on_touch_down", self._touched)
        Window.fbind("on_key_down", self._key_down)
        Window.fbind("on_textinput", self._text_input)
        Window.fbind("on_request_close", self._request_close)
        if self.kiosk_mode:
            Config.set("kivy", "exit_on_escape", "0")
            Window.fullscreen = "auto"
            Window.show_cursor = False

    def on_stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.remove_listener(self._sync_changed)
            self.scheduler.stop()
        Clock.unschedule(self.tick)
        self._backup_event.cancel()
        self._rest_trigger.cancel()
        self.mode.stop_timer()
        Window.funbind("on_touch_down", self._touched)
        Window.funbind("on_key_down", self._key_down)
        Window.funbind("on_textinput", self._text_input)
        Window.funbind("on_request_close", self._request_close)
        if self.prompt is not None:
            self.prompt.dismiss(animation=False)
        for screen in self.sm.screens:
            screen.reset()  # also cancels their timers
        self.speaker.close()
        self.centre.close()

    # ------------------------------------------------------------ window events

    def _touched(self, *_args) -> None:
        # a tap anywhere stops the reading; on a choice, the choice still acts
        self.speaker.stop()
        self.activity()

    def activity(self) -> None:
        self.last_activity = self.monotonic()
        self._at_rest = False

    def _request_close(self, *_args) -> bool:
        return self.kiosk_mode and not self.pin_mode  # True keeps the window open

    def _key_down(self, _window, key, _scancode=None, _codepoint=None, _modifiers=None) -> bool:
        self.activity()
        if key == ESCAPE_KEY:
            return self.kiosk_mode and not self.pin_mode
        if key in ENTER_KEYS:
            code = self.scanner.enter(self.monotonic())
            if code:
                self.card_scanned(code)
                return True
        return False

    def _text_input(self, _window, text: str) -> None:
        for char in text:
            self.scanner.key(char, self.monotonic())

    # ------------------------------------------------------------ navigation

    def go(self, name: str) -> None:
        name = self.mode.route(name)  # staff screens for staff only; "home" in a PIN mode is its menu
        self.screen(name)
        self.sm.current = name

    def screen(self, name: str):
        """The screen ``name``, built on first use."""
        if self.sm.has_screen(name):
            return self.sm.get_screen(name)
        return self._make_screen(name)

    def has_screen(self, name: str) -> bool:
        return any(known == name for known, _target in self.screen_classes)

    def set_language(self, lang: str) -> None:
        _.switch(lang)
        self.rtl = _.rtl
        self.halign = "right" if _.rtl else "left"
        self.lang = lang
        self.sm.current_screen.refresh()

    def daily_backup(self) -> None:
        backup.daily_backup(self.centre.store)

    def _daily_backup_in_background(self) -> None:
        """The hourly check, off the UI thread: a day's copy of a big database
        and its integrity check take seconds. The thread opens its own
        connection (a SQLite connection belongs to one thread)."""
        import threading

        path, clock = self.centre.store.path, self.centre.store.clock

        def work() -> None:
            with Store.open(path, clock=clock) as store:
                # a « Je termine » forgotten yesterday closes itself (and reaches the hub) without a touch
                Volunteering(store).close_forgotten()
                backup.daily_backup(store)

        threading.Thread(target=work, name="accueil-backup", daemon=True).start()

    def request_pin(self) -> None:
        """The home screen's corner button: volunteer and staff modes."""
        self.dispatch("on_pin_request")

    def on_pin_request(self) -> None:
        if self.has_screen("pin"):
            self.go("pin")

    def error_text(self, error: DomainError) -> str:
        # through _ itself: its values isolated in right-to-left text like any message's
        return _(error.template, **error.params)

    # ------------------------------------------------------------ flows

    def start_checkin(self) -> None:
        self.flow = {"purpose": "checkin"}
        self.go("checkin")

    def start_workshop_action(self, purpose: str, session_id: str) -> None:
        """``purpose`` is "signup" or "cancel": identify, then act."""
        self.flow = {"purpose": purpose, "session_id": session_id}
        self.go("checkin")

    def card_scanned(self, code: str) -> None:
        """A card was scanned, wherever the resident is."""
        if self.pin_mode:
            self.mode.card_scanned(code)
            return
        if self.sm.current == "ideas" and self.screen("ideas").card_scanned(code):
            return  # a card left as the contact of an idea
        if self.sm.current in ("first_visit", "consent", "card"):
            return
        if self.sm.current != "checkin":
            self.flow = {"purpose": "checkin"}
            self.go("checkin")
        self.screen("checkin").identify_by_card(code)

    def identified(self, member: dict | None) -> None:
        """The check-in screen found who is there (None: « sans carte »)."""
        self.flow["member"] = member
        purpose = self.flow.get("purpose", "checkin")
        if purpose == "checkin":
            self.go("reason")
        else:
            self.screen("workshop").act_for(member, purpose)

    def check_in(self, reason: str, body: str | None = None) -> None:
        member = self.flow.get("member")
        try:
            self.centre.visits.check_in(
                reason, member_id=member["id"] if member else None, actor=self.mode.actor, body=body
            )
        except DomainError as error:
            self.confirm(
                "cancel",
                lambda: _("Nous n'avons pas pu noter votre venue."),
                lambda error=error: self.error_text(error),
            )
            return
        ask = None
        if member:
            name = member["first_name"]
            title = lambda: _("Bienvenue, %(name)s !", name=name)  # noqa: E731
            # a workshop attended since the last visit: « Comment ça s'est passé ? »
            ask = self.centre.voice.pending_feedback(member["id"], member.get("last_seen_at"))
            if ask:
                ask["member_id"] = member["id"]
        else:
            title = lambda: _("Bienvenue !")  # noqa: E731
        self.confirm("check_circle", title, lambda: _("C'est noté. Bonne journée !"), ask=ask)

    def confirm(self, icon: str, title, message, ask: dict | None = None) -> None:
        """Show the confirmation screen; it goes home by itself. ``title`` and
        ``message`` are functions giving the text in the current language;
        ``ask``, a session to ask « Comment ça s'est passé ? » about."""
        self.flow = {}
        self.screen("confirmation").show(icon, title, message, ask=ask)
        self.go("confirmation")

    def open_ideas(self, done: bool = False) -> None:
        """The idea box, or (``done``) what the centre did of the residents' ideas."""
        screen = self.screen("ideas")
        screen.reset()
        if done:
            screen.show_done()
        self.go("ideas")

    # ------------------------------------------------------------ idle

    def tick(self, *_args) -> None:
        self.screen("home").refresh_clock()
        self.check_idle()

    def check_idle(self) -> None:
        if self._at_rest:
            return
        idle = self.monotonic() - self.last_activity
        if self.prompt is not None:
            if idle >= PROMPT_S:
                self.reset_to_home()
        elif idle >= self.idle_timeout:
            if getattr(self.sm.current_screen, "is_form", False) and self.sm.current_screen.has_input():
                self.ask_still_there()
            else:
                self.reset_to_home()

    def ask_still_there(self) -> None:
        from kiosk.ui.widgets import StillTherePrompt

        self.prompt = prompt = StillTherePrompt()
        prompt.bind(on_yes=self._still_there)
        prompt.open(animation=False)
        self.last_activity = self.monotonic()

    def _still_there(self, *_args) -> None:
        if self.prompt is not None:
            self.prompt.dismiss(animation=False)
        self.prompt = None
        self.activity()

    def reset_to_home(self) -> None:
        """Forget everything about the last person: fields, flow, language."""
        self.speaker.stop()  # the next person does not hear the last one's screen
        if self.prompt is not None:
            self.prompt.dismiss(animation=False)
            self.prompt = None
        self.flow = {}
        for screen in self.sm.screens:
            screen.reset()
        if self.lang != "fr":
            self.set_language("fr")
        self.go("home")
        self._at_rest = True
        # between two residents, the work no check-in should wait for: the
        # check-ins just made reach the members' last contact and the
        # search's recency (rather than in the next volunteer's first search,
        # see search.refresh_recency), and the WAL is copied into the file
        # (rather than in a check-in's commit, see Store.checkpoint)
        self._rest_trigger()

    def _tidy_at_rest(self) -> None:
        store = self.centre.store
        try:
            search.refresh_recency(store.conn)
        except Exception:  # a busy or read-only database: the next search applies them
            log.exception("could not refresh the members' recency")
        try:
            store.checkpoint()
        except Exception:  # the next rest, or SQLite's own threshold, does it
            log.exception("could not checkpoint the database")
