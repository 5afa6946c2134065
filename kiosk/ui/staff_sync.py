"""The sync panel: events waiting, the last successful sync, the last error
in plain words, « Synchroniser maintenant » with its progress and result, and
enrolment with the federation's hub (type its address and code, or scan the
QR code the hub shows). Both go through kiosk.syncing, as the ``kiosk``
commands do: a sync is asked of the app's scheduler (one at a time), the
enrolment runs in a thread; results come back through Clock.schedule_once."""

from __future__ import annotations

import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk import syncing
from kiosk.core import federation_feed, replication
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen
from sync import client, status
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def local_time(iso: str | None) -> str:
    return parse_utc(iso).astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if iso else ""


def peers_text(standing: dict | None) -> str:
    """The replication's state in plain words (``replication.overview``)."""
    if standing is None:
        return ""
    when = local_time(standing["last_success"])
    lines = [
        _("Changements à envoyer aux autres appareils : %(count)d", count=standing["pending"]),
        _("Dernier échange avec les autres appareils : %(when)s", when=when)
        if when
        else _("Dernier échange avec les autres appareils : jamais"),
    ]
    if not standing["devices"]:
        lines.append(_("Aucun autre appareil dans le centre."))
    for device in standing["devices"]:
        name = device["label"] or _("Appareil sans nom")
        seen = local_time(device["last_seen"])
        lines.append(
            _("%(name)s : nouvelles reçues le %(when)s", name=name, when=seen)
            if seen
            else _("%(name)s : pas encore de nouvelles", name=name)
        )
    return "\n".join(lines)


def federation_text(summary: dict) -> str:
    """What this kiosk last received of the federation's publications, or
    that it refused a page (``federation_feed.summary``)."""
    refused = summary["refused"]
    if refused:
        when = local_time(refused["at"])
        if refused["reason"] == "key_changed":
            return _(
                "Nouvelles de la fédération refusées le %(when)s : le hub a changé de clé. "
                "Appelez la fédération.",
                when=when,
            )
        return _(
            "Nouvelles de la fédération refusées le %(when)s : elles ne viennent pas du hub. "
            "La borne garde les dernières reçues.",
            when=when,
        )
    when = local_time(summary["updated_at"])
    if not when:
        return _("Nouvelles de la fédération : pas encore reçues")
    return _("Nouvelles de la fédération reçues le %(when)s", when=when)


class StaffSyncScreen(ModeScreen):
    staff_only = True
    waiting = StringProperty("")
    last_success = StringProperty("")
    last_error = StringProperty("")
    #: the kiosk's clock is more than a few minutes from the hub's (sync.status.clock_check)
    clock_warning = StringProperty("")
    result = StringProperty("")
    enrolled = StringProperty("")
    #: where this device stands with the centre's other devices, one line
    #: each (empty on a device that does not replicate)
    peers = StringProperty("")
    #: the federation's publications: when they last came, or a refusal
    federation = StringProperty("")
    federation_refused = BooleanProperty(False)
    busy = BooleanProperty(False)
    progress = NumericProperty(0)

    def refresh(self) -> None:
        app = App.get_running_app()
        local = status.local_status(app.centre.store.conn)
        self.waiting = _("Données en attente d'envoi : %(count)d", count=local["pending"])
        when = local_time(local["last_success"])
        self.last_success = (
            _("Dernier envoi réussi : %(when)s", when=when) if when else _("Dernier envoi réussi : jamais")
        )
        error = local["last_error"]
        self.last_error = (
            _("Dernière erreur : %(message)s", message=error.get("message_fr") or "") if error else ""
        )
        clock = local["clock"]
        self.clock_warning = (
            _(clock["template"], gap=status.gap_words(clock["unit"], clock["n"], _.catalogue()))
            if clock and clock["off"]
            else ""
        )
        self.peers = peers_text(replication.overview(app.centre.store))
        summary = federation_feed.summary(app.centre.store)
        self.federation, self.federation_refused = federation_text(summary), bool(summary["refused"])
        hub = app.centre.settings.get("hub_url")
        self.enrolled = (
            _("Borne appairée au hub %(hub)s", hub=hub)
            if hub and app.centre.settings.get("device_token")
            else _("Borne pas encore appairée.")
        )
        if hub and not self.ids.hub_url.text:
            self.ids.hub_url.text = hub

    def reset(self) -> None:
        self.result = ""
        self.ids.code.text = ""

    # ------------------------------------------------------------ sync now

    def sync_now(self) -> None:
        """Ask the app's scheduler for a sync; its progress and result come
        back here (a sync already running is not doubled)."""
        if self.busy:
            return
        self.busy, self.progress = True, 0
        self.result = _("Envoi en cours…")

        def progress(sent: int, total: int) -> None:
            Clock.schedule_once(lambda *_a: setattr(self, "progress", sent / total if total else 1))

        def done(state: dict) -> None:
            Clock.schedule_once(lambda *_a: self._synced(state))

        syncing.sync_now(App.get_running_app().sync_scheduler(), done, progress)

    def _synced(self, state: dict) -> None:
        ok = bool((state.get("last_result") or {}).get("ok"))
        self.busy, self.progress = False, 1 if ok else self.progress
        self.result = _.display(syncing.describe(state, _.catalogue()))
        self.refresh()

    # ------------------------------------------------------------ enrolment

    def scan_code(self) -> None:
        from kiosk.ui.camera_view import CameraPopup

        CameraPopup(on_code=lambda code: setattr(self.ids.code, "text", code)).open()

    def enrol(self) -> None:
        if self.busy:
            return
        hub, code = self.ids.hub_url.text.strip().rstrip("/"), self.ids.code.text.strip()
        if not hub or not code:
            self.result = _("Écrivez l'adresse du hub et le code donné par la fédération.")
            return
        self.busy = True
        self.result = _("Appairage en cours…")

        def work() -> None:
            try:
                answer = syncing.enrol(hub, code)
            except client.SyncError as error:
                # bound now: Python unbinds ``error`` when the except block ends
                Clock.schedule_once(lambda *_a, failure=error: self._enrol_failed(failure))
                return
            Clock.schedule_once(lambda *_a: self._enrolled(hub, answer))

        threading.Thread(target=work, name="accueil-enrol", daemon=True).start()

    def _enrol_failed(self, error: client.SyncError) -> None:
        self.busy = False
        self.result = _("Appairage impossible : %(message)s", message=error.message_fr)

    def _enrolled(self, hub: str, answer: dict) -> None:
        app = App.get_running_app()
        syncing.save_enrolment(app.centre.settings, hub, answer, actor=self.actor)
        self.busy = False
        self.ids.code.text = ""
        self.result = _("Borne appairée pour « %(centre)s ».", centre=answer.get("centre_name") or "")
        self.refresh()
