"""The kiosk's sync, owned in one place: enrol, sync now, status.

The ``kiosk enrol | sync | status`` commands and the staff's sync screen both
go through here, so they cannot drift apart:

- ``enrol`` trades the federation's one-time code at the hub and
  ``save_enrolment`` writes what the hub answered into the settings, in one
  transaction (the hub's address, this kiosk's token, its centre's id, and the
  centre's name while the kiosk still has the default one).
- ``sync_now`` asks a ``sync.scheduler.Scheduler`` for a sync and reports
  when it has ended. Every push of the kiosk runs in a scheduler's thread:
  the app's background one, or, for ``kiosk sync`` and an app started
  without one, a scheduler that syncs only when asked. One sync at a time
  holds across processes too: ``client.push`` takes the lock in the database.
- ``status`` puts what the kiosk counts beside what the hub holds.

This module sits beside app.py and cli.py, above kiosk/core (which stays
free of HTTP) and below the screens; it imports no Kivy. Its words are
French msgids; the caller translates them (``describe`` takes a catalogue).
"""

from __future__ import annotations

import gettext
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.core import federation_feed, key_rotation, replication, seat_requests
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.privacy import Privacy
from kiosk.core.settings import DEFAULTS, Settings
from kiosk.core.store import Store
from sync import blob, check_words, client, envelope, outbox, relay_client, seat_client
from sync import publications as wire
from sync import status as sync_status
from sync.scheduler import Scheduler

log = logging.getLogger(__name__)

#: What this kiosk is called at the hub, for the federation's list of devices.
KIOSK_LABEL = "Borne accueil"
#: The settings a push needs, read by the scheduler's thread.
SYNC_SETTINGS = ("hub_url", "device_token", "sent_events_kept_days")
#: The longest centre name a hub's answer may set.
CENTRE_NAME_MAX = 120

Status = dict[str, Any]


# ---------------------------------------------------------------- enrolment


def enrol(hub_url: str, code: str, label: str = KIOSK_LABEL) -> dict:
    """Trade the enrolment ``code`` at the hub; returns its answer (device
    token, centre id and name, device id). Raises ``client.SyncError``
    (``message_fr`` in words for staff). Writes nothing: see ``save_enrolment``."""
    return client.enrol(hub_url.rstrip("/"), code, label)


def save_enrolment(settings: Settings, hub_url: str, answer: dict, actor: dict | None = None) -> None:
    """Bind the kiosk to the hub that answered, all at once: its address,
    the device token, the centre's id, and the centre's name unless staff
    already named the centre."""
    with settings.store.transaction():
        settings.set("hub_url", hub_url.rstrip("/"), actor=actor)
        settings.set("device_token", answer["device_token"], actor=actor)
        settings.set("centre_id", answer["centre_id"], actor=actor)
        name = answer.get("centre_name")
        if isinstance(name, str) and name.strip() and settings.get("centre_name") == DEFAULTS["centre_name"]:
            settings.set("centre_name", name.strip()[:CENTRE_NAME_MAX], actor=actor)
    # a kiosk enrolled with the federation's code starts its centre's
    # replication (others join it with `kiosk join`); one already set up
    # (joined, or upgraded) keeps its keys and learns its id at the hub
    replication.set_up(settings.store, device_id=answer["device_id"])
    replication.set_device_id(settings.store, answer["device_id"])
    # the key the federation's publications are signed with (a hub before
    # publications answers none: the kiosk learns it at its first pull)
    federation_feed.pin_key(settings.store, answer.get("hub_key"))


# ---------------------------------------------------------------- the scheduler


def sync_settings(db_path: str) -> Callable[[sqlite3.Connection], dict]:
    """What the sync thread needs from the kiosk's settings, read with the
    thread's own connection (``sync`` does not know the kiosk's tables)."""

    def read(conn: sqlite3.Connection) -> dict:
        settings = Settings(Store(conn, db_path))
        return {key: settings.get(key) for key in SYNC_SETTINGS}

    return read


def make_scheduler(db_path: str | Path, interval: float | None = 300.0, **options: Any) -> Scheduler:
    """The kiosk's sync thread (not started): every ``interval`` seconds while
    the hub answers, right after it comes back, and when asked; with
    ``interval=None`` only when asked. ``options`` go to ``Scheduler``; after
    each push that went, the exchange with the centre's other devices
    (``replicate_once``; its outcome in the status's ``after_push``)."""
    options.setdefault("after_push", lambda: after_push(db_path))  # the centre's other devices, …
    return Scheduler(str(db_path), sync_settings(str(db_path)), interval=interval, **options)


def sync_now(
    scheduler: Scheduler,
    on_done: Callable[[Status], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Ask ``scheduler`` for a sync that starts now, without blocking.
    ``on_progress(sent, total)`` while it runs, then ``on_done(status)`` once,
    with the scheduler's status (``last_result`` is the push's
    ``SyncResult.as_dict()``, None when the push itself failed). Both are
    called in the scheduler's thread: a screen hops back to its own. A press
    while a sync runs does not start a second one beside it: the scheduler
    runs the asked-for sync after it."""
    target: list[int] = []
    finished = threading.Event()

    def listen(state: Status) -> None:
        if not target or finished.is_set():
            return  # a sync from before this request
        # "error" without a push: the thread could not open the database
        if state.get("state") in ("stopped", "error") or state.get("syncs", 0) >= target[0]:
            finished.set()
            scheduler.remove_listener(listen)
            on_done(state)
        elif on_progress is not None and state.get("progress"):
            sent, total = state["progress"]
            on_progress(sent, total)

    scheduler.add_listener(listen)
    target.append(scheduler.request())
    if not scheduler.running:
        try:
            scheduler.start()
        except RuntimeError:  # its thread has ended (stopped, or no database): say so
            if not finished.is_set():
                finished.set()
                scheduler.remove_listener(listen)
                on_done(scheduler.status())


def sync_once(db_path: str | Path, **push_options: Any) -> Status:
    """One sync now, waiting for its end (``kiosk sync``): through a
    scheduler that syncs only when asked, as the screen's button does."""
    scheduler = make_scheduler(db_path, interval=None, push_options=push_options)
    ended = threading.Event()
    outcome: Status = {}

    def done(state: Status) -> None:
        outcome.update(state)
        ended.set()

    sync_now(scheduler, done)
    try:
        ended.wait()
    finally:
        scheduler.stop()
    return outcome


def describe(state: Status, translations: gettext.NullTranslations = client.FRENCH) -> str:
    """The end of a sync in plain words, in the language of ``translations``."""
    if state.get("last_result"):
        return client.describe(state["last_result"], translations)
    message = state.get("message_fr")
    return translations.gettext(message) if message else ""  # gettext("") is the catalogue's header


# ---------------------------------------------------------------- before a sync


def requeue_since(db_path: str | Path, since_iso: str) -> int:
    """Queue again the sent events that occurred since ``since_iso``."""
    conn = outbox.connect(str(db_path))
    try:
        return sync_status.requeue_since(conn, since_iso)
    finally:
        conn.close()


def retry_parked(db_path: str | Path) -> int:
    """Put the events the hub refused back in the queue."""
    conn = outbox.connect(str(db_path))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = outbox.retry_parked(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return count
    finally:
        conn.close()


# ---------------------------------------------------------------- status


def status(db_path: str | Path, settings: dict, ask_hub: bool = True) -> Status:
    """What the kiosk counts (``sync.status.local_status``), whether it is
    enrolled, and, when asked and enrolled, what the hub holds of its centre
    (``hub``, or ``hub_error`` in words for staff) and the gap between them;
    ``replication``: where this device stands with the centre's other
    devices (``replication.overview``, None when it does not replicate);
    ``federation``: what the kiosk last received of the federation's
    publications (``federation_feed.summary``: sheets, agenda, messages,
    updated_at, the hub key pinned, the last refusal)."""
    conn = outbox.connect(str(db_path))
    try:
        local = sync_status.local_status(conn)
    finally:
        conn.close()
    with Store.open(str(db_path)) as store:
        standing = replication.overview(store)
        federation = federation_feed.summary(store)
    hub, hub_error = None, None
    if ask_hub and settings.get("hub_url") and settings.get("device_token"):
        try:
            hub = client.hub_status(settings["hub_url"], settings["device_token"])
        except client.SyncError as error:
            hub_error = error.message_fr
    return {
        **local,
        "enrolled": bool(settings.get("device_token")),
        "hub": hub,
        "hub_error": hub_error,
        "gap": sync_status.compare(local, hub) if hub else None,
        "replication": standing,
        "federation": federation,
    }


# ---------------------------------------------------------------- replication between the centre's devices


def replicate_once(db_path: str | Path, session: Any = None) -> Status:
    """One exchange with the centre's other devices through the hub's relay
    (docs/replication.md): seal and send this device's changes, then fetch,
    open and apply the others' after the cursor, and acknowledge. Returns
    ``{"sent", "received", "members", "refused", "restart", "cursor"}``;
    ``{"enabled": False}`` on a device that does not replicate. Raises
    ``client.SyncError`` when the hub cannot be reached or refuses."""
    with Store.open(str(db_path)) as store:
        if not replication.enabled(store.conn):
            return {"enabled": False}
        settings = Settings(store)
        hub, token, centre = settings.get("hub_url"), settings.get("device_token"), settings.get("centre_id")
        if not (hub and token and centre):
            raise client.SyncError(client.NOT_ENROLLED, "the kiosk is not enrolled at a hub")
        if not replication.device_id(store):  # upgraded before the kiosk kept it: the hub says
            replication.set_device_id(store, client.hub_status(hub, token, session=session)["device_id"])
        replication.baseline(store)
        # the centre's key first: after a revocation, nothing more is sealed with the old one
        _follow_key(store, hub, token, centre, session)
        replication.seal_pending(store, centre)
        sent = 0
        for seq, sealed in replication.outgoing(store):
            try:
                relay_client.upload(hub, token, sealed, session=session)
            except client.SyncError as error:
                if "(409)" not in str(error):
                    raise
                # the relay holds another blob of this device's counter: a copy of
                # this device (a disk cloned, a file copied) sealed it. Neither copy's
                # counters can be trusted here: this one joins its centre again
                log.warning("replication identity used elsewhere, given up: %s", error)
                replication.forget_identity(store, "counter")
                return {"enabled": False, "rejoin": "counter"}
            replication.mark_stored(store, seq)
            sent += 1
        privacy = Privacy(store, settings)
        received, members, refused, restart = 0, set(), 0, False
        senders: set[str] = set()
        held = None
        while True:
            before = replication.cursor(store)
            page = relay_client.fetch(hub, token, before, session=session)
            held = page["snapshot"]
            if page["restart"]:
                # the relay dropped blobs this device has not had: the snapshot covers them
                restart = True
                members.update(_restart(store, hub, token, centre, privacy, session))
                if replication.cursor(store) > before:
                    continue
            if page["rotate"] or page["key_epoch"] > key_rotation.key_epoch(store):
                _follow_key(store, hub, token, centre, session)
            for item in page["blobs"]:
                if not _key_held(store, item["blob"]):  # rotated since this exchange began
                    _follow_key(store, hub, token, centre, session)
                try:
                    members.update(
                        replication.receive(
                            store, item["blob"], centre, privacy.erase_replicated, item["seq"]
                        )
                    )
                    received += 1
                    senders.add(item["device_id"])
                except replication.Refused:
                    refused += 1
            replication.advance_cursor(store, page["cursor"])
            if not page["more"]:
                break
        cursor = replication.cursor(store)
        relay_client.ack(hub, token, cursor, session=session)
        replication.note_exchange(store, senders)
        due, purge = key_rotation.snapshot_due(store, held)
        if due:
            counted = key_rotation.counts(store)
            start, through = replication.seal_snapshot(store, centre)
            relay_client.put_snapshot(hub, token, start, through, session=session, purge=purge)
            key_rotation.snapshot_sent(store, counted)
        return {
            "sent": sent,
            "received": received,
            "members": len(members),
            "refused": refused,
            "restart": restart,
            "cursor": cursor,
            "snapshot": due,
        }


def _follow_key(store: Store, hub: str, token: str, centre: str, session: Any) -> None:
    """Adopt the centre's key rotations this device has not seen, and make
    one when the hub says a device was revoked since the last
    (``kiosk.core.key_rotation``): the hub keeps the first posted for an
    epoch, and this device, like every other, adopts what the hub kept."""
    state = relay_client.keys(hub, token, key_rotation.key_epoch(store), session=session)
    key_rotation.adopt(store, state["rotations"], centre)
    key_rotation.note_active(store, state["active"])
    if not state["rotate"]:
        return
    body = key_rotation.make_rotation(store, centre, state["epoch"], state["active"])
    try:
        answer = relay_client.post_rotation(hub, token, body, session=session)
    except client.SyncError as error:
        if error.code != client.REFUSED:
            raise
        # another device was revoked meanwhile: the next exchange rotates for it
        log.warning("key rotation for epoch %s refused: %s", state["epoch"], error)
        return
    log.info(
        "key rotation for epoch %s: %s", state["epoch"], "ours" if answer.get("accepted") else "another's"
    )
    state = relay_client.keys(hub, token, key_rotation.key_epoch(store), session=session)
    key_rotation.adopt(store, state["rotations"], centre)


def _key_held(store: Store, raw: bytes) -> bool:
    try:
        return blob.read_header(raw).key in replication.keyring(store).keys
    except blob.EnvelopeError:
        return True  # not a blob: receive() refuses it


def _restart(store: Store, hub: str, token: str, centre: str, privacy: Privacy, session: Any) -> set[str]:
    """Start again from the centre's snapshot when it covers more than this
    device has applied (its log is kept: the snapshot joins it). Returns
    the members it changed."""
    snapshot = relay_client.get_snapshot(hub, token, session=session)
    if snapshot is None or snapshot[1] <= replication.cursor(store):
        log.warning("the relay dropped blobs this device has not had, and no snapshot covers them")
        return set()
    try:
        return set(
            replication.apply_snapshot(store, snapshot[0], snapshot[1], centre, privacy.erase_replicated)
        )
    except replication.Refused:
        return set()


def after_push(db_path: str | Path, session: Any = None) -> Status:
    """What the kiosk exchanges once its events went: the centre's other
    devices (``replicate_once``, whose outcome this is), then the seat
    requests between centres (``exchange_seat_requests``, under
    ``seat_requests``). A failure of the second is logged and said, never
    a failure of the first. Before both, what the federation published
    (``pull_publications``, under ``publications``), whatever comes of them."""
    publications = pull_publications_logged(db_path, session=session)
    outcome = replicate_once(db_path, session=session)
    outcome["publications"] = publications
    try:
        outcome["seat_requests"] = exchange_seat_requests(db_path, session=session)
    except (client.SyncError, OSError, sqlite3.Error) as error:
        log.warning("seat requests: the exchange failed: %s", error)
        outcome["seat_requests"] = {"error": str(error)}
    return outcome


# ---------------------------------------------------------------- seat requests between centres

#: sync_state key: the centre public key this device registered at the hub
CENTRE_KEY_STATE = "seat_requests_key"


def exchange_seat_requests(db_path: str | Path, session: Any = None) -> Status:
    """One exchange of seat requests with the hub (docs/sync-protocol.md):
    register the centre's public key once, send the requests residents made
    here sealed to their target centre's key (one whose centre has no key
    yet waits), take the requests sealed to this centre (the hub lets their
    content go), send staff's answers, take the answers to this device's
    requests (the hub then forgets them). Returns the counts; ``{"enabled":
    False}`` on a kiosk without the centre's keys. Raises
    ``client.SyncError`` when the hub cannot be reached or refuses."""
    with Store.open(str(db_path)) as store:
        if not seat_requests.available(store):
            return {"enabled": False}
        hub, token, _centre = _enrolled(store)
        requests = seat_requests.SeatRequests(store)
        key = seat_requests.public_key(store)
        if outbox.get_state(store.conn, CENTRE_KEY_STATE) != key:
            seat_client.register_key(hub, token, key, session=session)
            with store.transaction():
                outbox.set_state(store.conn, CENTRE_KEY_STATE, key)
        sent = waiting = 0
        keys: dict[str, str | None] = {}
        for row in requests.to_send():
            if row["to_centre"] not in keys:
                keys[row["to_centre"]] = seat_client.centre_key(hub, token, row["to_centre"], session=session)
            target = keys[row["to_centre"]]
            if target is None:
                waiting += 1
                continue
            sealed = requests.sealed(row, target)
            seat_client.submit(hub, token, row["id"], row["to_centre"], sealed, session=session)
            requests.mark_sent(row["id"])
            sent += 1
        taken = refused = 0
        for item in seat_client.inbox(hub, token, session=session):
            try:
                requests.take(item)
                taken += 1
            except seat_requests.Refused as error:
                log.warning("seat requests: request %s refused: %s", item.get("id"), error)
                refused += 1
            seat_client.received(hub, token, item["id"], session=session)
        answered = 0
        for request_id, sealed in requests.answers_to_send():
            seat_client.answer(hub, token, request_id, sealed, session=session)
            requests.mark_answer_sent(request_id)
            answered += 1
        answers = 0
        for item in seat_client.answers(hub, token, session=session):
            try:
                requests.take_answer(item)
                answers += 1
            except seat_requests.Refused as error:
                log.warning("seat requests: answer %s refused: %s", item.get("id"), error)
                refused += 1
            seat_client.done(hub, token, item["id"], session=session)
        return {
            "sent": sent,
            "waiting": waiting,
            "received": taken,
            "answered": answered,
            "answers": answers,
            "refused": refused,
        }


# ---------------------------------------------------------------- pairing a new device with the centre

#: sync_state keys: this device's open invites (JSON list), and the invite it joined with
INVITES_KEY = "replication_invites"
JOINED_KEY = "replication_join"
#: how often a joining device asks whether its key has been handed over
JOIN_POLL_S = 1.0


def _enrolled(store: Store) -> tuple[str, str, str]:
    settings = Settings(store)
    hub, token, centre = settings.get("hub_url"), settings.get("device_token"), settings.get("centre_id")
    if not (hub and token and centre) or not replication.enabled(store.conn):
        raise client.SyncError(client.NOT_ENROLLED, "the kiosk is not enrolled at a hub")
    if not replication.device_id(store):
        replication.set_device_id(store, client.hub_status(hub, token)["device_id"])
    return hub, token, centre


def invite(db_path: str | Path) -> Status:
    """An invite for a new device of this centre, valid ten minutes:
    ``{"invite", "expires_at", "short_code"}``: the invite's text (for the
    QR code) and a short code to type with the hub's address (« K7P4-QX9M »,
    None from a hub that has none). The key is handed over only once staff
    confirm the check word the new device shows (``confirm_invite``)."""
    with Store.open(str(db_path)) as store:
        hub, token, _centre = _enrolled(store)
        created = relay_client.create_invite(hub, token, bytes(replication.keys(store).verify_key))
        text = replication.encode_invite(
            hub,
            created["code"],
            created["invite_id"],
            replication.device_id(store) or "",
            bytes(replication.keys(store).verify_key),
        )
        with store.transaction():
            held = json.loads(outbox.get_state(store.conn, INVITES_KEY) or "[]")
            outbox.set_state(store.conn, INVITES_KEY, json.dumps([*held, created["invite_id"]][-20:]))
        return {"invite": text, "expires_at": created["expires_at"], "short_code": created.get("short_code")}


def invite_word(db_path: str | Path, text: str) -> str | None:
    """The check word of this device's invite ``text`` once a new device
    joined it and waits for the key (the word that device shows), else
    None. The staff screen shows it and asks staff to compare the two
    before ``confirm_invite``. SyncError when the hub no longer knows it."""
    data = replication.parse_invite(text)
    with Store.open(str(db_path)) as store:
        hub, token, _centre = _enrolled(store)
        my_key = bytes(replication.keys(store).verify_key)
    state = relay_client.read_invite(hub, token, data["invite"])
    if state["joiner_key"] is None or state["sealed"] is not None:
        return None
    return envelope.check_word(data["invite"], my_key, state["joiner_key"])


def confirm_invite(db_path: str | Path, word: str) -> Status:
    """Hand the centre's key (and a fresh snapshot to start from) to the new
    device that joined one of this device's invites and shows ``word``.
    InvalidInput when no device waiting shows it."""
    wanted = check_words.normalise(word)
    with Store.open(str(db_path)) as store:
        hub, token, centre = _enrolled(store)
        my_key = bytes(replication.keys(store).verify_key)
        found = None
        for invite_id in json.loads(outbox.get_state(store.conn, INVITES_KEY) or "[]"):
            try:
                state = relay_client.read_invite(hub, token, invite_id)
            except client.SyncError:
                continue  # expired and dropped at the hub
            joiner_key = state["joiner_key"]
            if joiner_key is None or state["sealed"] is not None:
                continue
            shown = envelope.check_word(invite_id, my_key, joiner_key)
            if shown == wanted:
                found = (invite_id, state, shown)
                break
        if found is not None:
            invite_id, state, shown = found
            # the others learn the new device first: its blobs come after this one's
            joiner = (state["joiner_id"], state["joiner_key"], state.get("joiner_label"))
            replication.record_device(store, *joiner)
    if found is not None:
        replicate_once(db_path)  # sends it, and the snapshot then holds the latest
        with Store.open(str(db_path)) as store:
            start, through = replication.seal_snapshot(store, centre)
            relay_client.put_snapshot(hub, token, start, through)
            sealed = envelope.seal_to_device(replication.handover(store), state["joiner_key"])
            relay_client.hand_over(hub, token, invite_id, sealed)
        return {"device_id": state["joiner_id"], "check_word": shown}
    raise InvalidInput(
        "check_word",
        N_(
            "Aucun nouvel appareil en attente ne montre ce mot. "
            "Vérifiez le mot affiché sur le nouvel appareil."
        ),
        f"no joined invite shows the check word {word!r}",
        value=word,
    )


def join(
    db_path: str | Path,
    text: str,
    label: str = KIOSK_LABEL,
    wait_s: float = 600.0,
    on_check_word: Callable[[str], None] = lambda word: None,
    hub: str | None = None,
) -> Status:
    """Join a centre with an invite: its text (the QR code's), or its short
    code typed with the ``hub``'s address (default: the hub this device
    knows). Enrol at the hub, give this device's key, show the check word
    (``on_check_word``), then wait up to ``wait_s`` for the centre's key,
    take it and start from the centre's snapshot. Run again with the same
    invite, it goes on waiting. InvalidInput (in French) for an invite that
    is unreadable, unknown, expired or already used, and for a hub that
    does not answer or is not this device's.

    A device already enrolled at that hub and replicating (two kiosks of a
    centre that each became its first device on upgrade) joins with its
    own enrolment: it keeps its id and counter, takes the centre's key, and
    its data goes to the others (``replication.start_again_in``)."""
    with Store.open(str(db_path)) as store:
        data = _invite_of(store, text, hub)
        if outbox.get_state(store.conn, JOINED_KEY) != data["invite"]:
            _enter(store, data, label)
        hub, token, centre = _enrolled(store)
        my_keys = replication.keys(store)
        on_check_word(envelope.check_word(data["invite"], data["key"], bytes(my_keys.verify_key)))
        deadline = time.monotonic() + wait_s
        while True:
            state = relay_client.read_invite(hub, token, data["invite"])
            if state["sealed"] is not None:
                break
            if time.monotonic() >= deadline:
                raise InvalidInput(
                    "invite",
                    N_("L'appareil qui invite n'a pas encore confirmé le mot de contrôle. Réessayez."),
                    "the inviting device has not handed the key over yet",
                )
            time.sleep(JOIN_POLL_S)
        try:
            handed = envelope.open_sealed(state["sealed"], my_keys)
        except blob.EnvelopeError as error:
            raise replication.Refused(str(error)) from error
        if handed.get("peers", {}).get(state["inviter_id"]) != data["key"].hex():
            raise replication.Refused("the key was handed over by another device than the inviting one")
        replication.start_again_in(store)
        replication.adopt(store, handed)
        # what this device held before joining goes into the log now, before
        # the snapshot: recorded after it, the whole centre would come back
        # from this device as its own changes, and every device apply it again
        replication.baseline(store)
        if state.get("inviter_label"):  # the hub knows the label the inviting device enrolled with
            replication.add_peer(store, state["inviter_id"], data["key"], state["inviter_label"])
        members = 0
        snapshot = relay_client.get_snapshot(hub, token)
        if snapshot is not None:
            erase = Privacy(store, Settings(store)).erase_replicated
            members = len(replication.apply_snapshot(store, snapshot[0], snapshot[1], centre, erase))
        device_id = replication.device_id(store)
    ended = replicate_once(db_path)
    return {"device_id": device_id, "members": members + ended.get("members", 0)}


#: sync_state key: the invite a short code named, once this device took it
SHORT_KEY = "replication_join_short"


def _invite_of(store: Store, text: str, hub: str | None) -> dict[str, Any]:
    """The invite's parts (``replication.parse_invite``'s), from its text
    or from its short code, which the hub trades for them."""
    short = replication.short_code(text)
    if short is None:
        return replication.parse_invite(text)
    held = json.loads(outbox.get_state(store.conn, SHORT_KEY) or "{}")
    if held.get("short") == short:  # run again: the hub has it marked used by this device
        return {**held, "key": bytes.fromhex(held["key"])}
    address = (hub or Settings(store).get("hub_url") or "").strip().rstrip("/")
    if not address:
        raise InvalidInput(
            "hub",
            N_(
                "Tapez aussi l'adresse du hub, par exemple https://hub.exemple.fr : "
                "le code seul ne suffit pas."
            ),
            "a short code without a hub address",
        )
    if "://" not in address:
        address = "https://" + address
    try:
        found = relay_client.lookup_invite(address, short)
    except relay_client.InviteRefused as refused:
        raise InvalidInput("code", _SHORT_REFUSED[refused.reason], str(refused)) from refused
    except client.SyncError as error:
        if error.code in (client.NOT_HUB, client.UNREACHABLE):
            raise InvalidInput("hub", _NO_HUB, str(error), hub=address) from error
        raise
    data = {
        "hub": address,
        "code": found["code"],
        "invite": found["invite_id"],
        "inviter": found["inviter_id"],
        "key": found["inviter_key"],
    }
    with store.transaction():
        outbox.set_state(
            store.conn, SHORT_KEY, json.dumps({**data, "short": short, "key": data["key"].hex()})
        )
    return data


def _enter(store: Store, data: dict[str, Any], label: str) -> None:
    """Enrol at the invite's hub with its code (or, a device already
    enrolled there and replicating, with its own token), and give the hub
    this device's key for the invite."""
    settings = Settings(store)
    known, token = (settings.get("hub_url") or "").rstrip("/"), settings.get("device_token")
    replicating = bool(token and known) and replication.enabled(store.conn)
    if replicating and known != data["hub"].rstrip("/"):
        raise InvalidInput("hub", _OTHER_HUB, f"enrolled at {known}, invited at {data['hub']}", hub=known)
    if replicating:
        try:
            relay_client.join_invite(known, token, data["invite"], bytes(replication.keys(store).verify_key))
        except client.SyncError as error:
            for status, template in (("(404)", _OTHER_CENTRE), ("(409)", _INVITE_REFUSED["used"])):
                if status in str(error):  # the hub names no invite of another centre
                    raise InvalidInput("invite", template, str(error)) from error
            if "(410)" in str(error):
                raise InvalidInput("invite", _INVITE_REFUSED["expired"], str(error)) from error
            raise
    else:
        try:
            answer = relay_client.enrol_invited(data["hub"], data["code"], label)
        except relay_client.InviteRefused as refused:
            raise InvalidInput("invite", _INVITE_REFUSED[refused.reason], str(refused)) from refused
        except client.SyncError as error:
            if error.code in (client.NOT_HUB, client.UNREACHABLE):
                raise InvalidInput("hub", _NO_HUB, str(error), hub=data["hub"]) from error
            raise
        save_enrolment(settings, data["hub"], answer)
        relay_client.join_invite(
            data["hub"], answer["device_token"], data["invite"], bytes(replication.keys(store).verify_key)
        )
    with store.transaction():
        outbox.set_state(store.conn, JOINED_KEY, data["invite"])


_INVITE_REFUSED = {
    "expired": N_("Cette invitation a expiré : elle vaut dix minutes. Demandez-en une nouvelle."),
    "used": N_("Cette invitation a déjà servi pour un autre appareil. Demandez-en une nouvelle."),
    "unknown": N_(
        "Cette invitation est inconnue du hub. Vérifiez le texte recopié, ou demandez-en une nouvelle."
    ),
    "burnt": N_("Ce code est bloqué après trop d'essais. Demandez un nouveau code."),
}
_SHORT_REFUSED = {
    "unknown": N_("Code inconnu. Vérifiez les 8 lettres et chiffres, et l'adresse du hub."),
    "expired": N_("Code expiré : il vaut dix minutes. Demandez un nouveau code."),
    "used": N_("Code déjà utilisé par un autre appareil. Demandez un nouveau code."),
    "burnt": N_("Ce code est bloqué après trop d'essais. Demandez un nouveau code."),
}
_NO_HUB = N_("Aucun hub Accueil ne répond à l'adresse %(hub)s. Vérifiez l'adresse du hub.")
_OTHER_HUB = N_(
    "Cet appareil est déjà inscrit auprès d'un autre hub (%(hub)s). "
    "L'invitation doit venir d'un appareil de son centre."
)
_OTHER_CENTRE = N_(
    "Cette invitation vient d'un autre centre que celui de cet appareil. "
    "Demandez-la à un appareil de votre centre."
)


# ---------------------------------------------------------------- what the federation publishes


def pull_publications(db_path: str | Path, session: Any = None) -> Status:
    """Take what the federation published since this kiosk's cursor, page
    by page (sync.publications): each page verified against the hub key
    this kiosk pinned (the first one it sees, on a kiosk enrolled before the
    hub signed anything), then kept (``federation_feed.apply``). A refused
    page is noted for staff and ends the pull; the last good copies stay.
    Returns ``{"received", "withdrawn", "cursor"}``, or with ``"refused"``
    (the reason code). ``client.SyncError`` when the hub cannot be reached."""
    received = withdrawn = 0
    with Store.open(str(db_path)) as store:
        settings = Settings(store)
        hub, token, centre = settings.get("hub_url"), settings.get("device_token"), settings.get("centre_id")
        if not (hub and token and centre):
            raise client.SyncError(client.NOT_ENROLLED, "the kiosk is not enrolled at a hub")
        while True:
            since, nonce = federation_feed.cursor(store), wire.new_nonce()
            answer = wire.fetch(hub, token, since, nonce, session=session)
            try:
                page = wire.open_page(answer, federation_feed.pinned_key(store), centre, since, nonce)
            except wire.Refused as refused:
                log.warning("publications: page refused (%s): %s", refused.reason, refused)
                federation_feed.refuse(store, refused.reason, str(refused))
                return {"received": received, "withdrawn": withdrawn, "refused": refused.reason}
            counts = federation_feed.apply(store, page)
            received, withdrawn = received + counts["received"], withdrawn + counts["withdrawn"]
            if not page.more or (page.cursor == since and not page.reset):
                return {"received": received, "withdrawn": withdrawn, "cursor": page.cursor}


def pull_publications_logged(db_path: str | Path, session: Any = None) -> Status:
    """``pull_publications``, its failure logged and returned as ``{"error"}``."""
    try:
        return pull_publications(db_path, session=session)
    except (client.SyncError, OSError, sqlite3.Error) as error:
        log.warning("publications: the pull failed: %s", error)
        return {"error": str(error)}
