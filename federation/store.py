"""The hub's database: tables, engine creation, versioned schema.

One code path for SQLite (the default, a file in WAL mode) and PostgreSQL
(``postgresql://`` or ``postgresql+psycopg://``, driven by psycopg 3), through
SQLAlchemy Core. The hub process keeps no state of its own: everything is in
these tables, so several processes can serve one PostgreSQL.

Conventions other modules rely on (the dashboard's report queries read them):

* Times are ISO 8601 UTC text with a 'Z' (``sync.protocol.utc_iso``): they sort
  and compare as text on both databases.
* ``day`` columns are the Europe/Paris local date of the event, 'YYYY-MM-DD'.
* Projection rows carry ``as_of``, the ``occurred_at`` of the event that last
  set them: the later event wins whatever the order of arrival.
* An erased member keeps its row in ``p_members`` (so counts hold) with
  ``age_band`` 'unknown', ``gender``/``commune``/``neighbourhood`` NULL,
  ``qpv`` NULL (unknown, not "no") and ``erased_at`` set; later updates of
  that member are ignored.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import weakref
from datetime import datetime, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync import protocol
from sync.sqlite import enable_wal

DEFAULT_DB_URL = "sqlite:///federation.db"
SQLITE_BUSY_TIMEOUT_MS = 5_000

metadata = sa.MetaData()



def _id(name: str, *args, **kw) -> sa.Column:
    """A UUID, as its lowercase text."""
    return sa.Column(name, sa.String(36), *args, **kw)


def _time(name: str, **kw) -> sa.Column:
    """A moment, as ISO 8601 UTC text."""
    return sa.Column(name, sa.String(32), **kw)


# ---------------------------------------------------------------- centres, devices

centres = sa.Table(
    "centres", metadata,
    _id("id", primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    _time("created_at", nullable=False),
)

devices = sa.Table(
    "devices", metadata,
    _id("id", primary_key=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False, index=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    _time("enrolled_at", nullable=False),
    _time("revoked_at"),
    _time("last_seen_at"),
    _time("last_sync_at"),
)

enrolment_codes = sa.Table(
    "enrolment_codes", metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False, index=True),
    _time("created_at", nullable=False),
    _time("expires_at", nullable=False),
    _time("used_at"),
)

# ---------------------------------------------------------------- events

events = sa.Table(
    "events", metadata,
    # BIGINT on PostgreSQL (billions of events over the years); SQLite needs
    # INTEGER for its rowid alias, which is 64-bit anyway
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False),
    _id("event_id", nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    _time("occurred_at", nullable=False),
    _time("received_at", nullable=False),
    _id("device_id"),
    # the member an event is about, so an erasure can find that member's events
    _id("member_id"),
    # sync.protocol.canonical_json of the event as received (redacted on erasure)
    sa.Column("body", sa.Text, nullable=False),
    # sha256 of the canonical text as received: replay vs conflict, even after redaction
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("centre_id", "event_id", name="events_centre_event"),
    # v1 also had an index events_centre_type (centre_id, type), for the counts
    # by type: step 4 replaced it by event_counts, one b-tree less per event
    # only member.* events name a member here: a partial index stays small
    sa.Index("events_centre_member", "centre_id", "member_id",
             sqlite_where=sa.text("member_id IS NOT NULL"), postgresql_where=sa.text("member_id IS NOT NULL")),
)

# schema 4: events stored, by centre and type, added up once per batch at
# ingest (federation.ingest); `federation stats` and GET /api/v1/status read
# it instead of counting the events. Events are never deleted (an erasure
# redacts bodies), so these only ever grow.
event_counts = sa.Table(
    "event_counts", metadata,
    _id("centre_id", primary_key=True),
    sa.Column("type", sa.String(40), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    _time("first_occurred_at", nullable=False),
    _time("last_occurred_at", nullable=False),
)

conflicts = sa.Table(
    "conflicts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False, index=True),
    _id("event_id", nullable=False),
    _id("device_id"),
    _time("received_at", nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("stored_hash", sa.String(64), nullable=False),
)

# schema 5: events that occurred outside the hub's window (federation.ingest
# Window), parked with their reason instead of stored: each content once, at
# most ingest.MAX_KEPT_PER_DEVICE a device. ``occurred_at`` as utc_iso text,
# ``body`` rebuilt from the allowed fields, as events'.
parked = sa.Table(
    "parked", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False),
    _id("event_id", nullable=False),
    _id("device_id"),
    sa.Column("type", sa.String(40), nullable=False),
    _time("occurred_at", nullable=False),
    _time("received_at", nullable=False),
    _id("member_id"),
    sa.Column("reason", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("centre_id", "event_id", "content_hash", name="parked_centre_event_content"),
    sa.Index("parked_centre_device", "centre_id", "device_id"),
)

# ---------------------------------------------------------------- projections

p_visit_counts = sa.Table(
    "p_visit_counts", metadata,
    _id("centre_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("recorded_by", sa.String(16), primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
)

# schema 3: the days each member came, one row a (centre, member, day) however
# many visits that day, and only for visits by a known member (anonymous
# visits are counts only, in p_visit_counts). Keyed by its only columns, so on
# SQLite it is one b-tree (WITHOUT ROWID). It replaced v1's p_visits (a row and
# three b-trees a visit) and answers "did this member come in this period".
p_presence = sa.Table(
    "p_presence", metadata,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sqlite_with_rowid=False,
)

p_members = sa.Table(
    "p_members", metadata,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    sa.Column("age_band", sa.String(16), nullable=False),
    sa.Column("gender", sa.String(16)),
    sa.Column("commune", sa.String(100)),
    sa.Column("neighbourhood", sa.String(100)),
    sa.Column("qpv", sa.Boolean),
    sa.Column("created_day", sa.String(10)),  # NULL until member.created arrives
    _time("erased_at"),
    _time("as_of", nullable=False),
    # schema 3: the member's first and last day in p_presence (NULL: no visit
    # known), kept at ingest, so a period's participants are read from the
    # members alone; only a member whose span straddles the period is looked
    # up in p_presence
    sa.Column("first_visit_day", sa.String(10)),
    sa.Column("last_visit_day", sa.String(10)),
)

p_workshops = sa.Table(
    "p_workshops", metadata,
    _id("centre_id", primary_key=True),
    _id("workshop_id", primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("theme", sa.String(32), nullable=False),
    sa.Column("place", sa.String(200)),
    _time("as_of", nullable=False),
)

p_sessions = sa.Table(
    "p_sessions", metadata,
    _id("centre_id", primary_key=True),
    _id("session_id", primary_key=True),
    _id("workshop_id"),  # NULL if only the cancellation has arrived yet
    _time("starts_at"),
    _time("ends_at"),
    sa.Column("capacity", sa.Integer),
    sa.Column("cancelled", sa.Boolean, nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_sessions_centre_starts", "centre_id", "starts_at"),
)

p_registrations = sa.Table(
    "p_registrations", metadata,
    _id("centre_id", primary_key=True),
    _id("registration_id", primary_key=True),
    _id("session_id", nullable=False),
    _id("member_id", nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_registrations_session", "centre_id", "session_id"),
)

p_attendance = sa.Table(
    "p_attendance", metadata,
    _id("centre_id", primary_key=True),
    _id("attendance_id", primary_key=True),
    _id("session_id", nullable=False),
    _id("member_id"),  # NULL for an anonymous walk-in
    sa.Column("present", sa.Boolean, nullable=False),
    sa.Column("walk_in", sa.Boolean, nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_attendance_session", "centre_id", "session_id"),
)

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    _time("applied_at", nullable=False),
)


# ---------------------------------------------------------------- released shapes

#: Tables as schema version 1 created them, where a later step changed them:
#: step 1 must create exactly what it created when it was released.
_V1_METADATA = sa.MetaData()

p_visits_v1 = sa.Table(
    "p_visits", _V1_METADATA,
    _id("centre_id", primary_key=True),
    _id("visit_id", primary_key=True),
    _id("member_id"),  # NULL for an anonymous visit
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("recorded_by", sa.String(16), nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_visits_centre_day", "centre_id", "day"),
)

p_members_v1 = sa.Table(
    "p_members", _V1_METADATA,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    sa.Column("age_band", sa.String(16), nullable=False),
    sa.Column("gender", sa.String(16)),
    sa.Column("commune", sa.String(100)),
    sa.Column("neighbourhood", sa.String(100)),
    sa.Column("qpv", sa.Boolean),
    sa.Column("created_day", sa.String(10)),
    _time("erased_at"),
    _time("as_of", nullable=False),
)

#: The tables of schema version 1. A later change is a new step in
#: MIGRATIONS (ALTER/CREATE run by hand), never an edit of what v1 created.
_V1_TABLES = [
    centres, devices, enrolment_codes, events, conflicts, p_visit_counts,
    p_workshops, p_sessions, p_registrations, p_attendance,
]


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=_V1_TABLES)
    _V1_METADATA.create_all(conn, tables=[p_visits_v1, p_members_v1])
    conn.exec_driver_sql("CREATE INDEX events_centre_type ON events (centre_id, type)")  # dropped in step 4


def _v2(conn: Connection) -> None:
    # the dashboard's staff accounts and sessions, and the indexes its reports
    # need, are defined beside the code that uses them (imported here, not at
    # the top, because those modules import this one)
    from federation import reports, users

    users.create_tables(conn)
    reports.create_indexes(conn)


def _v3(conn: Connection) -> None:
    # p_visits (a row and three b-trees a visit) gives way to p_presence (one
    # row a member's day) and each member's visit span on p_members
    from federation import projections, reports

    p_presence.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO p_presence (centre_id, member_id, day) "
        "SELECT DISTINCT centre_id, member_id, day FROM p_visits WHERE member_id IS NOT NULL")
    for column in ("first_visit_day", "last_visit_day"):
        conn.exec_driver_sql(f"ALTER TABLE p_members ADD COLUMN {column} VARCHAR(10)")
    projections.refresh_visit_spans(conn)
    reports.create_indexes_v3(conn)
    conn.exec_driver_sql("DROP TABLE p_visits")  # its indexes go with it


def _v4(conn: Connection) -> None:
    # counts by type kept per batch instead of an index on every event
    event_counts.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
        "SELECT centre_id, type, count(*), min(occurred_at), max(occurred_at) FROM events "
        "GROUP BY centre_id, type")
    conn.exec_driver_sql("DROP INDEX events_centre_type")


def _v5(conn: Connection) -> None:
    # what earlier hubs stored is held to today's allow-list: bodies rebuilt
    # from their types' fields (extra fields, personal ones included, gone),
    # events dated outside the window parked, conflicts bounded a device
    from federation import ingest

    parked.create(conn)
    conn.exec_driver_sql("CREATE INDEX conflicts_centre_device ON conflicts (centre_id, device_id)")
    ingest.clean_held(conn)


#: version -> step. Steps run in order inside one transaction each.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5}
LATEST_VERSION = max(MIGRATIONS)


# ---------------------------------------------------------------- engine

class UnsupportedDatabase(ValueError):
    """A database URL the hub cannot use."""


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and pick the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else $FEDERATION_DB, else the default."""
    return url or os.environ.get("FEDERATION_DB") or DEFAULT_DB_URL


def create_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see ``database_url``), SQLite set up for a server."""
    url = normalise_url(database_url(url))
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if not url.startswith("postgresql"):
        raise UnsupportedDatabase(f"unsupported database URL {url!r}: use sqlite:///file.db or postgresql://…")
    # JIT off: the report queries' estimates pass PostgreSQL's jit_above_cost,
    # and compiling them took 390 of the overview's 500 ms at a million events
    # for queries that then run in tens of milliseconds
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"})


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # let SQLAlchemy, not pysqlite, say when a transaction begins (so DDL is
    # transactional too); see _sqlite_begin
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL: dashboard readers never block ingest. FULL: an event the hub said it
    # stored survives a power cut, since the kiosk then marks it sent for good.
    enable_wal(dbapi_conn, SQLITE_BUSY_TIMEOUT_MS / 1000)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A writer asks for the write lock up front (execution option immediate):
    # it then waits on the busy timeout instead of failing half-way.
    immediate = conn.get_execution_options().get("immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock at once on SQLite:
    ``with writer(engine) as conn, conn.begin(): ...``."""
    return engine.connect().execution_options(immediate=True)


_write_turns: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()
_write_turns_guard = threading.Lock()


@contextlib.contextmanager
def write_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, this process's writers take turns on a lock of the engine's
    before asking SQLite for its write lock. Two batches in flight then wait
    for each other on a lock that wakes the next at once, instead of SQLite's
    busy handler, which sleeps 1, 2, 5, 10… ms between tries (a third of a
    batch's time, measured). Other processes still meet SQLite's busy timeout.
    PostgreSQL needs no turn: its writers lock rows, not the database."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _write_turns_guard:
        turn = _write_turns.get(engine)
        if turn is None:
            turn = _write_turns[engine] = threading.Lock()
    with turn:
        yield


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def param_mark(conn: Connection) -> str:
    """The driver's parameter mark, for SQL run with ``exec_driver_sql``:
    sqlite3's ``?`` or psycopg's ``%s``."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


# ---------------------------------------------------------------- migrations

def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def migrate(engine: Engine) -> int:
    """Bring the schema to LATEST_VERSION; return the version it is at.

    Safe when several processes start at once: the steps run under a lock
    (PostgreSQL advisory lock; SQLite's write lock)."""
    with writer(engine) as conn, conn.begin():
        _lock_for_migration(conn)
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        if version > LATEST_VERSION:
            raise RuntimeError(
                f"database schema is version {version}, newer than this hub ({LATEST_VERSION}): upgrade the hub"
            )
        for step in sorted(v for v in MIGRATIONS if v > version):
            MIGRATIONS[step](conn)
            conn.execute(schema_version.insert().values(version=step, applied_at=utc_now_iso()))
            version = step
    return version


def _lock_for_migration(conn: Connection) -> None:
    # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7301)"))


def open_engine(url: str | None = None) -> Engine:
    """Create the engine and migrate: what the server and the CLI call."""
    engine = create_engine(url)
    migrate(engine)
    return engine


UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def utc_text(text: str) -> str:
    """A valid protocol time as utc_iso text, so times sort as text whatever
    offset the kiosk wrote (kiosks write utc_iso already: kept as is)."""
    if UTC_ISO.fullmatch(text):
        return text
    return protocol.utc_iso(protocol.parse_utc(text))


def utc_now_iso() -> str:
    return protocol.utc_iso(datetime.now(timezone.utc))
