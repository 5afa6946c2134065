"""Ingest one batch: validate, store each event once, set aside conflicts,
update the reporting projections — all in the caller's transaction.

Set-based so a batch of 1,000 events costs a handful of statements: one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING event_id``, one look-up
of the ids not inserted, then one executemany upsert per projection, for the
newly stored events only (a replay changes nothing).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from federation import store as db
from sync import protocol

PARIS = ZoneInfo("Europe/Paris")
MEMBER_ATTRIBUTE_EVENTS = ("member.created", "member.updated")


@dataclass
class Answer:
    """What the hub says of a batch; every sent id is in exactly one list."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "protocol": protocol.PROTOCOL_VERSION,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass
class Prepared:
    """A batch checked and turned into rows, before any database work."""

    centre_id: str
    received_at: str
    body: dict
    valid: list[dict]
    rejected: list[dict]
    rows: list[dict]


def prepare(body: object, centre_id: str, device_id: str | None, received_at: str,
            max_events: int = protocol.MAX_EVENTS_PER_BATCH) -> Prepared:
    """Validate a parsed batch for ``centre_id`` (the token's centre, never
    the body's) and build its rows. Raises ProtocolError for a bad envelope.
    Pure CPU work, done before taking the database's write lock."""
    valid, rejected = protocol.validate_batch(body, max_events=max_events)
    _check_identity(body, centre_id, device_id)
    index_of = _first_indexes(body["events"])
    rows = [_event_row(event, centre_id, device_id, received_at, index_of[event["id"]], position)
            for position, event in enumerate(valid)]
    return Prepared(centre_id, received_at, body, valid, rejected, rows)


def ingest(conn: Connection, body: object, centre_id: str, device_id: str | None,
           received_at: str, max_events: int = protocol.MAX_EVENTS_PER_BATCH) -> Answer:
    """Prepare and write a batch in the caller's transaction."""
    return write(conn, prepare(body, centre_id, device_id, received_at, max_events))


def write(conn: Connection, batch: Prepared) -> Answer:
    """Store a prepared batch in the caller's transaction: new events, replays
    answered as duplicates, conflicts kept aside, projections updated."""
    answer = Answer(rejected=list(batch.rejected))
    rows, centre_id = batch.rows, batch.centre_id
    if not rows:
        return answer
    inserted = _insert_events(conn, rows)
    by_id = {row["event_id"]: row for row in rows}
    answer.stored = [row["event_id"] for row in rows if row["event_id"] in inserted]
    others = [row for row in rows if row["event_id"] not in inserted]
    answer.duplicates, conflicting = _split_replays(conn, centre_id, others)
    kept_aside = conflicting + _in_batch_conflicts(batch.body, by_id)
    _keep_conflicts(conn, kept_aside, batch.received_at)
    answer.rejected += [
        {"id": row["event_id"], "index": row["index"],
         "reason": "conflict: the hub already holds another content for this event id"}
        for row in conflicting
    ]
    answer.rejected.sort(key=lambda item: item["index"])
    new_events = [(by_id[event_id], batch.valid[by_id[event_id]["position"]]) for event_id in answer.stored]
    update_projections(conn, centre_id, new_events)
    # a conflicting copy of an erased member's event must not keep its attributes
    _redact_erased(conn, centre_id, {row["member_id"] for row in kept_aside if row["member_id"]})
    return answer


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


def _event_row(event: dict, centre_id: str, device_id: str | None, received_at: str,
               index: int = 0, position: int = 0) -> dict:
    """The events row of a valid event, with its place in the batch
    (``index``) and among the valid events (``position``)."""
    text = protocol.canonical_json(event)
    kind = event["type"]
    member_id = event["data"].get("member_id") if kind.startswith("member.") else None
    return {
        "index": index,
        "position": position,
        "centre_id": centre_id,
        "event_id": event["id"],
        "type": kind,
        "occurred_at": normalised_time(event["occurred_at"]),
        "received_at": received_at,
        "device_id": device_id,
        "member_id": member_id,
        "body": text,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }


_UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def normalised_time(text: str) -> str:
    """A valid protocol time as utc_iso text, so times sort as text whatever
    offset the kiosk wrote (kiosks write utc_iso already: kept as is)."""
    if _UTC_ISO.fullmatch(text):
        return text
    return protocol.utc_iso(protocol.parse_utc(text))


def _dialect_insert(conn: Connection, table: sa.Table):
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


# Statements compiled once per dialect with named parameters, then run
# through the driver's executemany: SQLAlchemy's per-row parameter handling
# costed more than the inserts themselves on batches of 1,000.
_POSITIONAL_DIALECTS = {"sqlite": sqlite.dialect(paramstyle="qmark"),
                        "postgresql": postgresql.psycopg.dialect(paramstyle="format")}
_compiled: dict[tuple[str, str], tuple[str, Callable]] = {}


def _executemany(conn: Connection, key: str, build, rows: list[dict]) -> None:
    """Run the statement ``build(conn)`` (cached as ``key``) for each row dict."""
    if not rows:
        return
    name = conn.dialect.name
    found = _compiled.get((key, name))
    if found is None:
        compiled = build(conn).compile(dialect=_POSITIONAL_DIALECTS[name])
        names = compiled.positiontup
        # itemgetter of one name returns the value, not a tuple of it
        getter = itemgetter(*names) if len(names) > 1 else (lambda row, _n=names[0]: (row[_n],))
        found = _compiled[(key, name)] = (str(compiled), getter)
    sql, getter = found
    conn.exec_driver_sql(sql, [getter(row) for row in rows])


_EVENT_COLUMNS = ("centre_id", "event_id", "type", "occurred_at", "received_at",
                  "device_id", "member_id", "body", "content_hash")
#: rows a multi-row INSERT carries: 9 parameters each stays far below SQLite's
#: 32,766 and PostgreSQL's 65,535 parameters a statement
_ROWS_PER_INSERT = 1000


def _insert_events(conn: Connection, rows: list[dict]) -> set[str]:
    """Insert what is new with multi-row INSERT … ON CONFLICT DO NOTHING
    RETURNING; return the ids actually inserted."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    one_row = "(" + ", ".join([mark] * len(_EVENT_COLUMNS)) + ")"
    inserted: set[str] = set()
    # the same order in every transaction, so two batches sharing ids wait
    # for each other instead of deadlocking (PostgreSQL)
    rows = sorted(rows, key=lambda row: row["event_id"])
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        sql = (f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES "
               + ", ".join([one_row] * len(chunk))
               + " ON CONFLICT (centre_id, event_id) DO NOTHING RETURNING event_id")
        params = tuple(row[name] for row in chunk for name in _EVENT_COLUMNS)
        inserted.update(event_id for (event_id,) in conn.exec_driver_sql(sql, params))
    return inserted


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
        first = by_id.get(event.get("id")) if isinstance(event, dict) else None
        if first is None:
            continue
        if event["id"] not in seen_first:
            seen_first.add(event["id"])
            continue
        text = protocol.canonical_json(event)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest != first["content_hash"]:
            found.append(dict(first, body=text, content_hash=digest, stored_hash=first["content_hash"]))
    return found


def _keep_conflicts(conn: Connection, rows: list[dict], received_at: str) -> None:
    """Record each conflicting content once, however often it is resent."""
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
        conn.execute(db.conflicts.insert(), fresh)


# ---------------------------------------------------------------- projections

def paris_day(occurred_at: str) -> str:
    """The Europe/Paris calendar date of a normalised UTC time ('…Z'), as
    'YYYY-MM-DD'. Paris is a whole number of hours off UTC, so the UTC hour
    decides the day: cached on it."""
    return _paris_day_of_hour(occurred_at[:13])


@lru_cache(maxsize=8192)
def _paris_day_of_hour(utc_hour: str) -> str:
    moment = datetime.fromisoformat(utc_hour + ":00:00+00:00")
    return moment.astimezone(PARIS).date().isoformat()


def update_projections(conn: Connection, centre_id: str, new_events: list[tuple[dict, dict]]) -> None:
    """Fold newly stored events into the reporting tables. ``new_events`` is
    (stored row, event) pairs; each upsert keeps the latest ``as_of``."""
    by_type: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for row, event in new_events:
        by_type[event["type"]].append((row, event))
    _project_visits(conn, centre_id, by_type.pop("visit.recorded", []))
    erased = by_type.pop("member.erased", [])
    member_events = by_type.pop("member.created", []) + by_type.pop("member.updated", [])
    _project_members(conn, centre_id, member_events)
    _project_erasures(conn, centre_id, erased)
    _redact_erased(conn, centre_id, {event["data"]["member_id"] for _, event in member_events + erased})
    for kind, pairs in by_type.items():
        _PROJECTORS[kind](conn, centre_id, pairs)


def _project_visits(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    if not pairs:
        return
    visits, counts = [], Counter()
    for row, event in pairs:
        data, day = event["data"], paris_day(row["occurred_at"])
        visits.append({
            "centre_id": centre_id, "visit_id": data["visit_id"], "member_id": data.get("member_id"),
            "day": day, "reason": data["reason"], "recorded_by": data["recorded_by"],
            "as_of": row["occurred_at"],
        })
        counts[(day, data["reason"], data["recorded_by"])] += 1
    _executemany(conn, "p_visits", lambda c: _dialect_insert(c, db.p_visits).on_conflict_do_nothing(
        index_elements=["centre_id", "visit_id"]), visits)
    _executemany(conn, "p_visit_counts", _count_upsert, [
        {"centre_id": centre_id, "day": day, "reason": reason, "recorded_by": by, "visits": n}
        for (day, reason, by), n in sorted(counts.items())  # one lock order: no deadlock
    ])


def _count_upsert(conn: Connection):
    upsert = _dialect_insert(conn, db.p_visit_counts)
    return upsert.on_conflict_do_update(
        index_elements=["centre_id", "day", "reason", "recorded_by"],
        set_={"visits": db.p_visit_counts.c.visits + upsert.excluded.visits},
    )


def _upsert_latest(conn: Connection, table: sa.Table, keys: list[str], rows: list[dict],
                   extra_set=None, extra_where=None, or_where=None) -> None:
    """Insert rows, or overwrite the held row when the event is not older.
    ``extra_set(excluded)`` overrides some columns' new values; ``extra_where``
    must also hold for an overwrite; ``or_where`` allows one anyway."""
    if not rows:
        return
    statement = _dialect_insert(conn, table)
    excluded = statement.excluded
    set_ = {name: excluded[name] for name in rows[0] if name not in keys}
    set_.update(extra_set(statement.excluded) if extra_set else {})
    where = excluded.as_of >= table.c.as_of
    if or_where is not None:
        where = sa.or_(where, or_where)
    if extra_where is not None:
        where = sa.and_(where, extra_where)
    # one shape of statement per table, so it is compiled once; rows in key
    # order so concurrent batches lock in the same order. The upsert keeps
    # the latest as_of, so the order of rows within a batch does not matter.
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    _executemany(conn, f"latest:{table.name}",
                 lambda _c: statement.on_conflict_do_update(index_elements=keys, set_=set_, where=where), rows)


def _project_members(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    if not pairs:
        return
    rows = []
    for row, event in pairs:
        data = event["data"]
        rows.append({
            "centre_id": centre_id, "member_id": data["member_id"], "age_band": data["age_band"],
            "gender": data.get("gender"), "commune": data.get("commune"),
            "neighbourhood": data.get("neighbourhood"), "qpv": data["qpv"],
            "created_day": paris_day(row["occurred_at"]) if event["type"] == "member.created" else None,
            "erased_at": None, "as_of": row["occurred_at"],
        })
    members = db.p_members
    # an erased member stays erased; the newest attributes win otherwise
    _upsert_latest(conn, members, ["centre_id", "member_id"], rows,
                   extra_set=lambda ex: {"created_day": sa.func.coalesce(ex.created_day, members.c.created_day)},
                   extra_where=members.c.erased_at.is_(None))
    # member.created may arrive after a newer update: it still gives the day
    created = [{"b_centre": centre_id, "b_member": r["member_id"], "b_day": r["created_day"]}
               for r in rows if r["created_day"]]
    _executemany(conn, "p_members.created_day", lambda _c: (
        members.update()
        .where(members.c.centre_id == sa.bindparam("b_centre"),
               members.c.member_id == sa.bindparam("b_member"),
               members.c.created_day.is_(None))
        .values(created_day=sa.bindparam("b_day"))), created)


def _project_erasures(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    """Erasure wins whatever the order: attributes gone, the row (and counts) kept."""
    if not pairs:
        return
    rows = [{
        "centre_id": centre_id, "member_id": event["data"]["member_id"], "age_band": "unknown",
        "gender": None, "commune": None, "neighbourhood": None, "qpv": None,
        "created_day": None, "erased_at": row["occurred_at"], "as_of": row["occurred_at"],
    } for row, event in pairs]
    statement = _dialect_insert(conn, db.p_members)
    members, excluded = db.p_members, statement.excluded
    conn.execute(statement.on_conflict_do_update(
        index_elements=["centre_id", "member_id"],
        set_={
            "age_band": "unknown", "gender": None, "commune": None, "neighbourhood": None, "qpv": None,
            "erased_at": sa.func.coalesce(members.c.erased_at, excluded.erased_at),
            "as_of": sa.case((excluded.as_of > members.c.as_of, excluded.as_of), else_=members.c.as_of),
        },
    ), rows)


def _redact_erased(conn: Connection, centre_id: str, member_ids: set[str]) -> None:
    """Strip an erased member's attributes from the stored event bodies too
    (the content hash stays, so a replay is still recognised as one)."""
    if not member_ids:
        return
    erased = conn.execute(sa.select(db.p_members.c.member_id).where(
        db.p_members.c.centre_id == centre_id,
        db.p_members.c.member_id.in_(member_ids),
        db.p_members.c.erased_at.is_not(None),
    )).scalars().all()
    if not erased:
        return
    events = db.events
    held = conn.execute(sa.select(events.c.seq, events.c.body).where(
        events.c.centre_id == centre_id, events.c.member_id.in_(erased),
        events.c.type.in_(MEMBER_ATTRIBUTE_EVENTS),
    )).all()
    updates = []
    for seq, body in held:
        event = json.loads(body)
        if event["data"].get("redacted"):
            continue
        event["data"] = {"member_id": event["data"]["member_id"], "redacted": True}
        updates.append({"b_seq": seq, "b_body": protocol.canonical_json(event)})
    if updates:
        conn.execute(events.update().where(events.c.seq == sa.bindparam("b_seq"))
                     .values(body=sa.bindparam("b_body")), updates)
    _redact_conflicts(conn, centre_id, erased)


def _redact_conflicts(conn: Connection, centre_id: str, member_ids: list[str]) -> None:
    """Conflicting copies of an erased member's events lose the attributes too.
    Conflicts are rare, so a text search over this centre's is cheap enough."""
    conflicts = db.conflicts
    for member_id in member_ids:
        held = conn.execute(sa.select(conflicts.c.id, conflicts.c.body).where(
            conflicts.c.centre_id == centre_id,
            conflicts.c.body.contains(f'"member_id":"{member_id}"', autoescape=True),
        )).all()
        for conflict_id, body in held:
            event = json.loads(body)
            if event.get("type") in MEMBER_ATTRIBUTE_EVENTS and not event["data"].get("redacted"):
                event["data"] = {"member_id": member_id, "redacted": True}
                conn.execute(conflicts.update().where(conflicts.c.id == conflict_id)
                             .values(body=protocol.canonical_json(event)))


def _project_workshops(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    _upsert_latest(conn, db.p_workshops, ["centre_id", "workshop_id"], [{
        "centre_id": centre_id, "workshop_id": event["data"]["workshop_id"],
        "title": event["data"]["title"], "theme": event["data"]["theme"],
        "place": event["data"].get("place"), "as_of": row["occurred_at"],
    } for row, event in pairs])


def _project_sessions(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    sessions = db.p_sessions
    _upsert_latest(conn, sessions, ["centre_id", "session_id"], [{
        "centre_id": centre_id, "session_id": event["data"]["session_id"],
        "workshop_id": event["data"]["workshop_id"],
        "starts_at": normalised_time(event["data"]["starts_at"]),
        "ends_at": normalised_time(event["data"]["ends_at"]),
        "capacity": event["data"]["capacity"], "cancelled": False, "as_of": row["occurred_at"],
    } for row, event in pairs],
        # a cancellation is final, whichever event arrives first; one that
        # arrived before its session.created left the attributes to fill in
        extra_set=lambda ex: {"cancelled": sessions.c.cancelled},
        or_where=sessions.c.workshop_id.is_(None))


def _project_cancellations(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    if not pairs:
        return
    # as_of keeps dating the attributes: the cancellation only sets its flag
    statement = _dialect_insert(conn, db.p_sessions)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["centre_id", "session_id"], set_={"cancelled": True},
    ), [{"centre_id": centre_id, "session_id": event["data"]["session_id"], "cancelled": True,
         "as_of": row["occurred_at"]} for row, event in pairs])


def _project_registrations(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    _upsert_latest(conn, db.p_registrations, ["centre_id", "registration_id"], [{
        "centre_id": centre_id, "registration_id": event["data"]["registration_id"],
        "session_id": event["data"]["session_id"], "member_id": event["data"]["member_id"],
        "status": event["data"]["status"], "as_of": row["occurred_at"],
    } for row, event in pairs])


def _project_attendance(conn: Connection, centre_id: str, pairs: list[tuple[dict, dict]]) -> None:
    _upsert_latest(conn, db.p_attendance, ["centre_id", "attendance_id"], [{
        "centre_id": centre_id, "attendance_id": event["data"]["attendance_id"],
        "session_id": event["data"]["session_id"], "member_id": event["data"].get("member_id"),
        "present": event["data"]["present"], "walk_in": event["data"]["walk_in"],
        "as_of": row["occurred_at"],
    } for row, event in pairs])


_PROJECTORS = {
    "workshop.created": _project_workshops,
    "workshop.updated": _project_workshops,
    "session.created": _project_sessions,
    "session.updated": _project_sessions,
    "session.cancelled": _project_cancellations,
    "registration.changed": _project_registrations,
    "attendance.taken": _project_attendance,
}
