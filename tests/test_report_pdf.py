"""The one-page summary: figures counted right, and shown in the PDF's text."""

from __future__ import annotations

from datetime import date

import centre_rows as rows
import pytest
from pypdf import PdfReader

from kiosk.core import report_pdf
from kiosk.core.errors import InvalidInput
from kiosk.core.settings import DEFAULT_REASONS, Settings

DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))


@pytest.fixture
def filled(store):
    rows.fill(store)
    Settings(store).set("centre_name", "Centre social Éclair")
    return store


def lines(path) -> list[str]:
    reader = PdfReader(path)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text().splitlines()


def test_december_figures(filled):
    figures = report_pdf.period_figures(filled, *DECEMBER)
    assert figures["visits"] == 5 and figures["anonymous_visits"] == 1
    assert figures["by_reason"][0] == ("Aide pour un papier sur internet", 2)
    assert dict(figures["by_reason"]) == {
        "Aide pour un papier sur internet": 2,
        "Une question, une information": 1,
        "Un ordinateur ou le wifi": 1,
        "Voir une assistante sociale": 1,
    }
    assert figures["unit"] == "week"
    assert figures["by_period"] == [
        ("Semaine du 30 nov. 2026", 2),
        ("Semaine du 7 déc. 2026", 2),
        ("Semaine du 14 déc. 2026", 0),
        ("Semaine du 21 déc. 2026", 0),
        ("Semaine du 28 déc. 2026", 1),
    ]
    # active: Aïcha, Jean-Noël and Mallory came; the erased member came and was present
    assert figures["active_members"] == 4 and figures["qpv_members"] == 1
    assert figures["new_members"] == 2
    assert dict(figures["age_bands"]) == {
        "0 à 15 ans": 0,
        "16 à 24 ans": 1,
        "25 à 54 ans": 0,
        "55 à 64 ans": 0,
        "65 ans et plus": 1,
        "Non renseigné": 2,
    }
    assert dict(figures["genders"])["Femme"] == 1 and dict(figures["genders"])["Non renseigné"] == 2
    assert figures["workshops"] == {
        "workshops": 1,
        "sessions": 1,
        "capacity": 8,
        "presences": 3,
        "walk_ins": 2,
        "cancelled": 1,
        "participants": 2,
        "fill_percent": 38,
    }


def test_the_pdf_shows_the_figures_on_one_page(filled, tmp_path):
    out = tmp_path / "bilan.pdf"
    report_pdf.summary_pdf(filled, out, *DECEMBER)
    text = lines(out)
    assert text[:3] == [
        "Bilan d'activité",
        "Centre social Éclair",
        "Du 1 décembre 2026 au 31 décembre 2026 — édité le 1 décembre 2026",
    ]
    for expected in (
        "5",
        "Passages",
        "4",
        "Adhérents actifs",
        "2",
        "Nouveaux adhérents",
        "3",
        "Présences en atelier",
        "Aide pour un papier sur internet 2  40 %",
        "Semaine du 30 nov. 2026 2",
        "Semaine du 14 déc. 2026 0",
        "65 ans et plus 1  25 %",
        "Habitent un QPV 1  25 %",
        "N'habitent pas un QPV 3  75 %",
        "Séances tenues 1",
        "Séances annulées 1",
        "dont venus sans inscription 2",
        "Taux de remplissage 38 %",
    ):
        assert expected in text, expected
    assert any(line.startswith("Dont 1 passages anonymes") for line in text)


def test_long_periods_are_counted_by_month_then_by_year_and_stay_one_page(filled, tmp_path):
    out = tmp_path / "bilan.pdf"
    figures = report_pdf.summary_pdf(filled, out, date(2026, 1, 1), date(2027, 12, 31))
    assert figures["unit"] == "month" and len(figures["by_period"]) == 24
    assert ("Décembre 2026", 5) in figures["by_period"] and "Novembre 2026 1" in lines(out)
    figures = report_pdf.summary_pdf(filled, out, date(2019, 1, 1), date(2027, 12, 31))
    assert figures["unit"] == "year" and figures["by_period"][-2:] == [("2026", 6), ("2027", 1)]
    assert "Passages par année" in lines(out)


def test_many_reasons_and_months_still_fit_one_page(filled, tmp_path):
    reasons = DEFAULT_REASONS + [
        {"code": f"motif_{n}", "label": f"Motif numéro {n}", "icon": "info"} for n in range(20)
    ]
    Settings(filled).set("reasons", reasons)
    with filled.transaction():
        for n in range(20):
            rows.visit(filled, f"2026-{1 + n % 12:02d}-10T10:00:00.000Z", reason=f"motif_{n}")
    out = tmp_path / "bilan.pdf"
    report_pdf.summary_pdf(filled, out, date(2026, 1, 1), date(2027, 12, 31))
    text = lines(out)
    assert "Motif numéro 19 1  4 %" in text and "Décembre 2027 0" in text
    assert text[-1].startswith("Dont")  # the footnote is still below everything


def test_a_reason_removed_from_the_settings_is_still_counted(filled):
    Settings(filled).set("reasons", [r for r in DEFAULT_REASONS if r["code"] != "permanence"])
    assert ("permanence", 1) in report_pdf.period_figures(filled, *DECEMBER)["by_reason"]


def test_an_empty_period_gives_zeros_not_an_error(filled, tmp_path):
    out = tmp_path / "vide.pdf"
    figures = report_pdf.summary_pdf(filled, out, date(2025, 3, 1), date(2025, 3, 7))
    assert figures["visits"] == figures["active_members"] == 0
    assert figures["workshops"]["fill_percent"] is None
    assert "Aucun" in lines(out) and "Taux de remplissage —" in lines(out)


def test_the_period_is_checked(filled, tmp_path):
    with pytest.raises(InvalidInput) as refused:
        report_pdf.summary_pdf(filled, tmp_path / "x.pdf", date(2026, 12, 31), date(2026, 12, 1))
    assert refused.value.field == "start"
    assert not (tmp_path / "x.pdf").exists()


def test_a_summary_made_by_someone_is_audited(filled, tmp_path):
    report_pdf.summary_pdf(
        filled, tmp_path / "b.pdf", *DECEMBER, actor={"id": rows.STAFF_ID, "name": "Nadia"}
    )
    assert (
        filled.one("SELECT actor_name FROM audit_log WHERE action = 'export.summary'")["actor_name"]
        == "Nadia"
    )
