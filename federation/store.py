"""The hub's database: every table and index, the versioned schema's
migrations, engine creation. The schema lives here and only here: other
modules import the tables; a migration step never calls them (what a step
needs is written in the step, frozen as it was released).

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
import functools
import hashlib
import json
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync import clock, protocol
from sync.sqlite import enable_wal

DEFAULT_DB_URL = "sqlite:///federation.db"
SQLITE_BUSY_TIMEOUT_MS = 5_000
#: SQLite's WAL: a checkpoint once it holds this many pages (about 40 MiB at
#: 4 KiB), and the file cut back to WAL_SIZE_LIMIT_BYTES after it
WAL_CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
#: each connection's page cache, at most (SQLite's default is 2 MiB)
SQLITE_CACHE_KIB = 16 * 1024

metadata = sa.MetaData()


def _id(name: str, *args, **kw) -> sa.Column:
    """A UUID, as its lowercase text."""
    return sa.Column(name, sa.String(36), *args, **kw)


def _time(name: str, **kw) -> sa.Column:
    """A moment, as ISO 8601 UTC text."""
    return sa.Column(name, sa.String(32), **kw)


# ---------------------------------------------------------------- centres, devices

centres = sa.Table(
    "centres",
    metadata,
    _id("id", primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    _time("created_at", nullable=False),
    # the town the centre is in, shown beside its name in the federation's
    # agenda (« Outreau · Centre social … »); NULL: not given
    sa.Column("commune", sa.String(80)),
)

devices = sa.Table(
    "devices",
    metadata,
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
    "enrolment_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False, index=True),
    _time("created_at", nullable=False),
    _time("expires_at", nullable=False),
    _time("used_at"),
)

# ---------------------------------------------------------------- events

events = sa.Table(
    "events",
    metadata,
    # BIGINT on PostgreSQL (billions of events over the years); SQLite needs
    # INTEGER for its rowid alias, which is 64-bit anyway
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
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
    sa.Index(
        "events_centre_member",
        "centre_id",
        "member_id",
        sqlite_where=sa.text("member_id IS NOT NULL"),
        postgresql_where=sa.text("member_id IS NOT NULL"),
    ),
)

# schema 13, PostgreSQL only: there events is partitioned by the month they
# occurred in (RANGE on occurred_at, a DEFAULT partition for the rest), and a
# partitioned table's unique keys must hold the month, so each stored event's
# key is held once here: the ingest's INSERT … ON CONFLICT goes through it
# (stored_keys). A step that changes events' content_hash changes it here too.
event_keys = sa.Table(
    "event_keys",
    metadata,
    _id("centre_id", sa.ForeignKey("centres.id"), primary_key=True),
    _id("event_id", primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
)

# schema 4: events stored, by centre and type, added up once per batch at
# ingest (federation.ingest); `federation stats` and GET /api/v1/status read
# it instead of counting the events. Events are never deleted (an erasure
# redacts bodies), so these only ever grow.
event_counts = sa.Table(
    "event_counts",
    metadata,
    _id("centre_id", primary_key=True),
    sa.Column("type", sa.String(40), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    _time("first_occurred_at", nullable=False),
    _time("last_occurred_at", nullable=False),
)

conflicts = sa.Table(
    "conflicts",
    metadata,
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
    "parked",
    metadata,
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
    "p_visit_counts",
    metadata,
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
# schema 7: visits by their national categories (federation.taxonomies),
# added up at ingest like p_visit_counts; '' where a visit has none. The
# reason's counts stay in p_visit_counts: these add up to the same visits.
p_visit_categories = sa.Table(
    "p_visit_categories",
    metadata,
    _id("centre_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("cra_theme", sa.String(40), primary_key=True),
    sa.Column("domain", sa.String(40), primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
)

p_presence = sa.Table(
    "p_presence",
    metadata,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sqlite_with_rowid=False,
)

p_members = sa.Table(
    "p_members",
    metadata,
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
    # schema 3 to 25 kept each member's first and last visit day here;
    # schema 26 dropped them: a period's participants come from
    # r_member_months and p_presence (federation.reports)
    # schema 6: the years the member may have been born in (federation.ages):
    # one year when the kiosk sent year_born, the span an older event's
    # age_band allows in its year otherwise; NULL when unknown or erased
    sa.Column("born_from", sa.SmallInteger),
    sa.Column("born_to", sa.SmallInteger),
    # schema 8: the random id the kiosk gave the member's household (protocol
    # 1.2's household_id); NULL when none is known (an older event, no
    # household, or erased)
    _id("household_id"),
    # schema 16: the FSE+ situation the member consented to give (protocol
    # 1.2's employment and education codes); NULL when not given (no
    # consent, an older event, not answered, or erased)
    sa.Column("employment", sa.String(16)),
    sa.Column("education", sa.String(16)),
)

# schema 10: volunteers' time (protocol 1.2, volunteering.recorded), one row
# a stretch: the highest ``version`` the centre sent wins, whatever the order
# of arrival; a removed stretch keeps its row and counts for nothing.
# ``volunteer_id`` is the kiosk's pseudonym of the volunteer, never a name.
p_volunteering = sa.Table(
    "p_volunteering",
    metadata,
    _id("centre_id", primary_key=True),
    _id("stretch_id", primary_key=True),
    _id("volunteer_id", nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("auto_closed", sa.Boolean, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    _time("as_of", nullable=False),
)

# schema 11: the residents' voice (protocol 1.2), counts only: an idea's
# theme and the Paris days it was received, answered, realised and became a
# supported initiative (idea.received gives received_day; the latest
# idea.updated, by as_of, the other three; as_of '' until one arrives), and
# each face given after a workshop with its day. No words, no person.
p_ideas = sa.Table(
    "p_ideas",
    metadata,
    _id("centre_id", primary_key=True),
    _id("idea_id", primary_key=True),
    sa.Column("theme", sa.String(16), nullable=False),
    sa.Column("received_day", sa.String(10)),
    sa.Column("answered_day", sa.String(10)),
    sa.Column("done_day", sa.String(10)),
    sa.Column("initiative_day", sa.String(10)),
    _time("as_of", nullable=False),
)

p_feedback = sa.Table(
    "p_feedback",
    metadata,
    _id("centre_id", primary_key=True),
    _id("feedback_id", primary_key=True),
    _id("session_id", nullable=False),
    sa.Column("face", sa.String(16), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
)

# schema 19: the itinerant mode (protocol 1.2's outreach.held): one row an
# event held « hors les murs », its Paris day and where (the commune and
# neighbourhood from the centre's list, QPV), and the partner's kind; never
# its name. A visit or a new member that carried the event's ``outreach_id``
# has a row in p_outreach_visits / p_outreach_members (the visit's Paris day
# kept, so a period reads them by day even before its event arrived).
p_outreach = sa.Table(
    "p_outreach",
    metadata,
    _id("centre_id", primary_key=True),
    _id("outreach_id", primary_key=True),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("commune", sa.String(100)),
    sa.Column("neighbourhood", sa.String(100)),
    sa.Column("qpv", sa.Boolean, nullable=False),
    sa.Column("partner_kind", sa.String(24)),
)
p_outreach_visits = sa.Table(
    "p_outreach_visits",
    metadata,
    _id("centre_id", primary_key=True),
    _id("visit_id", primary_key=True),
    _id("outreach_id", nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
)
p_outreach_members = sa.Table(
    "p_outreach_members",
    metadata,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    _id("outreach_id", nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
)

p_workshops = sa.Table(
    "p_workshops",
    metadata,
    _id("centre_id", primary_key=True),
    _id("workshop_id", primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("theme", sa.String(32), nullable=False),
    sa.Column("place", sa.String(200)),
    _time("as_of", nullable=False),
)

p_sessions = sa.Table(
    "p_sessions",
    metadata,
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
    "p_registrations",
    metadata,
    _id("centre_id", primary_key=True),
    _id("registration_id", primary_key=True),
    _id("session_id", nullable=False),
    _id("member_id", nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_registrations_session", "centre_id", "session_id"),
)

p_attendance = sa.Table(
    "p_attendance",
    metadata,
    _id("centre_id", primary_key=True),
    _id("attendance_id", primary_key=True),
    _id("session_id", nullable=False),
    _id("member_id"),  # NULL for an anonymous walk-in
    sa.Column("present", sa.Boolean, nullable=False),
    sa.Column("walk_in", sa.Boolean, nullable=False),
    _time("as_of", nullable=False),
    sa.Index("p_attendance_session", "centre_id", "session_id"),
)

# ---------------------------------------------------------------- hub-to-hub roll-up (schema 9)

# On a parent hub: its child hubs (federation.network). The child's token is
# stored as its sha256, like a device's; a child is linked once its code is
# traded (linked_at), and refused from revoked_at on.
child_hubs = sa.Table(
    "child_hubs",
    metadata,
    _id("id", primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), unique=True),
    _time("created_at", nullable=False),
    _time("linked_at"),
    _time("revoked_at"),
    _time("last_received_at"),
)

child_codes = sa.Table(
    "child_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    _id("child_id", sa.ForeignKey("child_hubs.id"), nullable=False, index=True),
    _time("created_at", nullable=False),
    _time("expires_at", nullable=False),
    _time("used_at"),
)

# the centres a child reported, with the federation that holds them below
# the child ('' for the child's own; a path of names down a chain)
child_centres = sa.Table(
    "child_centres",
    metadata,
    _id("child_id", sa.ForeignKey("child_hubs.id"), primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("federation", sa.String(300), nullable=False),
    _time("updated_at", nullable=False),
)

# one set of figures: a (centre, period, dimension) as a child last sent it,
# with the child's generation that computed it (an older one never replaces
# a newer one); received_at orders what a parent that is itself a child
# forwards up
child_figure_sets = sa.Table(
    "child_figure_sets",
    metadata,
    _id("child_id", sa.ForeignKey("child_hubs.id"), primary_key=True),
    _id("centre_id", primary_key=True),
    # 'YYYY-MM-DD', 'YYYY-MM' or 'YYYY' (federation.rollup_figures)
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("dimension", sa.String(60), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    _time("received_at", nullable=False),
    sa.Index("child_figure_sets_received", "received_at"),
)

# the figures of each set, a row a key, so the dashboard sums them in SQL
child_figures = sa.Table(
    "child_figures",
    metadata,
    _id("child_id", primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("dimension", sa.String(60), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
    # schema 15 dropped this index for child_figures_year, which holds centre_id
    sa.Index("child_figures_period", "period", "dimension", "key", "child_id", "value"),
)

# schema 15: the additive figures (the day sets') summed by month, kept at
# each store of a day set (federation.network.store adds the change), so a
# year of the network is read from twelve months, not 365 days
child_month_figures = sa.Table(
    "child_month_figures",
    metadata,
    _id("child_id", primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("dimension", sa.String(60), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Index("child_month_figures_month", "month", "dimension", "child_id", "centre_id", "key", "value"),
)

# On a child hub: its link to its parent, one row (id 1). The token is kept
# as is (the child sends it, as a kiosk keeps its device token). ``generation``
# numbers each computation of figures; ``cursor_seq`` is the last events.seq
# whose days were sent and acknowledged; ``lease_*`` lets one process of
# several send at a time.
parent_link = sa.Table(
    "parent_link",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("parent_url", sa.String(500), nullable=False),
    _id("child_id", nullable=False),
    sa.Column("token", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    _time("linked_at", nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("cursor_seq", sa.BigInteger),
    _time("forward_cursor"),
    _time("scanned_at"),
    _time("last_attempt_at"),
    _time("last_success_at"),
    sa.Column("last_result", sa.String(500)),
    _time("revoked_at"),
    sa.Column("lease_holder", sa.String(100)),
    _time("lease_until"),
)

# what the parent acknowledged, a hash of each set's figures: a set is sent
# again only when its figures changed
parent_acked = sa.Table(
    "parent_acked",
    metadata,
    _id("centre_id", primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("dimension", sa.String(60), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
)

# ---------------------------------------------------------------- the relay of a centre's devices (schema 12)

# Sealed blobs between the devices of one centre (federation.relay): opaque
# to the hub, which files them under their centre and device and hands them
# out after a cursor (``seq``, never reused: AUTOINCREMENT on SQLite). The
# same (device, device_seq) is stored once. A blob is dropped once every
# active device of its centre has acknowledged it, or after 30 days.
relay_blobs = sa.Table(
    "relay_blobs",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False),
    _id("device_id", sa.ForeignKey("devices.id"), nullable=False),
    # the blob's own counter, from its clear header
    sa.Column("device_seq", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    _time("received_at", nullable=False),
    sa.UniqueConstraint("device_id", "device_seq", name="relay_blobs_device_seq"),
    sa.Index("relay_blobs_centre", "centre_id", "seq"),
    sqlite_autoincrement=True,
)

# the snapshot a device that joins starts from: one a centre, replaced by
# the next; ``through`` is the relay cursor it covers
relay_snapshots = sa.Table(
    "relay_snapshots",
    metadata,
    _id("centre_id", sa.ForeignKey("centres.id"), primary_key=True),
    _id("device_id", sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("through", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    _time("uploaded_at", nullable=False),
)

# pairing a new device with a centre (schema 14): the inviting device's
# invite (its enrolment code kept as a hash, 10 minutes), the joining
# device's verify key once it enrolled, then the centre's keyring sealed to
# that key by the inviter, which only the joiner can open
relay_invites = sa.Table(
    "relay_invites",
    metadata,
    _id("id", primary_key=True),
    _id("centre_id", sa.ForeignKey("centres.id"), nullable=False, index=True),
    _id("inviter_id", sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    _time("created_at", nullable=False),
    _time("expires_at", nullable=False),
    _id("joiner_id", sa.ForeignKey("devices.id")),
    sa.Column("joiner_key", sa.String(64)),
    _time("joined_at"),
    sa.Column("sealed", sa.LargeBinary),
    _time("sealed_at"),
    # the short code to type (schema 24): its first characters find the
    # invite (``short_slot``), the whole code is checked by its hash; wrong
    # tries are counted and burn the invite; the inviter's verify key is
    # what a device that typed the code gets in place of the QR code's
    sa.Column("short_slot", sa.String(8), index=True),
    sa.Column("short_hash", sa.String(64)),
    sa.Column("inviter_key", sa.String(64)),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    _time("burnt_at"),
)

# how far each device has applied its centre's blobs (its acknowledged
# cursor), and how far the relay dropped them (``dropped_through``, a row
# per centre with device_id ''): a cursor behind it must restart from the
# snapshot
relay_cursors = sa.Table(
    "relay_cursors",
    metadata,
    _id("centre_id", sa.ForeignKey("centres.id"), primary_key=True),
    _id("device_id", primary_key=True),
    sa.Column("acked", sa.BigInteger, nullable=False),
    _time("acked_at", nullable=False),
)

# the centre's key rotations after a device was revoked (schema 23): one per
# epoch (how many of the centre's devices were revoked when it was made),
# the first posted kept; ``body`` is the rotating device's signed JSON, the
# new key sealed to each remaining device, opaque here but for its ids
relay_keys = sa.Table(
    "relay_keys",
    metadata,
    _id("centre_id", sa.ForeignKey("centres.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
    _id("device_id", sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    _time("created_at", nullable=False),
)

# the app version each device last said it runs (schema 18): the header
# its requests carry (protocol.APP_VERSION_HEADER), recorded with a batch or
# a relay acknowledgement; a device older than the header has no row
device_versions = sa.Table(
    "device_versions",
    metadata,
    _id("device_id", sa.ForeignKey("devices.id"), primary_key=True),
    sa.Column("app_version", sa.String(40), nullable=False),
    _time("reported_at", nullable=False),
)

# ---------------------------------------------------------------- seat requests between centres (schema 20)

# Each centre's public X25519 key (federation.seat_requests), which the other
# centres' devices seal a seat request to; the private key stays on the
# centre's devices (sync.envelope.Keyring). The first one a device of the
# centre registers holds; the hub never sees the private key.
centre_keys = sa.Table(
    "centre_keys",
    metadata,
    _id("centre_id", sa.ForeignKey("centres.id"), primary_key=True),
    sa.Column("public_key", sa.String(64), nullable=False),
    _id("device_id", nullable=False),
    _time("registered_at", nullable=False),
)

# A seat request sealed to the target centre's key, and its answer sealed to
# the asking centre's: opaque here. ``sealed`` is emptied once a device of
# the target centre took the request; the row goes once the asking device
# took the answer (or after the days the hub keeps them).
seat_requests = sa.Table(
    "seat_requests",
    metadata,
    _id("id", primary_key=True),
    _id("from_centre", sa.ForeignKey("centres.id"), nullable=False),
    _id("from_device", nullable=False),
    _id("to_centre", sa.ForeignKey("centres.id"), nullable=False),
    sa.Column("sealed", sa.LargeBinary),
    _time("created_at", nullable=False),
    _time("delivered_at"),
    sa.Column("answer", sa.LargeBinary),
    _time("answered_at"),
    sa.Index("seat_requests_to", "to_centre", "delivered_at"),
    sa.Index("seat_requests_from", "from_device", "answered_at"),
)

# schema 21: the workshop sheets (« fiches atelier », federation.sheets). A
# sheet is written by federation staff, or offered by a centre (``offered_by``
# and the workshop it came from, one draft per offered workshop); only a
# published one reaches the kiosks. ``sheet_adoptions`` holds which workshop
# of which centre was made from which sheet, from protocol 1.3's ``sheet`` on
# workshop events: the « diffusion » figure joins it to p_sessions and
# p_attendance.
sheets = sa.Table(
    "sheets",
    metadata,
    _id("id", primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("theme", sa.String(32), nullable=False),
    sa.Column("pictogram", sa.String(40), nullable=False),
    sa.Column("description", sa.String(2000), nullable=False),
    sa.Column("duration_minutes", sa.Integer, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("bring", sa.String(1000), nullable=False),
    sa.Column("animator_needs", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _id("offered_by"),
    _id("offered_workshop"),
    _time("created_at", nullable=False),
    _time("updated_at", nullable=False),
    _time("published_at"),
    _time("withdrawn_at"),
    sa.UniqueConstraint("offered_by", "offered_workshop", name="sheets_offer"),
)
sheet_adoptions = sa.Table(
    "sheet_adoptions",
    metadata,
    _id("centre_id", primary_key=True),
    _id("workshop_id", primary_key=True),
    _id("sheet_id", nullable=False, index=True),
    sa.Column("day", sa.String(10), nullable=False),
)

# schema 22: rollups kept at ingest for long periods, so a year's overview
# reads rows by month, centre and dimension, not by day or member. Additive
# figures: the visits by month and reason, and by month and national
# category, and the visits a day (the weeks' chart). Distinct people:
# ``r_member_months`` holds each (centre, member, month) a member came in,
# ``via`` a visit ('v', one row however many visits) or being present at a
# session held that month ('a', kept from p_attendance and p_sessions as
# they change), and ``r_participants`` the
# members who came in a month ('YYYY-MM') or a year ('YYYY'), by their
# reporting attributes (``attrs``, attrs_keys below): a row
# is counted when the member's first visit of that period is stored, and
# moved from the old attributes to the new when a member's attributes change
# (an update, an erasure). A period's participants are then a sum over a
# few rows, exactly.
r_visit_months = sa.Table(
    "r_visit_months",
    metadata,
    _id("centre_id", primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
r_category_months = sa.Table(
    "r_category_months",
    metadata,
    _id("centre_id", primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("cra_theme", sa.String(40), primary_key=True),
    sa.Column("domain", sa.String(40), primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
r_visit_days = sa.Table(
    "r_visit_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
r_member_months = sa.Table(
    "r_member_months",
    metadata,
    _id("centre_id", primary_key=True),
    _id("member_id", primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("via", sa.String(1), primary_key=True),
    sa.Index("r_member_months_month", "month", "centre_id", "member_id"),
    sqlite_with_rowid=False,
)
r_participants = sa.Table(
    "r_participants",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("attrs", sa.String(200), primary_key=True),
    sa.Column("members", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
ROLLUP_TABLES = (r_visit_months, r_category_months, r_visit_days, r_member_months, r_participants)

# schema 29: the distinct figures of a period (participants, families,
# workshops, the residents' voice) kept per centre by the hub itself
# (federation.period_figures): a row a (centre, period), its figures as
# JSON, computed at the centre's ``version`` (its events stored, the sum of
# event_counts) under ``definitions`` (the figures' code and the schema).
# A row whose version or definitions are no longer the centre's is not
# read: the centre's figures are computed again.
r_period_figures = sa.Table(
    "r_period_figures",
    metadata,
    sa.Column("first_day", sa.String(10), primary_key=True),
    sa.Column("last_day", sa.String(10), primary_key=True),
    _id("centre_id", primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("definitions", sa.String(40), nullable=False),
    _time("computed_at", nullable=False),
    sa.Column("figures", sa.Text, nullable=False),
)

# schema 25: what the hub publishes to the kiosks (federation.publications).
# One row per (kind, key), its latest state: ``seq`` is the hub-wide counter
# at its last change (the kiosks' cursor), ``audience`` None for every centre
# or a JSON list of centre ids, a withdrawal kept as a row (``withdrawn``) so
# a kiosk learns it. ``publication_counter`` holds the one counter (one row,
# updated in the publishing transaction: concurrent publishers queue on it).
# ``hub_keys`` holds the hub's Ed25519 signing key (its 32-byte seed, hex),
# made once: it is backed up and restored with the database.
publications = sa.Table(
    "publications",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("audience", sa.Text),
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("withdrawn", sa.Boolean, nullable=False, default=False),
    _time("updated_at", nullable=False),
    sa.Column("updated_by", sa.String(200)),
)
publication_counter = sa.Table(
    "publication_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)
hub_keys = sa.Table(
    "hub_keys",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("seed", sa.String(64), nullable=False),
    _time("created_at", nullable=False),
)

# ---------------------------------------------------------------- the dashboard's accounts (schema 2)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("disabled_at", sa.String(32), nullable=True),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.String(32), nullable=False),
    sa.Index("ix_login_failures_email", "email", "failed_at"),
    sa.Index("ix_login_failures_client", "client", "failed_at"),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    _time("applied_at", nullable=False),
)


# ---------------------------------------------------------------- released shapes

#: Tables as schema version 1 created them, where a later step changed them:
#: step 1 must create exactly what it created when it was released.
_V1_METADATA = sa.MetaData()

p_visits_v1 = sa.Table(
    "p_visits",
    _V1_METADATA,
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
    "p_members",
    _V1_METADATA,
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
    centres,
    devices,
    enrolment_codes,
    events,
    conflicts,
    p_visit_counts,
    p_workshops,
    p_sessions,
    p_registrations,
    p_attendance,
]


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=_V1_TABLES)
    _V1_METADATA.create_all(conn, tables=[p_visits_v1, p_members_v1])
    conn.exec_driver_sql("CREATE INDEX events_centre_type ON events (centre_id, type)")  # dropped in step 4


#: Indexes the dashboard's report queries need across all centres (the
#: tables' own indexes lead with centre_id, which serves one centre's page but
#: not the overview). Most are covering, so the overview reads index pages only.
_V2_REPORT_INDEXES = [
    "CREATE INDEX IF NOT EXISTS r_visit_counts_day_reason ON p_visit_counts (day, reason, visits)",
    "CREATE INDEX IF NOT EXISTS r_visit_counts_day_centre ON p_visit_counts (day, centre_id, visits)",
    "CREATE INDEX IF NOT EXISTS r_visits_member_day "
    "ON p_visits (centre_id, member_id, day)",  # gone in step 3
    "CREATE INDEX IF NOT EXISTS r_members_created ON p_members (created_day, centre_id)",
    # participants were counted by profile: reading members in this order
    # spared SQLite a sort of every member (replaced in step 3)
    "CREATE INDEX IF NOT EXISTS r_members_profile ON p_members (age_band, gender, qpv, centre_id, member_id)",
    "CREATE INDEX IF NOT EXISTS r_sessions_starts ON p_sessions "
    "(starts_at, cancelled, centre_id, session_id, workshop_id)",
    "CREATE INDEX IF NOT EXISTS r_registrations_session ON p_registrations (centre_id, session_id, status)",
    "CREATE INDEX IF NOT EXISTS r_attendance_session ON p_attendance "
    "(centre_id, session_id, present, walk_in, member_id)",
]

#: Step 3: participants are read from the members' side, each with its visit
#: span, in the order of their profile so the counts stream without a sort;
#: the index holds every column the query reads, the keys of the p_presence
#: probe included.
_V3_REPORT_INDEXES = [
    "DROP INDEX IF EXISTS r_members_profile",
    "CREATE INDEX IF NOT EXISTS r_members_span ON p_members "
    "(age_band, gender, qpv, first_visit_day, last_visit_day, centre_id, member_id)",
]


def _v2(conn: Connection) -> None:
    # the dashboard's staff accounts and sessions, and its reports' indexes
    metadata.create_all(conn, tables=[users, web_sessions, login_failures])
    for ddl in _V2_REPORT_INDEXES:
        conn.exec_driver_sql(ddl)


def _v3(conn: Connection) -> None:
    # p_visits (a row and three b-trees a visit) gives way to p_presence (one
    # row a member's day) and each member's visit span on p_members
    p_presence.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO p_presence (centre_id, member_id, day) "
        "SELECT DISTINCT centre_id, member_id, day FROM p_visits WHERE member_id IS NOT NULL"
    )
    for column in ("first_visit_day", "last_visit_day"):
        conn.exec_driver_sql(f"ALTER TABLE p_members ADD COLUMN {column} VARCHAR(10)")
    conn.exec_driver_sql(
        "UPDATE p_members SET "
        "first_visit_day = (SELECT min(p.day) FROM p_presence p "
        "WHERE p.centre_id = p_members.centre_id AND p.member_id = p_members.member_id), "
        "last_visit_day = (SELECT max(p.day) FROM p_presence p "
        "WHERE p.centre_id = p_members.centre_id AND p.member_id = p_members.member_id)"
    )
    for ddl in _V3_REPORT_INDEXES:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql("DROP TABLE p_visits")  # its indexes go with it


def _v4(conn: Connection) -> None:
    # counts by type kept per batch instead of an index on every event
    event_counts.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
        "SELECT centre_id, type, count(*), min(occurred_at), max(occurred_at) FROM events "
        "GROUP BY centre_id, type"
    )
    conn.exec_driver_sql("DROP INDEX events_centre_type")


def _v5(conn: Connection) -> None:
    # what earlier hubs stored is held to today's allow-list: bodies rebuilt
    # from their types' fields (extra fields, personal ones included, gone),
    # events dated outside the window parked, conflicts bounded a device
    parked.create(conn)
    conn.exec_driver_sql("CREATE INDEX conflicts_centre_device ON conflicts (centre_id, device_id)")
    _v5_clean_held(conn)


# ---------------------------------------------------------------- step 5's cleaning
#
# Frozen as released: what step 5 holds earlier hubs' rows to is the
# allow-list and the window of its day, written out here, so that a later
# change of the protocol or of the ingest never changes what this step does.

#: each event type's data fields at schema 5 (sync.protocol.EVENT_TYPES then)
_V5_ALLOWED = {
    "visit.recorded": {"visit_id", "member_id", "reason", "recorded_by"},
    "member.created": {"member_id", "age_band", "gender", "commune", "neighbourhood", "qpv"},
    "member.updated": {"member_id", "age_band", "gender", "commune", "neighbourhood", "qpv"},
    "member.erased": {"member_id"},
    "workshop.created": {"workshop_id", "title", "theme", "place"},
    "workshop.updated": {"workshop_id", "title", "theme", "place"},
    "session.created": {"session_id", "workshop_id", "starts_at", "ends_at", "capacity"},
    "session.updated": {"session_id", "workshop_id", "starts_at", "ends_at", "capacity"},
    "session.cancelled": {"session_id"},
    "registration.changed": {"registration_id", "session_id", "member_id", "status"},
    "attendance.taken": {"attendance_id", "session_id", "member_id", "present", "walk_in"},
}
#: the ingest's default window at schema 5: years before, days after the arrival
_V5_PAST_YEARS, _V5_FUTURE_DAYS = 10, 1
#: conflicts kept a device at schema 5
_V5_KEPT_PER_DEVICE = 1000
#: rows read at a time (an old hub may hold bodies of megabytes)
_V5_CHUNK = 500


def _v5_rebuilt(event: object) -> dict:
    """A stored body rebuilt from its type's allowed fields: every other
    field goes, a personal one included. An erasure's ``redacted`` mark stays."""
    event = event if isinstance(event, dict) else {}
    kind = event.get("type")
    allowed = _V5_ALLOWED.get(kind, set()) if isinstance(kind, str) else set()
    data = event.get("data")
    if not isinstance(data, dict):
        data = {}
    kept = {key: value for key, value in data.items() if key in allowed}
    if data.get("redacted") is True:
        kept["redacted"] = True
    return {"id": event.get("id"), "type": kind, "occurred_at": event.get("occurred_at"), "data": kept}


def _v5_rebuilt_text(body: str, content_hash: str) -> tuple[str, str] | None:
    """(body, hash) rebuilt from ``body``, or None when it is clean already.
    A redacted body keeps the hash of what was received (replays still
    recognised); any other gets the hash of its new text, which is what a
    replay of it is stored as."""
    try:
        event = orjson.loads(body)  # a number it reads otherwise can only be in a field that goes
    except orjson.JSONDecodeError:
        event = json.loads(body)
    clean = _v5_rebuilt(event)
    if clean == event:
        return None
    text = json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    redacted = clean["data"].get("redacted") is True
    return text, content_hash if redacted else hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def _v5_bounds(received_at: str) -> tuple[str, str]:
    """(earliest, latest) occurred_at kept for an event received at ``received_at``."""
    received = datetime.fromisoformat(received_at.replace("Z", "+00:00")).astimezone(UTC)
    year = max(1900, received.year - _V5_PAST_YEARS)
    earliest = (
        received.replace(year=year, day=28)
        if (received.month, received.day) == (2, 29)
        else received.replace(year=year)
    )
    latest = received + timedelta(days=_V5_FUTURE_DAYS)
    first, last = (
        f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z" for moment in (earliest, latest)
    )
    return first, last


def _v5_clean_held(conn: Connection) -> None:
    """Every event's and conflict's body rebuilt from the allowed fields;
    events that occurred outside the window around their arrival moved to
    parked (event_counts recounted for their centres; the reporting tables
    keep what they were given); each device keeps its first conflicts."""
    c, last = events.c, 0
    moved_centres: set[str] = set()
    while True:
        chunk = conn.execute(
            sa.select(c.seq, c.occurred_at, c.received_at, c.body, c.content_hash)
            .where(c.seq > last)
            .order_by(c.seq)
            .limit(_V5_CHUNK)
        ).all()
        if not chunk:
            break
        last = chunk[-1].seq
        updates, moved = [], []
        for seq, occurred_at, received_at, body, content_hash in chunk:
            rebuilt = _v5_rebuilt_text(body, content_hash)
            body, digest = rebuilt or (body, content_hash)
            try:
                earliest, latest = _v5_bounds(received_at)
            except (ValueError, OverflowError):  # no time to hold it to: it stays
                earliest, latest = occurred_at, occurred_at
            if not earliest <= occurred_at <= latest:
                row = conn.execute(sa.select(events).where(c.seq == seq)).one()
                moved.append(
                    dict(
                        row._mapping,
                        body=body,
                        content_hash=digest,
                        reason=(
                            f"occurred_at: {occurred_at} is outside this "
                            f"hub's window ({earliest} to {latest}): "
                            "parked for the federation to review"
                        ),
                    )
                )
            elif rebuilt is not None:
                updates.append({"b_seq": seq, "b_body": body, "b_hash": digest})
        if updates:
            conn.execute(
                events.update()
                .where(c.seq == sa.bindparam("b_seq"))
                .values(body=sa.bindparam("b_body"), content_hash=sa.bindparam("b_hash")),
                updates,
            )
        if moved:
            _v5_park(conn, moved)
            moved_centres.update(row["centre_id"] for row in moved)
    for centre_id in sorted(moved_centres):
        conn.execute(event_counts.delete().where(event_counts.c.centre_id == centre_id))
        conn.execute(
            sa.text(
                "INSERT INTO event_counts (centre_id, type, events, first_occurred_at, last_occurred_at) "
                "SELECT centre_id, type, count(*), min(occurred_at), max(occurred_at) FROM events "
                "WHERE centre_id = :centre GROUP BY centre_id, type"
            ),
            {"centre": centre_id},
        )
    _v5_clean_conflicts(conn)


def _v5_park(conn: Connection, moved: list[dict]) -> None:
    """Move events rows (with their new body, hash and reason) to parked."""
    columns = [name for name in parked.c.keys() if name != "id"]
    conn.execute(
        sa.text(
            f"INSERT INTO parked ({', '.join(columns)}) VALUES ({', '.join(':' + n for n in columns)}) "
            "ON CONFLICT (centre_id, event_id, content_hash) DO NOTHING"
        ),
        [{name: row[name] for name in columns} for row in moved],
    )
    conn.execute(events.delete().where(events.c.seq.in_([row["seq"] for row in moved])))


def _v5_clean_conflicts(conn: Connection) -> None:
    last = 0
    while True:
        chunk = conn.execute(
            sa.select(conflicts.c.id, conflicts.c.body, conflicts.c.content_hash)
            .where(conflicts.c.id > last)
            .order_by(conflicts.c.id)
            .limit(_V5_CHUNK)
        ).all()
        if not chunk:
            break
        last = chunk[-1].id
        updates = []
        for conflict_id, body, content_hash in chunk:
            rebuilt = _v5_rebuilt_text(body, content_hash)
            if rebuilt is not None:
                updates.append({"b_id": conflict_id, "b_body": rebuilt[0], "b_hash": rebuilt[1]})
        if updates:
            conn.execute(
                conflicts.update()
                .where(conflicts.c.id == sa.bindparam("b_id"))
                .values(body=sa.bindparam("b_body"), content_hash=sa.bindparam("b_hash")),
                updates,
            )
    crowded = conn.execute(
        sa.select(conflicts.c.centre_id, conflicts.c.device_id)
        .group_by(conflicts.c.centre_id, conflicts.c.device_id)
        .having(sa.func.count() > _V5_KEPT_PER_DEVICE)
    ).all()
    for centre_id, device_id in crowded:
        device = conflicts.c.device_id.is_(None) if device_id is None else conflicts.c.device_id == device_id
        beyond = (
            conn.execute(
                sa.select(conflicts.c.id)
                .where(conflicts.c.centre_id == centre_id, device)
                .order_by(conflicts.c.id)
                .offset(_V5_KEPT_PER_DEVICE)
            )
            .scalars()
            .all()
        )
        conn.execute(conflicts.delete().where(conflicts.c.id.in_(beyond)))


# ---------------------------------------------------------------- step 6: years of birth

#: protocol 1.0's bands as ages reached in the year of the event, frozen as
#: step 6 read them: (band, youngest, oldest; None for no bound)
_V6_BANDS = (("0-15", 0, 15), ("16-24", 16, 24), ("25-54", 25, 54), ("55-64", 55, 64), ("65+", 65, None))
#: the earliest year of birth a span may start at (sync.protocol.EARLIEST_YEAR then)
_V6_EARLIEST = 1900

#: Step 6 reads participants by these columns too: the span of birth years
#: follows the profile, so the counts still stream from the index alone.
_V6_REPORT_INDEXES = [
    "DROP INDEX IF EXISTS r_members_span",
    "CREATE INDEX IF NOT EXISTS r_members_born ON p_members "
    "(age_band, gender, qpv, born_from, born_to, first_visit_day, last_visit_day, centre_id, member_id)",
]


def _v6(conn: Connection) -> None:
    # each member's possible years of birth, so every funder's age bands can
    # be counted at any date; the members held so far have their band only,
    # counted in the year of the event that set it (as_of)
    for column in ("born_from", "born_to"):
        conn.exec_driver_sql(f"ALTER TABLE p_members ADD COLUMN {column} SMALLINT")
    year = "CAST(substr(as_of, 1, 4) AS INTEGER)"
    born_from = " ".join(
        f"WHEN '{band}' THEN " + (str(_V6_EARLIEST) if oldest is None else f"{year} - {oldest}")
        for band, _youngest, oldest in _V6_BANDS
    )
    born_to = " ".join(f"WHEN '{band}' THEN {year} - {youngest}" for band, youngest, _oldest in _V6_BANDS)
    conn.exec_driver_sql(
        f"UPDATE p_members SET born_from = CASE age_band {born_from} END, "
        f"born_to = CASE age_band {born_to} END "
        "WHERE erased_at IS NULL AND substr(as_of, 1, 4) BETWEEN '1900' AND '2199'"
    )
    for ddl in _V6_REPORT_INDEXES:
        conn.exec_driver_sql(ddl)


# ---------------------------------------------------------------- step 7: visits' national categories

#: the categories of the default reasons when step 7 was released
#: (federation.taxonomies.DEFAULT_REASON_CATEGORIES then): reason -> (CRA theme, domain)
_V7_REASONS = {"demarches": ("demarches_administratives", ""), "permanence": ("", "social_sante")}


def _v7(conn: Connection) -> None:
    # the visits held so far came from 1.0 kiosks: their default reason's categories
    p_visit_categories.create(conn)
    conn.exec_driver_sql(
        "CREATE INDEX r_visit_categories_day ON p_visit_categories (day, cra_theme, domain, visits)"
    )
    theme = " ".join(f"WHEN '{code}' THEN '{cra}'" for code, (cra, _domain) in _V7_REASONS.items())
    domain = " ".join(f"WHEN '{code}' THEN '{dom}'" for code, (_cra, dom) in _V7_REASONS.items())
    conn.exec_driver_sql(
        "INSERT INTO p_visit_categories (centre_id, day, cra_theme, domain, visits) "
        f"SELECT centre_id, day, cra_theme, domain, sum(visits) FROM (SELECT centre_id, day, visits, "
        f"CASE reason {theme} ELSE '' END AS cra_theme, CASE reason {domain} ELSE '' END AS domain "
        "FROM p_visit_counts) AS held GROUP BY centre_id, day, cra_theme, domain"
    )


# ---------------------------------------------------------------- step 8: households


def _v8(conn: Connection) -> None:
    # the members held so far came with no household: NULL, « sans foyer renseigné »
    conn.exec_driver_sql("ALTER TABLE p_members ADD COLUMN household_id VARCHAR(36)")
    # the families' figures (reports.families) read the members in a
    # household alone, from this index: who they are, their years of birth
    # and their visit span (which family came in a period)
    conn.exec_driver_sql(
        "CREATE INDEX r_members_household ON p_members (centre_id, household_id, born_from, born_to, "
        "first_visit_day, last_visit_day, member_id) WHERE household_id IS NOT NULL"
    )


# ---------------------------------------------------------------- step 9: hub-to-hub roll-up


def _v9(conn: Connection) -> None:
    metadata.create_all(
        conn,
        tables=[
            child_hubs,
            child_codes,
            child_centres,
            child_figure_sets,
            child_figures,
            parent_link,
            parent_acked,
        ],
    )


# ---------------------------------------------------------------- step 10: volunteers' time


def _v10(conn: Connection) -> None:
    # no stretch is held before protocol 1.2: the table starts empty
    conn.exec_driver_sql("""
        CREATE TABLE p_volunteering (
            centre_id VARCHAR(36) NOT NULL,
            stretch_id VARCHAR(36) NOT NULL,
            volunteer_id VARCHAR(36) NOT NULL,
            kind VARCHAR(16) NOT NULL,
            day VARCHAR(10) NOT NULL,
            minutes INTEGER NOT NULL,
            auto_closed BOOLEAN NOT NULL,
            removed BOOLEAN NOT NULL,
            version INTEGER NOT NULL,
            as_of VARCHAR(32) NOT NULL,
            PRIMARY KEY (centre_id, stretch_id)
        )
        """)
    # a period's figures read from the index alone, by day
    conn.exec_driver_sql(
        "CREATE INDEX r_volunteering_day ON p_volunteering "
        "(day, centre_id, volunteer_id, kind, removed, auto_closed, minutes)"
    )


# ---------------------------------------------------------------- step 11: the residents' voice


def _v11(conn: Connection) -> None:
    # nothing of the kind is held before protocol 1.2: the tables start empty
    conn.exec_driver_sql("""
        CREATE TABLE p_ideas (
            centre_id VARCHAR(36) NOT NULL,
            idea_id VARCHAR(36) NOT NULL,
            theme VARCHAR(16) NOT NULL,
            received_day VARCHAR(10),
            answered_day VARCHAR(10),
            done_day VARCHAR(10),
            initiative_day VARCHAR(10),
            as_of VARCHAR(32) NOT NULL,
            PRIMARY KEY (centre_id, idea_id)
        )
        """)
    conn.exec_driver_sql("""
        CREATE TABLE p_feedback (
            centre_id VARCHAR(36) NOT NULL,
            feedback_id VARCHAR(36) NOT NULL,
            session_id VARCHAR(36) NOT NULL,
            face VARCHAR(16) NOT NULL,
            day VARCHAR(10) NOT NULL,
            PRIMARY KEY (centre_id, feedback_id)
        )
        """)
    # a period's faces read by day from the index alone, then joined to their sessions
    conn.exec_driver_sql("CREATE INDEX r_feedback_day ON p_feedback (day, centre_id, session_id, face)")


# ---------------------------------------------------------------- step 12: the devices' relay


def _v12(conn: Connection) -> None:
    # nothing is relayed before: the tables start empty
    metadata.create_all(conn, tables=[relay_blobs, relay_snapshots, relay_cursors])


# ---------------------------------------------------------------- step 13: events by month (PostgreSQL)

#: months of partitions made ahead of the current one, at step 13 and by the
#: hub itself since (ensure_partitions)
PARTITIONS_AHEAD = 3


def _v13(conn: Connection) -> None:
    # PostgreSQL: events partitioned by the month they occurred in, so that
    # retention drops a month whole; each event's key kept once in event_keys,
    # which holds exactly-once (docs/deploy-hub.md, "Events by month").
    # SQLite keeps its one events table.
    if conn.dialect.name != "postgresql":
        return
    for ddl in (
        "ALTER TABLE events RENAME TO events_v12",
        "ALTER TABLE events_v12 RENAME CONSTRAINT events_pkey TO events_v12_pkey",
        "ALTER TABLE events_v12 RENAME CONSTRAINT events_centre_event TO events_v12_centre_event",
        "ALTER INDEX events_centre_member RENAME TO events_v12_centre_member",
        # the numbering goes on: parent_sync's cursor is an events.seq
        "ALTER SEQUENCE events_seq_seq OWNED BY NONE",
        """CREATE TABLE event_keys (
            centre_id VARCHAR(36) NOT NULL REFERENCES centres (id),
            event_id VARCHAR(36) NOT NULL,
            content_hash VARCHAR(64) NOT NULL,
            PRIMARY KEY (centre_id, event_id)
        )""",
        # occurred_at in the "C" collation: its text sorts as its time whatever
        # the database's locale, so a month is a range of text
        """CREATE TABLE events (
            seq BIGINT NOT NULL DEFAULT nextval('events_seq_seq'),
            centre_id VARCHAR(36) NOT NULL REFERENCES centres (id),
            event_id VARCHAR(36) NOT NULL,
            type VARCHAR(40) NOT NULL,
            occurred_at VARCHAR(32) COLLATE "C" NOT NULL,
            received_at VARCHAR(32) NOT NULL,
            device_id VARCHAR(36),
            member_id VARCHAR(36),
            body TEXT NOT NULL,
            content_hash VARCHAR(64) NOT NULL,
            PRIMARY KEY (seq, occurred_at)
        ) PARTITION BY RANGE (occurred_at)""",
        "ALTER SEQUENCE events_seq_seq OWNED BY events.seq",
        "CREATE INDEX events_centre_member ON events (centre_id, member_id) WHERE member_id IS NOT NULL",
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    ):
        conn.exec_driver_sql(ddl)
    held = {
        month
        for (month,) in conn.exec_driver_sql("SELECT DISTINCT substr(occurred_at, 1, 7) FROM events_v12")
        if _v13_month(month)
    }
    this_month = clock.utc_now().strftime("%Y-%m")
    ahead = {this_month}
    for _ in range(PARTITIONS_AHEAD):
        ahead.add(_v13_next(max(ahead)))
    for month in sorted(held | ahead):
        conn.exec_driver_sql(
            f"CREATE TABLE events_{month.replace('-', '_')} PARTITION OF events "
            f"FOR VALUES FROM ('{month}') TO ('{_v13_next(month)}')"
        )
    columns = (
        "seq, centre_id, event_id, type, occurred_at, received_at, device_id, member_id, body, content_hash"
    )
    conn.exec_driver_sql(
        "INSERT INTO event_keys (centre_id, event_id, content_hash) "
        "SELECT centre_id, event_id, content_hash FROM events_v12"
    )
    conn.exec_driver_sql(f"INSERT INTO events ({columns}) SELECT {columns} FROM events_v12")
    conn.exec_driver_sql("DROP TABLE events_v12")


def _v13_month(text: str | None) -> bool:
    """'YYYY-MM', a real month."""
    return (
        text is not None
        and len(text) == 7
        and text[:4].isdigit()
        and text[4] == "-"
        and text[5:].isdigit()
        and 1 <= int(text[5:]) <= 12
    )


def _v13_next(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


# ---------------------------------------------------------------- step 14: pairing a new device


def _v14(conn: Connection) -> None:
    # no invite before: the table starts empty
    metadata.create_all(conn, tables=[relay_invites])


# ---------------------------------------------------------------- step 15: the children's months


def _v15(conn: Connection) -> None:
    child_month_figures.create(conn)
    # the day sets held so far, summed by month (a day set's period is 'YYYY-MM-DD')
    conn.exec_driver_sql(
        "INSERT INTO child_month_figures (child_id, centre_id, month, dimension, key, value) "
        "SELECT child_id, centre_id, substr(period, 1, 7), dimension, key, sum(value) FROM child_figures "
        "WHERE length(period) = 10 GROUP BY child_id, centre_id, substr(period, 1, 7), dimension, key"
    )
    # the distinct figures of a year are read by period with their centre: a covering index
    conn.exec_driver_sql("DROP INDEX child_figures_period")
    conn.exec_driver_sql(
        "CREATE INDEX child_figures_year "
        "ON child_figures (period, dimension, child_id, centre_id, key, value)"
    )


# ---------------------------------------------------------------- step 16: the FSE+ situation


def _v16(conn: Connection) -> None:
    # the members held so far gave none: « non renseigné »
    for column in ("employment", "education"):
        conn.exec_driver_sql(f"ALTER TABLE p_members ADD COLUMN {column} VARCHAR(16)")
    # the FSE+ table (reports.situations) reads the members who gave an
    # answer alone, from this index: their answers, sex and visit span
    conn.exec_driver_sql(
        "CREATE INDEX r_members_situation ON p_members (centre_id, employment, education, gender, "
        "first_visit_day, last_visit_day, member_id) WHERE employment IS NOT NULL OR education IS NOT NULL"
    )


# ---------------------------------------------------------------- step 17: children's day figures


def _v17(conn: Connection) -> None:
    # the day sets' figures are read by their key (a store, a forward) and
    # summed by month in child_month_figures: only the months' and years'
    # sets need reading by period
    conn.exec_driver_sql("DROP INDEX child_figures_year")
    if conn.dialect.name == "sqlite":
        # keyed by its key alone (WITHOUT ROWID): one b-tree, not a table and its key's index
        conn.exec_driver_sql(
            "CREATE TABLE child_figures_v17 (child_id VARCHAR(36) NOT NULL, centre_id VARCHAR(36) NOT NULL, "
            "period VARCHAR(10) NOT NULL, dimension VARCHAR(60) NOT NULL, key VARCHAR(100) NOT NULL, "
            "value BIGINT NOT NULL, PRIMARY KEY (child_id, centre_id, period, dimension, key)) WITHOUT ROWID"
        )
        conn.exec_driver_sql(
            "INSERT INTO child_figures_v17 SELECT child_id, centre_id, period, dimension, key, value "
            "FROM child_figures"
        )
        conn.exec_driver_sql("DROP TABLE child_figures")
        conn.exec_driver_sql("ALTER TABLE child_figures_v17 RENAME TO child_figures")
    conn.exec_driver_sql(
        "CREATE INDEX child_figures_periods ON child_figures "
        "(period, dimension, child_id, centre_id, key, value) WHERE length(period) < 10"
    )


# ---------------------------------------------------------------- step 18: the devices' app versions


def _v18(conn: Connection) -> None:
    # no device said its version before: the table starts empty
    metadata.create_all(conn, tables=[device_versions])


# ---------------------------------------------------------------- step 19: the itinerant mode


def _v19(conn: Connection) -> None:
    # nothing of the kind is held before: the tables start empty
    metadata.create_all(conn, tables=[p_outreach, p_outreach_visits, p_outreach_members])
    conn.exec_driver_sql("CREATE INDEX r_outreach_day ON p_outreach (day, centre_id)")
    conn.exec_driver_sql("CREATE INDEX r_outreach_visits ON p_outreach_visits (centre_id, outreach_id)")
    conn.exec_driver_sql("CREATE INDEX r_outreach_members ON p_outreach_members (centre_id, outreach_id)")


# ---------------------------------------------------------------- step 20: seat requests between centres


def _v20(conn: Connection) -> None:
    # no centre registered a key nor asked a seat before: the tables start empty
    metadata.create_all(conn, tables=[centre_keys, seat_requests])


# ---------------------------------------------------------------- step 21: workshop sheets


def _v21(conn: Connection) -> None:
    # no sheet was written nor adopted before: the tables start empty
    metadata.create_all(conn, tables=[sheets, sheet_adoptions])


# ---------------------------------------------------------------- step 22: rollups for long periods


def _v22(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(ROLLUP_TABLES))
    rebuild_rollups(conn)


#: the member's columns a participants' figure is counted by, in attrs_keys' order
ATTR_COLUMNS = (
    "age_band",
    "gender",
    "qpv",
    "born_from",
    "born_to",
    "employment",
    "education",
    "household_id",
)


def _text(value) -> str:
    return "" if value is None else ("1" if value else "0") if isinstance(value, bool) else str(value)


def attrs_keys(
    age_band, gender, qpv, born_from, born_to, employment, education, household_id
) -> tuple[str, ...]:
    """The r_participants keys a member is counted under: three marginals,
    so the rows follow the attributes' values, not the members: 'p' (age
    band, gender, QPV: the profile), 'b' (gender, born from, born to: every
    funder's age bands) and, for a member who gave an FSE+ answer, 's'
    (gender, employment, education), and for a member in a household 'h'
    (the household: the families reached); each part '' for unknown, QPV 1
    or 0, joined by '|' (_ATTRS_SQL writes the same from SQL)."""
    qpv = None if qpv is None else bool(qpv)
    keys = [
        "|".join(("p", age_band or "", gender or "", _text(qpv))),
        "|".join(("b", gender or "", _text(born_from), _text(born_to))),
    ]
    if employment is not None or education is not None:
        keys.append("|".join(("s", gender or "", employment or "", education or "")))
    if household_id is not None:
        keys.append(f"h|{household_id}||")
    return tuple(keys)


def parse_attrs(key: str) -> tuple[str, tuple]:
    """An attrs_keys key back: its kind and its values, None for unknown (a
    bool for QPV, ints for the years)."""
    kind, first, second, third = key.split("|")
    if kind == "p":
        return kind, (first, second or None, None if third == "" else third == "1")
    if kind == "b":
        return kind, (first or None, int(second) if second else None, int(third) if third else None)
    if kind == "h":
        return kind, (first,)
    return kind, (first or None, second or None, third or None)


#: attrs_keys' keys from SQL, and the members each applies to
_ATTRS_SQL = (
    (
        "'p|' || coalesce(m.age_band, '') || '|' || coalesce(m.gender, '') || '|' || "
        "(CASE WHEN m.qpv IS NULL THEN '' WHEN m.qpv THEN '1' ELSE '0' END)",
        "1 = 1",
    ),
    (
        "'b|' || coalesce(m.gender, '') || '|' || coalesce(CAST(m.born_from AS VARCHAR), '') || '|' || "
        "coalesce(CAST(m.born_to AS VARCHAR), '')",
        "1 = 1",
    ),
    (
        "'s|' || coalesce(m.gender, '') || '|' || coalesce(m.employment, '') || '|' || "
        "coalesce(m.education, '')",
        "(m.employment IS NOT NULL OR m.education IS NOT NULL)",
    ),
    ("'h|' || m.household_id || '||'", "m.household_id IS NOT NULL"),
)


@functools.lru_cache(maxsize=4096)
def _paris_month_of_hour(utc_hour: str) -> str:
    return datetime.fromisoformat(utc_hour + ":00:00+00:00").astimezone(clock.PARIS).strftime("%Y-%m")


def paris_month(utc_text: str) -> str:
    """The Europe/Paris month ('YYYY-MM') of a stored UTC time ('…Z')."""
    return _paris_month_of_hour(utc_text[:13])


def rebuild_rollups(conn: Connection) -> None:
    """The rollups (schema 22) from the day projections, from scratch: what
    the schema step runs on a hub that held projections before, and what
    tests and benchmarks that fill the projections directly call."""
    for table in ROLLUP_TABLES:
        conn.execute(table.delete())
    if sa.inspect(conn).has_table(r_period_figures.name):
        # computed from what is being rebuilt
        conn.execute(r_period_figures.delete())
    conn.exec_driver_sql(
        "INSERT INTO r_visit_months (centre_id, month, reason, visits) "
        "SELECT centre_id, substr(day, 1, 7), reason, sum(visits) FROM p_visit_counts GROUP BY 1, 2, 3"
    )
    conn.exec_driver_sql(
        "INSERT INTO r_category_months (centre_id, month, cra_theme, domain, visits) "
        "SELECT centre_id, substr(day, 1, 7), cra_theme, domain, sum(visits) "
        "FROM p_visit_categories GROUP BY 1, 2, 3, 4"
    )
    conn.exec_driver_sql(
        "INSERT INTO r_visit_days (day, centre_id, visits) "
        "SELECT day, centre_id, sum(visits) FROM p_visit_counts GROUP BY 1, 2"
    )
    conn.exec_driver_sql(
        "INSERT INTO r_member_months (centre_id, member_id, month, via) "
        "SELECT DISTINCT centre_id, member_id, substr(day, 1, 7), 'v' FROM p_presence"
    )
    # the sessions' Paris months, from their UTC start (the hour decides it)
    attended: set[tuple[str, str, str]] = set()
    for centre_id, member_id, starts_at in conn.exec_driver_sql(
        "SELECT a.centre_id, a.member_id, s.starts_at FROM p_attendance a JOIN p_sessions s "
        "ON s.centre_id = a.centre_id AND s.session_id = a.session_id "
        "WHERE a.present AND a.member_id IS NOT NULL AND NOT s.cancelled AND s.starts_at IS NOT NULL"
    ):
        attended.add((centre_id, member_id, paris_month(starts_at)))
    if attended:
        conn.execute(
            r_member_months.insert(),
            [
                {"centre_id": c, "member_id": m, "month": month, "via": "a"}
                for c, m, month in sorted(attended)
            ],
        )
    for period in ("p.month", "substr(p.month, 1, 4)"):
        for key, which in _ATTRS_SQL:
            conn.exec_driver_sql(
                "INSERT INTO r_participants (period, centre_id, attrs, members) "
                f"SELECT p.period, m.centre_id, {key}, count(*) "
                f"FROM (SELECT DISTINCT centre_id, member_id, {period} AS period FROM r_member_months p) p "
                "JOIN p_members m ON m.centre_id = p.centre_id AND m.member_id = p.member_id "
                f"WHERE {which} GROUP BY 1, 2, 3"
            )


# ---------------------------------------------------------------- step 23: key rotations in the relay


def _v23(conn: Connection) -> None:
    # no centre rotated its key before: the table starts empty
    metadata.create_all(conn, tables=[relay_keys])


# ---------------------------------------------------------------- step 24: invites' short codes


def _v24(conn: Connection) -> None:
    # invites made before have no short code: they are joined with their QR
    # code only. Step 14 creates the table from today's definition, which
    # has the columns already on a new hub.
    held = {column["name"] for column in sa.inspect(conn).get_columns("relay_invites")}
    for column, kind in (
        ("short_slot", "VARCHAR(8)"),
        ("short_hash", "VARCHAR(64)"),
        ("inviter_key", "VARCHAR(64)"),
        ("tries", "INTEGER NOT NULL DEFAULT 0"),
        ("burnt_at", "VARCHAR(32)"),
    ):
        if column not in held:
            conn.exec_driver_sql(f"ALTER TABLE relay_invites ADD COLUMN {column} {kind}")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_relay_invites_short_slot ON relay_invites (short_slot)"
    )


# ---------------------------------------------------------------- step 25: publications to the kiosks


def _v25(conn: Connection) -> None:
    # nothing was published before: the tables start empty, the counter at
    # 0; the hub's signing key is made now, once (an Ed25519 seed is 32
    # random bytes), so every process of the hub reads the same one
    metadata.create_all(conn, tables=[publications, publication_counter, hub_keys])
    conn.execute(publication_counter.insert().values(id=1, seq=0))
    conn.execute(
        hub_keys.insert().values(
            name="publications",
            seed=os.urandom(32).hex(),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
    )


# ---------------------------------------------------------------- step 26: no visit spans on members


def _v26(conn: Connection) -> None:
    # a period's participants are read from r_member_months (schema 22) and,
    # at a period's edges, p_presence: the spans kept on p_members, and the
    # indexes made to read them, only cost ingest an update a visit
    for index in ("r_members_born", "r_members_household", "r_members_situation"):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    for column in ("first_visit_day", "last_visit_day"):
        conn.exec_driver_sql(f"ALTER TABLE p_members DROP COLUMN {column}")
    # the families' figures read the members of the households reached
    conn.exec_driver_sql(
        "CREATE INDEX r_members_household ON p_members (centre_id, household_id, born_from, born_to, "
        "member_id) WHERE household_id IS NOT NULL"
    )


# ---------------------------------------------------------------- step 27: the members' attributes by key


def _v27(conn: Connection) -> None:
    # a period other than a calendar year or month reads its people's
    # attributes by (centre, member): from this index alone, not the table
    conn.exec_driver_sql(
        "CREATE INDEX r_members_attrs ON p_members (centre_id, member_id, age_band, gender, qpv, "
        "born_from, born_to, employment, education, household_id)"
    )


def _v28(conn: Connection) -> None:
    # centres made before have no commune; a new hub's step 1 creates the
    # table from today's definition, which has it already
    if "commune" not in {column["name"] for column in sa.inspect(conn).get_columns("centres")}:
        conn.exec_driver_sql("ALTER TABLE centres ADD COLUMN commune VARCHAR(80)")


def _v29(conn: Connection) -> None:
    # empty: the hub computes each centre's figures as they are read and kept
    metadata.create_all(conn, tables=[r_period_figures])


#: version -> step. Steps run in order inside one transaction each.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1,
    2: _v2,
    3: _v3,
    4: _v4,
    5: _v5,
    6: _v6,
    7: _v7,
    8: _v8,
    9: _v9,
    10: _v10,
    11: _v11,
    12: _v12,
    13: _v13,
    14: _v14,
    15: _v15,
    16: _v16,
    17: _v17,
    18: _v18,
    19: _v19,
    20: _v20,
    21: _v21,
    22: _v22,
    23: _v23,
    24: _v24,
    25: _v25,
    26: _v26,
    27: _v27,
    28: _v28,
    29: _v29,
}
LATEST_VERSION = max(MIGRATIONS)


# ---------------------------------------------------------------- events by month (PostgreSQL)


def stored_keys(conn: Connection) -> sa.Table:
    """The table holding each stored event's (centre_id, event_id,
    content_hash) once, for replay vs conflict: events itself on SQLite;
    event_keys on PostgreSQL, whose events are partitioned by month."""
    return event_keys if conn.dialect.name == "postgresql" else events


def _is_month(text: str | None) -> bool:
    """'YYYY-MM', a real month."""
    return text is not None and re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text) is not None


def month_after(month: str) -> str:
    """'YYYY-MM' -> the next month, 'YYYY-MM'."""
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def event_partitions(conn: Connection) -> dict[str, str]:
    """The month partitions of events on PostgreSQL: {'YYYY-MM': table name},
    the DEFAULT partition left out; {} on SQLite."""
    if conn.dialect.name != "postgresql":
        return {}
    rows = conn.exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
    )
    found = {}
    for name, bound in rows:
        if bound != "DEFAULT":  # FOR VALUES FROM ('YYYY-MM') TO ('YYYY-MM')
            found[bound.split("'")[1]] = name
    return dict(sorted(found.items()))


def ensure_partitions(conn: Connection, ahead: int = PARTITIONS_AHEAD) -> list[str]:
    """Make the month partitions of events from this month to ``ahead``
    months on, and for each month the DEFAULT partition holds, where missing
    (PostgreSQL; nothing on SQLite); the months made. An insert never fails
    for want of one: the DEFAULT partition takes any month that has none (a
    new hub sent years of history, a hub left unattended); its rows move to
    their month's partition here, so that retention drops them whole."""
    if conn.dialect.name != "postgresql":
        return []
    held = event_partitions(conn)
    months = [clock.utc_now().strftime("%Y-%m")]
    while len(months) <= ahead:
        months.append(month_after(months[-1]))
    strays = conn.exec_driver_sql("SELECT DISTINCT substr(occurred_at, 1, 7) FROM events_default")
    months += [month for (month,) in strays if _is_month(month)]
    made = []
    for month in sorted(set(months) - set(held)):
        table, after = f"events_{month.replace('-', '_')}", month_after(month)
        # made apart and attached: the DEFAULT's rows of the month move first
        # (attaching checks the DEFAULT holds none)
        conn.exec_driver_sql(f"CREATE TABLE {table} (LIKE events INCLUDING DEFAULTS)")
        conn.exec_driver_sql(
            f"WITH moved AS (DELETE FROM events_default WHERE occurred_at >= '{month}' "
            f"AND occurred_at < '{after}' RETURNING *) INSERT INTO {table} SELECT * FROM moved"
        )
        conn.exec_driver_sql(
            f"ALTER TABLE events ATTACH PARTITION {table} FOR VALUES FROM ('{month}') TO ('{after}')"
        )
        made.append(month)
    return made


# ---------------------------------------------------------------- engine


class UnsupportedDatabase(ValueError):
    """A database URL the hub cannot use."""


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and pick the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else $FEDERATION_DB, else the default."""
    return url or os.environ.get("FEDERATION_DB") or DEFAULT_DB_URL


def create_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see ``database_url``), SQLite set up for a server."""
    url = normalise_url(database_url(url))
    if url.startswith("sqlite"):
        # last in, first out: the next writer most often takes the connection
        # the last one used, whose page cache is still good (SQLite empties a
        # connection's cache when another connection wrote since its last read)
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_use_lifo=True
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if not url.startswith("postgresql"):
        raise UnsupportedDatabase(
            f"unsupported database URL {url!r}: use sqlite:///file.db or postgresql://…"
        )
    # JIT off: the report queries' estimates pass PostgreSQL's jit_above_cost,
    # and compiling them takes far longer than running them
    # (docs/performance.md, bench_hub_dashboard)
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
    # A batch's projections touch pages all over p_members and p_presence;
    # checkpointing every WAL_CHECKPOINT_PAGES (not SQLite's 1,000) lets a
    # burst of batches rewrite those pages in the WAL and copy each into the
    # database once. The WAL file is cut back to its limit after each one.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    # Those pages are more than SQLite's default cache holds: a batch would
    # write some out to the WAL and read them back before its commit
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
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


_write_turns: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_write_turns_guard = threading.Lock()


#: when this process's last write turn ended (time.monotonic())
_last_write_end = 0.0


@contextlib.contextmanager
def write_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, this process's writers take turns on a lock of the engine's
    before asking SQLite for its write lock. Two batches in flight then wait
    for each other on a lock that wakes the next at once, instead of SQLite's
    busy handler, which sleeps between tries, longer each time. Other
    processes still meet SQLite's busy timeout.
    PostgreSQL needs no turn: its writers lock rows, not the database.
    On both, the turn's end is noted (seconds_since_write)."""
    global _last_write_end
    try:
        if engine.dialect.name != "sqlite":
            yield
            return
        with _write_turns_guard:
            turn = _write_turns.get(engine)
            if turn is None:
                turn = _write_turns[engine] = threading.Lock()
        with turn:
            yield
    finally:
        _last_write_end = time.monotonic()


def seconds_since_write() -> float:
    """Seconds since a write turn of this process last ended (batches,
    relay, agenda): background work waits for a pause in the writes."""
    return time.monotonic() - _last_write_end


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
                f"database schema is version {version}, newer than "
                f"this hub ({LATEST_VERSION}): upgrade the hub"
            )
        for step in sorted(v for v in MIGRATIONS if v > version):
            MIGRATIONS[step](conn)
            conn.execute(schema_version.insert().values(version=step, applied_at=utc_now_iso()))
            version = step
        ensure_partitions(conn)
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


def utc_now_iso() -> str:
    return protocol.utc_iso(clock.utc_now())
