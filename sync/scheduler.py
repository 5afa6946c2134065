"""The kiosk's background sync: a daemon thread that pushes when it makes sense.

    scheduler = Scheduler("accueil.db", read_settings, interval=300)
    scheduler.add_listener(lambda status: Clock.schedule_once(lambda dt: show(status)))
    scheduler.start()
    ...  # staff press "Envoyer maintenant"
    scheduler.trigger()
    ...
    scheduler.stop()

- While the hub answers, it syncs every ``interval`` seconds.
- When the hub does not answer, it only probes ``/health`` (cheap) every
  ``offline_interval`` seconds, and syncs right after the hub is back.
- ``trigger()`` syncs now; it never blocks the caller. ``request()`` does
  the same and returns the count of syncs (``status()["syncs"]``) that marks
  a sync started after the request as done: what « Envoyer maintenant »
  waits for, so a press never starts a second sync beside this thread's.
- With ``interval=None`` it syncs only when asked (no timer, no probes).
- One sync at a time across threads and processes: ``client.push`` takes the
  lock held in the database (sync/lock.py), so a ``kiosk sync`` started by a
  systemd timer and this thread never send the same batch together.

The thread opens its OWN SQLite connection (connections are not shared
between threads). ``get_settings(conn)`` is called in the thread with that
connection and returns ``{"hub_url", "device_token", "sent_events_kept_days"}``
(the kiosk reads them from its settings table; ``sync`` does not know it).
Listeners are called in the scheduler's thread with a status dict: a UI must
hop back to its own thread (Kivy: ``Clock.schedule_once``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from sync import client, outbox
from sync.i18n import N_

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]

#: French msgids of what the status says when no push result came (the kiosk translates them)
FAILED_ON_KIOSK = N_("L'envoi a échoué sur la borne elle-même : prévenez le support.")
NO_DATABASE = N_("La base de la borne est introuvable.")
#: results that mean "the hub cannot be reached now": probe /health until it is back
OFFLINE_CODES = (client.UNREACHABLE, client.NOT_HUB, client.HUB_BUSY)


class _Stopping(Exception):
    """Raised from the progress callback to end a push between two batches."""


class Scheduler:
    def __init__(
        self,
        db_path: str,
        get_settings: Callable[[sqlite3.Connection], dict[str, Any]],
        interval: float | None = 300.0,
        offline_interval: float = 30.0,
        first_delay: float = 2.0,
        busy_retry: float = 10.0,
        push_options: dict[str, Any] | None = None,
        after_push: Callable[[], dict[str, Any]] | None = None,
    ):
        self.db_path = str(db_path)
        self.get_settings = get_settings
        self.interval = interval
        self.offline_interval = offline_interval
        self.first_delay = first_delay
        self.busy_retry = busy_retry
        self.push_options = push_options or {}
        # what else to exchange once the events went (the kiosk: replication
        # between the centre's devices); its failure never fails the push
        self.after_push = after_push
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._listeners: list[Listener] = []
        self._status: dict[str, Any] = {
            "state": "starting",
            "progress": None,
            "last_result": None,
            "message_fr": "",
            "syncs": 0,
        }
        self._thread = threading.Thread(target=self._run, name="accueil-sync", daemon=True)

    # ------------------------------------------------------------ caller's side (never blocks)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def trigger(self) -> None:
        """Sync as soon as possible."""
        self._wake.set()

    def request(self) -> int:
        """Sync as soon as possible; returns the ``syncs`` count at which a
        sync that started after this call has ended (the one running now, if
        any, may predate what the caller wants sent: it waits for the next)."""
        with self._guard:
            target: int = self._status["syncs"] + (2 if self._status["state"] == "syncing" else 1)
        self._wake.set()
        return target

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end (a push stops after its current batch)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def add_listener(self, listener: Listener) -> None:
        with self._guard:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._guard:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def status(self) -> dict[str, Any]:
        with self._guard:
            return dict(self._status)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------ the thread

    def _set(self, **changes: Any) -> None:
        with self._guard:
            self._status.update(changes)
            snapshot = dict(self._status)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(snapshot)
            except Exception:  # a broken listener must not stop the sync
                log.exception("sync status listener failed")

    def _run(self) -> None:
        try:
            conn = outbox.connect(self.db_path)
        except Exception as error:
            log.exception("sync scheduler cannot open %s", self.db_path)
            self._set(state="error", message_fr=NO_DATABASE, error=str(error))
            return
        try:
            self._loop(conn)
        finally:
            conn.close()
            self._set(state="stopped")

    def _loop(self, conn: sqlite3.Connection) -> None:
        delay: float | None = self.first_delay if self.interval is not None else None
        offline = False
        while True:
            triggered = self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            settings = self._settings(conn)
            if offline and not triggered and settings.get("hub_url"):
                if not client.health(settings["hub_url"]):
                    self._set(state="offline", checked_at=time.time())
                    delay = self.offline_interval
                    continue
                log.info("hub is back: syncing now")
            try:
                delay, offline = self._sync(conn, settings)
            except _Stopping:
                return
            if self.interval is None:
                delay, offline = None, False  # only when asked

    def _settings(self, conn: sqlite3.Connection) -> dict[str, Any]:
        try:
            return dict(self.get_settings(conn) or {})
        except Exception:
            log.exception("cannot read the sync settings")
            return {}

    def _sync(self, conn: sqlite3.Connection, settings: dict[str, Any]) -> tuple[float | None, bool]:
        """One push; returns (seconds until the next attempt, None for only
        when asked; hub offline?)."""
        self._set(state="syncing", progress=(0, 0))
        try:
            result = client.push(
                conn,
                settings.get("hub_url"),
                settings.get("device_token"),
                progress=self._progress,
                keep_sent_days=int(settings.get("sent_events_kept_days") or 90),
                **self.push_options,
            )
        except _Stopping:
            raise
        except Exception as error:  # e.g. the disk is full: report it, keep the thread alive
            log.exception("sync failed unexpectedly")
            with self._guard:
                syncs = self._status["syncs"] + 1
            self._set(
                state="error",
                progress=None,
                error=str(error),
                last_result=None,
                message_fr=FAILED_ON_KIOSK,
                syncs=syncs,
                finished_at=time.time(),
            )
            return self.offline_interval, False
        after = self._after_push() if result.ok and self.after_push is not None else {}
        with self._guard:
            syncs = self._status["syncs"] + 1
        state = "idle" if result.ok else ("offline" if result.error in OFFLINE_CODES else result.error)
        self._set(
            **after,
            state=state,
            last_result=result.as_dict(),
            message_fr=result.summary_fr(),
            progress=None,
            syncs=syncs,
            finished_at=time.time(),
        )
        if result.ok:
            return self.interval, False
        if result.error in OFFLINE_CODES:
            return self.offline_interval, True
        if result.error in (client.BUSY, client.LOST_LOCK):
            return self.busy_retry, False
        return self.interval, False  # not enrolled, revoked, refused: staff must act

    def _after_push(self) -> dict[str, Any]:
        """``after_push``'s outcome as ``{"after_push": …}``, or its error."""
        assert self.after_push is not None
        try:
            return {"after_push": self.after_push(), "after_push_error": None}
        except Exception as error:  # logged and shown; the events went all the same
            log.exception("the exchange after the push failed")
            return {"after_push_error": f"{type(error).__name__}: {error}"}

    def _progress(self, sent: int, total: int) -> None:
        if self._stop.is_set():
            raise _Stopping()
        self._set(progress=(sent, total))
