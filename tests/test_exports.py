"""The CSV exports, read back as a French Excel would and compared with the database."""

from __future__ import annotations

import csv
import json
from datetime import date

import centre_rows as rows
import pytest

from kiosk.core import exports, period
from kiosk.core.errors import InvalidInput

DECEMBER = dict(start=date(2026, 12, 1), end=date(2026, 12, 31))
ACTOR = {"id": rows.STAFF_ID, "name": "Nadia Ferhat"}


@pytest.fixture
def filled(store):
    rows.fill(store)
    return store


def read(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_visits_of_a_period_match_the_database_row_by_row(filled, tmp_path):
    out = tmp_path / "passages.csv"
    count = exports.export_visits(filled, out, **DECEMBER)
    table = read(out)
    assert table[0] == exports.VISIT_HEADER
    expected = filled.query(
        "SELECT occurred_at FROM visits WHERE occurred_at >= '2026-11-30T23:00:00.000Z' "
        "AND occurred_at < '2026-12-31T23:00:00.000Z' ORDER BY occurred_at"
    )
    assert count == len(table) - 1 == len(expected) == 5
    assert table[1] == [
        "01/12/2026 00:10",
        "Aide pour un papier sur internet",
        "Aïcha Benali",
        "K7QM-3XPD",
        "oui",
        "Boulogne-sur-Mer",
        "Adhérent (borne)",
        "",
    ]
    assert table[2][:3] == ["03/12/2026 15:05", "Un ordinateur ou le wifi", "Jean-Noël Dupont; Lefèvre"]
    assert table[2][4] == "non" and table[2][6:] == ["Bénévole", "Nadia Ferhat"]
    assert table[3][2] == "Anonyme" and table[3][6] == "Salarié"
    assert table[4][2] == "(adhérent effacé)" and table[4][3] == ""
    assert table[5][0] == "31/12/2026 23:59"


def test_a_name_that_looks_like_a_formula_stays_text(filled, tmp_path):
    out = tmp_path / "passages.csv"
    exports.export_visits(filled, out, **DECEMBER)
    assert read(out)[5][2] == '\'=HYPERLINK("x") Test'


def test_open_periods_export_everything(filled, tmp_path):
    out = tmp_path / "tout.csv"
    assert exports.export_visits(filled, out) == filled.one("SELECT count(*) AS n FROM visits")["n"] == 7
    assert exports.export_visits(filled, out, start=date(2027, 1, 1)) == 1
    assert exports.export_visits(filled, out, end=date(2026, 11, 30)) == 1


def test_attendance_lists_registered_marked_and_walk_ins(filled, tmp_path):
    out = tmp_path / "presences.csv"
    count = exports.export_attendance(filled, out, **DECEMBER)
    table = read(out)
    assert table[0] == exports.ATTENDANCE_HEADER
    by_person = {row[5]: row for row in table[1:]}
    assert count == 5 and len(by_person) == 5
    assert by_person["Aïcha Benali"][:12] == [
        "Atelier numérique : « e-mail »",
        "numerique",
        "02/12/2026 14:00",
        "Salle 2",
        "non",
        "Aïcha Benali",
        "oui",
        "non",
        "oui",
        "non",
        "02/12/2026 14:10",
        "Nadia Ferhat",
    ]
    assert by_person["Jean-Noël Dupont; Lefèvre"][8] == "non"
    assert by_person['\'=HYPERLINK("x") Test'][6:10] == ["non", "oui", "", ""]
    assert by_person["Anonyme"][8:10] == ["oui", "oui"]
    assert by_person["(adhérent effacé)"][9] == "oui"
    # the January session is outside the period
    assert exports.export_attendance(filled, out, start=date(2027, 1, 1)) == 0
    assert read(out) == [exports.ATTENDANCE_HEADER]


def test_members_export_matches_the_database_and_skips_the_erased(filled, tmp_path):
    out = tmp_path / "adherents.csv"
    count = exports.export_members(filled, out)
    table = read(out)
    stored = filled.query("SELECT * FROM members WHERE erased_at IS NULL ORDER BY last_name")
    assert count == len(stored) == len(table) - 1 == 3
    benali = next(row for row in table if row[1] == "Benali")
    assert benali == [
        "Aïcha",
        "Benali",
        "1958",
        "65+",
        "Femme",
        "Boulogne-sur-Mer",
        "Transition",
        "oui",
        "06 12 34 56 78",
        "",
        "oui",
        "non",
        "oui",
        "K7QM-3XPD",
        "01/12/2026 10:00",
        "01/12/2026 00:10",
    ]  # the last contact is her last visit (derived from the visits)
    dupont = next(row for row in table if row[0] == "Jean-Noël")
    assert dupont[2:5] == ["2004", "16-24", "Homme"] and dupont[9] == "jn@example.fr"
    assert dupont[15] == "01/01/2027 00:01"
    test = next(row for row in table if row[1] == "Test")
    assert test[2:5] == ["", "inconnue", ""]


def test_members_export_of_a_period_keeps_those_who_joined_in_it(filled, tmp_path):
    out = tmp_path / "nouveaux.csv"
    assert exports.export_members(filled, out, **DECEMBER) == 2
    assert {row[1] for row in read(out)[1:]} == {"Benali", "Test"}


def test_an_export_with_an_actor_is_audited(filled, tmp_path):
    out = tmp_path / "passages.csv"
    exports.export_visits(filled, out, actor=ACTOR, **DECEMBER)
    entry = filled.one("SELECT * FROM audit_log WHERE action = 'export.visits'")
    assert entry["actor_name"] == "Nadia Ferhat"
    assert json.loads(entry["detail"]) == {
        "file": str(out),
        "rows": 5,
        "start": "2026-12-01",
        "end": "2026-12-31",
    }
    exports.export_members(filled, tmp_path / "m.csv")
    assert filled.one("SELECT count(*) AS n FROM audit_log")["n"] == 1


def test_a_start_after_the_end_is_refused_and_writes_nothing(filled, tmp_path):
    out = tmp_path / "x.csv"
    with pytest.raises(InvalidInput) as refused:
        exports.export_visits(filled, out, start=date(2026, 12, 31), end=date(2026, 12, 1))
    assert refused.value.field == "start"
    assert "31/12/2026" in refused.value.message_fr
    assert not out.exists()


def test_a_missing_folder_is_named(filled, tmp_path):
    with pytest.raises(InvalidInput) as refused:
        exports.export_visits(filled, tmp_path / "nope" / "x.csv")
    assert refused.value.field == "out_path" and "nope" in refused.value.message_fr


def test_an_existing_file_is_replaced_whole_and_no_temporary_is_left(filled, tmp_path):
    out = tmp_path / "passages.csv"
    out.write_text("old content that is longer than nothing\n" * 1000)
    exports.export_visits(filled, out, **DECEMBER)
    assert len(read(out)) == 6
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".db" and "kiosk" not in p.name) == [
        "passages.csv"
    ]


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("2026-03-29T00:59:00.000Z", "29/03/2026 01:59"),  # winter time, the last minute
        ("2026-03-29T01:00:00.000Z", "29/03/2026 03:00"),  # summer time starts
        ("2026-10-25T00:30:00.000Z", "25/10/2026 02:30"),  # the first 02:30 (summer)
        ("2026-10-25T01:30:00.000Z", "25/10/2026 02:30"),  # the second one (winter)
        ("2026-12-31T23:05:00.000Z", "01/01/2027 00:05"),
        ("2026-12-31T23:05:00+00:00", "01/01/2027 00:05"),
        (None, ""),
    ],
)
def test_times_are_shown_in_paris_across_clock_changes(stored, shown):
    assert period.local_text(stored) == shown
