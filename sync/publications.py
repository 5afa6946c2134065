"""What the hub publishes to every kiosk, and how a kiosk trusts it.

The contract, shared by both ends (the hub: ``federation.publications``; the
kiosk: ``kiosk.core.federation_feed`` and ``kiosk.syncing``):

- A publication is ``(kind, key)`` with a JSON ``body``. ``KINDS`` is the
  registry of kinds: each names its body's fields (an allow-list, every field
  bounded) and its largest body. ``check_body(kind, body)`` is the one
  validator: it returns the body rebuilt from the allowed fields only, or
  raises ``InvalidBody`` naming the field. The hub checks before it stores;
  the kiosk checks again what it receives, and skips a kind it does not know
  (a newer hub's).
- The hub signs with its own Ed25519 key. ``GET /api/v1/publications?since=N
  &nonce=X`` answers ``{"payload": TEXT, "signature": BASE64}``: ``TEXT`` is
  the canonical JSON of ``{"format", "hub_key", "centre", "since", "nonce",
  "cursor", "more", "reset", "issued_at", "items"}`` and the signature is
  over its UTF-8 bytes exactly as they came. Each item is ``{"kind", "key", "seq",
  "updated_at", "withdrawn", "body"}`` (``body`` None when withdrawn, or when
  the publication no longer reaches this centre). ``since`` is the kiosk's
  cursor, ``cursor`` the one to send next time, ``more`` that another page
  follows, ``reset`` that the kiosk's cursor was past the hub's counter (a
  hub restored from an older backup): the page starts again from everything
  held and the kiosk replaces its copies with it.
- ``open_page`` verifies an answer against the key the kiosk pinned (or, a
  kiosk that pinned none yet, the key the answer names: trust on first use)
  and against what the kiosk asked (its centre, its cursor, its nonce): a
  page altered in transit, signed by another key, made for another centre,
  replayed, or moving the cursor back is refused with ``Refused``; nothing of
  it is to be applied.

Plain Python over PyNaCl, no I/O but ``fetch``; mypy strict.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import nacl.exceptions
import nacl.signing
import requests

from sync import client, protocol, sheets

#: what the signed payload says it is; a new layout gets a new name
FORMAT = "accueil-publications/1"
#: the path under the API
PATH = "/publications"
#: a publication's key: what names it within its kind
KEY_RE = re.compile(r"[A-Za-z0-9_.:-]{1,80}")
#: the nonce a kiosk sends, echoed in the signed payload
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: the languages a translated text may carry; French is always there
LANGUAGES = ("fr", "en", "ar")
#: the most items one page carries
PAGE_ITEMS = 5000
#: a message's longest text, in each language: what the kiosk's home screen shows whole
MESSAGE_MAX_CHARS = 85
#: the pictograms a message may show (Material icon names the kiosk draws)
MESSAGE_PICTOGRAMS = (
    "info",
    "warning",
    "event_busy",
    "event",
    "celebration",
    "campaign",
    "schedule",
    "groups",
    "directions_bus",
    "park",
    "home",
    "lightbulb",
)
_ICON_RE = re.compile(r"[a-z0-9_]{1,64}")
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InvalidBody(ValueError):
    """A body that its kind does not allow: ``field`` names what is wrong."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class Refused(Exception):
    """An answer the kiosk must not apply. ``reason`` is a short code
    (``KEY_CHANGED``, ``BAD_SIGNATURE``, ``WRONG_CENTRE``, ``REPLAYED``,
    ``ROLLED_BACK``, ``MALFORMED``); the message says more, in English."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


KEY_CHANGED = "key_changed"
BAD_SIGNATURE = "bad_signature"
WRONG_CENTRE = "wrong_centre"
REPLAYED = "replayed"
ROLLED_BACK = "rolled_back"
MALFORMED = "malformed"


# ---------------------------------------------------------------- the kinds' fields

Check = Callable[[Any, str], Any]  # (value, field name) -> the value kept, or InvalidBody


def text(max_len: int, required: bool = True, lines: bool = False) -> Check:
    """A string of at most ``max_len`` characters, stripped; without control
    characters (newlines allowed when ``lines``). Not required: "" kept."""

    def check(value: Any, name: str) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise InvalidBody(name, "must be text")
        kept: str = value.strip()
        if required and not kept:
            raise InvalidBody(name, "must not be empty")
        if len(kept) > max_len:
            raise InvalidBody(name, f"must be at most {max_len} characters")
        problem = protocol.unfit_text(kept.replace("\n", " ") if lines else kept)
        if problem:
            raise InvalidBody(name, problem)
        return kept

    return check


def integer(minimum: int, maximum: int) -> Check:
    def check(value: Any, name: str) -> int:
        if type(value) is not int or not minimum <= value <= maximum:
            raise InvalidBody(name, f"must be a whole number from {minimum} to {maximum}")
        return value

    return check


def choice(allowed: tuple[str, ...] | frozenset[str], required: bool = True) -> Check:
    def check(value: Any, name: str) -> str | None:
        if value is None and not required:
            return None
        if value not in allowed:
            raise InvalidBody(name, f"must be one of {', '.join(sorted(allowed))}")
        return str(value)

    return check


def icon(value: Any, name: str) -> str:
    """A pictogram's name (the kiosk draws an unknown one as « help »)."""
    if not isinstance(value, str) or not _ICON_RE.fullmatch(value):
        raise InvalidBody(name, "must be a pictogram name (a-z, 0-9, _)")
    return value


def day(value: Any, name: str) -> str:
    """A calendar day, YYYY-MM-DD."""
    if not isinstance(value, str) or not _DAY_RE.fullmatch(value):
        raise InvalidBody(name, "must be a day YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidBody(name, "must be a real day") from None
    return value


def utc_time(value: Any, name: str) -> str:
    """A time in the protocol's UTC form (2026-01-31T09:00:00.000Z)."""
    if not isinstance(value, str) or not protocol.UTC_ISO_RE.fullmatch(value):
        raise InvalidBody(name, "must be a UTC time like 2026-01-31T09:00:00.000Z")
    return value


def uuid(value: Any, name: str) -> str:
    if not protocol.is_id(value):
        raise InvalidBody(name, "must be a UUID")
    return str(value)


def optional(check: Check) -> Check:
    """``check``, or None when the field is absent or null."""

    def wrapped(value: Any, name: str) -> Any:
        return None if value is None else check(value, name)

    return wrapped


def translations(max_len: int) -> Check:
    """``{"fr": …, "en": …, "ar": …}``: French required, the others optional
    (an empty translation is left out)."""
    one = text(max_len)

    def check(value: Any, name: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise InvalidBody(name, "must be an object of texts by language")
        unknown = set(value) - set(LANGUAGES)
        if unknown:
            raise InvalidBody(name, f"languages must be among {', '.join(LANGUAGES)}")
        kept = {"fr": one(value.get("fr"), f"{name}.fr")}
        for language in LANGUAGES[1:]:
            if isinstance(value.get(language), str) and value[language].strip():
                kept[language] = one(value[language], f"{name}.{language}")
        return kept

    return check


def list_of(fields: Mapping[str, Check], min_items: int, max_items: int) -> Check:
    """A list of objects, each rebuilt from ``fields``."""

    def check(value: Any, name: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise InvalidBody(name, f"must be a list of {min_items} to {max_items} items")
        return [_rebuilt(item, fields, f"{name}[{index}]") for index, item in enumerate(value)]

    return check


def _rebuilt(value: Any, fields: Mapping[str, Check], name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidBody(name, "must be an object")
    prefix = f"{name}." if name else ""
    kept = {key: check(value.get(key), prefix + key) for key, check in fields.items()}
    return {key: item for key, item in kept.items() if item is not None}


@dataclass(frozen=True)
class Kind:
    """A kind of publication: its body's fields (anything else is dropped),
    the largest body (canonical JSON bytes), and a check across fields."""

    fields: Mapping[str, Check]
    max_bytes: int
    across: Callable[[dict[str, Any]], None] = field(default=lambda body: None)


def _message_dates(body: dict[str, Any]) -> None:
    if body["ends_on"] < body["starts_on"]:
        raise InvalidBody("ends_on", "must not be before starts_on")


def _reason_codes(body: dict[str, Any]) -> None:
    codes = [reason["code"] for reason in body["reasons"]]
    for code in codes:
        if codes.count(code) > 1:
            raise InvalidBody("reasons", f"reason code {code!r} is listed twice")


def _reason_code(value: Any, name: str) -> str:
    if not isinstance(value, str) or not protocol.REASON_CODE_RE.fullmatch(value):
        raise InvalidBody(name, "must be a reason code (a-z, 0-9, _)")
    return value


def _flag(value: Any, name: str) -> bool | None:
    if value is None:
        return None
    if type(value) is not bool:
        raise InvalidBody(name, "must be true or false")
    return value


def _sheet_field(name: str) -> Check:
    def check(value: Any, field_name: str) -> Any:
        try:
            return sheets.check_field(name, value)
        except sheets.SheetError as error:
            raise InvalidBody(field_name, error.detail) from None

    return check


#: The registry. Each kind's key: « message »: any key (the hub makes one);
#: « reasons »: "list", the one list; « sheet »: the sheet's id; « agenda »:
#: the session's id.
KINDS: dict[str, Kind] = {
    # a message to the kiosks' home screen, shown between its two days
    "message": Kind(
        {
            "text": translations(MESSAGE_MAX_CHARS),
            "pictogram": choice(MESSAGE_PICTOGRAMS),
            "starts_on": day,
            "ends_on": day,
        },
        max_bytes=4096,
        across=_message_dates,
    ),
    # the federation's reasons for a visit and their national categories
    # (the shape of the kiosk's « reasons » setting)
    "reasons": Kind(
        {
            "reasons": list_of(
                {
                    "code": _reason_code,
                    "label": text(120),  # the kiosk setting's bound
                    "icon": icon,
                    "cra_theme": choice(protocol.CRA_THEMES, required=False),
                    "domain": choice(protocol.ADMIN_DOMAINS, required=False),
                    "asks_body": _flag,
                },
                1,
                40,
            )
        },
        max_bytes=16384,
        across=_reason_codes,
    ),
    # a workshop sheet (« fiche atelier »)
    # (its fields are sync.sheets', the one check of a sheet, which the
    # dashboard's forms use too; ``offered_by``: the name of the centre that
    # offered it, when one did)
    "sheet": Kind(
        {
            **{name: _sheet_field(name) for name in sheets.FIELDS},
            "offered_by": text(200, required=False),
        },
        max_bytes=8192,
    ),
    # one upcoming open session of a centre, nothing personal
    "agenda": Kind(
        {
            "centre_id": uuid,
            "centre_name": text(120),
            "title": text(120),
            "theme": choice(protocol.THEMES),
            "pictogram": optional(icon),
            "place": text(120, required=False),
            "commune": text(80, required=False),
            "starts_at": utc_time,
            "ends_at": optional(utc_time),
            "seats_left": integer(0, 1000),
        },
        max_bytes=2048,
    ),
}


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise InvalidBody("key", "must be 1 to 80 letters, digits or _ . : -")
    return key


def check_body(kind: str, body: Any) -> dict[str, Any]:
    """``body`` rebuilt from ``kind``'s fields, or InvalidBody."""
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidBody("kind", f"must be one of {', '.join(sorted(KINDS))}")
    kept = _rebuilt(body, spec.fields, "")
    spec.across(kept)
    if len(protocol.canonical_bytes(kept)) > spec.max_bytes:
        raise InvalidBody("body", f"must be at most {spec.max_bytes} bytes")
    return kept


# ---------------------------------------------------------------- signing (the hub)


def new_signing_key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey.generate()


def key_text(verify_key: nacl.signing.VerifyKey | bytes) -> str:
    """A verify key as the wire and the settings carry it: 64 hex digits."""
    return bytes(verify_key).hex()


def sign_page(signing_key: nacl.signing.SigningKey, payload: dict[str, Any]) -> dict[str, str]:
    """The answer for ``payload`` (``format`` and ``hub_key`` filled in)."""
    payload = {**payload, "format": FORMAT, "hub_key": key_text(signing_key.verify_key)}
    text_bytes = _canonical(payload)
    signature = signing_key.sign(text_bytes).signature
    return {"payload": text_bytes.decode(), "signature": base64.b64encode(signature).decode()}


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- verifying (the kiosk)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class Page:
    """A verified page: ``hub_key`` (hex) is the key that signed it."""

    hub_key: str
    cursor: int
    more: bool
    issued_at: str
    items: list[dict[str, Any]]
    reset: bool = False


def open_page(answer: Any, pinned_key: str | None, centre: str, since: int, nonce: str) -> Page:
    """The page in ``answer``, verified, or ``Refused``. ``pinned_key``: the
    hub key this kiosk holds (hex), None before it learnt one. Each item's
    body is checked again; an item of an unknown kind is left out."""
    if not isinstance(answer, dict) or not isinstance(answer.get("payload"), str):
        raise Refused(MALFORMED, "the answer holds no signed payload")
    raw = answer["payload"].encode()
    try:
        signature = base64.b64decode(str(answer.get("signature", "")), validate=True)
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise Refused(MALFORMED, f"the answer cannot be read: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise Refused(MALFORMED, "the payload is not a page of publications")
    named = payload.get("hub_key")
    if pinned_key is not None and named != pinned_key:
        raise Refused(KEY_CHANGED, "the page names another hub key than the one this kiosk pinned")
    key_hex = pinned_key or named
    try:
        verify_key = nacl.signing.VerifyKey(bytes.fromhex(str(key_hex)))
        verify_key.verify(raw, signature)
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        raise Refused(BAD_SIGNATURE, "the page's signature does not match the hub's key") from None
    if payload.get("centre") != centre:
        raise Refused(WRONG_CENTRE, "the page was made for another centre")
    if payload.get("nonce") != nonce or payload.get("since") != since:
        raise Refused(REPLAYED, "the page answers another request than this one")
    cursor = payload.get("cursor")
    reset = payload.get("reset") is True
    # only a reset (signed, answering this very request) starts the cursor again
    if type(cursor) is not int or cursor < 0 or (cursor < since and not reset):
        raise Refused(ROLLED_BACK, "the page moves the cursor back")
    more, issued_at = payload.get("more") is True, str(payload.get("issued_at"))
    return Page(str(key_hex), cursor, more, issued_at, _items(payload), reset)


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("items")
    if not isinstance(items, list):
        raise Refused(MALFORMED, "the page has no list of items")
    kept = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            continue  # a kind this kiosk does not know: a newer hub's
        try:
            check_key(item.get("key"))
            withdrawn = item.get("withdrawn") is True
            body = None if withdrawn else check_body(str(item["kind"]), item.get("body"))
        except InvalidBody as error:
            raise Refused(MALFORMED, f"item {item.get('kind')}/{item.get('key')}: {error}") from None
        kept.append(
            {
                "kind": item["kind"],
                "key": item["key"],
                "updated_at": str(item.get("updated_at") or ""),
                "withdrawn": withdrawn,
                "body": body,
            }
        )
    return kept


# ---------------------------------------------------------------- the request (the kiosk)


def fetch(
    hub_url: str, token: str, since: int, nonce: str, session: requests.Session | None = None
) -> dict[str, Any]:
    """One page of publications after ``since``, as the hub answered it
    (``open_page`` verifies it). ``client.SyncError`` when the hub cannot be
    reached or refuses."""
    response = client._request(
        session or client.make_session(retries=2),
        "GET",
        client._url(hub_url, PATH),
        params={"since": since, "nonce": nonce},
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)
