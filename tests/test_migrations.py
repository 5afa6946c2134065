"""Each schema migration, tested from the version before it.

To add migration n -> n+1: write ``test_v{n}_to_v{n+1}`` here with
``upgrade_from(path, n, seed)``, where ``seed`` inserts rows the way a release
at version n wrote them (plain SQL, never today's services: they speak the
new schema), then assert on what the upgraded rows look like.
``test_every_migration_has_its_test`` fails until that test exists.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.core import migrations, search
from kiosk.core.store import Store, connect
from kiosk.core.text import name_tokens
from sync import outbox


def database_at(path: Path, version: int) -> sqlite3.Connection:
    """A database file as a release at schema ``version`` left it."""
    conn = connect(str(path))
    migrations.migrate(conn, target=version)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    return conn


def upgrade_from(
    path: Path, version: int, seed: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """Build the database at ``version``, let ``seed`` write into it, then run
    the next migration, and check the file is sound. Returns the connection."""
    conn = database_at(path, version)
    if seed:
        conn.execute("BEGIN")
        seed(conn)
        conn.execute("COMMIT")
    assert migrations.migrate(conn, target=version + 1) == version
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version + 1
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return conn


def objects(conn: sqlite3.Connection, kind: str) -> set[str]:
    return {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'", (kind,)
        )
    }


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def query_plan(conn: sqlite3.Connection, sql: str, parameters: tuple = ()) -> str:
    """What SQLite's EXPLAIN QUERY PLAN says of ``sql``, its lines joined."""
    return " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, parameters))


def _member_a(first: str, last: str, birth_year: int) -> Callable[[sqlite3.Connection], None]:
    """A seed: one member 'a' with a year of birth, as the releases before wrote it."""

    def seed(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO members (id, first_name, last_name, birth_year, created_at, updated_at) "
            "VALUES ('a', ?, ?, ?, 'x', 'x')",
            (first, last, birth_year),
        )

    return seed


_MARC = _member_a("Marc", "Petit", 1970)


def test_every_migration_has_its_test():
    missing = [
        f"test_v{n}_to_v{n + 1}"
        for n in range(migrations.SCHEMA_VERSION)
        if f"test_v{n}_to_v{n + 1}" not in globals()
    ]
    assert missing == []


def test_v0_to_v1(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 0)
    assert {
        "settings",
        "members",
        "member_tokens",
        "revoked_cards",
        "visits",
        "workshops",
        "sessions",
        "registrations",
        "attendance",
        "staff",
        "pin_attempts",
        "audit_log",
        "outbox",
        "sync_state",
    } <= objects(conn, "table")
    assert {
        "registrations_session",
        "attendance_session_member",
        "visits_occurred_at",
        "outbox_state_seq",
    } <= objects(conn, "index")
    assert {"queue_seq", "status", "queued_at"} <= columns(conn, "registrations")
    assert {"pin_salt", "pin_hash", "pin_params", "active"} <= columns(conn, "staff")


def _v1_rows(conn: sqlite3.Connection) -> None:
    now = "2026-12-01T08:00:00.000Z"
    conn.execute("INSERT INTO members (id, created_at, updated_at) VALUES ('m', ?, ?)", (now, now))
    conn.execute(
        "INSERT INTO workshops (id, title, theme, created_at, updated_at) "
        "VALUES ('w', 'Atelier', 'autre', ?, ?)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO sessions (id, workshop_id, starts_at, ends_at, capacity, "
        "created_at, updated_at) VALUES ('s', 'w', ?, ?, 2, ?, ?)",
        (now, now, now, now),
    )


@pytest.mark.parametrize(
    "statement",
    [
        # one registration per member and session
        "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, queued_at, "
        "created_at, updated_at) VALUES ('r2', 's', 'm', 'booked', 2, 'x', 'x', 'x')",
        # a registration of a session that does not exist
        "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, queued_at, "
        "created_at, updated_at) VALUES ('r3', 'nope', 'm', 'booked', 3, 'x', 'x', 'x')",
        "UPDATE registrations SET status = 'maybe'",
        "UPDATE sessions SET capacity = -1",
        "INSERT INTO pin_attempts (id) VALUES (2)",
        # one attendance mark per member and session
        "INSERT INTO attendance (id, session_id, member_id, present, marked_at) "
        "VALUES ('a2', 's', 'm', 0, 'x')",
    ],
)
def test_v1_constraints_refuse_what_the_services_must_never_write(tmp_path, statement):
    conn = database_at(tmp_path / "kiosk.db", 1)
    _v1_rows(conn)
    conn.execute(
        "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, "
        "queued_at, created_at, updated_at) VALUES ('r', 's', 'm', 'booked', 1, 'x', "
        "'x', 'x')"
    )
    conn.execute(
        "INSERT INTO attendance (id, session_id, member_id, present, marked_at) "
        "VALUES ('a', 's', 'm', 1, 'x')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(statement)


def test_anonymous_walk_ins_may_be_many(tmp_path):
    conn = database_at(tmp_path / "kiosk.db", 1)
    _v1_rows(conn)
    for attendance_id in ("a1", "a2"):
        conn.execute(
            "INSERT INTO attendance (id, session_id, present, walk_in, marked_at) VALUES (?, 's', 1, 1, 'x')",
            (attendance_id,),
        )
    assert conn.execute("SELECT count(*) FROM attendance").fetchone()[0] == 2


def test_a_failing_step_leaves_the_database_at_the_version_before(tmp_path, monkeypatch):
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk full")

    current = migrations.SCHEMA_VERSION
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.MIGRATIONS))
    conn = database_at(tmp_path / "kiosk.db", current)
    with pytest.raises(RuntimeError, match="disk full"):
        migrations.migrate(conn, target=current + 1)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == current
    assert "half_done" not in objects(conn, "table")


def _v1_visits(conn: sqlite3.Connection) -> None:
    """Two members seen as release 1 recorded it: a visit updated last_seen_at
    and the member's search tokens in the check-in's transaction."""
    _v1_rows(conn)
    conn.execute(
        "INSERT INTO members (id, first_name, created_at, updated_at) "
        "VALUES ('n', 'Nadia', '2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')"
    )
    for visit_id, at, member in (
        ("v1", "2026-12-01T09:00:00.000Z", "m"),
        ("v2", "2026-12-01T09:30:00.000Z", None),
        ("v3", "2026-12-02T10:00:00.000Z", "n"),
    ):
        conn.execute(
            "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role) "
            "VALUES (?, ?, ?, 'accueil', 'resident')",
            (visit_id, at, member),
        )
        if member:
            conn.execute("UPDATE members SET last_seen_at = ? WHERE id = ?", (at, member))
    conn.execute(
        "INSERT INTO member_tokens (token, member_id, seen) VALUES ('nadia', 'n', '2026-12-02T10:00:00.000Z')"
    )


def test_v1_to_v2(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 1, _v1_visits)
    assert "recency" in objects(conn, "table")
    # the visits recorded before were applied then: nothing left to refresh
    assert conn.execute("SELECT visits_applied FROM recency").fetchone()[0] == 3
    assert search.refresh_recency(conn) == 0
    # a visit recorded after the upgrade is applied by the next refresh
    conn.execute(
        "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role) "
        "VALUES ('v4', '2026-12-03T11:00:00.000Z', 'n', 'accueil', 'resident')"
    )
    assert search.last_seen(conn, "n", "2026-12-02T10:00:00.000Z") == "2026-12-03T11:00:00.000Z"
    assert search.refresh_recency(conn) == 1
    assert dict(conn.execute("SELECT id, last_seen_at FROM members").fetchall()) == {
        "m": "2026-12-01T09:00:00.000Z",
        "n": "2026-12-03T11:00:00.000Z",
    }
    assert (
        conn.execute("SELECT seen FROM member_tokens WHERE member_id = 'n'").fetchone()[0]
        == "2026-12-03T11:00:00.000Z"
    )


def test_v2_recency_on_an_empty_database(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 1)
    assert conn.execute("SELECT visits_applied FROM recency").fetchone()[0] == 0


def _v2_outbox(states: list[str]) -> Callable[[sqlite3.Connection], None]:
    """Outbox rows as release 2 kept them: every sent event marked one by one."""

    def seed(conn: sqlite3.Connection) -> None:
        for number, state in enumerate(states):
            conn.execute(
                "INSERT INTO outbox (event_id, type, occurred_at, body, state, sent_at, parked_reason) "
                "VALUES (?, 'member.erased', '2026-11-26T10:00:00.000Z', '{}', ?, ?, ?)",
                (
                    f"e{number}",
                    state,
                    "2026-11-26T11:00:00.000Z" if state == "sent" else None,
                    "refused" if state == "parked" else None,
                ),
            )

    return seed


def test_v2_to_v3(tmp_path):
    conn = upgrade_from(
        tmp_path / "kiosk.db", 2, _v2_outbox(["sent", "parked", "sent", "pending", "sent", "pending"])
    )
    assert "outbox_sent" in objects(conn, "table")
    assert "outbox_state_seq" not in objects(conn, "index") and "outbox_settled" in objects(conn, "index")
    # the watermark starts just below the first pending event: nothing changes meaning
    assert outbox.sent_through(conn) == 3
    assert [row[1] for row in outbox.pending(conn, 10)] == ["e3", "e5"]
    counts = outbox.counts(conn)
    assert {k: counts[k] for k in ("recorded", "pending", "sent", "parked")} == {
        "recorded": 6,
        "pending": 2,
        "sent": 3,
        "parked": 1,
    }
    # the queue is read by rowid; only sent and parked rows are indexed by state
    plan = query_plan(conn, "SELECT seq FROM outbox WHERE seq > 3 AND state = 'pending' ORDER BY seq")
    assert "INTEGER PRIMARY KEY" in plan and "outbox_settled" not in plan
    conn.execute("INSERT INTO outbox (event_id, type, occurred_at, body) VALUES ('new', 'x', 'y', '{}')")
    assert (
        conn.execute(
            "SELECT count(*) FROM outbox INDEXED BY outbox_settled WHERE state <> 'pending'"
        ).fetchone()[0]
        == 4
    )


def test_v3_watermark_of_an_outbox_with_nothing_pending(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 2, _v2_outbox(["sent", "sent"]))
    assert outbox.sent_through(conn) == 2 and outbox.pending(conn, 10) == []
    conn = upgrade_from(tmp_path / "empty.db", 2)
    assert outbox.sent_through(conn) == 0


def test_v3_to_v4(tmp_path):
    def seed(conn: sqlite3.Connection) -> None:
        _v2_outbox(["sent", "sent", "parked", "pending", "pending"])(conn)
        # release 3 marked the first pending row sent by the watermark
        conn.execute(
            "INSERT INTO outbox_sent (through_seq, sent_at, events) VALUES (4, '2026-11-27T08:00:00.000Z', 1)"
        )
        conn.execute("UPDATE sync_state SET value = '4' WHERE key = 'sent_through'")

    conn = upgrade_from(tmp_path / "kiosk.db", 3, seed)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
    assert "AUTOINCREMENT" not in sql and "UNIQUE" not in sql
    assert objects(conn, "index") >= {"outbox_settled"}
    assert not [
        name for name in objects(conn, "index") if name.startswith("outbox") and name != "outbox_settled"
    ]
    assert (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_outbox%'"
        ).fetchone()[0]
        == 0
    )
    rows = conn.execute(
        "SELECT seq, event_id, state, sent_at, parked_reason FROM outbox ORDER BY seq"
    ).fetchall()
    assert rows == [
        (1, "e0", "sent", "2026-11-26T11:00:00.000Z", None),
        (2, "e1", "sent", "2026-11-26T11:00:00.000Z", None),
        (3, "e2", "parked", None, "refused"),
        (4, "e3", "pending", None, None),
        (5, "e4", "pending", None, None),
    ]
    assert [row[1] for row in outbox.pending(conn, 10)] == ["e4"]
    counts = outbox.counts(conn)
    assert {k: counts[k] for k in ("recorded", "pending", "sent", "parked")} == {
        "recorded": 5,
        "pending": 1,
        "sent": 3,
        "parked": 1,
    }
    conn.execute("INSERT INTO outbox (event_id, type, occurred_at, body) VALUES ('new', 'x', 'y', '{}')")
    assert conn.execute("SELECT seq FROM outbox WHERE event_id = 'new'").fetchone()[0] == 6


def test_v4_visits_keep_their_rows_and_rowids_without_an_index_of_id(tmp_path):
    def seed(conn: sqlite3.Connection) -> None:
        _v1_visits(conn)
        conn.execute("UPDATE recency SET visits_applied = 2")  # v3 left for the next refresh

    conn = upgrade_from(tmp_path / "kiosk.db", 3, seed)
    rows = conn.execute(
        "SELECT rowid, id, occurred_at, member_id, reason, recorded_by_role, recorded_by "
        "FROM visits ORDER BY rowid"
    ).fetchall()
    assert rows == [
        (1, "v1", "2026-12-01T09:00:00.000Z", "m", "accueil", "resident", None),
        (2, "v2", "2026-12-01T09:30:00.000Z", None, "accueil", "resident", None),
        (3, "v3", "2026-12-02T10:00:00.000Z", "n", "accueil", "resident", None),
    ]
    indexes = {
        name: sql
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visits'"
        )
    }
    assert set(indexes) == {"visits_occurred_at", "visits_member"}
    assert "WHERE member_id IS NOT NULL" in indexes["visits_member"]
    # the watermark still means the same rows: the third visit is the one to apply
    conn.execute("UPDATE members SET last_seen_at = NULL WHERE id = 'n'")
    assert search.refresh_recency(conn) == 1
    assert (
        conn.execute("SELECT last_seen_at FROM members WHERE id = 'n'").fetchone()[0]
        == "2026-12-02T10:00:00.000Z"
    )
    plan = query_plan(conn, "SELECT max(occurred_at) FROM visits WHERE member_id = ? AND rowid > 1", ("n",))
    assert "visits_member" in plan
    with pytest.raises(sqlite3.IntegrityError):  # the checks stay
        conn.execute(
            "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role) "
            "VALUES ('v9', 'x', 'nobody', 'accueil', 'resident')"
        )


def test_v4_to_v5(tmp_path):
    def seed(conn: sqlite3.Connection) -> None:
        _v1_visits(conn)
        conn.execute("UPDATE recency SET visits_applied = 2")  # v4 left the third visit for the next refresh

    conn = upgrade_from(tmp_path / "kiosk.db", 4, seed)
    assert objects(conn, "index") & {"visits_member"} == set()
    assert {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'visits'"
        )
    } == {"visits_occurred_at"}
    assert conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 3
    # a member's last contact past the watermark is read from the few rows past it, by rowid
    assert search.last_seen(conn, "n", "2026-11-01T08:00:00.000Z") == "2026-12-02T10:00:00.000Z"
    assert search.last_seen(conn, "m", "2026-12-01T09:00:00.000Z") == "2026-12-01T09:00:00.000Z"
    plan = query_plan(conn, search.LAST_SEEN_SINCE_APPLIED, ("n",))
    assert "INTEGER PRIMARY KEY (rowid>?)" in plan


def test_v5_to_v6(tmp_path):
    def seed(conn: sqlite3.Connection) -> None:
        now = "2026-11-01T08:00:00.000Z"
        for member_id, first, last, seen in (
            ("a", "Marie-Thérèse", "N'Diaye", "2026-12-01T09:00:00.000Z"),
            ("b", "Marc", "Petit", "2026-12-02T09:00:00.000Z"),
        ):
            conn.execute(
                "INSERT INTO members (id, first_name, last_name, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (member_id, first, last, now, now),
            )
            tokens = name_tokens(first, last)
            conn.executemany(
                "INSERT INTO member_tokens (token, member_id, seen) VALUES (?, ?, ?)",
                [(token, member_id, seen) for token in tokens],
            )
            search.add_variants(conn, tokens)

    conn = upgrade_from(tmp_path / "kiosk.db", 5, seed)
    # every token kept, each row with all its member's tokens
    assert conn.execute(
        "SELECT token, member_id, names FROM member_tokens WHERE member_id = 'a' ORDER BY token"
    ).fetchall() == [
        (token, "a", " diaye marie marietherese n ndiaye therese ")
        for token in ("diaye", "marie", "marietherese", "n", "ndiaye", "therese")
    ]
    assert conn.execute("SELECT DISTINCT names FROM member_tokens WHERE member_id = 'b'").fetchall() == [
        (" marc petit ",)
    ]
    assert {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'member_tokens' AND sql IS NOT NULL"
        )
    } == {"member_tokens_member", "member_tokens_seen"}
    # a word's members come in recency order from the table itself, and the search works on it
    plan = query_plan(conn, "SELECT member_id FROM member_tokens WHERE token = 'mar' ORDER BY seen DESC")
    assert "TEMP B-TREE" not in plan
    assert search.matching_ids(conn, "ma", 8) == ["b", "a"]
    assert search.matching_ids(conn, "n'di", 8) == ["a"]
    assert search.matching_ids(conn, "marc petti", 8) == ["b"]


def test_v4_watermark_stays_below_the_next_seq_after_a_purge_of_the_last_rows(tmp_path):
    def seed(conn: sqlite3.Connection) -> None:
        _v2_outbox(["pending", "pending", "pending"])(conn)
        conn.execute(
            "INSERT INTO outbox_sent (through_seq, sent_at, events) VALUES (3, '2026-01-01T08:00:00.000Z', 3)"
        )
        conn.execute("UPDATE sync_state SET value = '3' WHERE key = 'sent_through'")
        conn.execute("DELETE FROM outbox")  # release 3's purge, once all was sent long ago
        conn.execute("DELETE FROM outbox_sent")

    conn = upgrade_from(tmp_path / "kiosk.db", 3, seed)
    assert outbox.sent_through(conn) == 0
    conn.execute("INSERT INTO outbox (event_id, type, occurred_at, body) VALUES ('new', 'x', 'y', '{}')")
    assert [row[1] for row in outbox.pending(conn, 10)] == ["new"]
    assert outbox.counts(conn)["pending"] == 1


def test_store_open_migrates_a_file_made_by_plain_sqlite(tmp_path, clock):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    with Store.open(path, clock=clock) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION


def _outbox_objects(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN "
        "('outbox', 'outbox_sent', 'sync_state') ORDER BY type, name"
    ).fetchall()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_the_outbox_keeps_its_own_schema_version(tmp_path, version):
    """The outbox's version lives in sync_state, apart from the kiosk's
    user_version; a database from before it did (no version row) is read
    from its tables and upgrades to the same outbox as a new one."""
    expected = {1: 1, 2: 1, 3: 2, 4: 3, 5: 3}[version]
    conn = database_at(tmp_path / "old.db", version)
    assert outbox.schema_version(conn) == expected
    conn.execute("DELETE FROM sync_state WHERE key = ?", (outbox.VERSION_KEY,))  # as an older release left it
    assert outbox.schema_version(conn) == expected
    migrations.migrate(conn)
    assert outbox.schema_version(conn) == outbox.SCHEMA_VERSION == 3
    fresh = database_at(tmp_path / "new.db", migrations.SCHEMA_VERSION)
    assert _outbox_objects(conn) == _outbox_objects(fresh)


def test_an_outbox_from_a_newer_program_is_refused(tmp_path):
    conn = database_at(tmp_path / "kiosk.db", migrations.SCHEMA_VERSION)
    outbox.set_state(conn, outbox.VERSION_KEY, str(outbox.SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="outbox schema version"):
        outbox.migrate(conn)


def test_v6_to_v7(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 6, _MARC)
    # the year held stays; nobody has given a band instead yet
    assert conn.execute("SELECT birth_year, age_band, age_band_year FROM members").fetchall() == [
        (1970, None, None)
    ]


def test_v7_to_v8(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 7, _MARC)
    # the members held so far are in no household
    assert conn.execute("SELECT id, household_id FROM members").fetchall() == [("a", None)]
    assert "members_household" in objects(conn, "index")


def test_v8_to_v9(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 8)
    assert {"ideas", "feedback"} <= objects(conn, "table")
    assert {"ideas_created", "feedback_session_member"} <= objects(conn, "index")
    idea = "INSERT INTO ideas (id, created_at, theme, text, updated_at) VALUES (?, 't', ?, ?, 't')"
    conn.execute(idea, ("a", "quartier", "Des bancs"))
    for theme, text in (("politique", ""), ("autre", "x" * 501)):  # a theme outside the list, too long
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(idea, ("b", theme, text))
    conn.execute(
        "INSERT INTO workshops (id, title, theme, created_at, updated_at) "
        "VALUES ('w', 'T', 'autre', 't', 't')"
    )
    conn.execute(
        "INSERT INTO sessions (id, workshop_id, starts_at, ends_at, capacity, created_at, updated_at) "
        "VALUES ('s', 'w', 't', 't', 5, 't', 't')"
    )
    conn.execute(
        "INSERT INTO members (id, first_name, last_name, created_at, updated_at) "
        "VALUES ('m', 'A', 'B', 't', 't')"
    )
    face = (
        "INSERT INTO feedback (id, session_id, member_id, face, via, given_at) VALUES (?, 's', ?, ?, ?, 't')"
    )
    conn.execute(face, ("f1", "m", "content", "checkin"))
    conn.execute(face, ("f2", None, "moyen", "roll_call"))
    conn.execute(face, ("f3", None, "moyen", "roll_call"))  # people without a name: one each
    for values in (("f4", "m", "moyen", "checkin"), ("f5", None, "furieux", "checkin")):
        with pytest.raises(sqlite3.IntegrityError):  # a member twice, a face outside the three
            conn.execute(face, values)


def test_v9_to_v10(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 9)
    assert {"volunteer_stretches", "volunteer_pseudonyms"} <= objects(conn, "table")
    conn.execute(
        "INSERT INTO staff (id, name, role, pin_salt, pin_hash, pin_params, created_at, updated_at) "
        "VALUES ('v', 'Martine', 'volunteer', x'00', x'00', 'scrypt:n=16384,r=8,p=1', 't', 't')"
    )
    insert = (
        "INSERT INTO volunteer_stretches (id, volunteer_id, kind, day, minutes, created_at, updated_at) "
        "VALUES (?, 'v', ?, '2026-12-01', ?, 't', 't')"
    )
    conn.execute(insert, ("a", "activity", None))
    with pytest.raises(sqlite3.IntegrityError):  # a second open stretch for the same volunteer
        conn.execute(insert, ("b", "governance", None))
    for kind, minutes in (("holiday", 60), ("activity", -5), ("activity", 1441)):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert, ("c", kind, minutes))


def test_v10_to_v11(tmp_path):
    """An enrolled kiosk becomes its centre's first device on upgrade, with
    new keys; a kiosk not enrolled gets the tables only."""
    import json

    from sync import envelope

    conn = upgrade_from(tmp_path / "alone.db", 10)
    assert {"replication_device", "replication_peers", "replication_log"} <= objects(conn, "table")
    assert {"replication_outgoing", "replication_refused"} <= objects(conn, "table")
    assert conn.execute("SELECT count(*) FROM replication_device").fetchone()[0] == 0

    def enrolled(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('device_token', '\"tok\"')")
        conn.execute(
            "INSERT INTO members (id, first_name, last_name, consent_data, created_at, updated_at) "
            "VALUES ('m', 'Aïcha', 'Benali', 1, '2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')"
        )

    conn = upgrade_from(tmp_path / "enrolled.db", 10, enrolled)
    seed, keyring, baseline = conn.execute(
        "SELECT signing_seed, keyring, baseline FROM replication_device"
    ).fetchone()
    assert len(seed) == 32 and baseline == 1
    assert envelope.Keyring.from_json(json.loads(keyring)).current
    # nothing lost: the member is still there, and goes into the log at the first exchange
    assert conn.execute("SELECT first_name FROM members").fetchone()[0] == "Aïcha"


def test_v11_to_v12(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 11)
    assert "replication_conflicts" in objects(conn, "table")
    conn.execute(
        "INSERT INTO replication_conflicts (registration_id, session_id, member_id, position, found_at) "
        "VALUES ('r', 's', 'm', 1, '2026-12-01T08:00:00.000Z')"
    )
    with pytest.raises(sqlite3.IntegrityError):  # one line a registration
        conn.execute(
            "INSERT INTO replication_conflicts (registration_id, session_id, member_id, position, found_at) "
            "VALUES ('r', 's', 'm', 2, '2026-12-01T09:00:00.000Z')"
        )


def test_v12_to_v13(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 12, _MARC)
    # nobody held so far was asked the FSE+ situation: no consent, no answer
    assert conn.execute("SELECT id, situation_consent_at, employment, education FROM members").fetchall() == [
        ("a", None, None, None)
    ]


def test_v13_to_v14(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 13, _MARC)
    assert "outreach_events" in objects(conn, "table")
    # everyone held so far was met at the centre, not at an event
    assert conn.execute("SELECT id, outreach_id FROM members").fetchall() == [("a", None)]
    assert "outreach_id" in columns(conn, "visits")


def test_v14_to_v15(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 14)
    # no seat request was made or received before: both tables start empty
    assert {"seat_requests_out", "seat_requests_in"} <= objects(conn, "table")
    assert conn.execute("SELECT count(*) FROM seat_requests_out").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM seat_requests_in").fetchone() == (0,)


def test_v15_to_v16(tmp_path):
    conn = upgrade_from(tmp_path / "kiosk.db", 15)
    # no workshop was adopted from a sheet nor offered before: the table starts empty
    assert "workshop_sheets" in objects(conn, "table")
    assert conn.execute("SELECT count(*) FROM workshop_sheets").fetchone() == (0,)


def test_v16_to_v17(tmp_path):
    """Audit lines get ids; a device already replicating puts its visits,
    staff, audit lines and settings into the log at its next exchange."""
    from sync import protocol

    def seed(conn: sqlite3.Connection) -> None:
        for action in ("staff.add", "staff.login"):
            conn.execute(
                "INSERT INTO audit_log (at, action, detail) VALUES ('2026-11-01T08:00:00.000Z', ?, '{}')",
                (action,),
            )
        # a device replicating already: its members went into the log
        conn.execute(
            "INSERT INTO replication_device (id, replica_id, signing_seed, keyring, baseline, created_at) "
            "VALUES (1, 'r1', x'00', '{}', 0, '2026-11-01T08:00:00.000Z')"
        )

    conn = upgrade_from(tmp_path / "kiosk.db", 16, seed)
    ids = [row[0] for row in conn.execute("SELECT id FROM audit_log ORDER BY seq")]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(protocol.is_id(i) for i in ids)
    # the tables that did not replicate before go into the log (2: visits, staff, audit; 4: settings)
    assert conn.execute("SELECT baseline FROM replication_device").fetchone() == (6,)
    assert "replication_waiting" in objects(conn, "table")
    with pytest.raises(sqlite3.IntegrityError):  # one line an id
        conn.execute(
            "INSERT INTO audit_log (id, at, action) VALUES (?, '2026-11-01T08:00:00.000Z', 'x')", (ids[0],)
        )


def test_v17_to_v18(tmp_path):
    """Duplicates merged by staff: nobody was merged before, no pair dismissed."""
    conn = upgrade_from(tmp_path / "kiosk.db", 17, _member_a("Aïcha", "Benali", 1985))
    assert conn.execute("SELECT id, merged_into FROM members").fetchall() == [("a", None)]
    assert conn.execute("SELECT count(*) FROM duplicate_dismissals").fetchone() == (0,)
    with pytest.raises(sqlite3.IntegrityError):  # a pair is held one way only, the smaller id first
        conn.execute("INSERT INTO duplicate_dismissals VALUES ('b', 'a', 'x')")


def test_v18_to_v19(tmp_path):
    """What the federation published: nothing was received before."""
    conn = upgrade_from(tmp_path / "kiosk.db", 18)
    assert "federation_feed" in objects(conn, "table")
    assert conn.execute("SELECT count(*) FROM federation_feed").fetchone() == (0,)
    conn.execute("INSERT INTO federation_feed VALUES ('message', 'a', '{}', 'x', 'x')")
    with pytest.raises(sqlite3.IntegrityError):  # one copy a (kind, key)
        conn.execute("INSERT INTO federation_feed VALUES ('message', 'a', '{}', 'y', 'y')")


def test_v19_to_v20(tmp_path):
    """Which device wrote an audit line: the lines held before were written here."""

    def seed(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO audit_log (id, at, actor_id, actor_name, action, detail) "
            "VALUES ('l', 'x', NULL, 'Claire', 'staff.login', '{}')"
        )

    conn = upgrade_from(tmp_path / "kiosk.db", 19, seed)
    assert conn.execute("SELECT id, device FROM audit_log").fetchall() == [("l", None)]
    assert "replica_id" in columns(conn, "replication_peers")
