"""Backups to a folder, keep-14 rotation, the daily run, and restoring safely."""

from __future__ import annotations

import sqlite3

import centre_rows as rows
import pytest

from kiosk.core import backup
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from kiosk.core.visits import Visits

ACTOR = {"id": rows.STAFF_ID, "name": "Nadia Ferhat"}


@pytest.fixture
def filled(store):
    rows.fill(store)
    with store.transaction():
        store.emit("member.erased", {"member_id": rows.ERASED})
    return store


def dump(path) -> dict[str, list[tuple]]:
    """Every table, every row, in a stable order."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = "
                "'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall() for t in tables}
    finally:
        conn.close()


def test_a_restored_backup_is_identical_table_by_table(filled, db_path, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    before = dump(db_path)
    made = backup.backup(filled, stick)
    assert made.name == "accueil-20261201-090000.db" and made.parent == stick
    # life goes on, then the centre restores the morning's backup
    with filled.transaction():
        filled.conn.execute("DELETE FROM visits")
        filled.conn.execute("UPDATE members SET first_name = 'X'")
    filled.close()
    safety = backup.restore(db_path, made)
    assert dump(db_path) == before
    assert sum(len(v) for v in before.values()) > 20 and before["outbox"]
    assert dump(safety)["visits"] == [] and safety.parent == db_path.parent
    with Store.open(db_path) as reopened:
        assert reopened.one("SELECT count(*) AS n FROM visits")["n"] == 7


def test_a_backup_is_one_checked_file_with_no_leftovers(filled, tmp_path):
    made = backup.backup(filled, tmp_path)
    conn = sqlite3.connect(made)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("accueil-*-wal"))


def test_a_backup_of_a_closed_database_file_works(filled, db_path, tmp_path):
    filled.close()
    stick = tmp_path / "usb"
    stick.mkdir()
    made = backup.backup(db_path, stick)
    assert dump(made) == dump(db_path)


def test_two_backups_in_the_same_second_get_two_files(filled, tmp_path):
    first = backup.backup(filled, tmp_path)
    second = backup.backup(filled, tmp_path)
    assert first != second and second.name == "accueil-20261201-090001.db"


def test_only_the_last_14_backups_are_kept_and_other_files_are_left(filled, clock, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    (stick / "photos.jpg").write_bytes(b"not ours")
    made = []
    for _ in range(16):
        made.append(backup.backup(filled, stick))
        clock.advance(days=1)
    kept = backup.backups(stick)
    assert kept == made[2:] and len(kept) == 14
    assert (stick / "photos.jpg").exists()
    assert backup.rotate(stick, keep=3) == made[2:13]


def test_a_missing_folder_is_a_clear_error(filled, tmp_path):
    with pytest.raises(backup.BackupError) as refused:
        backup.backup(filled, tmp_path / "clé absente")
    assert refused.value.field == "backup_dir" and "clé absente" in refused.value.message_fr


def test_a_backup_by_someone_is_audited(filled, tmp_path):
    made = backup.backup(filled, tmp_path, actor=ACTOR)
    entry = filled.one("SELECT * FROM audit_log WHERE action = 'backup.made'")
    assert entry["actor_name"] == "Nadia Ferhat" and str(made) in entry["detail"]


def test_the_daily_backup_runs_once_a_paris_day(filled, clock, tmp_path):
    assert not backup.due(filled)  # no folder configured
    assert backup.run_daily(filled) is None
    Settings(filled).set("backup_dir", str(tmp_path))
    assert backup.due(filled)
    first = backup.run_daily(filled)
    assert first is not None and not backup.due(filled)
    assert backup.run_daily(filled) is None
    clock.advance(hours=14)  # 23:00 in Paris, same day
    assert not backup.due(filled)
    clock.advance(hours=1, minutes=1)  # 00:01 the next day in Paris
    assert backup.due(filled)
    assert backup.run_daily(filled).name == "accueil-20261202-000100.db"


def test_the_daily_backup_says_when_the_stick_is_gone(filled, tmp_path):
    Settings(filled).set("backup_dir", str(tmp_path / "usb"))
    assert backup.due(filled)
    with pytest.raises(backup.BackupError):
        backup.run_daily(filled)


def test_restore_refuses_a_file_that_is_not_an_accueil_database(filled, db_path, tmp_path):
    before = dump(db_path)
    text = tmp_path / "notes.db"
    text.write_text("bonjour")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for wrong, words in (
        (text, "n'est pas une base SQLite"),
        (other, "n'est pas une sauvegarde Accueil"),
        (tmp_path / "absent.db", "n'existe pas"),
    ):
        with pytest.raises(backup.BackupError) as refused:
            backup.restore(db_path, wrong)
        assert refused.value.field == "from_file" and words in refused.value.message_fr
    assert dump(db_path) == before
    assert not list(db_path.parent.glob("*avant-restauration*"))


def test_restore_refuses_a_corrupt_backup_and_leaves_the_database_untouched(filled, db_path, tmp_path):
    made = backup.backup(filled, tmp_path)
    before = dump(db_path)
    data = bytearray(made.read_bytes())
    page = 4096
    for offset in range(page * 2, len(data), page):  # scribble over every page after the schema
        data[offset + 8 : offset + 200] = b"\xff" * 192
    made.write_bytes(bytes(data))
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(db_path, made)
    assert "abîmé" in refused.value.message_fr
    assert dump(db_path) == before


def test_a_damaged_current_database_is_kept_byte_for_byte_and_replaced(filled, db_path, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    made = backup.backup(filled, stick)
    filled.close()
    for leftover in db_path.parent.glob(db_path.name + "-*"):
        leftover.unlink()
    db_path.write_bytes(b"garbage after a bad shutdown")
    safety = backup.restore(db_path, made)
    assert safety.read_bytes() == b"garbage after a bad shutdown"
    assert dump(db_path) == dump(made)


def test_a_backup_that_cannot_be_written_is_a_clear_error_and_leaves_nothing(filled, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    # something in the way of the copy, as a full or write-protected stick would be
    (stick / "accueil-20261201-090000.db.partial").mkdir()
    with pytest.raises(backup.BackupError) as refused:
        backup.backup(filled, stick)
    assert refused.value.field == "backup_dir" and "n'a pas pu être écrite" in refused.value.message_fr
    assert backup.backups(stick) == []


# ---------------------------------------------------------------- doctored backups

#: The attack seen: every event queued from then on carries the member's
#: first name and phone, and the hub stored them.
LEAK_TRIGGER = """
    CREATE TRIGGER leak AFTER INSERT ON outbox BEGIN
        UPDATE outbox SET body = json_set(NEW.body,
            '$.data.first_name', (SELECT first_name FROM members
                                  WHERE id = json_extract(NEW.body, '$.data.member_id')),
            '$.data.phone', (SELECT phone FROM members
                             WHERE id = json_extract(NEW.body, '$.data.member_id')))
        WHERE seq = NEW.seq;
    END
"""


def doctored(made, *statements: str, writable_schema: bool = False):
    conn = sqlite3.connect(made, isolation_level=None)
    try:
        if writable_schema:
            conn.execute("PRAGMA writable_schema = ON")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()
    return made


@pytest.fixture
def stick(tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "statements, named",
    [
        ((LEAK_TRIGGER,), "déclencheur en trop « leak »"),
        (("CREATE VIEW names AS SELECT first_name, phone FROM members",), "vue en trop « names »"),
        (("CREATE INDEX members_phone ON members (phone)",), "index en trop « members_phone »"),
        (("CREATE TABLE copied (first_name, phone)",), "table en trop « copied »"),
        (("ALTER TABLE members ADD COLUMN note TEXT",), "table « members » modifiée (colonnes : note)"),
        (
            ("ALTER TABLE visits RENAME COLUMN reason TO motif",),
            "table « visits » modifiée (colonnes : motif, reason)",
        ),
        (("DROP INDEX visits_occurred_at",), "index manquant(e) « visits_occurred_at »"),
    ],
)
def test_a_backup_whose_schema_is_not_the_kiosks_is_refused_naming_what_differs(
    filled, db_path, stick, statements, named
):
    made = doctored(backup.backup(filled, stick), *statements)
    filled.close()
    before = dump(db_path)
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(db_path, made)
    assert refused.value.field == "from_file"
    assert named in refused.value.message_fr and "a pu être modifié" in refused.value.message_fr
    assert dump(db_path) == before
    assert not list(db_path.parent.glob("*avant-restauration*"))
    assert not list(db_path.parent.glob(".restauration-*"))  # the private copy is gone


def test_the_leaking_trigger_never_reaches_the_restored_database(filled, db_path, stick):
    made = doctored(backup.backup(filled, stick), LEAK_TRIGGER)
    filled.close()
    with pytest.raises(backup.BackupError):
        backup.restore(db_path, made)
    with Store.open(db_path) as store:
        assert store.query("SELECT name FROM sqlite_master WHERE type = 'trigger'") == []
        Visits(store, Settings(store)).check_in("accueil", rows.AICHA)
        body = store.one("SELECT body FROM outbox ORDER BY seq DESC LIMIT 1")["body"]
    assert "Aïcha" not in body and "phone" not in body


def test_a_not_null_dropped_by_quoting_a_keyword_is_refused(filled, stick):
    made = doctored(
        backup.backup(filled, stick),
        "UPDATE sqlite_master SET sql = replace(sql, 'type TEXT NOT NULL', 'type TEXT \"NOT\" NULL') "
        "WHERE name = 'outbox'",
        writable_schema=True,
    )
    with pytest.raises(backup.BackupError) as refused:
        backup.check_backup_file(made)
    assert "outbox" in refused.value.message_fr


def test_a_table_whose_definition_was_rewritten_in_place_is_refused(filled, db_path, stick):
    # same columns, but a default changed behind SQLite's back (writable_schema)
    made = doctored(
        backup.backup(filled, stick),
        "UPDATE sqlite_master SET sql = replace(sql, 'qpv INTEGER NOT NULL DEFAULT 0', "
        "'qpv INTEGER NOT NULL DEFAULT 1') WHERE name = 'members'",
        writable_schema=True,
    )
    with pytest.raises(backup.BackupError) as refused:
        backup.check_backup_file(made)
    assert "table « members » modifiée (colonnes : qpv)" in refused.value.message_fr


def test_many_differences_are_summed_up_and_hostile_names_are_printed_safely(filled, stick):
    made = doctored(
        backup.backup(filled, stick), *(f'CREATE TABLE "t{n}\x1b[31m{"x" * 80}" (a)' for n in range(8))
    )
    with pytest.raises(backup.BackupError) as refused:
        backup.check_backup_file(made)
    message = refused.value.message_fr
    assert "et 3 autre(s)" in message and "\x1b" not in message and "x" * 60 not in message


def test_the_schema_text_is_compared_without_its_layout_or_comments():
    assert backup.normal_sql('CREATE  TABLE "T" (\n  a TEXT, -- note\n  b /* x */ INT)') == backup.normal_sql(
        "create table [t] (a text, b int)"
    )
    # a quoted word is a name, not a keyword: TEXT "NOT" NULL is a nullable column of type TEXT NOT
    assert backup.normal_sql('CREATE TABLE t (a TEXT "NOT" NULL)') != backup.normal_sql(
        "CREATE TABLE t (a TEXT NOT NULL)"
    )
    assert backup.normal_sql("CREATE TABLE t (a DEFAULT 'x')") != backup.normal_sql(
        "CREATE TABLE t (a DEFAULT 'X')"
    )


def test_a_backup_made_at_an_older_version_is_checked_against_that_version(db_path, tmp_path):
    from kiosk.core import migrations

    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    migrations.migrate(conn, target=3)
    conn.close()
    assert backup.check_backup_file(old) == 3
    backup.restore(db_path, old)
    with Store.open(db_path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    # a kiosk upgraded step by step has exactly the schema a new one gets
    assert backup.check_backup_file(db_path) == migrations.SCHEMA_VERSION
    # a version-3 file carrying the version-6 visits table is not a version-3 file
    conn = sqlite3.connect(old, isolation_level=None)
    conn.execute("CREATE INDEX member_tokens_seen2 ON member_tokens (seen)")
    conn.close()
    with pytest.raises(backup.BackupError):
        backup.check_backup_file(old)


def test_a_demo_database_with_sqlite_statistics_is_accepted(filled, stick):
    filled.conn.execute("ANALYZE")
    assert backup.check_backup_file(backup.backup(filled, stick)) >= 1


ENROLLED = {"hub_url": "https://hub.federation.example", "device_token": "t" * 40, "centre_id": "centre-1"}


def enrol(store, **values):
    for key, value in values.items():
        Settings(store).set(key, value)


def enrolment(path):
    with Store.open(path) as store:
        return {key: Settings(store).get(key) for key in backup.ENROLMENT_KEYS}


def test_a_genuine_backup_keeps_the_kiosks_current_enrolment(filled, db_path, stick):
    enrol(filled, hub_url="https://old-hub.example", device_token="o" * 40, centre_id="old")
    made = backup.backup(filled, stick)
    enrol(filled, **ENROLLED)  # the kiosk was enrolled again since
    filled.close()
    backup.restore(db_path, made)
    assert enrolment(db_path) == ENROLLED
    assert dump(db_path)["visits"] == dump(made)["visits"]


def test_staff_may_choose_the_backups_enrolment(filled, db_path, stick):
    enrol(filled, hub_url="https://old-hub.example", device_token="o" * 40, centre_id="old")
    made = backup.backup(filled, stick)
    enrol(filled, **ENROLLED)
    filled.close()
    backup.restore(db_path, made, enrolment_from_backup=True)
    assert enrolment(db_path) == {
        "hub_url": "https://old-hub.example",
        "device_token": "o" * 40,
        "centre_id": "old",
    }


def test_a_kiosk_not_enrolled_does_not_take_a_backups_hub_address(filled, db_path, stick, tmp_path):
    enrol(filled, hub_url="https://elsewhere.example", device_token="e" * 40, centre_id="x")
    made = backup.backup(filled, stick)
    filled.close()
    fresh = tmp_path / "new-kiosk.db"
    Store.open(fresh).close()
    backup.restore(fresh, made)
    assert enrolment(fresh) == {"hub_url": None, "device_token": None, "centre_id": None}
    nothing_yet = tmp_path / "none.db"
    backup.restore(nothing_yet, made)
    assert enrolment(nothing_yet) == {"hub_url": None, "device_token": None, "centre_id": None}


def test_a_backup_never_brings_a_printer_or_backup_folder_of_its_own(filled, db_path, stick):
    made = doctored(
        backup.backup(filled, stick),
        """INSERT INTO settings (key, value) VALUES ('printer', '"tcp://203.0.113.9:9100"')""",
    )
    Settings(filled).set("printer", "/dev/usb/lp0")
    filled.close()
    backup.restore(db_path, made, enrolment_from_backup=True)  # even when staff take the backup's hub
    with Store.open(db_path) as store:
        assert Settings(store).get("printer") == "/dev/usb/lp0"
        assert Settings(store).get("backup_dir") is None


def test_a_backup_whose_settings_hold_impossible_values_is_refused(filled, db_path, stick):
    made = doctored(
        backup.backup(filled, stick),
        """INSERT INTO settings (key, value) VALUES ('hub_url', '"file:///etc/passwd"')""",
        """INSERT INTO settings (key, value) VALUES ('idle_timeout_s', '0')""",
    )
    filled.close()
    before = dump(db_path)
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(db_path, made)
    assert "ces réglages n'ont pas une valeur possible (hub_url, idle_timeout_s)" in refused.value.message_fr
    assert dump(db_path) == before
