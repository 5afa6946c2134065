"""The wire protocol between a kiosk and the hub: events, batches, answers.

Both ends import this module, so an event the kiosk can build is exactly an
event the hub accepts: ``check_event`` is the one validator, ``canonical_json``
the one writer of an event's text, ``parse_utc``/``UTC_ISO_RE`` the one
reading of a time. It is plain Python (no pydantic) so the kiosk stays light.

Versioning: ``PROTOCOL_VERSION`` is "MAJOR.MINOR" (ASCII digits only). A hub
refuses a batch whose major version it does not know; a newer minor version
only adds optional fields or event types, so it stays compatible: unknown
fields are dropped (never stored; the answer names them), unknown event types
are refused one by one, never the whole batch.

What crosses the wire is held to an allow-list: each event type names its
fields and bounds each one; ``check_event`` rebuilds an event from those
fields alone. A field whose name says it holds personal data (a name, a
phone, an e-mail, an address, a birth date, in English or French, any case,
at any depth) refuses the whole event, naming the field.

See docs/sync-protocol.md for examples of every message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import chain, islice
from typing import Any, NamedTuple, cast

try:  # installed with the hub; a kiosk without it writes the same text with the stdlib
    import orjson
except ImportError:  # pragma: no cover - depends on the install
    orjson = None  # type: ignore[assignment]

#: 1.1 added member events' optional ``year_born`` and visits' optional
#: ``cra_theme`` and ``domain``. 1.2 added member events' optional
#: ``household_id``; and the residents' voice: ``idea.received``,
#: ``idea.updated``, ``feedback.given`` (counts only: no text, no name);
#: and volunteers' time: ``volunteering.recorded`` (a pseudonym, never a name);
#: and member events' optional ``employment`` and ``education`` (the FSE+
#: situation, sent only where the member consented); and the itinerant mode:
#: ``outreach.held``, and visits' and new members' optional ``outreach_id``.
#: 1.3 added ``member.merged``: staff merged two records of one person (two
#: pseudonyms, nothing else), so the hub counts one participant.
#: 1.3 also added workshop events' optional ``sheet`` (the federation sheet
#: the workshop was adopted from) and ``sheet.offered``: a centre offers one
#: of its workshops to the others (what it is, never who runs it).
PROTOCOL_VERSION = "1.3"
PROTOCOL_MAJOR = 1

#: The hub's answers carry this header so a client can tell them from a wifi
#: portal's page or a proxy's error page served with a 200.
HUB_HEADER = "X-Accueil-Hub"

#: A device's requests carry the app version it runs (the hub's devices page
#: shows it); optional, and a value outside ``APP_VERSION_PATTERN`` is ignored.
APP_VERSION_HEADER = "X-Accueil-Version"
APP_VERSION_PATTERN = r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}"

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
#: The pictogram (a Material Symbols name) each workshop theme shows: on the
#: kiosk's screens and on the federation's workshop sheets alike.
THEME_PICTOGRAMS = {
    "accueil": "info",
    "education": "school",
    "parentalite": "family_restroom",
    "e_administration": "account_balance",
    "numerique": "devices",
    "pouvoir_d_agir": "campaign",
    "autre": "more_horiz",
}
#: The national categories a visit's reason maps to (1.1). The themes of the
#: conseillers numériques' activity reports (CRA v2, La Coop de la médiation
#: numérique), and the ten administrative domains of Aidants Connect and
#: France Services. The kiosk's reasons keep their own words; each centre's
#: settings say which of these a reason is (docs/funder-figures.md).
CRA_THEMES = (
    "diagnostic_numerique",
    "prendre_en_main_materiel",
    "maintenance_materiel",
    "contenus_numeriques",
    "navigation_internet",
    "email",
    "bureautique",
    "reseaux_sociaux",
    "sante",
    "banque_achats",
    "entrepreneuriat",
    "insertion_professionnelle",
    "securite_numerique",
    "parentalite",
    "scolarite_numerique",
    "creer_numerique",
    "culture_numerique",
    "intelligence_artificielle",
    "demarches_administratives",
)
ADMIN_DOMAINS = (
    "papiers_citoyennete",
    "famille_scolarite",
    "social_sante",
    "travail_formation",
    "logement",
    "transports_mobilite",
    "argent_impots",
    "justice",
    "etrangers_europe",
    "loisirs_culture",
)
REGISTRATION_STATUSES = ("booked", "waitlisted", "cancelled")
RECORDERS = ("resident", "volunteer", "staff")
#: The idea box's themes (1.2), a pictogram each on the kiosk: what an idea
#: is about is all the hub learns of it (docs/funder-figures.md).
IDEA_THEMES = ("activites", "sorties", "quartier", "numerique", "famille", "autre")
#: The three faces of « Comment ça s'est passé ? » after a workshop (1.2).
FEEDBACK_FACES = ("content", "moyen", "pas_content")
#: What a volunteer's time went to (1.2), as SENACS asks: the centre's
#: activities, or its governance (conseil d'administration, commissions).
VOLUNTEERING_KINDS = ("activity", "governance")
#: The FSE+ participant's situation (1.2), asked only where the centre turned
#: it on and the member consented (docs/ages-and-privacy.md): on the labour
#: market (the common output indicators' employed, unemployed, inactive, and
#: in education or training, which the FSE+ counts among the inactive), and
#: the highest level of education by ISCED group. « unsaid »: asked, and the
#: member chose not to answer. No sensitive category is ever a code here.
EMPLOYMENT_SITUATIONS = ("employed", "unemployed", "inactive", "in_education", "unsaid")
EDUCATION_LEVELS = ("isced_0_2", "isced_3_4", "isced_5_8", "unsaid")
#: The kind of partner an itinerant event (« hors les murs », 1.2) was held
#: with: the partner's name stays on the kiosk, the hub learns only its kind.
PARTNER_KINDS = ("town", "association", "social_landlord", "school", "public_service", "other")

#: Every time the protocol carries lies in these years (UTC), so that no
#: conversion of it (to UTC, to Europe/Paris, a week or a day around it) can
#: overflow. A hub narrows this further with its window (federation.ingest).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199

#: A visit reason is a code from the centre's list (lowercase ASCII letters,
#: digits, underscores); what people read is the label each end keeps.
REASON_CODE_RE = re.compile(r"[a-z0-9_]{1,64}")


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
                self._counter = int.from_bytes(self._random[used : used + 2], "big") & 0x7FF
            else:  # same millisecond, or the clock stepped back
                self._counter += 1
                if self._counter > 0xFFF:  # 4,096 ids in one ms: borrow the next ms
                    self._ms, self._counter = self._ms + 1, 0
            ms, counter = self._ms, self._counter
            rand_b = int.from_bytes(self._random[used + 2 : used + 10], "big") & ((1 << 62) - 1)
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
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # formatted by hand: strftime is the slower way, on every event written
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


#: ``utc_iso``'s text, the form every kiosk writes, in years 1900-2199 (the
#: date's reality is checked apart: see ``utc_text``). The one pattern of a
#: protocol time: every end matches times with it.
_YEAR = r"(?:19|2[01])\d\d"
UTC_ISO_RE = re.compile(rf"({_YEAR}-\d\d-\d\d)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{{3}}Z", re.ASCII)


@lru_cache(maxsize=4096)
def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class TimeOutOfRange(ValueError):
    """A well-formed time outside the years EARLIEST_YEAR to LATEST_YEAR."""


def utc_text(value: Any) -> str:
    """A protocol time (see ``parse_utc``) as ``utc_iso`` text, so times sort
    and compare as text whatever offset the sender wrote; ``utc_iso`` text
    comes back as it is, without a parse. ValueError for anything that is
    not a time in the years EARLIEST_YEAR to LATEST_YEAR."""
    if type(value) is str:
        match = UTC_ISO_RE.fullmatch(value)
        if match and _real_date(match[1]):
            return value
    moment = parse_utc(value)
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise TimeOutOfRange(f"must be a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return utc_iso(moment)


def parse_utc(text: str) -> datetime:
    """Parse the protocol's timestamps (ISO 8601 with an offset or 'Z').
    Raises ValueError for anything else, a time that does not exist in UTC
    (year 1 at +01:00) included."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    if len(text) > 40 or not text.isascii():
        raise ValueError("not an ISO 8601 time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range in UTC") from None


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

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(value: object) -> bool:
    """Whether ``value`` is an id as the protocol writes them: a lowercase
    UUID, whole (no trailing newline, no other text)."""
    return type(value) is str and _UUID_RE.fullmatch(value) is not None


def _uuid(value: Any) -> str | None:
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):
        return "must be a lowercase UUID"
    return None


#: control characters (NUL included: PostgreSQL's text cannot hold it) and
#: lone surrogates (not Unicode: no UTF-8 encodes them, no database stores them)
_CONTROL_RE = re.compile(r"[\x00-\x1f\ud800-\udfff]")


def unfit_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a control character, a lone
    surrogate), or None. One C scan instead of a Python loop per character."""
    found = _CONTROL_RE.search(value)
    if found is None:
        return None
    if found[0] >= "\ud800":
        return "is not valid Unicode (a lone surrogate)"
    return "must not contain control characters"


def _text(max_len: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return unfit_text(value)

    check.max_len = max_len  # type: ignore[attr-defined]  # the bound, readable from EVENT_TYPES
    return check


def _paragraph(max_len: int) -> Callable[[Any], str | None]:
    """A text of several lines (newlines allowed), possibly empty."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return unfit_text(value.replace("\n", " "))

    check.max_len = max_len  # type: ignore[attr-defined]  # the bound, readable from EVENT_TYPES
    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"must be one of {', '.join(choices)}"
        return None

    check.choices = frozenset(choices)  # type: ignore[attr-defined]  # for _compile_checks
    return check


def _code(value: Any) -> str | None:
    if type(value) is str and REASON_CODE_RE.fullmatch(value):
        return None
    return "must be a code of 1 to 64 lowercase letters (a-z), digits or underscores"


def _year(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not EARLIEST_YEAR <= value <= LATEST_YEAR:
        return f"must be a year from {EARLIEST_YEAR} to {LATEST_YEAR}"
    return None


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        return "must be a whole number from 0 to 100000"
    return None


def _minutes(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1440:
        return "must be a whole number of minutes from 0 to 1440"
    return None


_DAY_RE = re.compile(rf"{_YEAR}-\d\d-\d\d", re.ASCII)


def _day(value: Any) -> str | None:
    """A calendar date as 'YYYY-MM-DD' (Europe/Paris), years 1900-2199."""
    if type(value) is str and _DAY_RE.fullmatch(value) and _real_date(value):
        return None
    return "must be a date written YYYY-MM-DD"


def _timestamp(value: Any) -> str | None:
    try:
        utc_text(value)
    except TimeOutOfRange as error:
        return str(error)
    except (ValueError, TypeError):
        return "must be an ISO 8601 time with a time zone"
    return None


def _nullable(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def nullable(value: Any) -> str | None:
        return None if value is None else check(value)

    nullable.inner = check  # type: ignore[attr-defined]  # for _compile_checks
    return nullable


_MEMBER_ATTRS = {
    "member_id": (_uuid, True),
    "age_band": (_one_of(AGE_BANDS), True),
    "gender": (_nullable(_one_of(GENDERS)), False),
    "commune": (_nullable(_text(100)), False),
    "neighbourhood": (_nullable(_text(100)), False),
    "qpv": (_bool, True),
    # 1.1: the member's year of birth, never a date: the least precise fact
    # from which every funder's age bands follow at any date (see
    # docs/ages-and-privacy.md). Named so that a 1.0 hub, which refuses any
    # field spelt "birth…", drops it as an unknown field and keeps the
    # event; ``age_band`` stays required, for those hubs.
    "year_born": (_nullable(_year), False),
    # 1.2: the random id, made on the kiosk, that the members of one
    # household (« foyer ») share; null when the member is in none. A 1.0 or
    # 1.1 event has no such key: no household known either.
    "household_id": (_nullable(_uuid), False),
    # 1.2: the FSE+ situation, present only when the member consented to
    # give it (null: consented, not answered); an event without these keys
    # (older, or no consent) means « non renseigné »
    "employment": (_nullable(_one_of(EMPLOYMENT_SITUATIONS)), False),
    "education": (_nullable(_one_of(EDUCATION_LEVELS)), False),
}

#: event type -> {field: (check, required)}. Extra fields are ignored (a newer
#: minor version may add them); a missing required field is refused.
EVENT_TYPES: dict[str, dict[str, tuple[Callable[[Any], str | None], bool]]] = {
    "visit.recorded": {
        "visit_id": (_uuid, True),
        "member_id": (_nullable(_uuid), False),
        "reason": (_code, True),
        "recorded_by": (_one_of(RECORDERS), True),
        # 1.1: the national categories of the reason, as the centre mapped it
        # when the visit happened; a 1.0 visit has neither key
        "cra_theme": (_nullable(_one_of(CRA_THEMES)), False),
        "domain": (_nullable(_one_of(ADMIN_DOMAINS)), False),
        # 1.2: the itinerant event (``outreach.held``) the visit was recorded
        # at; null or absent: at the centre
        "outreach_id": (_nullable(_uuid), False),
    },
    # 1.2: the itinerant event the member was registered at (null or absent:
    # at the centre); only on creation, where a member is first met
    "member.created": {**_MEMBER_ATTRS, "outreach_id": (_nullable(_uuid), False)},
    "member.updated": dict(_MEMBER_ATTRS),
    "member.erased": {"member_id": (_uuid, True)},
    # 1.3: staff merged two records of one person (registered on two devices):
    # ``member_id``'s record went into ``into_member_id``'s. Two pseudonyms only.
    "member.merged": {"member_id": (_uuid, True), "into_member_id": (_uuid, True)},
    "workshop.created": {
        "workshop_id": (_uuid, True),
        "title": (_text(200), True),
        "theme": (_one_of(THEMES), True),
        "place": (_nullable(_text(200)), False),
        # 1.3: the federation sheet the workshop was adopted from; null or
        # absent: the centre's own
        "sheet": (_nullable(_uuid), False),
    },
    "workshop.updated": {
        "workshop_id": (_uuid, True),
        "title": (_text(200), True),
        "theme": (_one_of(THEMES), True),
        "place": (_nullable(_text(200)), False),
        "sheet": (_nullable(_uuid), False),
    },
    # 1.3: a centre offers one of its workshops to the others; the hub keeps
    # it as a draft sheet the federation reviews before publishing. What the
    # workshop is, never who runs it (no facilitator), nor any person.
    "sheet.offered": {
        "workshop_id": (_uuid, True),
        "title": (_text(200), True),
        "theme": (_one_of(THEMES), True),
        "description": (_paragraph(2000), False),
        "duration_minutes": (_nullable(_minutes), False),
        "capacity": (_nullable(_count), False),
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
    # 1.2, the residents' voice: an idea's theme and the dates of what
    # became of it, a workshop's faces. Never the idea's words, never who
    # gave it: the text and any name stay on the kiosk (kiosk/core/voice.py).
    "idea.received": {
        "idea_id": (_uuid, True),
        "theme": (_one_of(IDEA_THEMES), True),
    },
    # the idea's whole state after staff changed it: the latest event wins
    "idea.updated": {
        "idea_id": (_uuid, True),
        "theme": (_one_of(IDEA_THEMES), True),
        "answered_at": (_nullable(_timestamp), False),
        "done_at": (_nullable(_timestamp), False),
        "initiative_at": (_nullable(_timestamp), False),
    },
    # one face of one person about one session, without the person
    "feedback.given": {
        "feedback_id": (_uuid, True),
        "session_id": (_uuid, True),
        "face": (_one_of(FEEDBACK_FACES), True),
    },
    # 1.2, volunteers' time: one stretch of a volunteer's presence, whole,
    # each time it changes (closed, corrected, confirmed, removed), as a new
    # event: the hub keeps the highest ``version`` of each ``stretch_id``.
    # ``volunteer_id`` is a random pseudonym the kiosk keeps for the
    # volunteer, never their staff id or name; the day and the minutes,
    # never the times of day (kiosk/core/volunteering.py).
    "volunteering.recorded": {
        "stretch_id": (_uuid, True),
        "volunteer_id": (_uuid, True),
        "kind": (_one_of(VOLUNTEERING_KINDS), True),
        "day": (_day, True),
        "minutes": (_minutes, True),
        "version": (_count, True),
        # closed by the kiosk at the end of its day, not yet checked by staff
        "auto_closed": (_bool, True),
        # removed by staff (entered by mistake): counts for nothing
        "removed": (_bool, True),
    },
    # 1.2, the itinerant mode (« hors les murs »): an event a device was taken
    # to, sent when staff start it. Its day, where it was held (the commune
    # and neighbourhood from the centre's list, when the place is one of
    # them) and the kind of partner; never its name, its place's words or the
    # partner's name, which stay on the kiosk (kiosk/core/outreach.py).
    "outreach.held": {
        "outreach_id": (_uuid, True),
        "day": (_day, True),
        "commune": (_nullable(_text(100)), False),
        "neighbourhood": (_nullable(_text(100)), False),
        "qpv": (_bool, True),
        "partner_kind": (_nullable(_one_of(PARTNER_KINDS)), False),
    },
}

#: Field names that hold personal data, as ``personal_field`` compares them:
#: casefolded, accents and separators removed. English and French spellings.
PERSONAL_NAMES = frozenset(
    {
        # names
        "name",
        "names",
        "firstname",
        "lastname",
        "surname",
        "surnames",
        "forename",
        "forenames",
        "givenname",
        "familyname",
        "fullname",
        "middlename",
        "maidenname",
        "nickname",
        "nom",
        "noms",
        "prenom",
        "prenoms",
        "nomdefamille",
        "nomdusage",
        "nomdenaissance",
        "nomcomplet",
        "patronyme",
        # phone numbers
        "phone",
        "phones",
        "phonenumber",
        "telephone",
        "telephones",
        "tel",
        "mobile",
        "cellphone",
        "portable",
        "fax",
        # e-mail
        "email",
        "emails",
        "mail",
        "mails",
        "courriel",
        "courriels",
        "mel",
        # addresses
        "address",
        "addresses",
        "adresse",
        "adresses",
        "street",
        "rue",
        "postaladdress",
        "adressepostale",
        # birth
        "birth",
        "birthdate",
        "birthday",
        "dateofbirth",
        "dob",
        "birthyear",
        "birthplace",
        "naissance",
        "datedenaissance",
        "datenaissance",
        "anneedenaissance",
        "lieudenaissance",
        # the member's card
        "cardcode",
    }
)

#: Keys the first kiosks were refused, kept for the tests and the docs; each
#: is a ``personal_field``.
FORBIDDEN_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "phone",
        "email",
        "address",
        "birth_year",
        "card_code",
        "nom",
        "prenom",
        "prénom",
        "telephone",
        "téléphone",
        "courriel",
        "adresse",
        "date_de_naissance",
    }
)

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORDS_RE = re.compile(r"[0-9a-z]+")
#: words of a key joined to match a name: "date_de_naissance" is four
_MAX_NAME_WORDS = 4


def personal_field(key: str) -> bool:
    """Whether a field named ``key`` would hold personal data: its words
    (split at separators and camelCase, casefolded, accents removed), or a
    run of them joined, spell one of PERSONAL_NAMES. "Last_Name",
    "memberFirstName", "PRÉNOM", "e-mail", "date de naissance" all do."""
    if len(key) <= 64:  # the usual keys, cached; a long key is checked as it comes
        return _personal_cached(key)
    return _personal(key)


def _personal(key: str) -> bool:
    text = unicodedata.normalize("NFKD", _CAMEL_RE.sub(" ", key)).casefold()
    if not text.isascii():  # accents come apart under NFKD: drop the marks
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = _WORDS_RE.findall(text)
    for start in range(len(words)):
        joined = ""
        for word in words[start : start + _MAX_NAME_WORDS]:
            joined += word
            if joined in PERSONAL_NAMES:
                return True
    return False


_personal_cached = lru_cache(maxsize=4096)(_personal)


def _shown(key: str) -> str:
    """A field's name as an answer may quote it: bounded, valid Unicode,
    no control character."""
    return _CONTROL_RE.sub("?", key[:64])


def _refuse_personal(event: dict[str, Any]) -> None:
    """Raise ProtocolError naming the first field, at any depth, whose name
    says it holds personal data. Iterative: nesting as deep as the JSON
    parser allows costs no recursion here."""
    if _usual_names(event):
        return
    stack: list[tuple[Any, str]] = [(event, "")]
    while stack:
        value, path = stack.pop()
        if type(value) is dict:
            for key, inner in value.items():
                if type(key) is str and personal_field(key):
                    where = f"{path}{_shown(key)}"
                    if len(where) > 200:  # deep down: its end says most
                        where = "…" + where[-199:]
                    raise ProtocolError(where, "personal data must not leave the kiosk")
                if type(inner) is dict or type(inner) is list:
                    stack.append((inner, f"{path}{_shown(str(key))}."))
        else:
            for index, inner in enumerate(value):
                if type(inner) is dict or type(inner) is list:
                    stack.append((inner, f"{path[:-1]}[{index}]."))


def _usual_names(event: dict[str, Any]) -> bool:
    """Whether the event holds allowed names only (none is personal), and
    nothing nested but its data: the usual event, with no name to look at."""
    data = event.get("data")
    if type(data) is not dict or not (event.keys() <= _NOT_PERSONAL and data.keys() <= _NOT_PERSONAL):
        return False
    top = tuple(map(type, event.values()))
    return list not in top and top.count(dict) == 1 and not _NESTED & set(map(type, data.values()))


_MISSING = object()
_NESTED = frozenset((dict, list))
_UUID_MATCH = _UUID_RE.fullmatch
_TOP_FIELDS = frozenset(("id", "type", "occurred_at", "data"))
_JSON_NAMES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "an array",
    dict: "an object",
}
#: the unknown fields an answer names, at most, for one event
MAX_DROPPED_NAMED = 20


#: (field, label, check, required, nullable, choices, is_uuid)
_Check = tuple[str, str, Callable[[Any], str | None], bool, bool, frozenset[str] | None, bool]


def _compile_checks(fields: dict[str, tuple[Callable[[Any], str | None], bool]]) -> tuple[_Check, ...]:
    """One type's field checks as flat tuples for check_event's loop:
    (field, label, check, required, nullable, choices, is_uuid). Nullable
    and choice checks are unwrapped so the common values (None, a listed
    choice, a lowercase UUID) are accepted without a call."""
    compiled = []
    for name, (check, required) in fields.items():
        inner = getattr(check, "inner", None)
        nullable = inner is not None
        check = inner or check
        compiled.append(
            (name, f"data.{name}", check, required, nullable, getattr(check, "choices", None), check is _uuid)
        )
    return tuple(compiled)


def _check_data(checks: tuple[_Check, ...], data: dict[str, Any]) -> None:
    """Each field of a type's data against its check (see _compile_checks);
    ProtocolError names the first at fault."""
    for field, label, check, required, nullable, choices, is_uuid in checks:
        value = data.get(field, _MISSING)
        if value is _MISSING:
            if required:
                raise ProtocolError(label, "is required")
            continue
        if (
            (value is None and nullable)
            or (is_uuid and type(value) is str and _UUID_MATCH(value))
            or (choices is not None and type(value) is str and value in choices)
        ):
            continue
        problem = check(value)
        if problem:
            raise ProtocolError(label, problem)


def check_event(event: Any) -> tuple[dict[str, Any], list[str]]:
    """Check one event against the allow-list: (the event rebuilt from its
    known fields alone, the unknown fields dropped from it, as paths such as
    "data.note"), or ProtocolError naming the field at fault. An event with
    nothing to drop comes back as it is (it is its own rebuild). A field
    named for personal data, at any depth, refuses the event. Both ends run
    it for every event (the kiosk as it writes one, the hub as it receives
    it), so the common values (None, a listed choice, a lowercase UUID) are
    accepted without a call."""
    if not isinstance(event, dict):
        raise ProtocolError("event", "must be a JSON object")
    _refuse_personal(event)
    event_id = event.get("id")
    if not (type(event_id) is str and _UUID_MATCH(event_id)):
        raise ProtocolError("id", _uuid(event_id) or "must be a lowercase UUID")
    kind: Any = event.get("type")
    checks = _CHECKS.get(kind) if type(kind) is str else None
    if checks is None:
        shown = repr(_shown(kind)) if type(kind) is str else _JSON_NAMES.get(type(kind), "?")
        raise ProtocolError("type", f"unknown event type {shown}")
    problem = _timestamp(event.get("occurred_at"))
    if problem:
        raise ProtocolError("occurred_at", problem)
    data = event.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("data", "must be a JSON object")
    _check_data(checks, data)
    allowed = _ALLOWED[kind]
    if event.keys() <= _TOP_FIELDS and data.keys() <= allowed:
        return event, []
    unknown = chain(
        (_shown(str(key)) for key in event if key not in _TOP_FIELDS),
        (f"data.{_shown(str(key))}" for key in data if key not in allowed),
    )
    dropped = list(islice(unknown, MAX_DROPPED_NAMED))  # however many there are
    clean = {
        "id": event_id,
        "type": kind,
        "occurred_at": event["occurred_at"],
        "data": {key: value for key, value in data.items() if key in allowed},
    }
    return clean, dropped


def validate_event(event: Any) -> dict[str, Any]:
    """Check one event; return it rebuilt from its known fields (itself when
    it has no other), or raise ProtocolError naming the field."""
    return check_event(event)[0]


def allowed_fields(kind: str) -> frozenset[str]:
    """The data fields an event type may carry (KeyError: unknown type)."""
    return _ALLOWED[kind]


#: EVENT_TYPES as validate_event reads it
_CHECKS = {kind: _compile_checks(fields) for kind, fields in EVENT_TYPES.items()}
#: each type's data fields: the allow-list an event is rebuilt from
_ALLOWED = {kind: frozenset(fields) for kind, fields in EVENT_TYPES.items()}
#: every name the protocol allows, at the top or in data: none is personal
_NOT_PERSONAL = frozenset(chain(_TOP_FIELDS, *_ALLOWED.values()))
assert not any(map(personal_field, _NOT_PERSONAL))  # _refuse_personal relies on it
assert all(map(personal_field, FORBIDDEN_FIELDS))


def make_event(
    kind: str, data: dict[str, Any], occurred_at: datetime, event_id: str | None = None
) -> dict[str, Any]:
    """Build and validate an event. Raises ProtocolError on a bad payload."""
    event = {
        "id": event_id or new_id(),
        "type": kind,
        "occurred_at": utc_iso(occurred_at),
        "data": data,
    }
    return validate_event(event)


def canonical_bytes(event: dict[str, Any]) -> bytes:
    """The one serialisation of an event: compact, keys sorted, UTF-8. Two
    sends of the same event give the same bytes, so the hub can tell a
    replay (same id, same content) from a conflict (same id, other content).

    The text is the stdlib's ``json.dumps(sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)``. Where orjson is installed (the hub, which
    writes every event it stores) an event made of strings, integers,
    booleans and nulls only (every valid event: the allow-list admits no
    other value) is written by orjson, the same bytes in a tenth of the
    time; anything else (floats, which orjson writes in another notation,
    nested values, integers past 64 bits) goes to the stdlib."""
    fast = _orjson_bytes(event)
    return fast if fast is not None else _stdlib_text(event).encode()


def _orjson_bytes(event: dict[str, Any]) -> bytes | None:
    if orjson is None:
        return None
    data = event.get("data")
    if (
        type(data) is dict
        and _PLAIN_TYPES.issuperset(map(type, data.values()))
        and _PLAIN_TYPES.issuperset(map(type, [v for k, v in event.items() if k != "data"]))
    ):
        try:
            return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer past 64 bits
            return None
    return None


def _stdlib_text(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: the JSON values orjson and the stdlib write alike (exact types: bool listed for the reader)
_PLAIN_TYPES = frozenset((str, int, bool, type(None)))


def canonical_json(event: dict[str, Any]) -> str:
    """``canonical_bytes`` as text."""
    fast = _orjson_bytes(event)
    return fast.decode() if fast is not None else _stdlib_text(event)


def content_hash(event: dict[str, Any]) -> str:
    """The sha256 of the event's canonical bytes: what tells a replay from a conflict."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


# ---------------------------------------------------------------- batches

_VERSION_RE = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}")


def check_version(version: Any) -> None:
    # ASCII digits only, and nothing after them: "١.٠" and "1.0\n" are refused
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise UnsupportedVersion("protocol", "must be a version string like '1.0'")
    major = int(version.split(".")[0])
    if major != PROTOCOL_MAJOR:
        raise UnsupportedVersion(
            "protocol",
            f"version {version} is not supported by this hub (it speaks {PROTOCOL_MAJOR}.x)",
        )


class Checked(NamedTuple):
    """check_batch's answer."""

    valid: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    dropped: list[dict[str, Any]]


def validate_batch(
    body: Any, max_events: int = MAX_EVENTS_PER_BATCH
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """check_batch's valid events and rejected ones."""
    valid, rejected, _dropped = check_batch(body, max_events)
    return valid, rejected


def check_batch(
    body: Any, max_events: int = MAX_EVENTS_PER_BATCH, repeats: list[dict[str, Any]] | None = None
) -> Checked:
    """Check a batch's envelope, then each event on its own.

    Returns (valid events, each rebuilt from its known fields; rejected,
    each ``{"id": <event id or null>, "index": i, "field": f, "reason":
    "..."}``; dropped, each ``{"id", "index", "fields": [paths]}`` for a
    valid event that came with unknown fields). A bad envelope raises
    ProtocolError: the whole batch is refused. An id sent twice is a
    replay: its first valid copy counts; the later valid copies, rebuilt,
    go to ``repeats`` when given (the hub keeps one of another content as
    a conflict).
    """
    if not isinstance(body, dict):
        raise ProtocolError("batch", "must be a JSON object")
    check_version(body.get("protocol"))
    events = body.get("events")
    if not isinstance(events, list):
        raise ProtocolError("events", "must be a list")
    if len(events) > max_events:
        raise ProtocolError("events", f"at most {max_events} events a batch, got {len(events)}")
    return _validate_each(events, repeats)


def answer_id(event_id: Any) -> str | None:
    """An event's id as an answer may name it: a string of at most 64
    characters that a database can store (the kiosk keeps the answer's
    reasons), else None (the answer's index still places the event)."""
    if type(event_id) is str and len(event_id) <= 64 and unfit_text(event_id) is None:
        return event_id
    return None


def _validate_each(events: list[Any], repeats: list[dict[str, Any]] | None = None) -> Checked:
    """check_batch's general path: each event on its own."""
    valid: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, event in enumerate(events):
        event_id: Any = event.get("id") if isinstance(event, dict) else None
        try:
            clean, unknown = check_event(event)
        except ProtocolError as error:
            rejected.append(
                {"id": answer_id(event_id), "index": index, "field": error.field, "reason": str(error)}
            )
            continue
        if event_id in seen:
            # the same event twice in one batch: keep the first, the second is a replay
            if repeats is not None:
                repeats.append(clean)
            continue
        seen.add(event_id)
        valid.append(clean)
        if unknown:
            dropped.append({"id": event_id, "index": index, "fields": unknown})
    return Checked(valid, rejected, dropped)


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
        texts = [text.encode() for text in event_texts]
    else:
        texts = cast(list[bytes], event_texts)
    return b"".join((batch_envelope_prefix(device_id).encode(), b",".join(texts), b"]}"))


def validate_answer(answer: Any, sent_ids: list[str]) -> dict[str, Any]:
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
