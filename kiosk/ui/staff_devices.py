"""« Appareils du centre »: add a device to the centre, or join one.

On a kiosk that replicates with its centre, « Ajouter un appareil » makes
an invite (kiosk.syncing.invite, as `kiosk invite`), shows it as a QR code
and as a short code to type with the hub's address, with the time left;
once a new device has joined it, the screen shows the check words that
device shows and asks staff whether they are the same; only then is the
centre's key handed over (kiosk.syncing.confirm_invite, as `kiosk invite
--confirm`). On a kiosk not enrolled yet, or one that must join its centre
again (a backup restored), « Rejoindre un centre » takes the invite (the
camera, a USB scanner typing it) or the short code typed with the hub's
address, shows the check words and waits for the other device's
confirmation (kiosk.syncing.join, as `kiosk join`); a kiosk that replicates
on its own (its centre's first device) can join another from there too.
Every call to the hub runs in a thread; results come back through
Clock.schedule_once."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from kiosk import syncing
from kiosk.core import replication
from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.card import qr_texture
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from sync import client
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

log = logging.getLogger(__name__)

#: how often the inviting screen asks the hub whether a device has joined
POLL_S = 2.0
#: how long a joining device waits for the confirmation (an invite's life)
JOIN_WAIT_S = 600.0


def in_words(error: Exception) -> str:
    """A refused invite or join, in French (or the UI's language) for staff."""
    if isinstance(error, DomainError):
        return _.display(error.translated(_.catalogue().gettext))
    if isinstance(error, client.SyncError):
        return _(error.message_fr)
    return _("La clé reçue n'est pas fiable. Demandez une nouvelle invitation.")


class StaffDevicesScreen(ModeScreen):
    staff_only = True
    #: "invite" on a kiosk that replicates with its centre, "join" on one not enrolled
    #: yet or that must join again (staff may also choose "join" on the first)
    side = StringProperty("join")
    #: why this kiosk must join its centre again (replication.rejoin_reason), or ""
    rejoin = StringProperty("")
    #: invite: "" (nothing yet), "shown", "check", "done"; join: "", "check", "done"
    step = StringProperty("")
    busy = BooleanProperty(False)
    invite_text = StringProperty("")
    #: the invite's short code to type (« K7P4-QX9M ») and the hub's address to type with it
    short_code = StringProperty("")
    hub_address = StringProperty("")
    texture = ObjectProperty(None, allownone=True)
    time_left = StringProperty("")
    word = StringProperty("")
    message = StringProperty("")
    #: message tells of a failure (drawn in the warning colour)
    failed = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._expires: datetime | None = None
        self._ticker = None
        self._asking = False
        self._generation = 0  # a thread's answer for an invite given up is dropped

    # ------------------------------------------------------------ both sides

    def on_kv_post(self, *_args) -> None:
        # strong references: ids are weak, and these leave the tree when they do not apply
        self._parts = {
            name: self.ids[name].__self__
            for name in ("make_invite", "join_instead", "compare", "join_form", "panel")
        }
        self.bind(side=self.arrange, step=self.arrange)
        self.arrange()

    def arrange(self, *_args) -> None:
        """Only what applies is in the tree: a hidden button that stayed
        would still take the room, and the touches, of what is shown."""
        shown = {
            "make_invite": self.side == "invite" and self.step not in ("shown", "check"),
            "join_instead": self.side == "invite" and not self.step,
            "compare": self.side == "invite" and self.step == "check",
            "join_form": self.side == "join" and self.step != "done",
            "panel": self.step in ("shown", "check"),
        }
        for name, widget in self._parts.items():
            parent = self.ids.body if name == "panel" else self.ids.column
            if shown[name] and widget.parent is None:
                parent.add_widget(widget, index=0)
            elif not shown[name] and widget.parent is not None:
                widget.parent.remove_widget(widget)
        # the column's parts in their order, whatever order they came back in
        column = ("make_invite", "join_instead", "compare", "join_form")
        for widget in [self._parts[name] for name in column if self._parts[name].parent]:
            self.ids.column.remove_widget(widget)
            self.ids.column.add_widget(widget)

    def refresh(self) -> None:
        if self.step:
            return  # an invite or a join under way keeps its screen
        centre = App.get_running_app().centre
        settings = centre.settings
        enrolled = bool(settings.get("hub_url") and settings.get("device_token"))
        replicating = enrolled and replication.enabled(centre.store.conn)
        self.side = "invite" if replicating else "join"
        self.rejoin = replication.rejoin_reason(centre.store) or ""
        if not self.ids.hub.text:  # the hub this kiosk knows, if any: the code is typed with it
            self.ids.hub.text = settings.get("hub_url") or ""

    def reset(self) -> None:
        self._stop()
        self._generation += 1
        self.step, self.busy, self.invite_text, self.texture = "", False, "", None
        self.short_code = ""
        self.time_left = self.word = self.message = ""
        self.failed = False
        self.ids.invite.text = ""

    def on_leave(self, *_args) -> None:
        if self.step != "check" or self.side == "invite":
            self.reset()  # a joining device keeps waiting for the confirmation

    def _say(self, message: str, failed: bool = False) -> None:
        self.message, self.failed = message, failed

    def _db(self) -> str:
        return str(App.get_running_app().centre.store.path)

    def _run(self, name: str, work, done) -> None:
        """``work()`` in a thread; ``done(result, error)`` back on the UI thread."""
        generation = self._generation

        def thread() -> None:
            try:
                result, failure = work(), None
            except (DomainError, client.SyncError, replication.Refused) as error:
                log.info("%s refused: %s", name, error)
                result, failure = None, error
            except Exception as error:  # the screen must not die of a hub's odd answer
                log.exception("%s failed", name)
                result, failure = None, client.SyncError(client.NOT_HUB, str(error))
            Clock.schedule_once(lambda *_a: done(result, failure) if generation == self._generation else None)

        threading.Thread(target=thread, name=f"accueil-{name}", daemon=True).start()

    def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    # ------------------------------------------------------------ add a device

    def make_invite(self) -> None:
        if self.busy:
            return
        self.reset()
        self.busy = True
        self._say(_("Création de l'invitation…"))
        db = self._db()
        self._run("invite", lambda: syncing.invite(db), self._invited)

    def _invited(self, made: dict | None, error: Exception | None) -> None:
        self.busy = False
        if error is not None:
            self._say(_("Invitation impossible : %(why)s", why=in_words(error)), failed=True)
            return
        assert made is not None  # no error: the invite was made
        self.invite_text = made["invite"]
        self.short_code = made.get("short_code") or ""
        self.hub_address = App.get_running_app().centre.settings.get("hub_url") or ""
        self.texture = qr_texture(made["invite"])
        self._expires = parse_utc(made["expires_at"])
        self.step = "shown"
        self._say(_("Sur le nouvel appareil : « Rejoindre un centre », puis scannez le code ou tapez-le."))
        self._tick()
        self._ticker = Clock.schedule_interval(self._tick, 1.0)

    def _tick(self, *_args) -> None:
        if self._expires is None:
            return
        left = int((self._expires - datetime.now(UTC)).total_seconds())
        if left <= 0 and self.step in ("shown", "check"):
            self.reset()
            self._say(_("L'invitation a expiré. Créez-en une nouvelle."), failed=True)
            return
        self.time_left = _(
            "Valable encore %(min)d min %(sec)s s", min=left // 60, sec=str(left % 60).zfill(2)
        )
        if self.step == "shown" and not self._asking and left % int(POLL_S) == 0:
            self.ask_hub()

    def ask_hub(self) -> None:
        """Has a device joined the invite? Then show its check word."""
        if self._asking or self.step != "shown":
            return
        self._asking = True
        db, text = self._db(), self.invite_text
        self._run("invite-word", lambda: syncing.invite_word(db, text), self._asked)

    def _asked(self, word: str | None, error: Exception | None) -> None:
        self._asking = False
        if error is not None or not word or self.step != "shown":
            return  # asked again at the next tick
        self.word = word
        self.step = "check"
        self._say(_("Le nouvel appareil montre-t-il les mêmes mots ?"))

    def same_word(self) -> None:
        if self.busy or self.step != "check":
            return
        self.busy = True
        self._say(_("Remise de la clé du centre…"))
        db, word = self._db(), self.word
        self._run("confirm", lambda: syncing.confirm_invite(db, word), self._handed)

    def _handed(self, handed: dict | None, error: Exception | None) -> None:
        self.busy = False
        if error is not None:
            self._say(_("Clé non remise : %(why)s", why=in_words(error)), failed=True)
            return
        self._stop()
        self.step = "done"
        self._say(_("Appareil ajouté. Il reçoit maintenant les données du centre."))

    def other_word(self) -> None:
        """The words differ: nothing is handed over, the invite is given up."""
        self.reset()
        self._say(
            _("Les mots sont différents : la clé n'a pas été remise. Créez une nouvelle invitation."),
            failed=True,
        )

    # ------------------------------------------------------------ join a centre

    def join_another(self) -> None:
        """This kiosk replicates on its own (it became its centre's first
        device): it joins another device of the centre instead."""
        self.reset()
        self.side = "join"

    def scan(self) -> None:
        from kiosk.ui.camera_view import CameraPopup

        CameraPopup(on_code=lambda code: setattr(self.ids.invite, "text", code)).open()

    def join(self) -> None:
        if self.busy:
            return
        text = self.ids.invite.text.strip()
        hub = self.ids.hub.text.strip() or None
        if not text:
            self._say(_("Scannez le code de l'invitation, ou tapez le code à 8 signes."), failed=True)
            return
        self.busy = True
        self._say(_("Connexion au hub…"))
        db = self._db()
        label = syncing.KIOSK_LABEL

        def shown(word: str) -> None:
            Clock.schedule_once(lambda *_a: self._show_word(word))

        self._run(
            "join",
            lambda: syncing.join(db, text, label, wait_s=JOIN_WAIT_S, on_check_word=shown, hub=hub),
            self._joined,
        )

    def _show_word(self, word: str) -> None:
        self.word = word
        self.step = "check"
        self._say(_("Vérifiez que l'appareil qui invite montre les mêmes mots, puis confirmez-les là-bas."))

    def _joined(self, joined: dict | None, error: Exception | None) -> None:
        self.busy = False
        if error is not None:
            self.step, self.word = "", ""
            self._say(in_words(error), failed=True)
            return
        assert joined is not None  # no error: the device joined
        self.step = "done"
        self.rejoin = ""
        self.ids.invite.text = ""
        self._say(
            _.ngettext(
                "Appareil ajouté au centre : %(count)d adhérent reçu.",
                "Appareil ajouté au centre : %(count)d adhérents reçus.",
                joined["members"],
                count=joined["members"],
            )
        )
