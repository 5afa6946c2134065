"""Ingest one batch, one way whatever the batch: ``prepare`` checks the
parsed body with sync.protocol and builds its rows (``Batch``), before any
database work; ``write`` stores it in the caller's transaction: each event
once, replays answered as duplicates, conflicts set aside, then
federation.projections folds the new events into the reporting tables.

Set-based, so a batch of 1,000 events costs a handful of statements: one
multi-row ``INSERT … ON CONFLICT DO NOTHING`` a thousand events, a look-up
of the ids not inserted (a replay), then a statement or two per projection
for the newly stored events only (a replay changes nothing).

What is stored is what sync.protocol allows, rebuilt from the checked fields
alone: an unknown field is dropped (the answer names it), an event naming
personal data is refused. An event that occurred outside the hub's
``Window`` is not stored but parked (the parked table) with its reason, for
the federation to review; conflicts and parked events are kept up to
``MAX_KEPT_PER_DEVICE`` a device, so no token can fill the disk with them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from itertools import chain
from operator import itemgetter

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
        earliest = (
            received.replace(year=year, day=28)
            if (received.month, received.day) == (2, 29)
            else received.replace(year=year)
        )
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


#: the events table's columns, in the order of a Batch's rows
EVENT_COLUMNS = (
    "centre_id",
    "event_id",
    "type",
    "occurred_at",
    "received_at",
    "device_id",
    "member_id",
    "body",
    "content_hash",
)


@dataclass
class Batch:
    """A batch checked and ready to write: what ``prepare`` makes of a
    parsed body (the only other shape a batch takes), before any database
    work. ``rows`` are the valid events within the window, each id once, as
    tuples in EVENT_COLUMNS order, with ``events`` (each one rebuilt from
    its allowed fields) and ``indexes`` (its place in the batch) beside
    them; ``parked`` the valid events outside the window, as dicts of the
    parked table's columns with their reason."""

    centre_id: str
    device_id: str | None
    received_at: str
    rows: list[tuple] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    parked: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    #: later copies of an id sent twice, each rebuilt (conflicts if their content differs)
    repeats: list[dict] = field(default_factory=list)


def ingest(
    conn: Connection,
    body: object,
    centre_id: str,
    device_id: str | None,
    received_at: str,
    max_events: int = protocol.MAX_EVENTS_PER_BATCH,
    window: Window = DEFAULT_WINDOW,
) -> Answer:
    """Prepare and write a batch in the caller's transaction."""
    return write(conn, prepare(body, centre_id, device_id, received_at, max_events, window))


def prepare(
    body: object,
    centre_id: str,
    device_id: str | None,
    received_at: str,
    max_events: int = protocol.MAX_EVENTS_PER_BATCH,
    window: Window = DEFAULT_WINDOW,
) -> Batch:
    """Check a parsed batch for ``centre_id`` (the token's centre, never the
    body's) with ``protocol.check_batch`` and build its rows, each event
    rebuilt from its allowed fields; set aside the events outside
    ``window``. Raises ProtocolError for a bad envelope. Pure CPU work, done
    before taking the database's write lock."""
    repeats: list[dict] = []
    valid, rejected, dropped = protocol.check_batch(body, max_events=max_events, repeats=repeats)
    assert isinstance(body, dict)  # check_batch raised for any other envelope
    _check_identity(body, centre_id, device_id)
    earliest, latest = window.bounds(received_at)
    sent = body["events"]
    batch = Batch(centre_id, device_id, received_at, rejected=rejected, dropped=dropped, repeats=repeats)
    index_of = _first_indexes(sent) if len(valid) != len(sent) else None
    sha256, canonical_bytes, utc_text = hashlib.sha256, protocol.canonical_bytes, protocol.utc_text
    for position, event in enumerate(valid):
        kind, data = event["type"], event["data"]
        occurred_at = utc_text(event["occurred_at"])  # checked already: kiosks' text comes back as it is
        text = canonical_bytes(event)
        row = (
            centre_id,
            event["id"],
            kind,
            occurred_at,
            received_at,
            device_id,
            data.get("member_id") if kind.startswith("member.") else None,
            text.decode(),
            sha256(text).hexdigest(),
        )
        index = position if index_of is None else index_of[event["id"]]
        if earliest <= occurred_at <= latest:
            batch.rows.append(row)
            batch.events.append(event)
            batch.indexes.append(index)
            continue
        reason = (
            f"occurred_at: {event['occurred_at']} is outside this hub's window "
            f"({earliest} to {latest}): parked for the federation to review"
        )
        batch.parked.append(dict(zip(EVENT_COLUMNS, row, strict=True), reason=reason))
        batch.rejected.append({"id": event["id"], "index": index, "field": "occurred_at", "reason": reason})
    return batch


def write(conn: Connection, batch: Batch) -> Answer:
    """Store a prepared batch in the caller's transaction: new events (one
    INSERT a thousand rows, tried once: the database says which went in),
    replays answered as duplicates, conflicts kept aside, the parked events
    kept, then the counts and the projections for the new events only."""
    answer = Answer(rejected=list(batch.rejected), dropped=list(batch.dropped))
    centre_id = batch.centre_id
    _serialise_centre(conn, centre_id)
    _park(conn, batch.parked)
    inserted = _insert_events(conn, batch.rows)
    if len(inserted) == len(batch.rows):  # all new: nearly always
        new: list[int] | range = range(len(batch.rows))
    else:
        new = [i for i, row in enumerate(batch.rows) if row[1] in inserted]
    answer.stored = [batch.rows[i][1] for i in new]
    if len(new) != len(batch.rows) or batch.repeats:
        _set_aside(conn, batch, inserted, answer)
    answer.rejected.sort(key=_INDEX)
    _count_events(conn, centre_id, [batch.rows[i][2] for i in new], [batch.rows[i][3] for i in new])
    projections.update(conn, centre_id, [(batch.rows[i][3], batch.events[i]) for i in new])
    return answer


_INDEX = itemgetter("index")


def _set_aside(conn: Connection, batch: Batch, inserted: set[str], answer: Answer) -> None:
    """The rows not inserted: each a replay (answered as a duplicate) or a
    conflict (kept aside, refused), and an id sent twice with two contents
    (its later copy kept aside)."""
    rows = [
        dict(zip(EVENT_COLUMNS, row, strict=True), index=index)
        for row, index in zip(batch.rows, batch.indexes, strict=True)
    ]
    others = [row for row in rows if row["event_id"] not in inserted]
    answer.duplicates, conflicting = _split_replays(conn, batch.centre_id, others)
    kept_aside = conflicting + _in_batch_conflicts(batch.repeats, {row["event_id"]: row for row in rows})
    _keep_conflicts(conn, kept_aside, batch.received_at)
    answer.rejected += [
        {
            "id": row["event_id"],
            "index": row["index"],
            "field": "id",
            "reason": "conflict: the hub already holds another content for this event id",
        }
        for row in conflicting
    ]
    # a conflicting copy of an erased member's event must not keep its
    # attributes (a member erased by this batch: projections.update redacts it)
    projections.redact_erased(
        conn, batch.centre_id, {row["member_id"] for row in kept_aside if row["member_id"]}
    )


def _serialise_centre(conn: Connection, centre_id: str) -> None:
    """One batch of a centre at a time. SQLite's write lock already says so;
    on PostgreSQL two devices of a centre could otherwise write at once, and
    a projection that reads another (a member's months and attributes, read
    to count the periods' participants) would miss the other batch's
    uncommitted rows. Batches of
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


#: rows a multi-row INSERT carries: 9 parameters each stays far below SQLite's
#: 32,766 and PostgreSQL's 65,535 parameters a statement
_ROWS_PER_INSERT = 1000
_EVENT_ID = itemgetter(1)


@lru_cache(maxsize=16)
def _insert_sql(dialect: str, mark: str, rows: int) -> str:
    """One statement inserting the rows whose (centre_id, event_id) is new,
    its row count the events it stored. SQLite: events holds the unique key.
    PostgreSQL: events is partitioned by month, so the key is taken in
    event_keys (store.stored_keys) and the events whose key went in follow,
    in the same statement."""
    one_row = "(" + ", ".join([mark] * len(EVENT_COLUMNS)) + ")"
    values = ", ".join([one_row] * rows)
    columns = ", ".join(EVENT_COLUMNS)
    if dialect != "postgresql":
        return f"INSERT INTO events ({columns}) VALUES {values} ON CONFLICT (centre_id, event_id) DO NOTHING"
    return (
        f"WITH sent ({columns}) AS (VALUES {values}), "
        "new AS (INSERT INTO event_keys (centre_id, event_id, content_hash) "
        "SELECT centre_id, event_id, content_hash FROM sent "
        "ON CONFLICT (centre_id, event_id) DO NOTHING RETURNING event_id) "
        f"INSERT INTO events ({columns}) SELECT sent.* FROM sent JOIN new USING (event_id)"
    )


def _insert_events(conn: Connection, rows: list[tuple]) -> set[str]:
    """Insert what is new, a multi-row INSERT … ON CONFLICT DO NOTHING a
    thousand rows, each tried once; the ids actually inserted, as the
    database says. A chunk whose every row went in (its row count says so:
    nearly always) needs nothing more; when some were held already, the
    rows it wrote are the centre's rows numbered after the last ``seq``
    before it (one batch of a centre at a time: _serialise_centre), cheaper
    than a RETURNING row for every event of every batch.

    Rows go in event id order: the same order in every transaction, so two
    batches sharing ids wait for each other instead of deadlocking
    (PostgreSQL); kiosks send their time-ordered ids in order, which the
    sort only checks."""
    rows = sorted(rows, key=_EVENT_ID)
    mark = db.param_mark(conn)
    inserted: set[str] = set()
    driver = conn.connection.dbapi_connection
    assert driver is not None  # only a closed pool connection has none
    cursor = driver.cursor()
    try:
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            cursor.execute("SELECT coalesce(max(seq), 0) FROM events")
            (last_seq,) = cursor.fetchone() or (0,)  # an aggregate: always one row
            cursor.execute(
                _insert_sql(conn.dialect.name, mark, len(chunk)), tuple(chain.from_iterable(chunk))
            )
            if cursor.rowcount == len(chunk):
                inserted.update(map(_EVENT_ID, chunk))
            else:
                cursor.execute(
                    f"SELECT event_id FROM events WHERE centre_id = {mark} AND seq > {mark}",
                    (chunk[0][0], last_seq),
                )
                inserted.update(event_id for (event_id,) in cursor.fetchall())
    finally:
        cursor.close()
    return inserted


_COUNT_UPSERT = (
    "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
    "VALUES ({m}, {m}, {m}, {m}, {m}) ON CONFLICT (centre_id, type) DO UPDATE SET "
    "events = event_counts.events + excluded.events, "
    "first_occurred_at = CASE WHEN excluded.first_occurred_at < event_counts.first_occurred_at "
    "THEN excluded.first_occurred_at ELSE event_counts.first_occurred_at END, "
    "last_occurred_at = CASE WHEN excluded.last_occurred_at > event_counts.last_occurred_at "
    "THEN excluded.last_occurred_at ELSE event_counts.last_occurred_at END"
)


def _count_events(conn: Connection, centre_id: str, types: list[str], times: list[str]) -> None:
    """Add the newly stored events (their types and times) to the
    per-(centre, type) rollup: one row a type, whatever the batch's size."""
    if not types:
        return
    by_type: dict[str, list] = {}
    for kind, at in zip(types, times, strict=True):
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
    conn.exec_driver_sql(
        _COUNT_UPSERT.format(m=mark),
        [(centre_id, kind, n, first, last) for kind, (n, first, last) in sorted(by_type.items())],
    )


def _split_replays(conn: Connection, centre_id: str, rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Ids already held: a replay (same content) or a conflict (other content)."""
    if not rows:
        return [], []
    keys = db.stored_keys(conn).c
    held = dict(
        conn.execute(
            sa.select(keys.event_id, keys.content_hash).where(
                keys.centre_id == centre_id, keys.event_id.in_([row["event_id"] for row in rows])
            )
        ).all()
    )
    duplicates, conflicting = [], []
    for row in rows:
        if held.get(row["event_id"]) == row["content_hash"]:
            duplicates.append(row["event_id"])
        else:
            conflicting.append(dict(row, stored_hash=held.get(row["event_id"], "")))
    return duplicates, conflicting


def _in_batch_conflicts(repeats: list[dict], by_id: dict[str, dict]) -> list[dict]:
    """A batch holding one id twice with different contents: the first copy
    was processed, the later ones (``repeats``, each rebuilt from its
    allowed fields by the batch's check) are kept aside as conflicts."""
    found = []
    for event in repeats:
        first = by_id.get(event["id"])
        if first is None:  # the first copy was parked
            continue
        text = protocol.canonical_bytes(event)
        digest = hashlib.sha256(text).hexdigest()
        if digest != first["content_hash"]:
            found.append(
                dict(first, body=text.decode(), content_hash=digest, stored_hash=first["content_hash"])
            )
    return found


def _room(conn: Connection, table: sa.Table, centre_id: str, device_id: str | None) -> int:
    """How many more rows ``table`` (conflicts, parked) may keep for a device."""
    c = table.c
    held = conn.execute(
        sa.select(sa.func.count())
        .select_from(table)
        .where(
            c.centre_id == centre_id, c.device_id.is_(None) if device_id is None else c.device_id == device_id
        )
    ).scalar_one()
    return max(0, MAX_KEPT_PER_DEVICE - held)


def _kept(conn: Connection, table: sa.Table, rows: list[dict]) -> list[dict]:
    """``rows`` cut to what ``table`` may still keep for their device."""
    room = _room(conn, table, rows[0]["centre_id"], rows[0]["device_id"])
    if room < len(rows):
        log.warning(
            "device %s: %d %s rows not kept, its limit of %d is reached",
            rows[0]["device_id"],
            len(rows) - room,
            table.name,
            MAX_KEPT_PER_DEVICE,
        )
    return rows[:room]


def _park(conn: Connection, parked: list[dict]) -> None:
    """Keep the events outside the window, each content once, with the reason."""
    if not parked:
        return
    rows = _kept(conn, db.parked, parked)
    if rows:
        statement = projections.dialect_insert(conn, db.parked).on_conflict_do_nothing(
            index_elements=["centre_id", "event_id", "content_hash"]
        )
        conn.execute(
            statement,
            [
                {
                    "centre_id": row["centre_id"],
                    "event_id": row["event_id"],
                    "device_id": row["device_id"],
                    "type": row["type"],
                    "occurred_at": row["occurred_at"],
                    "received_at": row["received_at"],
                    "member_id": row["member_id"],
                    "reason": row["reason"][:300],
                    "body": row["body"],
                    "content_hash": row["content_hash"],
                }
                for row in rows
            ],
        )
    # a parked copy of an erased member's event must not keep its attributes
    projections.redact_erased(
        conn, parked[0]["centre_id"], {row["member_id"] for row in parked if row["member_id"]}
    )


def _keep_conflicts(conn: Connection, rows: list[dict], received_at: str) -> None:
    """Record each conflicting content once, however often it is resent,
    up to MAX_KEPT_PER_DEVICE a device."""
    if not rows:
        return
    known = set(
        map(
            tuple,
            conn.execute(
                sa.select(db.conflicts.c.event_id, db.conflicts.c.content_hash).where(
                    db.conflicts.c.centre_id == rows[0]["centre_id"],
                    db.conflicts.c.event_id.in_({row["event_id"] for row in rows}),
                )
            ),
        )
    )
    fresh = []
    for row in rows:
        key = (row["event_id"], row["content_hash"])
        if key not in known:
            known.add(key)
            fresh.append(
                {
                    "centre_id": row["centre_id"],
                    "event_id": row["event_id"],
                    "device_id": row["device_id"],
                    "received_at": received_at,
                    "body": row["body"],
                    "content_hash": row["content_hash"],
                    "stored_hash": row["stored_hash"],
                }
            )
    if fresh:
        fresh = _kept(conn, db.conflicts, fresh)
    if fresh:
        conn.execute(db.conflicts.insert(), fresh)
