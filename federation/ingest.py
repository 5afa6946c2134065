"""Ingest one batch: validate, store each event once, set aside conflicts,
then have federation.projections fold the new events into the reporting
tables — all in the caller's transaction.

Set-based so a batch of 1,000 events costs a handful of statements: one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING event_id``, one look-up
of the ids not inserted, then one executemany upsert per projection, for the
newly stored events only (a replay changes nothing). Validation and rows are
built by ``prepare`` before the caller takes the write lock.

What is stored is what sync.protocol allows, rebuilt from the checked fields
alone: an unknown field is dropped (the answer names it), an event naming
personal data is refused. An event that occurred outside the hub's
``Window`` is not stored but parked (store.parked) with its reason, for the
federation to review; conflicts and parked events are kept up to
``MAX_KEPT_PER_DEVICE`` a device, so no token can fill the disk with them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from itertools import chain, islice, repeat
from operator import eq, itemgetter, lt
from typing import Iterator

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import projections
from federation import store as db
from sync import protocol

log = logging.getLogger("federation")

#: conflicting copies and parked events kept for one device, at most; past
#: it they are still answered (rejected, with their reason) but not kept
MAX_KEPT_PER_DEVICE = 1000


@dataclass(frozen=True)
class Window:
    """When an event may have occurred to be stored, around the time the hub
    received it: from ``past_years`` before to ``future_days`` after (a hub
    setting). A kiosk whose clock is wrong is not believed: its events
    outside the window are parked with the reason."""

    past_years: int = 10
    future_days: int = 1

    def __post_init__(self) -> None:
        if not (0 <= self.past_years <= 100 and 0 <= self.future_days <= 3650):
            raise ValueError("window: past_years must be 0 to 100 and future_days 0 to 3650")

    def bounds(self, received_at: str) -> tuple[str, str]:
        """(earliest, latest) occurred_at accepted, as utc_iso text."""
        received = protocol.parse_utc(received_at)
        year = max(protocol.EARLIEST_YEAR, received.year - self.past_years)
        earliest = received.replace(year=year, day=28) if (received.month, received.day) == (2, 29) \
            else received.replace(year=year)
        return protocol.utc_iso(earliest), protocol.utc_iso(received + timedelta(days=self.future_days))


DEFAULT_WINDOW = Window()


@dataclass
class Answer:
    """What the hub says of a batch; every sent id is in exactly one of
    stored, duplicates and rejected. ``dropped`` names the unknown fields
    left out of events that were stored all the same."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        answer = {
            "protocol": protocol.PROTOCOL_VERSION,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }
        if self.dropped:  # (absent when nothing was dropped, as before there was anything to drop)
            answer["dropped"] = self.dropped
        return answer


@dataclass
class Columns:
    """The usual batch (every event valid, none repeated, each at its own
    index, its times already utc_iso text) as the columns of the events
    table: stored without building a dict a row. ``rows()`` gives the dicts
    the rarer paths use (replays, conflicts), the same as ``_event_row``'s."""

    centre_id: str
    received_at: str
    device_id: str | None
    ids: list[str]
    types: list[str]
    times: list[str]
    member_ids: list[str | None]
    bodies: list[str]
    hashes: list[str]

    def values(self) -> list[tuple]:
        """The rows as tuples in _EVENT_COLUMNS order."""
        return list(zip(repeat(self.centre_id), self.ids, self.types, self.times, repeat(self.received_at),
                        repeat(self.device_id), self.member_ids, self.bodies, self.hashes))

    def rows(self) -> list[dict]:
        return [dict(zip(_EVENT_COLUMNS, values), index=index, position=index)
                for index, values in enumerate(self.values())]


@dataclass
class Prepared:
    """A batch checked and turned into rows, before any database work: the
    usual batch as ``columns``, any other as row dicts."""

    centre_id: str
    received_at: str
    body: dict
    valid: list[dict]
    rejected: list[dict]
    columns: Columns | None = None
    dropped: list[dict] = field(default_factory=list)
    parked: list[dict] = field(default_factory=list)  # rows of events outside the window
    plan: projections.Plan | None = None  # with columns: the projections' plan if all are new
    _rows: list[dict] | None = None

    def ready(self) -> "Ready":
        """The usual batch (``columns``) as ``write_new`` takes it."""
        return Ready(**vars(self.columns), plan=self.plan)

    @property
    def rows(self) -> list[dict]:
        """One dict a valid event (made from the columns when first asked)."""
        if self._rows is None:
            self._rows = self.columns.rows() if self.columns is not None else []
        return self._rows


@dataclass
class Ready(Columns):
    """The usual batch, checked and ready to write if all its events are new
    (nearly always): its columns and the projections' plan, what
    ``write_new`` needs. Plain data, so it can come back from a checker
    process (federation.checker)."""

    plan: projections.Plan

    # Pickled (by the checker process) as one text a column: a list of 1,000
    # strings costs the pickler and the unpickler an object each, and the
    # unpickling holds the writing process's interpreter lock. No column can
    # hold a newline: ids, member ids and hashes are hex, types and times
    # checked forms, bodies JSON (which escapes control characters).
    # (A batch of one type, as most are, sends its type once; one of visits
    # alone, no member ids.)
    def __getstate__(self) -> tuple:
        kinds = set(self.types)
        types = (kinds.pop(),) if len(kinds) == 1 else "\n".join(self.types)
        members = None if not any(self.member_ids) else "\n".join([m or "" for m in self.member_ids])
        return (self.centre_id, self.received_at, self.device_id, len(self.ids), "\n".join(self.ids),
                types, "\n".join(self.times), members, "\n".join(self.bodies), "\n".join(self.hashes),
                self.plan)

    def __setstate__(self, state: tuple) -> None:
        (self.centre_id, self.received_at, self.device_id, count, ids, types, times, members, bodies, hashes,
         self.plan) = state
        column = (lambda text: text.split("\n")) if count else (lambda _text: [])
        self.ids, self.times = column(ids), column(times)
        self.types = list(types) * count if type(types) is tuple else column(types)
        self.member_ids = [None] * count if members is None else [m or None for m in column(members)]
        self.bodies, self.hashes = column(bodies), column(hashes)


def prepare_plain(text: bytes, centre_id: str, device_id: str | None, received_at: str,
                  max_events: int = protocol.MAX_EVENTS_PER_BATCH, window: Window = DEFAULT_WINDOW) -> Prepared | None:
    """The usual batch parsed by orjson (0.6 instead of 1.4 µs an event) and
    prepared as columns, or None for the stdlib's path. orjson reads an
    integer past 64 bits as a float, so its parse is kept only when
    ``prepare`` finds every event valid and made of strings, integers,
    booleans and nulls only (no float anywhere in an event): then it is the
    stdlib's parse, value for value. Anything else — a float, a refusal,
    orjson's own refusals (a lone surrogate, a byte-order mark) — is parsed
    again by the stdlib, whose answers and messages stay the ones given."""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    try:
        return prepare(body, centre_id, device_id, received_at, max_events, plain_only=True, window=window)
    except protocol.ProtocolError:
        return None


def write_new(conn: Connection, batch: Ready) -> Answer | None:
    """Store a Ready batch whose events are all new, in the caller's
    transaction. When one of them is held already (a replay), nothing is
    kept and None says so: ``write`` of the full batch then answers it."""
    _serialise_centre(conn, batch.centre_id)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SAVEPOINT write_new")
        if not all(_insert_chunk(cursor, sql, rows, params) for sql, rows, params in _new_chunks(conn, batch)):
            cursor.execute("ROLLBACK TO SAVEPOINT write_new")
            cursor.execute("RELEASE SAVEPOINT write_new")
            return None
        cursor.execute("RELEASE SAVEPOINT write_new")
    finally:
        cursor.close()
    _count_events(conn, batch.centre_id, batch.types, batch.times)
    projections.update(conn, batch.centre_id, batch.plan)
    return Answer(stored=list(batch.ids))


def _insert_chunk(cursor, sql: str, rows: int, params: tuple) -> bool:
    """One chunk's INSERT … ON CONFLICT DO NOTHING; whether every row went in."""
    cursor.execute(sql, params)
    return cursor.rowcount == rows


def _new_chunks(conn: Connection, batch: Ready) -> Iterator[tuple[str, int, tuple]]:
    """The INSERTs of a Ready batch: (statement, rows, parameters) a chunk,
    rows in event id order (see insert_chunks). On SQLite the centre, the
    time received and the device are bound once a statement (numbered
    parameters): 6 parameters a row instead of 9, which halved the
    statement's time (binding and reading 9,000 parameters cost more than
    inserting the rows)."""
    if conn.dialect.name != "sqlite":
        for ids, params in insert_chunks(batch.values()):
            yield _insert_sql(db.param_mark(conn), len(ids)), len(ids), params
        return
    columns = (batch.ids, batch.types, batch.times, batch.member_ids, batch.bodies, batch.hashes)
    if not all(map(lt, batch.ids, islice(batch.ids, 1, None))):  # kiosks send them in order: rarely
        order = sorted(range(len(batch.ids)), key=batch.ids.__getitem__)
        columns = tuple([column[i] for i in order] for column in columns)
    shared = (batch.centre_id, batch.received_at, batch.device_id)
    for start in range(0, len(batch.ids), _ROWS_PER_INSERT):
        chunk = [column[start:start + _ROWS_PER_INSERT] for column in columns]
        rows = len(chunk[0])
        yield _numbered_insert_sql(rows), rows, (*shared, *chain.from_iterable(zip(*chunk)))


def prepare(body: object, centre_id: str, device_id: str | None, received_at: str,
            max_events: int = protocol.MAX_EVENTS_PER_BATCH, plain_only: bool = False,
            window: Window = DEFAULT_WINDOW) -> Prepared | None:
    """Validate a parsed batch for ``centre_id`` (the token's centre, never
    the body's) and build its rows, each event rebuilt from its allowed
    fields; set aside the events outside ``window``. Raises ProtocolError
    for a bad envelope. Pure CPU work, done before taking the database's
    write lock.

    ``plain_only``: return None unless every event is valid, none repeated,
    nothing to drop, all within the window, with only strings, integers,
    booleans and nulls in its data (what a body parsed by orjson must be to
    be trusted)."""
    valid, rejected, dropped = protocol.check_batch(body, max_events=max_events)
    _check_identity(body, centre_id, device_id)
    earliest, latest = window.bounds(received_at)
    usual = not rejected and not dropped and len(valid) == len(body["events"])  # index == position
    if usual:
        columns = _columns_in_order(valid, centre_id, device_id, received_at, plain_only)
        if columns is not None and earliest <= min(columns.times) and max(columns.times) <= latest:
            # the reporting tables' share worked out now too, for when all are new (nearly always)
            return Prepared(centre_id, received_at, body, valid, rejected, columns=columns,
                            plan=projections.plan(list(zip(columns.times, valid))))
    if plain_only:
        return None
    index_of = None if usual else _first_indexes(body["events"])
    rows, parked = [], []
    for position, event in enumerate(valid):
        row = _event_row(event, centre_id, device_id, received_at,
                         position if index_of is None else index_of[event["id"]], position)
        if earliest <= row["occurred_at"] <= latest:
            rows.append(row)
        else:
            row["reason"] = (f"occurred_at: {event['occurred_at']} is outside this hub's window "
                             f"({earliest} to {latest}): parked for the federation to review")
            parked.append(row)
    rejected = rejected + [{"id": row["event_id"], "index": row["index"], "field": "occurred_at",
                            "reason": row["reason"]} for row in parked]
    return Prepared(centre_id, received_at, body, valid, rejected, dropped=dropped, parked=parked, _rows=rows)


#: db.UTC_ISO over a column of times joined by newlines: one regex for the batch
_UTC_ISO_COLUMN = re.compile(rf"(?:{db.UTC_ISO.pattern}\n)*{db.UTC_ISO.pattern}")
_GET_DATA = itemgetter("data")
_GET_OCCURRED_AT = itemgetter("occurred_at")


def _columns_in_order(events: list[dict], centre_id: str, device_id: str | None,
                      received_at: str, plain_only: bool = False) -> Columns | None:
    """The columns of valid events, none repeated, each at its own index,
    with the per-event checks made once for the batch: the times already
    utc_iso text (one regex over them joined), every value plain (one set of
    the types) so orjson writes every canonical text. None when a time has
    another form (then _event_row, event by event), or when ``plain_only``
    and a value is not plain."""
    times = list(map(_GET_OCCURRED_AT, events))
    joined = "\n".join(times)
    if len(joined) != 25 * len(times) - 1 or not _UTC_ISO_COLUMN.fullmatch(joined):
        return None
    datas = list(map(_GET_DATA, events))
    bodies = None
    if all(map(eq, repeat(_USUAL_KEYS), map(dict.keys, events))) \
            and _PLAIN_TYPES.issuperset(map(type, chain.from_iterable(map(dict.values, datas)))):
        try:
            bodies = [orjson.dumps(event, option=orjson.OPT_SORT_KEYS) for event in events]
        except TypeError:  # an integer past 64 bits
            pass
    if bodies is None:
        if plain_only:  # a float, a list, an object, or an integer past 64 bits
            return None
        bodies = list(map(_canonical, events))
    types = list(map(_GET_TYPE, events))
    member_kinds = {kind for kind in set(types) if kind.startswith("member.")}
    if member_kinds:
        member_ids = [data.get("member_id") if kind in member_kinds else None for kind, data in zip(types, datas)]
    else:  # visits, workshops…: the column stays empty
        member_ids = [None] * len(events)
    sha256 = hashlib.sha256
    return Columns(centre_id, received_at, device_id, list(map(_GET_ID, events)), types, times, member_ids,
                   list(map(bytes.decode, bodies)), [sha256(body).hexdigest() for body in bodies])


_GET_ID = itemgetter("id")
_GET_TYPE = itemgetter("type")


def ingest(conn: Connection, body: object, centre_id: str, device_id: str | None,
           received_at: str, max_events: int = protocol.MAX_EVENTS_PER_BATCH,
           window: Window = DEFAULT_WINDOW) -> Answer:
    """Prepare and write a batch in the caller's transaction."""
    return write(conn, prepare(body, centre_id, device_id, received_at, max_events, window=window))


def write(conn: Connection, batch: Prepared) -> Answer:
    """Store a prepared batch in the caller's transaction: new events, replays
    answered as duplicates, conflicts kept aside, projections updated."""
    if batch.columns is not None:  # the usual batch, all new nearly always: no dict, no look-up
        answer = write_new(conn, batch.ready())
        if answer is not None:
            return answer  # (columns only when nothing was refused)
    answer = Answer(rejected=list(batch.rejected), dropped=list(batch.dropped))
    rows, centre_id = batch.rows, batch.centre_id
    if batch.parked:
        _serialise_centre(conn, centre_id)
        _park(conn, batch.parked)
        # a parked copy of an erased member's event must not keep its attributes
        projections.redact_erased(conn, centre_id, {row["member_id"] for row in batch.parked if row["member_id"]})
    if not rows:
        answer.rejected.sort(key=_INDEX)
        return answer
    _serialise_centre(conn, centre_id)
    inserted = _insert_events(conn, insert_chunks(list(map(_EVENT_VALUES, rows))))
    by_id = {row["event_id"]: row for row in rows}
    answer.stored = [row["event_id"] for row in rows if row["event_id"] in inserted]
    others = [row for row in rows if row["event_id"] not in inserted]
    answer.duplicates, conflicting = _split_replays(conn, centre_id, others)
    kept_aside = conflicting + _in_batch_conflicts(batch.body, by_id)
    _keep_conflicts(conn, kept_aside, batch.received_at)
    answer.rejected += [
        {"id": row["event_id"], "index": row["index"], "field": "id",
         "reason": "conflict: the hub already holds another content for this event id"}
        for row in conflicting
    ]
    answer.rejected.sort(key=_INDEX)
    new_rows = [by_id[event_id] for event_id in answer.stored]
    _count_events(conn, centre_id, list(map(_GET_TYPE, new_rows)), list(map(_GET_OCCURRED_AT, new_rows)))
    projections.update(conn, centre_id, [(row["occurred_at"], batch.valid[row["position"]]) for row in new_rows])
    # a conflicting copy of an erased member's event must not keep its attributes
    projections.redact_erased(conn, centre_id, {row["member_id"] for row in kept_aside if row["member_id"]})
    return answer


_INDEX = itemgetter("index")


def _serialise_centre(conn: Connection, centre_id: str) -> None:
    """One batch of a centre at a time. SQLite's write lock already says so;
    on PostgreSQL two devices of a centre could otherwise write at once, and
    a projection that reads another (a new member's visit span, read from
    p_presence) would miss the other batch's uncommitted rows. Batches of
    different centres touch different rows and still run side by side."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(centre_id.encode()).digest()[:4], "big", signed=True)
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7302, %s)", (key,))


def _check_identity(body: dict, centre_id: str, device_id: str | None) -> None:
    """The token decides who writes: a body naming someone else is refused."""
    claimed_centre = body.get("centre_id")
    if claimed_centre is not None and claimed_centre != centre_id:
        raise protocol.ProtocolError("centre_id", "does not match the centre of this device's token")
    claimed_device = body.get("device_id")
    if claimed_device is not None and device_id is not None and claimed_device != device_id:
        raise protocol.ProtocolError("device_id", "does not match this device's token")


def _first_indexes(events: list) -> dict[str, int]:
    """Each event id's first position in the batch, for the answer."""
    index_of: dict[str, int] = {}
    for index, event in enumerate(events):
        event_id = event.get("id") if isinstance(event, dict) else None
        if isinstance(event_id, str) and event_id not in index_of:
            index_of[event_id] = index
    return index_of


_PLAIN_TYPES = frozenset((str, int, bool, type(None)))  # exact types: bool listed for the reader
_USUAL_KEYS = frozenset(("id", "type", "occurred_at", "data"))
_USUAL_TOP = itemgetter("id", "type", "occurred_at")


def _plain_top(event: dict) -> bool:
    """Whether the event's values besides data are all plain; the usual four
    keys are looked up directly, without a list of the items."""
    if event.keys() == _USUAL_KEYS:
        return _PLAIN_TYPES.issuperset(map(type, _USUAL_TOP(event)))
    return _PLAIN_TYPES.issuperset(map(type, [value for key, value in event.items() if key != "data"]))


def canonical_text(event: dict) -> str:
    """protocol.canonical_json's text (see _canonical)."""
    return _canonical(event).decode()


def _canonical(event: dict) -> bytes:
    """protocol.canonical_json's text as UTF-8, written by orjson when the
    event is made of strings, integers, booleans and nulls (every event type
    today): ten times faster and the same bytes (tests/test_hub_ingest.py
    checks it property by property). Anything else — floats, which orjson
    writes in another notation, lists, nested objects, integers past 64 bits —
    goes through the stdlib."""
    # the set of the values' types, built in C: a fraction of a per-value loop
    data = event.get("data")
    if type(data) is dict and _PLAIN_TYPES.issuperset(map(type, data.values())) and _plain_top(event):
        try:
            return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # an integer past 64 bits
            pass
    return protocol.canonical_json(event).encode()


_UTC_ISO_MATCH = db.UTC_ISO.fullmatch


def _event_row(event: dict, centre_id: str, device_id: str | None, received_at: str,
               index: int = 0, position: int = 0) -> dict:
    """The events row of a valid event, with its place in the batch
    (``index``) and among the valid events (``position``)."""
    canonical = _canonical(event)
    kind = event["type"]
    member_id = event["data"].get("member_id") if kind.startswith("member.") else None
    occurred_at = event["occurred_at"]
    return {
        "index": index,
        "position": position,
        "centre_id": centre_id,
        "event_id": event["id"],
        "type": kind,
        # kiosks write utc_iso text already: kept as it is without a call
        "occurred_at": occurred_at if _UTC_ISO_MATCH(occurred_at) else db.utc_text(occurred_at),
        "received_at": received_at,
        "device_id": device_id,
        "member_id": member_id,
        "body": canonical.decode(),
        # the hash of the bytes as they are, not of a re-encoded copy
        "content_hash": hashlib.sha256(canonical).hexdigest(),
    }


_EVENT_COLUMNS = ("centre_id", "event_id", "type", "occurred_at", "received_at",
                  "device_id", "member_id", "body", "content_hash")
#: rows a multi-row INSERT carries: 9 parameters each stays far below SQLite's
#: 32,766 and PostgreSQL's 65,535 parameters a statement
_ROWS_PER_INSERT = 1000
_EVENT_VALUES = itemgetter(*_EVENT_COLUMNS)


def insert_chunks(values: list[tuple]) -> list[tuple[list[str], tuple]]:
    """Rows (tuples in _EVENT_COLUMNS order) as the INSERTs' chunks: each
    chunk's event ids and its parameters, flat. Sorted by event id: the same
    order in every transaction, so two batches sharing ids wait for each
    other instead of deadlocking (PostgreSQL); kiosks send their
    time-ordered ids in order, which the sort only checks."""
    values = sorted(values, key=_ID_OF_VALUES)
    return [(list(map(_ID_OF_VALUES, chunk)), tuple(chain.from_iterable(chunk)))
            for chunk in (values[start:start + _ROWS_PER_INSERT]
                          for start in range(0, len(values), _ROWS_PER_INSERT))]


@lru_cache(maxsize=16)
def _numbered_insert_sql(rows: int) -> str:
    """SQLite's INSERT of ``rows`` rows, ?1-?3 the centre, the time received
    and the device (in _EVENT_COLUMNS' places), then 6 parameters a row."""
    values = ", ".join(f"(?1, ?{n}, ?{n + 1}, ?{n + 2}, ?2, ?3, ?{n + 3}, ?{n + 4}, ?{n + 5})"
                       for n in range(4, 4 + 6 * rows, 6))
    return (f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES {values}"
            " ON CONFLICT (centre_id, event_id) DO NOTHING")


@lru_cache(maxsize=16)
def _insert_sql(mark: str, rows: int) -> str:
    one_row = "(" + ", ".join([mark] * len(_EVENT_COLUMNS)) + ")"
    return (f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES " + ", ".join([one_row] * rows)
            + " ON CONFLICT (centre_id, event_id) DO NOTHING")


def _insert_events(conn: Connection, chunks: list[tuple[list[str], tuple]]) -> set[str]:
    """Insert what is new with multi-row INSERT … ON CONFLICT DO NOTHING,
    a statement a chunk (``insert_chunks``); return the ids actually
    inserted. A chunk whose every row went in (the driver's rowcount says
    so) needs no RETURNING, which cost SQLite 1.3 µs an event; a chunk that
    met held ids is rolled back to its savepoint and run again with
    RETURNING event_id, so the answer still comes from the database.
    (Measured against a look-up of the held ids then an executemany of the
    new rows on SQLite: no faster, so one path serves both databases.)"""
    mark = db.param_mark(conn)
    inserted: set[str] = set()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        for ids, params in chunks:
            cursor.execute("SAVEPOINT insert_events")
            if _insert_chunk(cursor, _insert_sql(mark, len(ids)), len(ids), params):
                inserted.update(ids)
            else:  # some were held already: which ones, the database says
                cursor.execute("ROLLBACK TO SAVEPOINT insert_events")
                cursor.execute(_insert_sql(mark, len(ids)) + " RETURNING event_id", params)
                inserted.update(event_id for (event_id,) in cursor.fetchall())
            cursor.execute("RELEASE SAVEPOINT insert_events")
    finally:
        cursor.close()
    return inserted


_ID_OF_VALUES = itemgetter(_EVENT_COLUMNS.index("event_id"))


_COUNT_UPSERT = (
    "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
    "VALUES ({m}, {m}, {m}, {m}, {m}) ON CONFLICT (centre_id, type) DO UPDATE SET "
    "events = event_counts.events + excluded.events, "
    "first_occurred_at = CASE WHEN excluded.first_occurred_at < event_counts.first_occurred_at "
    "THEN excluded.first_occurred_at ELSE event_counts.first_occurred_at END, "
    "last_occurred_at = CASE WHEN excluded.last_occurred_at > event_counts.last_occurred_at "
    "THEN excluded.last_occurred_at ELSE event_counts.last_occurred_at END")


def _count_events(conn: Connection, centre_id: str, types: list[str], times: list[str]) -> None:
    """Add the newly stored events (their types and times) to the
    per-(centre, type) rollup: one row a type, whatever the batch's size."""
    if not types:
        return
    by_type: dict[str, list] = {}
    kinds = set(types)
    if len(kinds) == 1:  # one type, as most batches: the count, min and max in C
        by_type[kinds.pop()] = [len(types), min(times), max(times)]
    else:
        for kind, at in zip(types, times):
            held = by_type.get(kind)
            if held is None:
                by_type[kind] = [1, at, at]
            else:
                held[0] += 1
                if at < held[1]:
                    held[1] = at
                elif at > held[2]:
                    held[2] = at
    mark = db.param_mark(conn)
    conn.exec_driver_sql(_COUNT_UPSERT.format(m=mark), [
        (centre_id, kind, n, first, last) for kind, (n, first, last) in sorted(by_type.items())])


def _split_replays(conn: Connection, centre_id: str, rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Ids already held: a replay (same content) or a conflict (other content)."""
    if not rows:
        return [], []
    held = dict(conn.execute(
        sa.select(db.events.c.event_id, db.events.c.content_hash).where(
            db.events.c.centre_id == centre_id,
            db.events.c.event_id.in_([row["event_id"] for row in rows]),
        )
    ).all())
    duplicates, conflicting = [], []
    for row in rows:
        if held.get(row["event_id"]) == row["content_hash"]:
            duplicates.append(row["event_id"])
        else:
            conflicting.append(dict(row, stored_hash=held.get(row["event_id"], "")))
    return duplicates, conflicting


def _in_batch_conflicts(body: dict, by_id: dict[str, dict]) -> list[dict]:
    """A batch holding one id twice with different contents: the first copy
    was processed, the others are kept aside as conflicts (rarely any)."""
    events = body["events"]
    if len(events) == len(by_id) or not by_id:
        return []
    found, seen_first = [], set()
    for event in events:
        event_id = event.get("id") if isinstance(event, dict) else None
        first = by_id.get(event_id) if type(event_id) is str else None  # (an id may be any JSON value)
        if first is None:
            continue
        if event["id"] not in seen_first:
            seen_first.add(event["id"])
            continue
        try:
            clean, _dropped = protocol.check_event(event)  # what would be stored of this copy
        except protocol.ProtocolError:
            continue  # refused, and answered so
        text = canonical_text(clean)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest != first["content_hash"]:
            found.append(dict(first, body=text, content_hash=digest, stored_hash=first["content_hash"]))
    return found


def _room(conn: Connection, table: sa.Table, centre_id: str, device_id: str | None) -> int:
    """How many more rows ``table`` (conflicts, parked) may keep for a device."""
    c = table.c
    held = conn.execute(sa.select(sa.func.count()).select_from(table).where(
        c.centre_id == centre_id,
        c.device_id.is_(None) if device_id is None else c.device_id == device_id)).scalar()
    return max(0, MAX_KEPT_PER_DEVICE - held)


def _kept(conn: Connection, table: sa.Table, rows: list[dict]) -> list[dict]:
    """``rows`` cut to what ``table`` may still keep for their device."""
    room = _room(conn, table, rows[0]["centre_id"], rows[0]["device_id"])
    if room < len(rows):
        log.warning("device %s: %d %s rows not kept, its limit of %d is reached",
                    rows[0]["device_id"], len(rows) - room, table.name, MAX_KEPT_PER_DEVICE)
    return rows[:room]


def _park(conn: Connection, rows: list[dict]) -> None:
    """Keep the events outside the window, each content once, with the reason."""
    rows = _kept(conn, db.parked, rows)
    if not rows:
        return
    statement = projections.dialect_insert(conn, db.parked).on_conflict_do_nothing(
        index_elements=["centre_id", "event_id", "content_hash"])
    conn.execute(statement, [{
        "centre_id": row["centre_id"], "event_id": row["event_id"], "device_id": row["device_id"],
        "type": row["type"], "occurred_at": row["occurred_at"], "received_at": row["received_at"],
        "member_id": row["member_id"], "reason": row["reason"][:300], "body": row["body"],
        "content_hash": row["content_hash"],
    } for row in rows])


def _keep_conflicts(conn: Connection, rows: list[dict], received_at: str) -> None:
    """Record each conflicting content once, however often it is resent,
    up to MAX_KEPT_PER_DEVICE a device."""
    if not rows:
        return
    known = set(conn.execute(
        sa.select(db.conflicts.c.event_id, db.conflicts.c.content_hash).where(
            db.conflicts.c.centre_id == rows[0]["centre_id"],
            db.conflicts.c.event_id.in_({row["event_id"] for row in rows}),
        )
    ).tuples())
    fresh = []
    for row in rows:
        key = (row["event_id"], row["content_hash"])
        if key not in known:
            known.add(key)
            fresh.append({
                "centre_id": row["centre_id"], "event_id": row["event_id"],
                "device_id": row["device_id"], "received_at": received_at, "body": row["body"],
                "content_hash": row["content_hash"], "stored_hash": row["stored_hash"],
            })
    if fresh:
        fresh = _kept(conn, db.conflicts, fresh)
    if fresh:
        conn.execute(db.conflicts.insert(), fresh)


# ---------------------------------------------------------------- cleaning what is held

#: rows read at a time by clean_held (an old hub may hold bodies of megabytes)
_CLEAN_CHUNK = 500


def rebuild_held(event: object) -> dict:
    """A body an earlier hub stored, rebuilt from its type's allowed fields
    (already checked when it came): every other field goes, a personal one
    included. An erasure's ``redacted`` mark stays."""
    event = event if isinstance(event, dict) else {}
    kind = event.get("type")
    allowed = protocol.EVENT_TYPES.get(kind, {}) if isinstance(kind, str) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    kept = {key: value for key, value in data.items() if key in allowed}
    if data.get("redacted") is True:
        kept["redacted"] = True
    return {"id": event.get("id"), "type": kind, "occurred_at": event.get("occurred_at"), "data": kept}


def _rebuilt_text(body: str, content_hash: str) -> tuple[str, str] | None:
    """(body, hash) rebuilt from ``body``, or None when it is clean already.
    A redacted body keeps the hash of what was received (replays still
    recognised); any other gets the hash of its new text, which is what a
    replay of it is now stored as."""
    try:
        event = orjson.loads(body)  # a number it reads otherwise can only be in a field that goes
    except orjson.JSONDecodeError:
        event = json.loads(body)
    clean = rebuild_held(event)
    if clean == event:
        return None
    text = canonical_text(clean)
    redacted = clean["data"].get("redacted") is True
    return text, content_hash if redacted else hashlib.sha256(text.encode()).hexdigest()


def clean_held(conn: Connection, window: Window = DEFAULT_WINDOW) -> None:
    """Schema step 5: hold what earlier hubs stored to today's rules. Every
    event's and conflict's body is rebuilt from the allowed fields; events
    that occurred outside ``window`` around their arrival move to parked
    (event_counts recounted for their centres; the reporting tables keep
    what they were given); each device keeps its first MAX_KEPT_PER_DEVICE
    conflicts."""
    events, last, moved_centres = db.events, 0, set()
    c = events.c
    while True:
        chunk = conn.execute(sa.select(c.seq, c.occurred_at, c.received_at, c.body, c.content_hash)
                             .where(c.seq > last).order_by(c.seq).limit(_CLEAN_CHUNK)).all()
        if not chunk:
            break
        last = chunk[-1].seq
        updates, moved = [], []
        for seq, occurred_at, received_at, body, content_hash in chunk:
            rebuilt = _rebuilt_text(body, content_hash)
            body, digest = rebuilt or (body, content_hash)
            try:
                earliest, latest = _bounds(window, received_at)
            except ValueError:  # no time to hold it to: it stays
                earliest, latest = occurred_at, occurred_at
            if not earliest <= occurred_at <= latest:
                row = conn.execute(sa.select(events).where(c.seq == seq)).one()
                moved.append(dict(row._mapping, body=body, content_hash=digest, reason=(
                    f"occurred_at: {occurred_at} is outside this hub's window ({earliest} to {latest}): "
                    "parked for the federation to review")))
            elif rebuilt is not None:
                updates.append({"b_seq": seq, "b_body": body, "b_hash": digest})
        if updates:
            conn.execute(events.update().where(events.c.seq == sa.bindparam("b_seq"))
                         .values(body=sa.bindparam("b_body"), content_hash=sa.bindparam("b_hash")), updates)
        if moved:
            conn.execute(projections.dialect_insert(conn, db.parked).on_conflict_do_nothing(
                index_elements=["centre_id", "event_id", "content_hash"]),
                [{name: row[name] for name in db.parked.c.keys() if name != "id"} for row in moved])
            conn.execute(events.delete().where(events.c.seq.in_([row["seq"] for row in moved])))
            moved_centres.update(row["centre_id"] for row in moved)
    for centre_id in sorted(moved_centres):
        _recount(conn, centre_id)
    _clean_conflicts(conn)


@lru_cache(maxsize=1024)
def _bounds(window: Window, received_at: str) -> tuple[str, str]:
    """window.bounds, for the many rows of one batch (one time received)."""
    return window.bounds(received_at)


def _recount(conn: Connection, centre_id: str) -> None:
    mark = db.param_mark(conn)
    conn.exec_driver_sql(f"DELETE FROM event_counts WHERE centre_id = {mark}", (centre_id,))
    conn.exec_driver_sql(
        "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
        f"SELECT centre_id, type, count(*), min(occurred_at), max(occurred_at) FROM events "
        f"WHERE centre_id = {mark} GROUP BY centre_id, type", (centre_id,))


def _clean_conflicts(conn: Connection) -> None:
    conflicts, last = db.conflicts, 0
    while True:
        chunk = conn.execute(sa.select(conflicts.c.id, conflicts.c.body, conflicts.c.content_hash)
                             .where(conflicts.c.id > last).order_by(conflicts.c.id).limit(_CLEAN_CHUNK)).all()
        if not chunk:
            break
        last = chunk[-1].id
        updates = []
        for conflict_id, body, content_hash in chunk:
            rebuilt = _rebuilt_text(body, content_hash)
            if rebuilt is not None:
                updates.append({"b_id": conflict_id, "b_body": rebuilt[0], "b_hash": rebuilt[1]})
        if updates:
            conn.execute(conflicts.update().where(conflicts.c.id == sa.bindparam("b_id"))
                         .values(body=sa.bindparam("b_body"), content_hash=sa.bindparam("b_hash")), updates)
    crowded = conn.execute(sa.select(conflicts.c.centre_id, conflicts.c.device_id)
                           .group_by(conflicts.c.centre_id, conflicts.c.device_id)
                           .having(sa.func.count() > MAX_KEPT_PER_DEVICE)).all()
    for centre_id, device_id in crowded:
        device = conflicts.c.device_id.is_(None) if device_id is None else conflicts.c.device_id == device_id
        beyond = conn.execute(sa.select(conflicts.c.id).where(conflicts.c.centre_id == centre_id, device)
                              .order_by(conflicts.c.id).offset(MAX_KEPT_PER_DEVICE)).scalars().all()
        conn.execute(conflicts.delete().where(conflicts.c.id.in_(beyond)))
