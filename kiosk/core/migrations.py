"""The kiosk database's schema, as forward migrations.

``MIGRATIONS[n]`` takes a database at ``PRAGMA user_version = n`` to ``n + 1``.
A released migration is never edited: a change is a new entry, with a test
that upgrades a database made at the version before it (tests/test_migrations.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from sync import outbox


def _v1(conn: sqlite3.Connection) -> None:
    statements = [
        # settings: one JSON value per key (see kiosk/core/settings.py)
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE TABLE members (
            id TEXT PRIMARY KEY,
            first_name TEXT,
            last_name TEXT,
            birth_year INTEGER,
            gender TEXT CHECK (gender IN ('woman', 'man', 'non_binary', 'unsaid')),
            commune TEXT,
            neighbourhood TEXT,
            qpv INTEGER NOT NULL DEFAULT 0,
            phone TEXT,
            email TEXT,
            consent_data INTEGER NOT NULL DEFAULT 0,
            consent_data_at TEXT,
            consent_photos INTEGER NOT NULL DEFAULT 0,
            consent_contact INTEGER NOT NULL DEFAULT 0,
            card_code TEXT UNIQUE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_seen_at TEXT,
            erased_at TEXT
        )
        """,
        # folded name tokens for the volunteers' search (kiosk/core/search.py);
        # ``seen`` copies the member's last_seen_at (or created_at) so a search
        # ranks by recency from this index alone, without reading members
        """
        CREATE TABLE member_tokens (
            token TEXT NOT NULL,
            member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
            seen TEXT NOT NULL,
            PRIMARY KEY (token, member_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX member_tokens_member ON member_tokens (member_id)",
        # a word's members most recently seen first, read in order (no sort)…
        "CREATE INDEX member_tokens_token_seen ON member_tokens (token, seen)",
        # …and everyone by recency, for prefixes so short they match thousands
        "CREATE INDEX member_tokens_seen ON member_tokens (seen)",
        # each distinct token and its one-letter deletions: the typo-tolerant
        # search looks candidates up here (symmetric deletion, kiosk/core/search.py)
        """
        CREATE TABLE token_variants (
            variant TEXT NOT NULL,
            token TEXT NOT NULL,
            PRIMARY KEY (variant, token)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX token_variants_token ON token_variants (token)",
        # card codes no longer valid: replaced (lost card) or of an erased
        # member; refused at scan with the right message, never reused
        """
        CREATE TABLE revoked_cards (
            card_code TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
            reason TEXT NOT NULL DEFAULT 'replaced' CHECK (reason IN ('replaced', 'erased')),
            revoked_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE visits (
            id TEXT PRIMARY KEY,
            occurred_at TEXT NOT NULL,
            member_id TEXT REFERENCES members (id),
            reason TEXT NOT NULL,
            recorded_by_role TEXT NOT NULL
                CHECK (recorded_by_role IN ('resident', 'volunteer', 'staff')),
            recorded_by TEXT REFERENCES staff (id)
        )
        """,
        "CREATE INDEX visits_occurred_at ON visits (occurred_at)",
        "CREATE INDEX visits_member ON visits (member_id)",
        """
        CREATE TABLE workshops (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            theme TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            facilitator TEXT,
            place TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            workshop_id TEXT NOT NULL REFERENCES workshops (id),
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            capacity INTEGER NOT NULL CHECK (capacity >= 0),
            place TEXT,
            series_id TEXT,
            cancelled_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX sessions_starts_at ON sessions (starts_at)",
        "CREATE INDEX sessions_workshop ON sessions (workshop_id)",
        """
        CREATE TABLE registrations (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            member_id TEXT NOT NULL REFERENCES members (id),
            status TEXT NOT NULL CHECK (status IN ('booked', 'waitlisted', 'cancelled')),
            -- place in the session's queue: first come, first booked or promoted.
            -- An integer, not a time, so two sign-ups in the same millisecond
            -- still have an order; re-registering after cancelling takes a new one.
            queue_seq INTEGER NOT NULL,
            queued_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (session_id, member_id)
        )
        """,
        "CREATE INDEX registrations_session ON registrations (session_id, status, queue_seq)",
        "CREATE INDEX registrations_member ON registrations (member_id)",
        """
        CREATE TABLE attendance (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            member_id TEXT REFERENCES members (id),
            present INTEGER NOT NULL,
            walk_in INTEGER NOT NULL DEFAULT 0,
            marked_at TEXT NOT NULL,
            marked_by TEXT REFERENCES staff (id)
        )
        """,
        # one mark per member and session; anonymous walk-ins have no member
        "CREATE UNIQUE INDEX attendance_session_member ON attendance (session_id, member_id) "
        "WHERE member_id IS NOT NULL",
        """
        CREATE TABLE staff (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('volunteer', 'staff')),
            pin_salt BLOB NOT NULL,
            pin_hash BLOB NOT NULL,
            -- KDF and its cost, e.g. 'scrypt:n=16384,r=8,p=1', so the cost can
            -- be raised later without breaking the PINs already stored
            pin_params TEXT NOT NULL,
            -- PIN entry tries the most recent users first: fewer hashes for the usual case
            last_login_at TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        # PIN lockout is per kiosk, not per person: a wrong PIN names nobody
        """
        CREATE TABLE pin_attempts (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            failures INTEGER NOT NULL DEFAULT 0,
            -- lockouts since the last good PIN: the delay doubles with each
            lockouts INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT
        )
        """,
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor_id TEXT,
            actor_name TEXT,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX audit_log_at ON audit_log (at)",
    ]
    for statement in statements:
        conn.execute(statement)
    outbox.migrate(conn, target=1)


def _v2(conn: sqlite3.Connection) -> None:
    """Search recency leaves the check-in's transaction: a visit no
    longer updates ``members.last_seen_at`` and ``member_tokens.seen`` (four
    B-trees); ``search.refresh_recency`` applies the visits past a watermark
    before anything reads recency. Everything recorded so far was applied."""
    conn.execute("""
        CREATE TABLE recency (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            -- visits.rowid of the last visit applied to last_seen_at and member_tokens.seen
            visits_applied INTEGER NOT NULL
        )
        """)
    conn.execute("INSERT INTO recency (id, visits_applied) SELECT 1, coalesce(max(rowid), 0) FROM visits")


def _v3(conn: sqlite3.Connection) -> None:
    """The outbox's sent watermark and no index of state on the
    queue (fewer B-trees a check-in writes): the outbox's version 2, see sync/outbox.py."""
    outbox.migrate(conn, target=2)


def _v4(conn: sqlite3.Connection) -> None:
    """Fewer B-trees written by every check-in. The outbox loses
    AUTOINCREMENT and its unique index of event_id (see sync/outbox.py).
    Visits lose the unique index of their id, which no query reads (visits
    are read by time or by member) and which only guarded what time-ordered
    UUIDs made on the device already guarantee; the member index leaves out
    anonymous visits. Rowids are kept: they are the recency watermark's.
    The outbox goes to its version 3, see sync/outbox.py."""
    outbox.migrate(conn, target=3)
    conn.execute("""
        CREATE TABLE visits_v4 (
            id TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            member_id TEXT REFERENCES members (id),
            reason TEXT NOT NULL,
            recorded_by_role TEXT NOT NULL
                CHECK (recorded_by_role IN ('resident', 'volunteer', 'staff')),
            recorded_by TEXT REFERENCES staff (id)
        )
        """)
    conn.execute(
        "INSERT INTO visits_v4 (rowid, id, occurred_at, member_id, reason, recorded_by_role, "
        "recorded_by) SELECT rowid, id, occurred_at, member_id, reason, recorded_by_role, "
        "recorded_by FROM visits ORDER BY rowid"
    )
    conn.execute("DROP TABLE visits")
    conn.execute("ALTER TABLE visits_v4 RENAME TO visits")
    conn.execute("CREATE INDEX visits_occurred_at ON visits (occurred_at)")
    conn.execute("CREATE INDEX visits_member ON visits (member_id) WHERE member_id IS NOT NULL")


def _v5(conn: sqlite3.Connection) -> None:
    """One B-tree fewer for every check-in: visits lose their index
    of member_id. A member's visits sit at random places in it, so each
    check-in dirtied a page of its own there (a third of the check-in's
    database time on 1,000,000 visits). What read a member's visits reads
    past the recency watermark by rowid (``search.last_seen``), or is a rare
    staff action that scans the table once (erasure, the member export, the
    retention purge for all its members at once: a tenth of a second at
    1,000,000 visits)."""
    conn.execute("DROP INDEX IF EXISTS visits_member")


def _v6(conn: sqlite3.Connection) -> None:
    """The member search reads a word's members in recency order from the
    table itself, and checks a query's other words on the row:
    member_tokens is keyed (token, seen, member_id) and holds ``names``,
    every token of its member (see kiosk/core/search.py), so a
    multi-word query no longer sorts a prefix's rows before reading one."""
    conn.execute("""
        CREATE TABLE member_tokens_v6 (
            token TEXT NOT NULL,
            seen TEXT NOT NULL,
            member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
            names TEXT NOT NULL,
            PRIMARY KEY (token, seen, member_id)
        ) WITHOUT ROWID
        """)
    conn.execute("""
        INSERT INTO member_tokens_v6 (token, seen, member_id, names)
        SELECT token, seen, member_id,
               (SELECT ' ' || group_concat(o.token, ' ') || ' '
                FROM (SELECT token FROM member_tokens WHERE member_id = t.member_id ORDER BY token) AS o)
        FROM member_tokens AS t ORDER BY token, seen, member_id
        """)
    conn.execute("DROP TABLE member_tokens")
    conn.execute("ALTER TABLE member_tokens_v6 RENAME TO member_tokens")
    conn.execute("CREATE INDEX member_tokens_member ON member_tokens (member_id)")
    conn.execute("CREATE INDEX member_tokens_seen ON member_tokens (seen)")


def _v7(conn: sqlite3.Connection) -> None:
    """A resident who would rather not give a year of birth may give an age
    band instead: ``age_band`` (one of sync.protocol.AGE_BANDS but
    « unknown ») and ``age_band_year``, the year it was given in (a band is
    true in that year only; see members.reported_attributes)."""
    conn.execute("ALTER TABLE members ADD COLUMN age_band TEXT")
    conn.execute("ALTER TABLE members ADD COLUMN age_band_year INTEGER")


def _v8(conn: sqlite3.Connection) -> None:
    """Households (« foyers »): ``household_id``, a random id made on the
    device that the members of one household share (NULL: no household
    known). A household is nothing but the members holding its id, so one
    with nobody left is gone (see kiosk/core/households.py)."""
    conn.execute("ALTER TABLE members ADD COLUMN household_id TEXT")
    conn.execute("CREATE INDEX members_household ON members (household_id) WHERE household_id IS NOT NULL")


def _v9(conn: sqlite3.Connection) -> None:
    """The residents' voice (kiosk/core/voice.py): the idea box and the
    faces after a workshop. An idea's words and the contact a resident chose
    to leave stay here: the hub gets its theme and dates only. A face names
    the member only so that each person answers once a session; an
    anonymous one (handed round at the roll call's end) names nobody."""
    conn.execute("""
        CREATE TABLE ideas (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            theme TEXT NOT NULL
                CHECK (theme IN ('activites', 'sorties', 'quartier', 'numerique', 'famille', 'autre')),
            text TEXT NOT NULL DEFAULT '' CHECK (length(text) <= 500),
            -- given only when the resident chose to, with the consent's time
            contact_first_name TEXT,
            contact_phone TEXT,
            member_id TEXT REFERENCES members (id),
            contact_consent_at TEXT,
            answer TEXT CHECK (answer IS NULL OR length(answer) <= 300),
            answered_at TEXT,
            done_at TEXT,
            initiative_at TEXT,
            updated_at TEXT NOT NULL
        )
        """)
    conn.execute("CREATE INDEX ideas_created ON ideas (created_at)")
    conn.execute("CREATE INDEX ideas_member ON ideas (member_id) WHERE member_id IS NOT NULL")
    conn.execute("""
        CREATE TABLE feedback (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            member_id TEXT REFERENCES members (id),
            face TEXT NOT NULL CHECK (face IN ('content', 'moyen', 'pas_content')),
            via TEXT NOT NULL CHECK (via IN ('checkin', 'roll_call')),
            given_at TEXT NOT NULL
        )
        """)
    conn.execute(
        "CREATE UNIQUE INDEX feedback_session_member ON feedback (session_id, member_id) "
        "WHERE member_id IS NOT NULL"
    )
    conn.execute("CREATE INDEX feedback_session ON feedback (session_id)")


def _v10(conn: sqlite3.Connection) -> None:
    """Volunteers' time (kiosk/core/volunteering.py): each stretch of a
    volunteer's presence, of one kind (activity or governance), timed
    (``starts_at``/``ends_at``, UTC) or a duration on a day; ``minutes`` is
    NULL while it is open. ``version`` counts the versions sent to the hub
    (0: never sent); ``to_review`` marks one closed automatically that staff
    have not checked yet. The hub knows a volunteer by a random pseudonym
    only (``volunteer_pseudonyms``), never by the staff row's id or name."""
    conn.execute("""
        CREATE TABLE volunteer_stretches (
            id TEXT PRIMARY KEY,
            volunteer_id TEXT NOT NULL REFERENCES staff (id),
            kind TEXT NOT NULL CHECK (kind IN ('activity', 'governance')),
            day TEXT NOT NULL,
            starts_at TEXT,
            ends_at TEXT,
            minutes INTEGER CHECK (minutes IS NULL OR minutes BETWEEN 0 AND 1440),
            closed_by TEXT CHECK (closed_by IN ('volunteer', 'staff', 'auto')),
            to_review INTEGER NOT NULL DEFAULT 0,
            removed_at TEXT,
            version INTEGER NOT NULL DEFAULT 0,
            entered_by TEXT REFERENCES staff (id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """)
    conn.execute("CREATE INDEX volunteer_stretches_day ON volunteer_stretches (day, volunteer_id)")
    conn.execute("CREATE INDEX volunteer_stretches_person ON volunteer_stretches (volunteer_id, day)")
    # one open stretch a volunteer at most
    conn.execute(
        "CREATE UNIQUE INDEX volunteer_stretches_open ON volunteer_stretches (volunteer_id) "
        "WHERE minutes IS NULL AND removed_at IS NULL"
    )
    conn.execute("CREATE INDEX volunteer_stretches_review ON volunteer_stretches (day) WHERE to_review = 1")
    conn.execute("""
        CREATE TABLE volunteer_pseudonyms (
            staff_id TEXT PRIMARY KEY REFERENCES staff (id),
            pseudonym TEXT NOT NULL UNIQUE
        )
        """)


def _v11(conn: sqlite3.Connection) -> None:
    """Replication between a centre's devices (kiosk/core/replication.py,
    docs/replication.md): this device's own bookkeeping, never replicated.
    ``replication_device`` (one row, once replication is set up): the id the
    hub knows the device by, its key pair's seed, the centre's keyring, the
    last clock stamp, the next blob's counter, the relay cursor applied and
    the replay guard. ``replication_peers``: the centre's devices and their
    verify keys. ``replication_log``: every change made here or received
    (``blob_seq``: the blob of this device that carried a local change, NULL
    while not sealed). ``replication_outgoing``: sealed blobs until the
    relay stored them (sent again byte for byte). ``replication_refused``:
    blobs refused (tampered, replayed, unknown), for staff.
    An enrolled kiosk becomes its centre's first device on upgrade: the
    row is made here with new keys (``baseline = 1``: its existing members
    go into the log at its first exchange)."""
    conn.execute("""
        CREATE TABLE replication_device (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            replica_id TEXT NOT NULL,
            device_id TEXT,
            signing_seed BLOB NOT NULL,
            keyring TEXT NOT NULL,
            clock TEXT,
            next_seq INTEGER NOT NULL DEFAULT 0,
            cursor INTEGER NOT NULL DEFAULT 0,
            guard TEXT NOT NULL DEFAULT '{}',
            baseline INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )
        """)
    conn.execute("""
        CREATE TABLE replication_peers (
            device_id TEXT PRIMARY KEY,
            verify_key BLOB NOT NULL,
            label TEXT,
            added_at TEXT NOT NULL
        )
        """)
    conn.execute("""
        CREATE TABLE replication_log (
            change_id TEXT PRIMARY KEY,
            tbl TEXT NOT NULL,
            row_id TEXT NOT NULL,
            op TEXT NOT NULL,
            stamp TEXT NOT NULL,
            fields TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
            blob_seq INTEGER
        )
        """)
    conn.execute("CREATE INDEX replication_log_row ON replication_log (tbl, row_id)")
    conn.execute("CREATE INDEX replication_log_unsealed ON replication_log (origin) WHERE blob_seq IS NULL")
    conn.execute("""
        CREATE TABLE replication_outgoing (
            seq INTEGER PRIMARY KEY,
            blob BLOB NOT NULL,
            sealed_at TEXT NOT NULL,
            stored_at TEXT
        )
        """)
    conn.execute("""
        CREATE TABLE replication_refused (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            device_id TEXT,
            seq INTEGER,
            reason TEXT NOT NULL,
            checked_at TEXT
        )
        """)
    enrolled = conn.execute("SELECT value FROM settings WHERE key = 'device_token'").fetchone()
    if enrolled is not None and enrolled[0] not in (None, "null"):
        _v11_first_device(conn)


def _v11_first_device(conn: sqlite3.Connection) -> None:
    """New keys and a new keyring: this device starts its centre's replication."""
    import json
    import secrets
    from datetime import UTC, datetime

    from sync import envelope, protocol

    keys = envelope.DeviceKeys.new()
    conn.execute(
        "INSERT INTO replication_device (id, replica_id, signing_seed, keyring, baseline, created_at) "
        "VALUES (1, ?, ?, ?, 1, ?)",
        (
            secrets.token_hex(8),
            keys.seed,
            json.dumps(envelope.Keyring.new().to_json()),
            protocol.utc_iso(datetime.now(UTC)),
        ),
    )


def _v12(conn: sqlite3.Connection) -> None:
    """Seats given twice while two devices were apart
    (``sync.replication.SeatConflict``): the booking the merge put first on
    the waiting list, kept for staff in « À vérifier » until one of them
    has told the resident (``checked_at``)."""
    conn.execute("""
        CREATE TABLE replication_conflicts (
            registration_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            found_at TEXT NOT NULL,
            checked_at TEXT
        )
        """)


def _v13(conn: sqlite3.Connection) -> None:
    """The FSE+ situation a member may give when the centre asks it
    (kiosk/core/situation.py): when they consented to give it, and their
    answers. NULL for everyone registered before: never asked."""
    conn.execute("ALTER TABLE members ADD COLUMN situation_consent_at TEXT")
    conn.execute("ALTER TABLE members ADD COLUMN employment TEXT")
    conn.execute("ALTER TABLE members ADD COLUMN education TEXT")


def _v14(conn: sqlite3.Connection) -> None:
    """The itinerant mode (« hors les murs », kiosk/core/outreach.py): the
    events this device was taken to, and the event a visit or a new member
    was recorded at (NULL: at the centre)."""
    conn.execute("""
        CREATE TABLE outreach_events (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            place TEXT NOT NULL,
            neighbourhood TEXT,
            commune TEXT,
            qpv INTEGER NOT NULL DEFAULT 0,
            day TEXT NOT NULL,
            partner TEXT,
            partner_kind TEXT,
            started_at TEXT NOT NULL,
            started_by TEXT,
            ended_at TEXT
        )
        """)
    conn.execute("CREATE INDEX outreach_events_open ON outreach_events (day) WHERE ended_at IS NULL")
    conn.execute("ALTER TABLE visits ADD COLUMN outreach_id TEXT")
    conn.execute("ALTER TABLE members ADD COLUMN outreach_id TEXT")


def _v15(conn: sqlite3.Connection) -> None:
    """Seat requests between centres (kiosk/core/seat_requests.py): those a
    resident made here for another centre's session (``seat_requests_out``,
    kept until the answer came and staff told the resident), and those
    another centre's residents made for a session here (``seat_requests_in``,
    until staff decided and the answer left). Both hold names: they never
    leave the device but sealed to the other centre's key."""
    conn.execute("""
        CREATE TABLE seat_requests_out (
            id TEXT PRIMARY KEY,
            to_centre TEXT NOT NULL,
            to_centre_name TEXT NOT NULL,
            session_id TEXT NOT NULL,
            title TEXT NOT NULL,
            place TEXT,
            starts_at TEXT NOT NULL,
            first_name TEXT NOT NULL,
            last_name TEXT NOT NULL,
            phone TEXT NOT NULL,
            consent_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            outcome TEXT,
            answered_at TEXT,
            told_at TEXT,
            told_by TEXT
        )
        """)
    conn.execute("""
        CREATE TABLE seat_requests_in (
            id TEXT PRIMARY KEY,
            from_centre TEXT NOT NULL,
            from_centre_name TEXT NOT NULL,
            reply_key TEXT NOT NULL,
            session_id TEXT NOT NULL,
            first_name TEXT NOT NULL,
            last_name TEXT NOT NULL,
            phone TEXT NOT NULL,
            consent_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            outcome TEXT,
            decided_at TEXT,
            decided_by TEXT,
            member_id TEXT,
            registration_id TEXT,
            answer BLOB,
            answer_sent_at TEXT
        )
        """)


def _v16(conn: sqlite3.Connection) -> None:
    """Workshop sheets (kiosk/core/sheets.py): a workshop made here from a
    federation sheet keeps the sheet's id (``sheet_id``, sent with the
    workshop's events so the hub counts the sheet's diffusion), and one this
    centre offered to the others keeps when (``offered_at``). Nothing is held
    before: the table starts empty."""
    conn.execute("""
        CREATE TABLE workshop_sheets (
            workshop_id TEXT PRIMARY KEY,
            sheet_id TEXT,
            adopted_at TEXT,
            offered_at TEXT
        )
        """)


def _v17(conn: sqlite3.Connection) -> None:
    """The rest of the centre's working data replicates (visits, staff
    accounts, shared settings, the audit log; docs/replication.md).
    Audit lines get an id of their own (a UUID, given now to those already
    written), under which every device keeps each line once.
    ``replication_device.baseline`` becomes a set of flags (1: members,
    workshops, sessions, registrations, attendance; 2: visits, staff, audit
    log; 4: shared settings): a device already replicating puts its visits,
    staff, audit lines and settings into the log at its next exchange,
    nothing lost. ``replication_waiting``: received rows waiting for a row
    they point at (a visit for its member or its recorder)."""
    import uuid

    conn.execute("ALTER TABLE audit_log ADD COLUMN id TEXT")
    seqs = [row[0] for row in conn.execute("SELECT seq FROM audit_log")]
    conn.executemany("UPDATE audit_log SET id = ? WHERE seq = ?", ((str(uuid.uuid4()), seq) for seq in seqs))
    conn.execute("CREATE UNIQUE INDEX audit_log_id ON audit_log (id)")
    conn.execute("UPDATE replication_device SET baseline = baseline | 6")
    conn.execute("""
        CREATE TABLE replication_waiting (
            tbl TEXT NOT NULL,
            row_id TEXT NOT NULL,
            needs TEXT NOT NULL,
            PRIMARY KEY (tbl, row_id, needs)
        )
        """)
    conn.execute("CREATE INDEX replication_waiting_needs ON replication_waiting (needs)")


def _v18(conn: sqlite3.Connection) -> None:
    """Duplicates merged by staff (kiosk/core/duplicates.py): a member record
    merged into the one kept points at it (``merged_into``; its details are
    removed and ``erased_at`` says when, so every list of living members
    leaves it out), and the pairs staff said are not the same person
    (``duplicate_dismissals``, the smaller id first), never shown again."""
    conn.execute("ALTER TABLE members ADD COLUMN merged_into TEXT")
    conn.execute("""
        CREATE TABLE duplicate_dismissals (
            member_a TEXT NOT NULL,
            member_b TEXT NOT NULL,
            dismissed_at TEXT NOT NULL,
            PRIMARY KEY (member_a, member_b),
            CHECK (member_a < member_b)
        ) WITHOUT ROWID
        """)


def _v19(conn: sqlite3.Connection) -> None:
    """What the federation published (kiosk/core/federation_feed.py): the
    last good copy of each (kind, key), its body as the hub signed it and
    when this kiosk received it. The hub's key, the cursor and the last
    refusal live in sync_state. Nothing was received before: empty."""
    conn.execute("""
        CREATE TABLE federation_feed (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID
        """)


def _v20(conn: sqlite3.Connection) -> None:
    """Which device wrote an audit line: ``audit_log.device``, the replica
    id whose clock stamped the line's change (received lines; NULL: written
    on this device), and ``replication_peers.replica_id``, the replica id a
    device of the centre stamps its changes with (learnt from its blobs), so
    the audit screen can name the device by its label."""
    conn.execute("ALTER TABLE audit_log ADD COLUMN device TEXT")
    conn.execute("ALTER TABLE replication_peers ADD COLUMN replica_id TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8,
    _v9,
    _v10,
    _v11,
    _v12,
    _v13,
    _v14,
    _v15,
    _v16,
    _v17,
    _v18,
    _v19,
    _v20,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` (the current ``SCHEMA_VERSION``
    unless a test builds an older one), one transaction per step.
    Returns the version it started from. Refuses a database from the future."""
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {start} is newer than this program's "
            f"({SCHEMA_VERSION}): upgrade Accueil before opening it"
        )
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start
