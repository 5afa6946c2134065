"""`kiosk export|report|backup|restore|cards`, run as real processes on a real database."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import centre_rows as rows
import pytest
from pypdf import PdfReader

from kiosk.core.store import Store
from tests.helpers import kiosk


@pytest.fixture
def centre_db(store, db_path):
    rows.fill(store)
    store.close()
    return db_path


def test_export_writes_the_csv_of_a_period(centre_db, tmp_path):
    out = tmp_path / "passages.csv"
    done = kiosk(
        "export",
        "--db",
        centre_db,
        "--what",
        "visits",
        "--out",
        out,
        "--from",
        "01/12/2026",
        "--to",
        "2026-12-31",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"5 lignes (passages) écrites dans {out}"
    with open(out, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle, delimiter=";"))
    assert len(table) == 6 and table[1][2] == "Aïcha Benali"
    assert (
        kiosk("export", "--db", centre_db, "--what", "members", "--out", tmp_path / "m.csv").returncode == 0
    )
    assert (
        kiosk("export", "--db", centre_db, "--what", "attendance", "--out", tmp_path / "a.csv").returncode
        == 0
    )


@pytest.mark.parametrize(
    "args, named",
    [
        (["--what", "people"], "« people » n'est pas une exportation connue"),
        (["--what", "visits", "--from", "31/12/2026", "--to", "01/12/2026"], "après la date de fin"),
        (["--what", "visits", "--from", "32/12/2026"], "--from : « 32/12/2026 »"),
    ],
)
def test_export_names_bad_input_and_exits_2(centre_db, tmp_path, args, named):
    out = tmp_path / "x.csv"
    done = kiosk("export", "--db", centre_db, "--out", out, *args)
    assert done.returncode == 2 and named in done.stderr
    assert not out.exists()


def test_a_missing_database_is_named_and_not_created(tmp_path):
    absent = tmp_path / "acceuil.db"
    done = kiosk("export", "--db", absent, "--what", "visits", "--out", tmp_path / "x.csv")
    assert done.returncode == 2 and "acceuil.db" in done.stderr and "n'existe pas" in done.stderr
    assert not absent.exists()


def test_report_writes_the_one_page_summary(centre_db, tmp_path):
    out = tmp_path / "bilan.pdf"
    done = kiosk("report", "--db", centre_db, "--out", out, "--from", "01/12/2026", "--to", "31/12/2026")
    assert done.returncode == 0, done.stderr
    assert "5 passages, 4 adhérents actifs, 2 nouveaux" in done.stdout
    assert "Aide pour un papier sur internet 2  40 %" in PdfReader(out).pages[0].extract_text()
    wrong = kiosk("report", "--db", centre_db, "--out", out, "--from", "31/12/2026", "--to", "01/12/2026")
    assert wrong.returncode == 2 and "Erreur (start)" in wrong.stderr
    assert kiosk("report", "--db", centre_db, "--out", out).returncode == 2  # the period is required


def test_cards_for_some_members_or_all(centre_db, tmp_path):
    out = tmp_path / "carte.pdf"
    done = kiosk("cards", "--db", centre_db, "--out", out, "--member", "K7QM-3XPD")
    assert done.returncode == 0 and "1 carte(s)" in done.stdout
    assert "Aïcha" in PdfReader(out).pages[0].extract_text()
    assert kiosk("cards", "--db", centre_db, "--out", out, "--member", rows.AICHA, rows.JEAN).returncode == 0
    assert len(PdfReader(out).pages) == 1
    done = kiosk("cards", "--db", centre_db, "--out", tmp_path / "toutes.pdf")
    assert done.returncode == 0 and "3 carte(s)" in done.stdout


def test_cards_name_an_unknown_member_with_exit_2(centre_db, tmp_path):
    done = kiosk("cards", "--db", centre_db, "--out", tmp_path / "x.pdf", "--member", rows.AICHA, "ZZZZ-9999")
    assert done.returncode == 2 and "ZZZZ-9999" in done.stderr and "Erreur (member_id)" in done.stderr


def test_backup_then_restore_gives_back_the_same_database(centre_db, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    done = kiosk("backup", "--db", centre_db, "--to", stick)
    assert done.returncode == 0, done.stderr
    made = Path(done.stdout.strip().split(" : ", 1)[1])
    assert made.parent == stick and made.name.startswith("accueil-")
    before = _visits(centre_db)
    with Store.open(centre_db) as store, store.transaction():
        store.conn.execute("DELETE FROM visits")
    refused = kiosk("restore", "--db", centre_db, "--from", made)  # no one typed OUI
    assert refused.returncode == 1 and "Rien n'a été changé" in refused.stdout and _visits(centre_db) == []
    done = kiosk("restore", "--db", centre_db, "--from", made, stdin="oui\n")
    assert done.returncode == 0, done.stderr
    assert _visits(centre_db) == before and "avant-restauration" in done.stdout


def test_restore_refuses_a_wrong_file_with_exit_2(centre_db, tmp_path):
    wrong = tmp_path / "photo.db"
    wrong.write_bytes(b"\xff\xd8\xff\xe0 not a database")
    done = kiosk("restore", "--db", centre_db, "--from", wrong, "--oui")
    assert done.returncode == 2 and "photo.db n'est pas une sauvegarde Accueil" in done.stderr
    assert len(_visits(centre_db)) == 7


def test_backup_to_a_missing_folder_exits_2(centre_db, tmp_path):
    done = kiosk("backup", "--db", centre_db, "--to", tmp_path / "cle")
    assert done.returncode == 2 and "La clé USB est-elle branchée" in done.stderr


def test_every_command_has_an_english_help_with_examples():
    for command in ("export", "report", "backup", "restore", "cards", "staff"):
        shown = kiosk(command, "--help")
        assert shown.returncode == 0 and shown.stdout.startswith("usage: kiosk " + command)
        assert "show this help message and exit" in shown.stdout and "Example" in shown.stdout


def test_restore_takes_yes_and_backup_enrolment_and_hides_the_french_spellings(centre_db, tmp_path):
    shown = kiosk("restore", "--help").stdout
    assert "--yes" in shown and "-y" in shown and "--backup-enrolment" in shown
    assert "--oui" not in shown and "--inscription-de-la-sauvegarde" not in shown
    stick = tmp_path / "usb"
    stick.mkdir()
    made = Path(kiosk("backup", "--db", centre_db, "--to", stick).stdout.strip().split(" : ", 1)[1])
    conn = sqlite3.connect(centre_db, isolation_level=None)
    conn.execute("""INSERT INTO settings (key, value) VALUES ('hub_url', '"https://current.example"')""")
    conn.close()
    done = kiosk("restore", "--db", centre_db, "--from", made, "-y")
    assert done.returncode == 0 and "garde son inscription" in done.stdout
    assert _hub_url(centre_db) == '"https://current.example"'
    done = kiosk("restore", "--db", centre_db, "--from", made, "--yes", "--backup-enrolment")
    assert done.returncode == 0 and "celle de la sauvegarde" in done.stdout
    assert _hub_url(centre_db) is None  # the backup was made before the kiosk was enrolled


def test_messages_are_english_under_an_english_locale(centre_db, tmp_path):
    out = tmp_path / "visits.csv"
    done = kiosk(
        "export",
        "--db",
        centre_db,
        "--what",
        "visits",
        "--out",
        out,
        "--from",
        "01/12/2026",
        "--to",
        "2026-12-31",
        env={"LANG": "en_US.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"5 rows (visits) written to {out}"
    missing = kiosk(
        "export", "--db", tmp_path / "acceuil.db", "--what", "visits", "--out", out, env={"LANGUAGE": "en"}
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    refused = kiosk(
        "restore", "--db", centre_db, "--from", tmp_path / "nothing.db", env={"LANG": "en_GB.UTF-8"}
    )
    assert refused.returncode == 2 and "Erreur" not in refused.stderr and "Error" in refused.stderr


def _visits(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM visits ORDER BY id").fetchall()
    finally:
        conn.close()


def _hub_url(path) -> str | None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = 'hub_url'").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def test_restore_refuses_a_backup_carrying_a_trigger_and_keeps_the_enrolment_otherwise(centre_db, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    conn = sqlite3.connect(centre_db, isolation_level=None)
    conn.execute("""INSERT INTO settings (key, value) VALUES ('hub_url', '"https://from-backup.example"')""")
    conn.close()
    made = Path(kiosk("backup", "--db", centre_db, "--to", stick).stdout.strip().split(" : ", 1)[1])
    conn = sqlite3.connect(centre_db, isolation_level=None)
    conn.execute("""UPDATE settings SET value = '"https://current.example"' WHERE key = 'hub_url'""")
    conn.close()
    doctored = tmp_path / "doctored.db"
    doctored.write_bytes(made.read_bytes())
    conn = sqlite3.connect(doctored, isolation_level=None)
    conn.execute("CREATE TRIGGER leak AFTER INSERT ON outbox BEGIN SELECT 1; END")
    conn.close()
    refused = kiosk("restore", "--db", centre_db, "--from", doctored, "--oui")
    assert refused.returncode == 2 and "déclencheur en trop « leak »" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = kiosk("restore", "--db", centre_db, "--from", made, "--oui")
    assert done.returncode == 0 and "garde son inscription" in done.stdout
    assert _hub_url(centre_db) == '"https://current.example"'
    done = kiosk("restore", "--db", centre_db, "--from", made, "--oui", "--inscription-de-la-sauvegarde")
    assert done.returncode == 0 and _hub_url(centre_db) == '"https://from-backup.example"'
