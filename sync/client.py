"""Push the kiosk's pending events to the hub, exactly once whatever the network does.

    result = push("accueil.db", "https://hub.example", token, progress=print)
    print(result.summary_fr())

How "exactly once" holds: the hub stores each event id once (a replay is a
"duplicate", answered like a success), so the client may send a batch again
as often as it likes; and it marks an event sent only when a verified hub
answer names it stored or duplicate. Anything else — a timeout, a reset, a
cut answer, a wifi portal's page served with 200 — leaves it pending, and the
next push sends it again.

Memory stays bounded whatever the backlog: one batch of stored event texts is
read, sent and marked at a time (``outbox.pending_bodies`` with a LIMIT).

``sync`` never imports ``kiosk``: the caller passes the hub's URL and token.
"""

from __future__ import annotations

import gettext
import gzip
import importlib.metadata
import json
import logging
import os
import random
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from sync import lock as sync_lock
from sync import outbox, protocol
from sync.clock import utc_now
from sync.i18n import N_, French

log = logging.getLogger(__name__)

API = "/api/v1"
#: requests' timeout: seconds, or (to connect, to read)
Timeout = float | tuple[float, float]
#: (connect, read) seconds. The read timeout covers the hub validating and
#: committing one batch; beyond it the batch is sent again and deduplicated.
DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)
#: A hub asking to come back later than this ends the push instead of holding
#: the lock (and the staff's patience); the scheduler tries again later.
MAX_RETRY_AFTER_S = 60.0
#: Batches on the wire at once: while the hub writes one, it checks the
#: next ones before taking its write lock, and the kiosk reads and
#: compresses more (bench_sync measures the effect: docs/performance.md).
IN_FLIGHT = 4
MAX_IN_FLIGHT = 8
GZIP_LEVEL = 1  # event JSON compresses well even at level 1, at a fraction of the CPU

_isal_compress: Callable[[bytes, int], bytes] | None
try:  # ISA-L's gzip: the same format as the stdlib's, for a fraction of its CPU
    from isal.igzip import compress as _isal_compress
except ImportError:  # no wheel for this machine (Android): the stdlib's
    _isal_compress = None


def _gzip(raw: bytes) -> bytes:
    """A batch's body gzipped (any gzip reader, the hub's zlib included, reads it)."""
    if _isal_compress is not None:
        return _isal_compress(raw, GZIP_LEVEL)
    return gzip.compress(raw, compresslevel=GZIP_LEVEL)


ProgressCallback = Callable[[int, int], None]
#: an outbox row as the client reads it: (seq, event id, canonical body as bytes)
_Row = tuple[int, str, bytes]

# failure codes of SyncResult.error (also stored in sync_state's last_error)
UNREACHABLE = "unreachable"
NOT_HUB = "not_hub"
UNAUTHORIZED = "unauthorized"
NOT_ENROLLED = "not_enrolled"
HUB_BUSY = "hub_busy"
REFUSED = "refused"
BUSY = "busy"  # another sync holds the lock
LOST_LOCK = "lost_lock"
TOO_LARGE = "too_large"  # a 413 for a single event: the hub's limits are too tight

_MESSAGES_FR = {
    UNREACHABLE: N_(
        "Le hub de la fédération ne répond pas (pas de connexion ?). "
        "Les données restent sur la borne et partiront plus tard."
    ),
    NOT_HUB: N_(
        "La connexion passe par une page qui n'est pas celle du hub "
        "(portail wifi à accepter ?). Rien n'a été compté comme envoyé."
    ),
    UNAUTHORIZED: N_(
        "Le hub refuse cette borne : il faut l'appairer de nouveau "
        "(kiosk enrol) avec un nouveau code de la fédération."
    ),
    NOT_ENROLLED: N_(
        "Cette borne n'est pas encore appairée au hub : lancez kiosk enrol "
        "avec le code donné par la fédération."
    ),
    HUB_BUSY: N_("Le hub est occupé et demande de revenir plus tard. Nouvel essai automatique."),
    REFUSED: N_("Le hub a refusé l'envoi. Prévenez la fédération."),
    BUSY: N_("Un envoi est déjà en cours sur cette borne."),
    LOST_LOCK: N_("Un autre envoi a pris le relais sur cette borne."),
}


class SyncError(Exception):
    """A sync step that could not be done. ``code`` is one of the codes above;
    ``message_fr`` is for the staff screen, ``str()`` (English) for logs."""

    def __init__(self, code: str, message_en: str, retry_after: float | None = None):
        super().__init__(message_en)
        self.code = code
        self.message_en = message_en
        self.message_fr = _MESSAGES_FR.get(code, _MESSAGES_FR[REFUSED])
        self.retry_after = retry_after


@dataclass
class SyncResult:
    ok: bool
    stored: int = 0
    duplicates: int = 0
    parked: int = 0
    pending: int = 0  # still waiting after this push
    batches: int = 0
    error: str | None = None
    error_en: str | None = None
    parked_reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the kiosk's clock minus the hub's (its answer's Date header), in
    #: seconds; None when no hub answer came
    clock_skew_s: float | None = None

    @property
    def sent(self) -> int:
        """Events the hub now holds thanks to this push (stored or already had)."""
        return self.stored + self.duplicates

    def summary_fr(self) -> str:
        """Plain French words for logs read by staff and the scheduler's status;
        a screen or a command shows ``describe(self.as_dict(), its catalogue)``."""
        return describe(self.as_dict())

    def summary_en(self) -> str:
        """One line for logs and the terminal."""
        return describe_en(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "sent": self.sent,
            "parked": self.parked,
            "pending": self.pending,
            "batches": self.batches,
            "error": self.error,
            "error_en": self.error_en,
            "parked_reasons": self.parked_reasons[:20],
            "seconds": round(self.seconds, 3),
            "clock_skew_s": None if self.clock_skew_s is None else round(self.clock_skew_s, 1),
        }


FRENCH = French()


def describe_en(result: dict[str, Any]) -> str:
    """A push's result (``SyncResult.as_dict()``) in one English line, for logs."""
    head = "sync ok" if result["ok"] else f"sync failed ({result['error']}: {result['error_en']})"
    return (
        f"{head}: {result['stored']} stored, {result['duplicates']} already on the hub, "
        f"{result['parked']} parked, {result['pending']} pending, {result['batches']} batches "
        f"in {result['seconds']:.1f}s"
    )


def describe(result: dict[str, Any], translations: gettext.NullTranslations = FRENCH) -> str:
    """A push's result (``SyncResult.as_dict()``) in plain words, through
    ``translations`` (a gettext catalogue: the kiosk passes the one of the
    language on screen; French by default). ``sync`` imports no kiosk code:
    the caller chooses the language, these are only the msgids."""
    tr = translations
    sent, parked, pending = result.get("sent") or 0, result.get("parked") or 0, result.get("pending") or 0
    if result.get("ok"):
        if sent == 0 and parked == 0:
            text = tr.gettext("Tout est à jour : rien à envoyer.")
        else:
            text = tr.ngettext("%(n)d donnée envoyée au hub.", "%(n)d données envoyées au hub.", sent) % {
                "n": sent
            }
    else:
        text = tr.gettext(_MESSAGES_FR.get(result.get("error") or REFUSED, _MESSAGES_FR[REFUSED]))
        if sent:
            text = tr.ngettext(
                "%(n)d donnée envoyée, puis : %(error)s", "%(n)d données envoyées, puis : %(error)s", sent
            ) % {"n": sent, "error": text}
    if parked:
        text += " " + tr.ngettext(
            "%(n)d donnée refusée par le hub, mise(s) de côté : voir l'écran de synchronisation.",
            "%(n)d données refusées par le hub, mise(s) de côté : voir l'écran de synchronisation.",
            parked,
        ) % {"n": parked}
    if pending and result.get("ok"):
        text += " " + tr.ngettext(
            "%(n)d donnée attend encore.", "%(n)d données attendent encore.", pending
        ) % {"n": pending}
    return text


# ---------------------------------------------------------------- HTTP


class _CappedRetry(Retry):
    """urllib3's Retry, but a Retry-After longer than MAX_RETRY_AFTER_S is not
    slept through: the retries stop and the push reports the hub busy."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        after = super().get_retry_after(response)
        if after is not None and after > MAX_RETRY_AFTER_S:
            return None  # fall back to the (bounded) backoff
        return after


def app_version() -> str:
    """The installed app's version (the ``accueil`` distribution), sent to
    the hub with every request; "unknown" when not installed."""
    try:
        return importlib.metadata.version("accueil")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def make_session(retries: int = 4, backoff: float = 0.5) -> requests.Session:
    """A Session retrying connection errors, read timeouts and 429/5xx with
    exponential backoff and jitter, POST included (safe: the hub deduplicates)."""
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=retries,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        backoff_max=30.0,
        allowed_methods=None,
        status_forcelist=(429, 500, 502, 503, 504),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.headers[protocol.APP_VERSION_HEADER] = app_version()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _url(hub_url: str, path: str) -> str:
    return hub_url.rstrip("/") + API + path


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _hub_json(response: requests.Response) -> dict[str, Any]:
    """The JSON body of an answer that really comes from the hub, or SyncError."""
    if response.headers.get(protocol.HUB_HEADER) != "1":
        raise SyncError(
            NOT_HUB,
            f"answer {response.status_code} without the {protocol.HUB_HEADER} "
            f"header (a wifi portal or a proxy?)",
        )
    if response.status_code == 401:
        raise SyncError(UNAUTHORIZED, "the hub refused the device token (401): enrol the kiosk again")
    if response.status_code in (429, 503):
        raise SyncError(
            HUB_BUSY, f"the hub is busy ({response.status_code})", retry_after=_retry_after(response)
        )
    if response.status_code >= 500:
        raise SyncError(UNREACHABLE, f"the hub failed ({response.status_code})")
    try:
        body = response.json()
    except ValueError as error:
        raise SyncError(NOT_HUB, f"the hub's answer is not complete JSON: {error}") from error
    if response.status_code != 200:
        detail = (body.get("error") or body.get("detail")) if isinstance(body, dict) else body
        raise SyncError(REFUSED, f"the hub refused the request ({response.status_code}): {detail}")
    if not isinstance(body, dict):
        raise SyncError(NOT_HUB, "the hub's answer is not a JSON object")
    return body


def _request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    try:
        return session.request(method, url, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise SyncError(UNREACHABLE, f"cannot reach {url}: {type(error).__name__}: {error}") from error
    except requests.RequestException as error:  # e.g. a cut answer (ChunkedEncodingError)
        raise SyncError(
            UNREACHABLE, f"broken exchange with {url}: {type(error).__name__}: {error}"
        ) from error


# ---------------------------------------------------------------- enrol, status, health


def enrol(
    hub_url: str,
    code: str,
    label: str,
    timeout: Timeout = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Pair this kiosk with the hub using a code the federation gave. Returns
    ``{"device_id", "device_token", "centre_id", "centre_name", "protocol"}``."""
    session = session or make_session(retries=2)
    response = _request(
        session, "POST", _url(hub_url, "/enrol"), json={"code": code, "label": label}, timeout=timeout
    )
    if response.status_code in (401, 403, 404) and response.headers.get(protocol.HUB_HEADER) == "1":
        raise SyncError(REFUSED, f"the hub refused the enrolment code ({response.status_code})")
    answer = _hub_json(response)
    missing = {"device_id", "device_token", "centre_id"} - set(answer)
    if missing:
        raise SyncError(NOT_HUB, f"enrolment answer lacks {sorted(missing)}")
    protocol.check_version(answer.get("protocol"))
    return answer


def hub_status(
    hub_url: str, token: str, timeout: Timeout = (5.0, 15.0), session: requests.Session | None = None
) -> dict[str, Any]:
    """What the hub holds of this kiosk (``GET /api/v1/status``)."""
    session = session or make_session(retries=1)
    response = _request(
        session,
        "GET",
        _url(hub_url, "/status"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    return _hub_json(response)


def health(hub_url: str, timeout: Timeout = (3.0, 5.0), session: requests.Session | None = None) -> bool:
    """Whether the hub (not a portal) answers: the scheduler's cheap probe."""
    session = session or requests.Session()
    try:
        response = session.get(_url(hub_url, "/health"), timeout=timeout)
        return response.headers.get(protocol.HUB_HEADER) == "1" and response.json().get("status") == "ok"
    except (requests.RequestException, ValueError):
        return False


# ---------------------------------------------------------------- the hub's clock

#: sync_state key of the last clock comparison with the hub: {"at", "skew_s"}
CLOCK_KEY = "clock_skew"


def clock_skew(response: requests.Response, kiosk_now: datetime) -> float | None:
    """The kiosk's clock minus the hub's, in seconds, from the answer's Date
    header (HTTP dates are to the second); None if it is missing or unreadable."""
    try:
        hub_now = parsedate_to_datetime(response.headers.get("Date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    if hub_now is None or hub_now.tzinfo is None:
        return None
    return (kiosk_now - hub_now).total_seconds()


# ---------------------------------------------------------------- push


class _BatchSender:
    """Sends one batch until a verified hub answer comes back, or gives up.

    urllib3's Retry already retries inside one ``post`` (connection errors,
    read timeouts, 429/5xx with Retry-After); this outer loop also covers
    what it cannot see: a cut answer, a portal's page, an answer that does
    not account for every event sent."""

    def __init__(
        self,
        session: requests.Session,
        hub_url: str,
        token: str,
        timeout: Timeout,
        attempts: int,
        backoff: float,
        sleep: Callable[[float], None],
        device_id: str | None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.session = session
        self.url = _url(hub_url, "/batches")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.device_id = device_id
        self.gzip = True
        #: set when the push ends: a batch still on the wire makes no new attempt
        self.stopping = False
        self.clock = clock or utc_now
        #: the kiosk's clock minus the hub's, from the last hub answer's Date
        self.clock_skew_s: float | None = None

    def encode(self, rows: list[tuple[int, str, bytes]]) -> _Encoded:
        """The batch's body, built and compressed once for every attempt:
        the stored canonical texts joined as bytes, never parsed."""
        raw = protocol.batch_from_texts([row[2] for row in rows], self.device_id)
        packed = _gzip(raw) if self.gzip else None
        return _Encoded([row[1] for row in rows], raw, packed)

    def send(self, batch: _Encoded) -> dict[str, Any]:
        last: SyncError | None = None
        for attempt in range(self.attempts):
            if attempt:
                if self.stopping:
                    break
                self._pause(attempt, last)
            try:
                return self._exchange(batch)
            except SyncError as error:
                if error.code in (UNAUTHORIZED, REFUSED, TOO_LARGE):
                    raise
                log.info(
                    "batch of %d not acknowledged (attempt %d/%d): %s",
                    len(batch.ids),
                    attempt + 1,
                    self.attempts,
                    error,
                )
                last = error
        assert last is not None
        raise last

    def _pause(self, attempt: int, last: SyncError | None) -> None:
        delay = min(30.0, self.backoff * 2**attempt)
        delay += random.uniform(0, delay)  # jitter: kiosks back online together do not stampede
        if last is not None and last.retry_after is not None:
            delay = max(delay, min(last.retry_after, MAX_RETRY_AFTER_S))
        self.sleep(delay)

    def _exchange(self, batch: _Encoded) -> dict[str, Any]:
        headers = dict(self.headers)
        body = batch.raw
        if self.gzip:
            if batch.packed is None:
                batch.packed = _gzip(batch.raw)
            body = batch.packed
            headers["Content-Encoding"] = "gzip"
        response = _request(self.session, "POST", self.url, data=body, headers=headers, timeout=self.timeout)
        hub = response.headers.get(protocol.HUB_HEADER) == "1"
        if hub:
            skew = clock_skew(response, self.clock())
            if skew is not None:
                self.clock_skew_s = skew
        if hub and response.status_code == 415 and self.gzip:
            self.gzip = False  # an older hub without gzip: send plain JSON
            return self._exchange(batch)
        if hub and (response.status_code == 413 or _too_many_events(response)):
            raise SyncError(TOO_LARGE, f"the hub finds the batch too large ({response.status_code})")
        answer = _hub_json(response)
        try:
            return protocol.validate_answer(answer, batch.ids)
        except protocol.ProtocolError as error:
            raise SyncError(NOT_HUB, f"the answer does not account for the batch: {error}") from error


@dataclass
class _Encoded:
    """One batch ready for the wire: its event ids, its JSON, and that JSON
    gzipped (None until needed)."""

    ids: list[str]
    raw: bytes
    packed: bytes | None


def _too_many_events(response: requests.Response) -> bool:
    """A 400 naming the field "events": more events a batch than this hub takes."""
    if response.status_code != 400:
        return False
    try:
        named: object = response.json().get("field")
    except (ValueError, AttributeError):
        return False
    return named == "events"


def _apply_answer(
    conn: sqlite3.Connection,
    rows: list[_Row],
    answer: dict[str, Any],
    at: str,
    lock: sync_lock.SyncLock,
    result: SyncResult,
) -> None:
    """Mark what the hub holds, park what it refused, in one transaction right
    after the answer (and push the lock's expiry back in the same commit)."""
    ids = [row[1] for row in rows]
    sent_ids = set(ids)
    stored = [i for i in answer["stored"] if i in sent_ids]
    duplicates = [i for i in answer["duplicates"] if i in sent_ids]
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not lock.extend_in_transaction():
            raise SyncError(LOST_LOCK, "the sync lock expired and was taken by another syncer")
        if not answer["rejected"] and len(stored) + len(duplicates) == len(rows):
            # the usual case: the hub holds the whole batch, marked in O(1)
            outbox.mark_sent_through(conn, [row[0] for row in rows], at)
            seq_of = {}
        else:
            seq_of = {row[1]: row[0] for row in rows}
            outbox.mark_sent_seqs(conn, [seq_of[i] for i in stored + duplicates], at)
        for item in answer["rejected"]:
            event_id = item.get("id")
            if event_id not in sent_ids:
                index = item.get("index")
                event_id = ids[index] if isinstance(index, int) and 0 <= index < len(ids) else None
            if event_id is None:
                continue
            reason = str(item.get("reason") or "refused by the hub")
            outbox.park_seq(conn, seq_of[event_id], reason)
            result.parked += 1
            if len(result.parked_reasons) < 20:
                result.parked_reasons.append(reason)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    result.stored += len(stored)
    result.duplicates += len(duplicates)
    result.batches += 1


def _send_all(
    conn: sqlite3.Connection,
    sender: _BatchSender,
    lock: sync_lock.SyncLock,
    batch_size: int,
    result: SyncResult,
    progress: ProgressCallback | None,
    clock: Callable[[], datetime],
    in_flight: int,
) -> None:
    """Send every pending batch in order, up to ``in_flight`` on the wire at once.

    Pipelined: while batches travel (in the ``wire`` threads), this thread
    applies the answers and reads and compresses the next batch, so the
    kiosk's work overlaps the hub's, and the hub validates one batch while it
    writes the one before. Answers are applied in the order the batches were
    read, so the sent watermark only ever covers events the hub holds. When
    a batch fails, the answers to those sent after it are not applied (they
    did not cross the watermark): what they carried is still pending and
    will be sent again, which the hub answers as duplicates. At most
    ``in_flight`` + 1 batches are held, whatever the backlog."""
    total, last_seq = outbox.pending_extent(conn)
    if progress:
        progress(0, total)
    after, size = 0, batch_size
    travelling: _Travelling = deque()  # (rows, future of the answer), in the order read
    exhausted = False
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="sync-wire") as wire:
        try:
            while True:
                while len(travelling) < in_flight and not exhausted:
                    rows = outbox.pending_bodies(conn, size, after)
                    if not rows:
                        exhausted = True
                        break
                    # events recorded while we push are sent too: grow the total as they come
                    if rows[-1][0] > last_seq:
                        total += sum(1 for row in rows if row[0] > last_seq)
                        last_seq = rows[-1][0]
                    after = rows[-1][0]
                    travelling.append((rows, wire.submit(sender.send, sender.encode(rows))))
                if not travelling:
                    return
                rows, answer_future = travelling.popleft()
                try:
                    answer = answer_future.result()
                except SyncError as error:
                    if error.code != TOO_LARGE or size == 1:
                        raise
                    _drain(travelling)  # read again from this batch's first event, smaller
                    size = max(1, size // 2)
                    after, exhausted = rows[0][0] - 1, False
                    continue
                exhausted = False  # the desk may have recorded more while the batch travelled
                _apply_answer(conn, rows, answer, protocol.utc_iso(clock()), lock, result)
                if progress:
                    progress(result.sent + result.parked, total)
        finally:
            sender.stopping = True  # batches still travelling give up instead of retrying
            _drain(travelling)


#: the batches on the wire, in the order read: (rows, the hub's answer to come)
_Travelling = deque[tuple[list[_Row], Future[dict[str, Any]]]]


def _drain(travelling: _Travelling) -> None:
    """Wait for the batches still on the wire, and forget their answers."""
    while travelling:
        _rows, future = travelling.popleft()
        try:
            future.result()
        except SyncError:
            pass


def _record_outcome(
    conn: sqlite3.Connection, result: SyncResult, clock: Callable[[], datetime], keep_sent_days: int
) -> None:
    moment = clock()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if result.ok:
            outbox.set_state(conn, "last_success", protocol.utc_iso(moment))
            cutoff = moment - timedelta(days=keep_sent_days)
            outbox.purge_sent_before(conn, protocol.utc_iso(cutoff))
        elif result.error not in (BUSY,):
            outbox.set_state(
                conn,
                "last_error",
                json.dumps(
                    {
                        "at": protocol.utc_iso(moment),
                        "code": result.error,
                        "message_fr": _MESSAGES_FR.get(result.error or REFUSED),
                        "message_en": result.error_en,
                    },
                    ensure_ascii=False,
                ),
            )
        outbox.set_state(
            conn,
            "last_result",
            json.dumps({"at": protocol.utc_iso(moment), **result.as_dict()}, ensure_ascii=False),
        )
        if result.clock_skew_s is not None:
            outbox.set_state(
                conn,
                CLOCK_KEY,
                json.dumps({"at": protocol.utc_iso(moment), "skew_s": round(result.clock_skew_s, 1)}),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def push(
    conn_or_path: str | os.PathLike[str] | sqlite3.Connection,
    hub_url: str | None,
    token: str | None,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
    *,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    attempts: int = 3,
    backoff: float = 1.0,
    retries: int = 4,
    keep_sent_days: int = 90,
    lock_ttl: float = sync_lock.DEFAULT_TTL_S,
    device_id: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    in_flight: int = IN_FLIGHT,
) -> SyncResult:
    """Send every pending event to the hub, in order, ``batch_size`` at a time,
    up to ``in_flight`` batches on the wire at once (1: one after the other).

    ``conn_or_path`` is the kiosk database's path (a connection of its own is
    opened) or an open autocommit connection not inside a transaction.
    ``progress(sent, total)`` is called after each batch. Never raises for
    network or hub trouble: the returned SyncResult says what happened, and
    ``sync_state`` keeps last_success / last_error / last_result.
    """
    if not 1 <= batch_size <= protocol.MAX_EVENTS_PER_BATCH:
        raise ValueError(f"batch_size must be from 1 to {protocol.MAX_EVENTS_PER_BATCH}, got {batch_size}")
    if not 1 <= in_flight <= MAX_IN_FLIGHT:
        raise ValueError(f"in_flight must be from 1 to {MAX_IN_FLIGHT}, got {in_flight}")
    own = not isinstance(conn_or_path, sqlite3.Connection)
    conn = conn_or_path if isinstance(conn_or_path, sqlite3.Connection) else outbox.connect(str(conn_or_path))
    started = time.monotonic()
    result = SyncResult(ok=False)
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    try:
        # What a push writes is bookkeeping: what the hub holds, what it
        # refused, the lock's expiry. Lost to a power cut, it only makes the
        # next push send those events again, which the hub answers as
        # duplicates. So the push commits without waiting for the disk
        # (synchronous=NORMAL: in WAL mode never corrupt, only the last
        # commits may be lost): one fsync less a batch. The check-ins, on
        # their own connections, stay synchronous=FULL, and the fsync of
        # their commits makes the push's earlier ones durable too.
        _set_synchronous(conn, 1)  # NORMAL
        _push_locked(
            conn,
            hub_url,
            token,
            batch_size,
            in_flight,
            progress,
            result,
            clock,
            lock_ttl,
            lambda: _BatchSender(
                session or make_session(retries, backoff / 2),
                hub_url or "",
                token or "",
                timeout,
                attempts,
                backoff,
                sleep,
                device_id,
                clock,
            ),
        )
        result.seconds = time.monotonic() - started
        result.pending = outbox.pending_extent(conn)[0]
        _record_outcome(conn, result, clock, keep_sent_days)
    finally:
        if own:
            conn.close()
        else:  # the caller's connection as it was, whatever happened
            _set_synchronous(conn, synchronous)
    log.info(result.summary_en())
    return result


def _set_synchronous(conn: sqlite3.Connection, level: int) -> None:
    """Set the connection's synchronous level, unless a transaction is open:
    SQLite refuses it then ("Safety level may not be changed inside a
    transaction"), and a push that failed with one open (a COMMIT refused
    for a full disk) must report that failure, not this one."""
    if not conn.in_transaction:
        conn.execute(f"PRAGMA synchronous = {int(level)}")


def _push_locked(
    conn: sqlite3.Connection,
    hub_url: str | None,
    token: str | None,
    batch_size: int,
    in_flight: int,
    progress: ProgressCallback | None,
    result: SyncResult,
    clock: Callable[[], datetime],
    lock_ttl: float,
    make_sender: Callable[[], _BatchSender],
) -> None:
    if not hub_url or not token:
        result.error, result.error_en = NOT_ENROLLED, "no hub URL or device token: enrol the kiosk first"
        return
    lock = sync_lock.SyncLock(conn, ttl=lock_ttl)
    if not lock.acquire():
        holder = lock.holder() or {}
        result.error, result.error_en = BUSY, f"another sync holds the lock (pid {holder.get('pid')})"
        return
    sender = make_sender()
    try:
        _send_all(conn, sender, lock, batch_size, result, progress, clock, in_flight)
        result.ok = True
    except SyncError as error:
        result.error, result.error_en = error.code, error.message_en
    finally:
        result.clock_skew_s = sender.clock_skew_s
        lock.release()
