"""The centre's replication log and its merge rules (docs/replication.md).

Every device of a centre holds the centre's whole working data. Each local
write is also recorded as a :class:`Change` (one row's new field values,
stamped by a hybrid logical clock); devices exchange changes (sealed by
``sync.envelope``, relayed by the hub) and every device computes the same
data from the same *set* of changes, whatever order they came in, however
often, and whatever was lost and sent again: the merged state is a pure
function of the set (:func:`materialize`), and merging two logs is their
union. That makes the merge idempotent, commutative and associative by
construction; the rules below only have to be deterministic.

The rules, in the order :func:`materialize` applies them:

1. One change per change id. The same id with different content (a bug or a
   forgery the envelope let through) keeps the smallest canonical text and
   is reported, so every device still keeps the same one.
2. Last writer wins, per field: a row's field holds the value of the change
   with the greatest ``(stamp, change id)`` that set it.
3. Members merged as duplicates (``merged_into``) redirect to the kept
   member, and show no personal fields (the kept one holds them); a cycle
   keeps its smallest id. Erasure wins over any edit: a
   member with an ``erase`` change, and every member merged with them, is a
   tombstone whose personal fields are empty, and the changes naming them
   are scrubbed from the log (:meth:`Replica.add`).
4. Rows pointing at members follow the kept member; visits of an erased
   member become anonymous, their registrations are cancelled. Two
   registrations of the same person to the same session become one: the
   better status stays, whole (booked, then waiting, then cancelled; among
   equals the earliest row). Two attendance marks become one the same way:
   present before absent, among equals the earliest row.
5. Seats: a session's active registrations are ordered, the ones a device
   booked first (by the stamp of the change that booked them), then the
   waiting list (by the stamp that queued them); the first ``capacity`` are
   booked, the rest wait. A booking pushed onto the waiting list by this
   order is a :class:`SeatConflict`, reported for staff (« À vérifier »).
6. A row that lacks a required field, or points at a row not yet known, is
   held back (not shown) until the change it needs arrives.

This module is pure: no I/O, no kiosk or hub import. The kiosk keeps the log
in its database and applies :func:`materialize`'s rows through kiosk/core.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync import protocol

# ---------------------------------------------------------------- clock

#: a device id: a protocol id (lowercase UUID) or a short test name
_DEVICE_RE = re.compile(r"[0-9a-z][0-9a-z-]{0,63}")
_STAMP_RE = re.compile(r"(\d{13})-(\d{6})-([0-9a-z][0-9a-z-]{0,63})")
#: the counter fits six digits so the text form sorts like the tuple
MAX_COUNTER = 999_999


class ReplicationError(ValueError):
    """A change (or stamp) that breaks the replication format."""


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """A hybrid logical clock reading: physical milliseconds, a counter for
    changes within one millisecond (or after a clock that stepped back), and
    the device, which makes the order total (two devices never share one)."""

    wall_ms: int
    counter: int
    device: str

    def text(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:06d}-{self.device}"

    @classmethod
    def parse(cls, text: object) -> Stamp:
        if not isinstance(text, str) or (match := _STAMP_RE.fullmatch(text)) is None:
            raise ReplicationError(f"stamp {text!r} is not <13-digit ms>-<6-digit counter>-<device>")
        return cls(int(match[1]), int(match[2]), match[3])


def _wall_now() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """A device's hybrid logical clock (Kulkarni et al.): stamps grow on the
    device whatever its wall clock does, and :meth:`observe` moves the clock
    past every stamp received, so a change made after reading another is
    stamped after it even when this device's clock is behind."""

    def __init__(self, device: str, now_ms: Callable[[], int] = _wall_now, last: Stamp | None = None):
        if _DEVICE_RE.fullmatch(device) is None:
            raise ReplicationError(f"device id {device!r} must be 1-64 of [0-9a-z-]")
        self.device = device
        self._now_ms = now_ms
        self._wall, self._counter = (last.wall_ms, last.counter) if last else (0, 0)

    def _advance(self, wall: int, counter: int) -> Stamp:
        if counter > MAX_COUNTER:  # a million changes in one ms: borrow the next
            wall, counter = wall + 1, 0
        self._wall, self._counter = wall, counter
        return Stamp(wall, counter, self.device)

    def now(self) -> Stamp:
        """The stamp for a change made now on this device."""
        physical = self._now_ms()
        if physical > self._wall:
            return self._advance(physical, 0)
        return self._advance(self._wall, self._counter + 1)

    def last(self) -> Stamp:
        """The clock's reading as it stands (to keep it across restarts)."""
        return Stamp(self._wall, self._counter, self.device)

    def observe(self, stamp: Stamp) -> None:
        """Take a received stamp into account (call before making changes
        that follow it)."""
        if (stamp.wall_ms, stamp.counter) > (self._wall, self._counter):
            self._wall, self._counter = stamp.wall_ms, stamp.counter


# ---------------------------------------------------------------- tables

_Check = Callable[[Any], "str | None"]


def _text(max_len: int) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be text"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return protocol.unfit_text(value)

    return check


def _lines(max_len: int) -> _Check:
    """A text of several lines (a workshop's description): newlines allowed."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be text"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return protocol.unfit_text(value.replace("\n", " "))

    return check


def _int(low: int, high: int) -> _Check:
    def check(value: Any) -> str | None:
        if type(value) is not int or not low <= value <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return check


def _id(value: Any) -> str | None:
    return None if protocol.is_id(value) else "must be a lowercase UUID"


def _time(value: Any) -> str | None:
    if not isinstance(value, str) or protocol.UTC_ISO_RE.fullmatch(value) is None:
        return "must be a UTC time like 2026-12-01T08:00:00.000Z"
    return None


def _one_of(*choices: str) -> _Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _hex(max_bytes: int) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or re.fullmatch(rf"(?:[0-9a-f]{{2}}){{0,{max_bytes}}}", value) is None:
            return f"must be lowercase hex of at most {max_bytes} bytes"
        return None

    return check


_FLAG = _int(0, 1)
_NAME = _text(80)
#: the longest audit line's detail (JSON text) that replicates; a longer one
#: travels as ``{"truncated": true}`` (a printed card list names many ids)
AUDIT_DETAIL_MAX = 20_000


@dataclass(frozen=True)
class Table:
    """What replicates of one table: its fields and their checks (an
    allow-list: any other field is refused), the fields a row needs before
    it is shown, the fields naming a member, and the natural key under which
    two rows are one (the same person in the same session)."""

    fields: Mapping[str, _Check]
    required: tuple[str, ...] = ()
    member_fields: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)  # field -> table it points at
    natural_key: tuple[str, ...] = ()
    #: what a row does when its member is erased: ``unlink`` (an anonymous
    #: count stays), ``cancel`` (the registration frees its seat) or ``keep``
    #: (it points at the tombstone, which names nobody)
    on_erased: str = "keep"


#: the member fields that say something about the person: emptied by erasure
PERSONAL_MEMBER_FIELDS = (
    "first_name",
    "last_name",
    "birth_year",
    "age_band",
    "age_band_year",
    "gender",
    "commune",
    "neighbourhood",
    "qpv",
    "phone",
    "email",
    "consent_data",
    "consent_data_at",
    "consent_photos",
    "consent_contact",
    "card_code",
    "household_id",
    "situation_consent_at",
    "employment",
    "education",
)

TABLES: dict[str, Table] = {
    "members": Table(
        fields={
            "first_name": _NAME,
            "last_name": _NAME,
            "birth_year": _int(1900, 2100),
            "age_band": _text(8),
            "age_band_year": _int(1900, 2100),
            "gender": _one_of(*protocol.GENDERS),
            "commune": _text(120),
            "neighbourhood": _text(120),
            "qpv": _FLAG,
            "phone": _text(20),
            "email": _text(254),
            "consent_data": _FLAG,
            "consent_data_at": _time,
            "consent_photos": _FLAG,
            "consent_contact": _FLAG,
            "card_code": _text(8),
            "household_id": _id,
            # the FSE+ situation the member consented to give, with the consent's date
            "situation_consent_at": _time,
            "employment": _one_of(*protocol.EMPLOYMENT_SITUATIONS),
            "education": _one_of(*protocol.EDUCATION_LEVELS),
            "created_at": _time,
            "updated_at": _time,
            # the member kept when staff merged two records of one person
            "merged_into": _id,
        },
        required=("created_at",),
    ),
    "workshops": Table(
        fields={
            "title": _text(200),
            "theme": _one_of(*protocol.THEMES),
            "description": _lines(2000),
            "facilitator": _text(200),
            "place": _text(200),
            "created_at": _time,
            "updated_at": _time,
        },
        required=("title", "theme", "created_at"),
    ),
    "sessions": Table(
        fields={
            "workshop_id": _id,
            "starts_at": _time,
            "ends_at": _time,
            "capacity": _int(0, 10_000),
            "place": _text(200),
            "series_id": _id,
            "cancelled_at": _time,
            "created_at": _time,
            "updated_at": _time,
        },
        required=("workshop_id", "starts_at", "ends_at", "capacity"),
        references={"workshop_id": "workshops"},
    ),
    "registrations": Table(
        fields={
            "session_id": _id,
            "member_id": _id,
            "status": _one_of(*protocol.REGISTRATION_STATUSES),
            "queued_at": _time,
            "created_at": _time,
            "updated_at": _time,
        },
        required=("session_id", "member_id", "status"),
        member_fields=("member_id",),
        references={"session_id": "sessions", "member_id": "members"},
        natural_key=("session_id", "member_id"),
        on_erased="cancel",
    ),
    "attendance": Table(
        fields={
            "session_id": _id,
            "member_id": _id,
            "present": _FLAG,
            "walk_in": _FLAG,
            "marked_at": _time,
            "marked_by": _id,
        },
        required=("session_id", "present", "marked_at"),
        member_fields=("member_id",),
        references={"session_id": "sessions", "member_id": "members"},
        natural_key=("session_id", "member_id"),
    ),
    "visits": Table(
        fields={
            "occurred_at": _time,
            "member_id": _id,
            "reason": _text(64),
            "recorded_by_role": _one_of(*protocol.RECORDERS),
            "recorded_by": _id,
            # the itinerant event (« hors les murs ») it was recorded at, if
            # any: every device counts the event's visits alike (the event's
            # own row stays on its device; the hub has it from outreach.held)
            "outreach_id": _id,
        },
        required=("occurred_at", "reason", "recorded_by_role"),
        member_fields=("member_id",),
        # a visit recorded by a volunteer waits for their account to arrive
        references={"member_id": "members", "recorded_by": "staff"},
        on_erased="unlink",
    ),
    "staff": Table(
        fields={
            "name": _text(100),
            "role": _one_of("volunteer", "staff"),
            "pin_salt": _hex(64),
            "pin_hash": _hex(128),
            "pin_params": _text(80),
            "active": _FLAG,
            "created_at": _time,
            "updated_at": _time,
        },
        required=("name", "role", "pin_salt", "pin_hash", "pin_params"),
    ),
    "settings": Table(fields={"value": _text(100_000)}, required=("value",)),
    # the centre's devices: a device added by one is known to the others,
    # whose blobs they then accept (its Ed25519 verify key, hex)
    "devices": Table(
        fields={"verify_key": _hex(32), "label": _text(200), "added_at": _time},
        required=("verify_key",),
    ),
    # append-only: one change a line, made by the device where it was done
    # pairs of members staff said are not the same person (« Pas la même
    # personne »): never offered as possible duplicates again, on any device.
    # The row id is made from the pair (``dismissal_id``), so two devices
    # dismissing the same pair write the same row.
    "duplicate_dismissals": Table(
        fields={"member_a": _id, "member_b": _id, "dismissed_at": _time},
        required=("member_a", "member_b", "dismissed_at"),
    ),
    "audit_log": Table(
        fields={
            "at": _time,
            "actor_id": _id,
            "actor_name": _text(100),
            "action": _text(64),
            "detail": _text(AUDIT_DETAIL_MAX),
        },
        required=("at", "action"),
    ),
}

#: which of two registrations of one person to one session stays (the
#: smaller): the same rule on a replicating device and on a device alone
STATUS_RANK = {"booked": 0, "waitlisted": 1, "cancelled": 2}

OPS = ("set", "erase")
#: where the row ids of ``duplicate_dismissals`` are made from (uuid5)
_DISMISSAL_NAMESPACE = uuid.UUID("6f1c1d2e-7a0b-5c3d-9e8f-0a1b2c3d4e5f")


def dismissal_id(member_a: str, member_b: str) -> str:
    """The row of « these two are not the same person », the same whichever
    device dismisses the pair and in whichever order it names them."""
    low, high = sorted((member_a, member_b))
    return str(uuid.uuid5(_DISMISSAL_NAMESPACE, f"{low}|{high}"))


#: the settings the centre's devices share (an allow-list: a setting not
#: named here stays on its device). The others are one device's own: its
#: enrolment (hub address, device token, centre id), its outbox's upkeep
#: (sent_events_kept_days), its printer, backup folder and screen density.
SHARED_SETTINGS = frozenset(
    (
        "centre_name",
        "communes",
        "neighbourhoods",
        "reasons",
        "idle_timeout_s",
        "pin_idle_timeout_s",
        "languages",
        "retention_months",
        "collect_situation",
    )
)
#: the most fields one change may carry (the widest table's)
MAX_FIELDS = max(len(table.fields) for table in TABLES.values())


# ---------------------------------------------------------------- changes


@dataclass(frozen=True)
class Change:
    """One device's write to one row: ``op`` ``set`` gives new values to some
    fields, ``erase`` (members only) erases the person. Immutable; its id is
    made once on the device and never reused."""

    id: str
    table: str
    row: str
    stamp: Stamp
    op: str = "set"
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return self.stamp.device

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "table": self.table,
            "row": self.row,
            "op": self.op,
            "stamp": self.stamp.text(),
            "fields": dict(self.fields),
        }

    def canonical(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Any) -> Change:
        """Validate a received change against the allow-list; raises
        :class:`ReplicationError` naming the first thing wrong."""
        if not isinstance(data, dict) or set(data) != {"id", "table", "row", "op", "stamp", "fields"}:
            raise ReplicationError("a change has exactly: id, table, row, op, stamp, fields")
        change = cls(
            id=data["id"],
            table=data["table"],
            row=data["row"],
            stamp=Stamp.parse(data["stamp"]),
            op=data["op"],
            fields=data["fields"],
        )
        change.check()
        return change

    def check(self) -> None:
        if not protocol.is_id(self.id):
            raise ReplicationError(f"change id {self.id!r} must be a lowercase UUID")
        table = TABLES.get(self.table) if isinstance(self.table, str) else None
        if table is None:
            raise ReplicationError(f"table {self.table!r} does not replicate")
        row_ok = isinstance(self.row, str) and (
            self.row in SHARED_SETTINGS if self.table == "settings" else protocol.is_id(self.row)
        )
        if not row_ok:
            raise ReplicationError(f"row id {self.row!r} is not valid for {self.table}")
        if (
            not isinstance(self.op, str)
            or self.op not in OPS
            or (self.op == "erase" and self.table != "members")
        ):
            raise ReplicationError(f"op {self.op!r} is not valid for {self.table}")
        if not isinstance(self.fields, Mapping) or len(self.fields) > MAX_FIELDS:
            raise ReplicationError(f"fields must be an object of at most {MAX_FIELDS} entries")
        if self.op == "erase" and self.fields:
            raise ReplicationError("an erase change carries no fields")
        for name, value in self.fields.items():
            check = table.fields.get(name)
            if check is None:
                raise ReplicationError(f"field {self.table}.{name} does not replicate")
            problem = None if value is None and name not in table.required else check(value)
            if problem is not None:
                raise ReplicationError(f"{self.table}.{name} {problem} (got {value!r:.40})")

    def sort_key(self) -> tuple[Stamp, str]:
        return (self.stamp, self.id)


def make_change(
    clock: HybridClock, table: str, row: str, fields: Mapping[str, Any] | None = None, op: str = "set"
) -> Change:
    """A new, checked change stamped now by ``clock``."""
    change = Change(protocol.new_id(), table, row, clock.now(), op, dict(fields or {}))
    change.check()
    return change


# ---------------------------------------------------------------- the merged state


@dataclass(frozen=True, order=True)
class SeatConflict:
    """A registration a device had booked that the merge put on the waiting
    list, because others booked the session's seats earlier (or its capacity
    went down). ``position`` is its place on the waiting list (1 = next)."""

    session_id: str
    registration_id: str
    member_id: str
    position: int


@dataclass
class State:
    """What every device shows once it holds the same changes.

    ``rows`` maps a table to its visible rows (id -> fields, references
    resolved); ``erased`` are the tombstoned members, ``merged`` the members
    merged into another (id -> kept id); ``held`` the rows held back for a
    missing field or row; ``absorbed`` rows that are another row of the same
    person in the same session (id -> kept row id)."""

    rows: dict[str, dict[str, dict[str, Any]]]
    erased: frozenset[str]
    merged: dict[str, str]
    held: frozenset[tuple[str, str]]
    absorbed: dict[str, str]
    seat_conflicts: list[SeatConflict]
    id_conflicts: list[str]
    #: each session's active registrations in the order the seats were given
    queues: dict[str, list[str]] = field(default_factory=dict)

    def comparable(self) -> tuple[Any, ...]:
        """Everything, in a form two states can be compared by (tests)."""
        return (
            self.rows,
            self.erased,
            self.merged,
            self.held,
            self.absorbed,
            self.seat_conflicts,
            self.id_conflicts,
        )


def _field_winners(changes: Iterable[Change]) -> dict[tuple[str, str], dict[str, tuple[Any, Stamp, str]]]:
    """(table, row) -> field -> (value, stamp, change id) of the last writer."""
    rows: dict[tuple[str, str], dict[str, tuple[Any, Stamp, str]]] = {}
    for change in changes:
        fields = rows.setdefault((change.table, change.row), {})
        for name, value in change.fields.items():
            current = fields.get(name)
            if current is None or (change.stamp, change.id) > (current[1], current[2]):
                fields[name] = (value, change.stamp, change.id)
    return rows


def _kept(member: str, merged_into: Mapping[str, str]) -> str:
    """The member ``member`` ends at by following merges; a cycle resolves
    to its smallest id, whatever member the walk starts from."""
    path: list[str] = []
    seen: set[str] = set()
    current = member
    while current in merged_into and current not in seen:
        seen.add(current)
        path.append(current)
        current = merged_into[current]
    if current in seen:  # a cycle: the part of the path from `current` on
        cycle = path[path.index(current) :]
        return min(cycle)
    return current


def _members(
    winners: Mapping[tuple[str, str], dict[str, tuple[Any, Stamp, str]]], erase_stamps: Mapping[str, Stamp]
) -> tuple[dict[str, str], frozenset[str], dict[str, Stamp]]:
    """(kept member of each member, erased members, earliest erasure of each)."""
    known = {row for (table, row) in winners if table == "members"} | set(erase_stamps)
    merged_into: dict[str, str] = {}
    for member in known:
        target = winners.get(("members", member), {}).get("merged_into")
        # a merge into a member not yet known waits for that member
        if target is not None and target[0] is not None and target[0] in known and target[0] != member:
            merged_into[member] = target[0]
    kept = {member: _kept(member, merged_into) for member in known}
    groups: dict[str, list[str]] = {}
    for member, root in kept.items():
        groups.setdefault(root, []).append(member)
    erased: set[str] = set()
    erased_at: dict[str, Stamp] = {}
    for members in groups.values():
        stamps = [erase_stamps[m] for m in members if m in erase_stamps]
        if stamps:  # erasure wins, over the whole group of one person's records
            erased.update(members)
            for m in members:
                erased_at[m] = min(stamps)
    return kept, frozenset(erased), erased_at


def _stamp_time(stamp: Stamp) -> str:
    return protocol.utc_iso(datetime.fromtimestamp(stamp.wall_ms / 1000, UTC))


def materialize(changes: Iterable[Change]) -> State:
    """The merged state of a set of changes (see the module's rules)."""
    by_id: dict[str, Change] = {}
    id_conflicts: set[str] = set()
    for change in changes:
        other = by_id.get(change.id)
        if other is not None and other != change:
            id_conflicts.add(change.id)
            if other.canonical() <= change.canonical():
                continue
        by_id[change.id] = change
    unique = list(by_id.values())
    erase_stamps: dict[str, Stamp] = {}
    for change in unique:
        if change.op == "erase":
            previous = erase_stamps.get(change.row)
            erase_stamps[change.row] = change.stamp if previous is None else min(previous, change.stamp)
    winners = _field_winners(c for c in unique if c.op == "set")
    kept, erased, erased_at = _members(winners, erase_stamps)

    rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}
    held: set[tuple[str, str]] = set()
    first_stamp: dict[tuple[str, str], tuple[Stamp, str]] = {}
    for change in unique:
        key = (change.table, change.row)
        if key not in first_stamp or change.sort_key() < first_stamp[key]:
            first_stamp[key] = change.sort_key()

    # members first: the other tables resolve against them
    for member in sorted(kept):
        values = {name: value for name, (value, _, _) in winners.get(("members", member), {}).items()}
        if member in erased:
            values = {name: values.get(name) for name in ("created_at", "merged_into")}
            values.update(dict.fromkeys(PERSONAL_MEMBER_FIELDS))
            values["erased_at"] = _stamp_time(erased_at[member])
        elif values.get("created_at") is None:
            held.add(("members", member))
            continue
        else:
            values["erased_at"] = None
        if kept[member] != member:
            values["merged_into"] = kept[member]
            # the kept record holds the person's details; an edit made to the
            # other one elsewhere, before or after the merge, does not bring
            # them back (merges commute with edits)
            values.update(dict.fromkeys(PERSONAL_MEMBER_FIELDS))
        else:
            values["merged_into"] = None
        rows["members"][member] = values

    # the tables with no reference to another, then those pointing at them
    order = [
        "workshops",
        "staff",
        "settings",
        "audit_log",
        "devices",
        "duplicate_dismissals",
        "sessions",
        "visits",
        "registrations",
        "attendance",
    ]
    field_stamps: dict[tuple[str, str], dict[str, Stamp]] = {}
    for table_name in order:
        table = TABLES[table_name]
        for (name, row), fields in sorted(winners.items()):
            if name != table_name:
                continue
            values = {f: value for f, (value, _, _) in fields.items()}
            field_stamps[(name, row)] = {f: stamp for f, (_, stamp, _) in fields.items()}
            if any(values.get(f) is None for f in table.required):
                held.add((name, row))
                continue
            if not _resolve_references(table, values, rows, kept, erased):
                held.add((name, row))
                continue
            rows[table_name][row] = values

    absorbed = _absorb_duplicates(rows, first_stamp)
    seat_conflicts, queues = _allocate_seats(rows, field_stamps)
    return State(
        rows=rows,
        erased=erased,
        merged={m: k for m, k in kept.items() if m != k and m not in erased},
        held=frozenset(held),
        absorbed=absorbed,
        seat_conflicts=seat_conflicts,
        id_conflicts=sorted(id_conflicts),
        queues=queues,
    )


def _resolve_references(
    table: Table,
    values: dict[str, Any],
    rows: Mapping[str, Mapping[str, Any]],
    kept: Mapping[str, str],
    erased: frozenset[str],
) -> bool:
    """Point ``values``' member fields at the kept member, apply the table's
    rule for an erased one; False when a reference is to a row not yet known."""
    for name, target_table in table.references.items():
        target = values.get(name)
        if target is None:
            continue
        if target_table == "members":
            if target not in kept:
                return False
            if target in erased:
                if table.on_erased == "unlink":
                    values[name] = None
                    continue
                if table.on_erased == "cancel":
                    values["status"] = "cancelled"
            else:
                target = values[name] = kept[target]
        if target not in rows[target_table]:
            return False
    return True


def _absorb_duplicates(
    rows: dict[str, dict[str, dict[str, Any]]],
    first_stamp: Mapping[tuple[str, str], tuple[Stamp, str]],
) -> dict[str, str]:
    """One row per natural key (the same person in the same session).

    The row with the better status stays, whole (a registration booked
    before waiting, waiting before cancelled; a mark present before absent;
    among equals the earliest), so a booked seat never gives way to the
    other row's waiting status, nor a presence to an absence."""
    absorbed: dict[str, str] = {}
    for name, table in TABLES.items():
        if not table.natural_key:
            continue
        groups: dict[tuple[Any, ...], list[str]] = {}
        for row, values in rows[name].items():
            key = tuple(values.get(f) for f in table.natural_key)
            if None not in key:
                groups.setdefault(key, []).append(row)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda r: (_rank(name, rows[name][r]), first_stamp[(name, r)]))
            for other in members[1:]:
                del rows[name][other]
                absorbed[other] = members[0]
    return absorbed


def _rank(table: str, values: Mapping[str, Any]) -> int:
    """The better of two rows of one person in one session: the smaller."""
    if table == "registrations":
        return STATUS_RANK[values["status"]]
    return 0 if values.get("present") else 1


def _allocate_seats(
    rows: dict[str, dict[str, dict[str, Any]]], field_stamps: Mapping[tuple[str, str], Mapping[str, Stamp]]
) -> tuple[list[SeatConflict], dict[str, list[str]]]:
    """Give each session's seats in one order on every device: first the
    registrations a device booked, by the stamp that booked them, then the
    waiting list by the stamp that queued it. Bookings past the capacity go
    first on the waiting list and are reported."""
    by_session: dict[str, list[tuple[int, Stamp, str]]] = {}
    for row, values in rows["registrations"].items():
        status = values["status"]
        if status == "cancelled":
            continue
        stamp = field_stamps[("registrations", row)]["status"]
        by_session.setdefault(values["session_id"], []).append((0 if status == "booked" else 1, stamp, row))
    conflicts: list[SeatConflict] = []
    queues: dict[str, list[str]] = {}
    for session_id, queue in sorted(by_session.items()):
        capacity = rows["sessions"][session_id]["capacity"]
        queue.sort()
        queues[session_id] = [row for _claimed, _stamp, row in queue]
        for place, (claimed, _, row) in enumerate(queue):
            values = rows["registrations"][row]
            if place < capacity:
                values["status"] = "booked"
                continue
            values["status"] = "waitlisted"
            if claimed == 0:
                member = values["member_id"]
                conflicts.append(SeatConflict(session_id, row, member, place - capacity + 1))
    return sorted(conflicts), queues


# ---------------------------------------------------------------- a device's log


class Replica:
    """A device's copy of the log: the changes it holds, deduplicated by id.

    ``add`` takes any changes, in any order, any number of times; ``state``
    is the merged state. Changes naming an erased member are scrubbed as soon
    as the erasure is known (only what keeps the tombstone's place: its
    creation time and merge), so no erased name stays in the log either."""

    def __init__(self, changes: Iterable[Change] = ()) -> None:
        self.changes: dict[str, Change] = {}
        self.conflicts: set[str] = set()
        self._state: State | None = None
        self.add(changes)

    def add(self, changes: Iterable[Change]) -> list[Change]:
        """Add changes; returns those that changed this log. The same id
        with other content is recorded in ``conflicts`` and every device
        keeps the same one of the two (the smallest canonical text)."""
        new = []
        for change in changes:
            current = self.changes.get(change.id)
            if current is not None:
                if current == change or _scrubbed(change) == current:
                    continue  # a resend, or one this log already scrubbed
                if _scrubbed(current) != change:  # not merely the scrubbed form of ours
                    self.conflicts.add(change.id)
                    if current.canonical() <= change.canonical():
                        continue
            self.changes[change.id] = change
            new.append(change)
        if new:
            self._state = None
            self._scrub()
        return new

    def state(self) -> State:
        if self._state is None:
            self._state = materialize(self.changes.values())
        return self._state

    def _scrub(self) -> None:
        erased = self.state().erased
        for change_id, change in list(self.changes.items()):
            if change.table == "members" and change.row in erased:
                scrubbed = _scrubbed(change)
                if scrubbed != change:
                    self.changes[change_id] = scrubbed


def _scrubbed(change: Change) -> Change:
    """The change without the personal fields an erasure empties."""
    kept = {k: v for k, v in change.fields.items() if k not in PERSONAL_MEMBER_FIELDS}
    return Change(change.id, change.table, change.row, change.stamp, change.op, kept)


def digest(state: State) -> str:
    """A short fingerprint of a merged state: two devices agree when their
    digests do (what a status screen can compare)."""
    text = json.dumps(
        [state.rows, sorted(state.erased), state.merged, sorted(state.held)],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
