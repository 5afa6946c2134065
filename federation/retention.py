"""How long the hub keeps the pseudonymised events, and the upkeep of their
monthly partitions on PostgreSQL (docs/deploy-hub.md, "Retention").

Retention keeps the events that occurred in the last ``months`` whole months
before the current one and the current one; older ones go. On PostgreSQL a
month's partition is detached and dropped whole, after its keys have left
event_keys; on SQLite, and for the few rows PostgreSQL's DEFAULT partition
holds, old rows are deleted in chunks of ``CHUNK``, a transaction each. The
reporting tables (p_*, the rollups r_*, event_counts) are never touched: the
dashboard's figures for old periods stay as they were, and a later change
(an erasure, a merge, a new attribute) still moves a member's counts in
every period it came in, from r_member_months, not from the events.

The same daily upkeep empties the relay between a centre's devices
(``relay.prune_all``): blobs every active device acknowledged, or past
their days, go even when no device of the centre speaks again.

Exactly-once holds because retention is never shorter than the ingest's
window (``Window.past_years``, checked by ``Policy``): an event older than
what retention keeps is also older than what the window accepts, so a kiosk
replaying it has it parked (each content once, never counted), never stored
a second time.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from federation import agenda, background, relay
from federation import store as db
from federation.ingest import Window
from sync import clock

log = logging.getLogger("federation")

#: rows deleted (or keys let go) in one transaction
CHUNK = 10_000
#: the environment variable `federation serve --retention-months` sets
MONTHS_VARIABLE = "FEDERATION_RETENTION_MONTHS"
#: the upkeep's period, and its first run after the start
DAY_S = 86_400.0
FIRST_RUN_S = 60.0
#: how long the upkeep waits for the events table's lock before trying
#: another day (a detach must not queue the kiosks' batches behind it for long)
LOCK_TIMEOUT = "5s"
#: PostgreSQL advisory lock: one process of several does the upkeep at a time
_UPKEEP_LOCK = 7303


@dataclass(frozen=True)
class Policy:
    """Keep the events of the last ``months`` months (and the current one).
    Refused when shorter than ``window``: the keys of dropped events are let
    go, so the window must park any replay of them."""

    months: int
    window: Window = field(default_factory=Window)

    def __post_init__(self) -> None:
        if not 1 <= self.months <= 1200:
            raise ValueError(f"retention: months must be 1 to 1200, got {self.months}")
        if self.months < 12 * self.window.past_years:
            raise ValueError(
                f"retention: {self.months} months is shorter than the ingest window of "
                f"{self.window.past_years} years: a replayed event older than the retention would "
                f"be stored again. Keep at least {12 * self.window.past_years} months, or narrow "
                "the window (--window-past-years) first"
            )

    def first_kept(self, now: datetime | None = None) -> str:
        """The first month kept, 'YYYY-MM': events that occurred before it go."""
        now = now or clock.utc_now()
        index = now.year * 12 + now.month - 1 - self.months
        return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass
class Outcome:
    """What retention found (a plan) or did: the months dropped whole (with
    their events), and the rows deleted one chunk at a time."""

    first_kept: str
    partitions: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    @property
    def events(self) -> int:
        return sum(self.partitions.values()) + self.rows

    def as_json(self) -> dict:
        return {"first_kept": self.first_kept, "partitions": self.partitions, "rows": self.rows}


def plan(engine: Engine, policy: Policy, now: datetime | None = None) -> Outcome:
    """What ``apply`` would remove now, counted."""
    outcome = Outcome(policy.first_kept(now))
    with engine.connect() as conn:
        for month, table in db.event_partitions(conn).items():
            if month < outcome.first_kept:
                outcome.partitions[month] = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
        outcome.rows = conn.exec_driver_sql(
            f"SELECT count(*) FROM {_loose_rows(conn)} WHERE occurred_at < {db.param_mark(conn)}",
            (outcome.first_kept,),
        ).scalar_one()
    return outcome


def apply(engine: Engine, policy: Policy, now: datetime | None = None) -> Outcome:
    """Remove the events older than the policy keeps: PostgreSQL's old
    month partitions detached and dropped (their keys let go first, a chunk
    a transaction), and old rows elsewhere deleted a chunk a transaction.
    Safe to stop at any point and run again."""
    outcome = Outcome(policy.first_kept(now))
    with engine.connect() as conn:
        partitions = db.event_partitions(conn)
        loose = _loose_rows(conn)
    for month, table in partitions.items():
        if month < outcome.first_kept:
            outcome.partitions[month] = _let_keys_go(engine, table)
            with db.writer(engine) as conn, conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                conn.exec_driver_sql(f"ALTER TABLE events DETACH PARTITION {table}")
                conn.exec_driver_sql(f"DROP TABLE {table}")
            log.info("retention: dropped the events of %s (%d)", month, outcome.partitions[month])
    outcome.rows = _delete_rows(engine, loose, outcome.first_kept)
    if outcome.rows:
        log.info("retention: deleted %d events older than %s", outcome.rows, outcome.first_kept)
    return outcome


def _loose_rows(conn: Connection) -> str:
    """Where old events are deleted row by row: the DEFAULT partition on
    PostgreSQL (events of no month's partition), events itself on SQLite."""
    return "events_default" if conn.dialect.name == "postgresql" else "events"


def _chunks(engine: Engine, table: str):
    """Consecutive ranges of ``table``'s seq, CHUNK rows each: (after, through),
    each with a write transaction open on ``conn``."""
    last = 0
    while True:
        with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
            mark = db.param_mark(conn)
            top = conn.exec_driver_sql(
                f"SELECT max(seq) FROM (SELECT seq FROM {table} WHERE seq > {mark} "
                f"ORDER BY seq LIMIT {CHUNK}) AS chunk",
                (last,),
            ).scalar()
            if top is None:
                return
            yield conn, mark, last, top
        last = top


def _let_keys_go(engine: Engine, table: str) -> int:
    """Delete from event_keys the keys of the events in ``table``, a chunk a
    transaction; the events counted."""
    counted = 0
    for conn, mark, after, through in _chunks(engine, table):
        counted += conn.exec_driver_sql(
            f"SELECT count(*) FROM {table} WHERE seq > {mark} AND seq <= {mark}", (after, through)
        ).scalar_one()
        conn.exec_driver_sql(
            f"DELETE FROM event_keys k USING {table} e WHERE e.seq > {mark} AND e.seq <= {mark} "
            "AND k.centre_id = e.centre_id AND k.event_id = e.event_id",
            (after, through),
        )
    return counted


def _delete_rows(engine: Engine, table: str, first_kept: str) -> int:
    """Delete the rows of ``table`` that occurred before ``first_kept``, and
    on PostgreSQL their keys, a chunk a transaction; how many went."""
    deleted = 0
    for conn, mark, after, through in _chunks(engine, table):
        old = f"e.seq > {mark} AND e.seq <= {mark} AND e.occurred_at < {mark}"
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"DELETE FROM event_keys k USING {table} e WHERE {old} "
                "AND k.centre_id = e.centre_id AND k.event_id = e.event_id",
                (after, through, first_kept),
            )
        deleted += conn.exec_driver_sql(
            f"DELETE FROM {table} AS e WHERE {old}", (after, through, first_kept)
        ).rowcount
    return deleted


def upkeep(
    engine: Engine,
    policy: Policy | None,
    relay_limits: relay.Limits | None = None,
    now: datetime | None = None,
) -> Outcome | None:
    """The hub's daily care of what it holds: the events' months ahead made
    (PostgreSQL), the retention applied if one is set, then the relay's
    blobs that every active device of their centre acknowledged or that are
    past ``keep_days`` dropped (``relay.prune_all``, with ``relay_limits``,
    by default from the environment), so a centre whose devices all went
    quiet holds nothing for long. On PostgreSQL one process of several does
    it; the others skip it. Returns what retention did, or None when it did
    not run."""
    with db.writer(engine) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            if not conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)", (_UPKEEP_LOCK,)).scalar():
                return None
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        made = db.ensure_partitions(conn)
    if made:
        log.info("events: partitions made for %s", ", ".join(made))
    outcome = apply(engine, policy, now) if policy is not None else None
    dropped = relay.prune_all(engine, relay_limits or relay.Limits.from_environment(), now)
    if dropped:
        log.info("relay: dropped %d blobs acknowledged by every device or past their days", dropped)
    agenda.refresh_all(engine, now)  # sessions that started leave the federation's agenda
    return outcome


class Background(background.Periodic):
    """The upkeep while the hub serves: a minute after the start, then
    daily (with some jitter, so the workers do not all try at once). A
    failure (a lock not had, a lost connection...) is logged and tried again
    the next day."""

    def __init__(self, db_url: str | None, policy: Policy | None):
        self.policy = policy
        super().__init__(
            db_url,
            lambda engine: upkeep(engine, self.policy),
            lambda failures: DAY_S * random.uniform(0.95, 1.05),
            name="events-upkeep",
            log=log,
            failed="events upkeep failed; tried again tomorrow",
            first=FIRST_RUN_S * random.uniform(1.0, 2.0),
        )
