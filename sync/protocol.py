"""The wire protocol between a kiosk and the hub: events, batches, answers.

Both ends import this module, so an event the kiosk can build is exactly an
event the hub accepts. It is plain Python (no pydantic) so the kiosk stays
light and validation stays fast at ingest.

Versioning: ``PROTOCOL_VERSION`` is "MAJOR.MINOR". A hub refuses a batch whose
major version it does not know; a newer minor version only adds optional
fields or event types, so it stays compatible (unknown fields are ignored,
unknown event types are refused one by one, never the whole batch).

See docs/sync-protocol.md for examples of every message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Callable

PROTOCOL_VERSION = "1.0"
PROTOCOL_MAJOR = 1

#: The hub's answers carry this header so a client can tell them from a wifi
#: portal's page or a proxy's error page served with a 200.
HUB_HEADER = "X-Accueil-Hub"

MAX_EVENTS_PER_BATCH = 5000

AGE_BANDS = ("0-15", "16-24", "25-54", "55-64", "65+", "unknown")
GENDERS = ("woman", "man", "non_binary", "unsaid")
THEMES = (
    "accueil",
    "education",
    "parentalite",
    "e_administration",
    "numerique",
    "pouvoir_d_agir",
    "autre",
)
REGISTRATION_STATUSES = ("booked", "waitlisted", "cancelled")
RECORDERS = ("resident", "volunteer", "staff")


class ProtocolError(ValueError):
    """An event or batch does not follow the protocol. ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnsupportedVersion(ProtocolError):
    pass


# ---------------------------------------------------------------- ids and time

class _Uuid7:
    """Time-ordered UUIDs (version 7, RFC 9562), monotonic within a process.

    48 bits of Unix milliseconds, then rand_a used as a 12-bit counter (RFC
    9562 method 1: seeded at random each new millisecond, incremented within
    one), then 62 random bits. Ids made in the same millisecond therefore
    still sort in the order they were made: two check-ins a millisecond apart
    list in the right order, and the hub's unique index stays append-mostly.
    A clock that steps back keeps the last millisecond until it catches up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = -1
        self._counter = 0
        # random bytes are read from the OS 4 KiB at a time: one system call
        # for ~400 ids instead of two each (a check-in makes two ids)
        self._random = b""
        self._used = 0
        # a forked child must not reuse its parent's unread bytes
        os.register_at_fork(after_in_child=self._forget_random)

    def _forget_random(self) -> None:
        self._random, self._used = b"", 0

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if self._used + 10 > len(self._random):
                self._random, self._used = os.urandom(4096), 0
            used = self._used
            self._used = used + 10
            if ms > self._ms:
                self._ms = ms
                self._counter = int.from_bytes(self._random[used:used + 2], "big") & 0x7FF
            else:  # same millisecond, or the clock stepped back
                self._counter += 1
                if self._counter > 0xFFF:  # 4,096 ids in one ms: borrow the next ms
                    self._ms, self._counter = self._ms + 1, 0
            ms, counter = self._ms, self._counter
            rand_b = int.from_bytes(self._random[used + 2:used + 10], "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76  # version
        value |= counter << 64  # rand_a: the monotonic counter
        value |= 0b10 << 62  # variant
        value |= rand_b
        text = f"{value:032x}"  # what str(uuid.UUID(int=value)) writes, without its checks
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


#: ``new_id()`` makes a time-ordered UUID (see _Uuid7).
new_id = _Uuid7()


def utc_iso(moment: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with milliseconds and 'Z'."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """Parse the protocol's timestamps (ISO 8601 with an offset or 'Z')."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(timezone.utc)


def age_band(birth_year: int | None, on: date | None = None) -> str:
    """The reporting age band of someone born in ``birth_year`` (by year, as
    funders count). Bands add up to FEDER's <25, 25-54, >54."""
    if birth_year is None:
        return "unknown"
    age = (on or date.today()).year - birth_year
    if age < 16:
        return "0-15"
    if age < 25:
        return "16-24"
    if age < 55:
        return "25-54"
    if age < 65:
        return "55-64"
    return "65+"


# ---------------------------------------------------------------- field checks

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _uuid(value: Any) -> str | None:
    if not isinstance(value, str) or not _UUID_RE.match(value):
        return "must be a lowercase UUID"
    return None


_CONTROL_RE = re.compile(r"[\x00-\x1f]")


def _text(max_len: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        if _CONTROL_RE.search(value):  # one C scan instead of a Python loop per character
            return "must not contain control characters"
        return None

    check.max_len = max_len  # for _column_ok
    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"must be one of {', '.join(choices)}"
        return None

    check.choices = frozenset(choices)  # for _compile_checks
    return check


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        return "must be a whole number from 0 to 100000"
    return None


#: utc_iso's shape, which every kiosk writes: checked by a regex and a cached
#: date check instead of a datetime parse per event (the hub's hottest check)
_CANONICAL_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\d)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z")


@lru_cache(maxsize=4096)
def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _timestamp(value: Any) -> str | None:
    if type(value) is str:
        match = _CANONICAL_TIME_RE.fullmatch(value)
        if match and _real_date(match[1]):
            return None
    try:
        parse_utc(value)
    except (ValueError, TypeError):
        return "must be an ISO 8601 time with a time zone"
    return None


def _nullable(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def nullable(value: Any) -> str | None:
        return None if value is None else check(value)

    nullable.inner = check  # for _compile_checks
    return nullable


_CODE = _text(64)
_MEMBER_ATTRS = {
    "member_id": (_uuid, True),
    "age_band": (_one_of(AGE_BANDS), True),
    "gender": (_nullable(_one_of(GENDERS)), False),
    "commune": (_nullable(_text(100)), False),
    "neighbourhood": (_nullable(_text(100)), False),
    "qpv": (_bool, True),
}

#: event type -> {field: (check, required)}. Extra fields are ignored (a newer
#: minor version may add them); a missing required field is refused.
EVENT_TYPES: dict[str, dict[str, tuple[Callable[[Any], str | None], bool]]] = {
    "visit.recorded": {
        "visit_id": (_uuid, True),
        "member_id": (_nullable(_uuid), False),
        "reason": (_CODE, True),
        "recorded_by": (_one_of(RECORDERS), True),
    },
    "member.created": dict(_MEMBER_ATTRS),
    "member.updated": dict(_MEMBER_ATTRS),
    "member.erased": {"member_id": (_uuid, True)},
    "workshop.created": {
        "workshop_id": (_uuid, True),
        "title": (_text(200), True),
        "theme": (_one_of(THEMES), True),
        "place": (_nullable(_text(200)), False),
    },
    "workshop.updated": {
        "workshop_id": (_uuid, True),
        "title": (_text(200), True),
        "theme": (_one_of(THEMES), True),
        "place": (_nullable(_text(200)), False),
    },
    "session.created": {
        "session_id": (_uuid, True),
        "workshop_id": (_uuid, True),
        "starts_at": (_timestamp, True),
        "ends_at": (_timestamp, True),
        "capacity": (_count, True),
    },
    "session.updated": {
        "session_id": (_uuid, True),
        "workshop_id": (_uuid, True),
        "starts_at": (_timestamp, True),
        "ends_at": (_timestamp, True),
        "capacity": (_count, True),
    },
    "session.cancelled": {"session_id": (_uuid, True)},
    "registration.changed": {
        "registration_id": (_uuid, True),
        "session_id": (_uuid, True),
        "member_id": (_uuid, True),
        "status": (_one_of(REGISTRATION_STATUSES), True),
    },
    "attendance.taken": {
        "attendance_id": (_uuid, True),
        "session_id": (_uuid, True),
        "member_id": (_nullable(_uuid), False),
        "present": (_bool, True),
        "walk_in": (_bool, True),
    },
}

#: Fields that must never appear in an event, whatever its type: the hub is
#: pseudonymous by construction.
FORBIDDEN_FIELDS = frozenset(
    {"first_name", "last_name", "name", "phone", "email", "address", "birth_year", "card_code"}
)


_MISSING = object()
_UUID_MATCH = _UUID_RE.match


def _compile_checks(fields: dict) -> tuple:
    """One type's field checks as flat tuples for validate_event's loop:
    (field, label, check, required, nullable, choices, is_uuid). Nullable
    and choice checks are unwrapped so the common values (None, a listed
    choice, a lowercase UUID) are accepted without a call."""
    compiled = []
    for name, (check, required) in fields.items():
        inner = getattr(check, "inner", None)
        nullable = inner is not None
        check = inner or check
        compiled.append((name, f"data.{name}", check, required, nullable,
                         getattr(check, "choices", None), check is _uuid))
    return tuple(compiled)


def validate_event(event: Any) -> dict:
    """Check one event; return it, or raise ProtocolError naming the field.
    The hub runs this for every event it receives, hence the fast paths."""
    if not isinstance(event, dict):
        raise ProtocolError("event", "must be a JSON object")
    event_id = event.get("id")
    if not (type(event_id) is str and _UUID_MATCH(event_id)):
        raise ProtocolError("id", _uuid(event_id) or "must be a lowercase UUID")
    kind = event.get("type")
    checks = _CHECKS.get(kind) if type(kind) is str else None
    if checks is None:
        raise ProtocolError("type", f"unknown event type {kind!r}")
    problem = _timestamp(event.get("occurred_at"))
    if problem:
        raise ProtocolError("occurred_at", problem)
    data = event.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("data", "must be a JSON object")
    if not FORBIDDEN_FIELDS.isdisjoint(data):
        leaked = sorted(FORBIDDEN_FIELDS.intersection(data))[0]
        raise ProtocolError(f"data.{leaked}", "personal data must not leave the kiosk")
    for field, label, check, required, nullable, choices, is_uuid in checks:
        value = data.get(field, _MISSING)
        if value is _MISSING:
            if required:
                raise ProtocolError(label, "is required")
            continue
        if (value is None and nullable) or (is_uuid and type(value) is str and _UUID_MATCH(value)) \
                or (choices is not None and type(value) is str and value in choices):
            continue
        problem = check(value)
        if problem:
            raise ProtocolError(label, problem)
    return event


#: EVENT_TYPES as validate_event reads it
_CHECKS = {kind: _compile_checks(fields) for kind, fields in EVENT_TYPES.items()}


def make_event(kind: str, data: dict, occurred_at: datetime, event_id: str | None = None) -> dict:
    """Build and validate an event. Raises ProtocolError on a bad payload."""
    event = {
        "id": event_id or new_id(),
        "type": kind,
        "occurred_at": utc_iso(occurred_at),
        "data": data,
    }
    return validate_event(event)


def canonical_json(event: dict) -> str:
    """The one serialisation of an event: compact, keys sorted, UTF-8 text.
    Two sends of the same event give the same text, so the hub can tell a
    replay (same id, same content) from a conflict (same id, other content)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(event: dict) -> str:
    return hashlib.sha256(canonical_json(event).encode()).hexdigest()


# ---------------------------------------------------------------- batches

def check_version(version: Any) -> None:
    if not isinstance(version, str) or not re.match(r"^\d+\.\d+$", version):
        raise UnsupportedVersion("protocol", "must be a version string like '1.0'")
    major = int(version.split(".")[0])
    if major != PROTOCOL_MAJOR:
        raise UnsupportedVersion(
            "protocol",
            f"version {version} is not supported by this hub (it speaks {PROTOCOL_MAJOR}.x)",
        )


def validate_batch(body: Any, max_events: int = MAX_EVENTS_PER_BATCH) -> tuple[list[dict], list[dict]]:
    """Check a batch's envelope, then each event on its own.

    Returns (valid events, rejected) where each rejected item is
    ``{"id": <event id or null>, "index": i, "reason": "..."}``. A bad
    envelope raises ProtocolError: the whole batch is refused.
    """
    if not isinstance(body, dict):
        raise ProtocolError("batch", "must be a JSON object")
    check_version(body.get("protocol"))
    events = body.get("events")
    if not isinstance(events, list):
        raise ProtocolError("events", "must be a list")
    if len(events) > max_events:
        raise ProtocolError("events", f"at most {max_events} events a batch, got {len(events)}")
    if _all_valid_and_distinct(events):  # the usual batch, checked a column at a time
        return list(events), []
    return _validate_each(events)


def _validate_each(events: list) -> tuple[list[dict], list[dict]]:
    """validate_batch's general path: each event on its own."""
    valid: list[dict] = []
    rejected: list[dict] = []
    seen: set[str] = set()
    for index, event in enumerate(events):
        event_id = event.get("id") if isinstance(event, dict) else None
        try:
            validate_event(event)
        except ProtocolError as error:
            rejected.append({"id": event_id if isinstance(event_id, str) else None,
                             "index": index, "reason": str(error)})
            continue
        if event_id in seen:
            # the same event twice in one batch: keep the first, the second is a replay
            continue
        seen.add(event_id)
        valid.append(event)
    return valid, rejected


# ---------------------------------------------------------------- the batch fast path
#
# A kiosk's batch is almost always a thousand valid events of a few types.
# _all_valid_and_distinct checks such a batch a column at a time (every id,
# every time, every value of one field of one type) with C-level scans: a
# regex over the joined column, a set of the types, a set of the values. It
# only ever answers "all valid, no id twice" or "don't know": on "don't know"
# validate_batch runs the per-event checks, which decide and word every
# refusal. So the answers are validate_event's, by construction: each column
# check below accepts only values validate_event accepts (tests compare the
# two paths on generated batches).

_TIME_TEXT = r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
_TIME_COLUMN = re.compile(rf"(?:{_TIME_TEXT}\n)*{_TIME_TEXT}", re.ASCII)
_STR_ONLY = {str}
_DICT_ONLY = {dict}
_DATE_PART = itemgetter(slice(0, 10))


def _uuid_column(values: list) -> bool:
    """Every value a lowercase UUID string, checked on the values joined by
    newlines (bytes-wide scans, not a regex step per character): the length
    and the separators' places make each value exactly 36 characters with
    its four hyphens in place and nothing but lowercase hex between them."""
    count = len(values)
    if set(map(type, values)) != _STR_ONLY:
        return False
    try:
        joined = "\n".join(values).encode("ascii")
    except UnicodeEncodeError:
        return False
    return (len(joined) == 37 * count - 1
            and joined.count(b"-") == 4 * count and joined.count(b"\n") == count - 1
            and joined[8::37] == joined[13::37] == joined[18::37] == joined[23::37] == b"-" * count
            and joined[36::37] == b"\n" * (count - 1)
            and not joined.translate(None, b"0123456789abcdef-\n"))


def _time_column(values: list) -> bool:
    """Every value a utc_iso time on a real date (_timestamp's fast path)."""
    return (set(map(type, values)) == _STR_ONLY
            and len(joined := "\n".join(values)) == 25 * len(values) - 1
            and _TIME_COLUMN.fullmatch(joined) is not None
            and all(map(_real_date, set(map(_DATE_PART, values)))))


def _column_ok(check: Callable, choices: frozenset | None, values: list) -> bool:
    """Whether ``check`` accepts every value (False: don't know)."""
    if choices is not None:
        return set(values) <= choices  # JSON values: no non-string equals a string
    if check is _uuid:
        return _uuid_column(values)
    if check is _timestamp:
        return _time_column(values)
    if check is _bool:
        return set(map(type, values)) <= {bool}
    if check is _count:
        return (set(map(type, values)) <= {int}
                and min(values, default=0) >= 0 and max(values, default=0) <= 100_000)
    max_len = getattr(check, "max_len", None)
    if max_len is not None:  # _text
        return (set(map(type, values)) <= _STR_ONLY
                and all(map(str.strip, values))
                and max(map(len, values), default=0) <= max_len
                and _CONTROL_RE.search("".join(values)) is None)
    return False


def _all_valid_and_distinct(events: list) -> bool:
    """True when validate_event accepts every event and no id comes twice."""
    if not events or set(map(type, events)) != _DICT_ONLY:
        return False
    try:
        ids = list(map(_GET_ID, events))
        kinds = list(map(_GET_TYPE, events))
        times = list(map(_GET_OCCURRED_AT, events))
        datas = list(map(_GET_DATA, events))
        if not set(kinds) <= _CHECKS.keys():
            return False
    except (KeyError, TypeError):  # a missing key, an unhashable type
        return False
    if not (_uuid_column(ids) and len(set(ids)) == len(ids) and _time_column(times)
            and set(map(type, datas)) == _DICT_ONLY
            and FORBIDDEN_FIELDS.isdisjoint(chain.from_iterable(datas))):
        return False
    if len(set(kinds)) == 1:
        groups = {kinds[0]: datas}
    else:
        groups: dict[str, list] = {}
        for kind, data in zip(kinds, datas):
            group = groups.get(kind)
            if group is None:
                groups[kind] = [data]
            else:
                group.append(data)
    for kind, group in groups.items():
        for field, _label, check, required, nullable, choices, _is_uuid in _CHECKS[kind]:
            values = list(map(dict.get, group, repeat(field), repeat(_MISSING)))
            if _MISSING in values:  # identity first; no JSON value equals it
                if required:
                    return False
                values = [value for value in values if value is not _MISSING]
            if nullable and None in values:
                values = [value for value in values if value is not None]
            try:
                if values and not _column_ok(check, choices, values):
                    return False
            except TypeError:  # an unhashable value among choices
                return False
    return True


_GET_ID, _GET_TYPE, _GET_OCCURRED_AT, _GET_DATA = map(itemgetter, ("id", "type", "occurred_at", "data"))


def batch_envelope_prefix(device_id: str | None = None) -> str:
    """The start of a batch's JSON up to the opening of its events list, so a
    client can stream stored event texts into it without re-serialising."""
    head = {"protocol": PROTOCOL_VERSION}
    if device_id:
        head["device_id"] = device_id
    return json.dumps(head, separators=(",", ":"))[:-1] + ',"events":['


def batch_from_texts(event_texts: list[str] | list[bytes], device_id: str | None = None) -> bytes:
    """Assemble a batch from events already serialised with canonical_json,
    all as text or all as UTF-8 bytes (the outbox's stored bodies, joined
    as they are: never decoded nor parsed)."""
    if event_texts and isinstance(event_texts[0], str):
        event_texts = [text.encode() for text in event_texts]
    return b"".join((batch_envelope_prefix(device_id).encode(), b",".join(event_texts), b"]}"))


def validate_answer(answer: Any, sent_ids: list[str]) -> dict:
    """Check that an ingest answer is the hub's and accounts for the batch.

    The answer is ``{"protocol", "stored": [ids], "duplicates": [ids],
    "rejected": [{"id", "reason"}]}``. Every sent id must be in exactly one
    list; anything else (a portal page, a truncated body) is not an answer.
    """
    if not isinstance(answer, dict):
        raise ProtocolError("answer", "is not a JSON object")
    check_version(answer.get("protocol"))
    stored = answer.get("stored")
    duplicates = answer.get("duplicates")
    rejected = answer.get("rejected")
    if not isinstance(stored, list) or not isinstance(duplicates, list) or not isinstance(rejected, list):
        raise ProtocolError("answer", "must list stored, duplicates and rejected")
    rejected_ids = [item.get("id") for item in rejected if isinstance(item, dict)]
    accounted = set(stored) | set(duplicates) | set(rejected_ids)
    missing = set(sent_ids) - accounted
    if missing:
        raise ProtocolError("answer", f"{len(missing)} sent events are not accounted for")
    return answer
