"""The dashboard's pages and downloads as a signed-in member of staff gets
them from a real `federation serve` process (figures from tests/hub_sample.py)."""

from __future__ import annotations

import csv
import html
import io
import re

import httpx
import pypdf
import pytest

from tests import hub_sample as sample
from tests.hub_sample import A, C, sign_in

MARCH = "from=2026-03-01&to=2026-03-31"


@pytest.fixture(scope="module")
def client(web_hub):
    with httpx.Client(base_url=web_hub.url, timeout=30) as client:
        assert sign_in(client).status_code == 303
        yield client


def text_of(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text[:500]
    return html.unescape(re.sub(r"\s+", " ", answer.text))


def test_overview_shows_the_period_figures(client):
    page = text_of(client.get(f"/?{MARCH}"))
    assert "Tous les centres, du 1er mars 2026 au 31 mars 2026" in page
    assert "<strong>15</strong> passages" in page
    assert "<strong>5</strong> participants" in page
    assert "<strong>50,0 %</strong> habitants des quartiers prioritaires" in page
    assert "Démarches administratives" in page and ">jardinage<" in page
    assert "Atelier numérique" in page and "66,7 %" in page


def test_overview_chart_has_one_bar_a_week(client):
    page = client.get(f"/?{MARCH}").text
    bars = re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"><title>([^<]*)</title>', page)
    assert len(bars) == 6
    assert [float(h) > 0 for h, _t in bars] == [False, True, True, False, False, True]
    assert html.unescape(bars[1][1]) == "Semaine du 2 mars 2026 : 8 passages"


def test_overview_flags_centres_silent_for_seven_days(client):
    page = text_of(client.get(f"/?{MARCH}"))
    warning = page[
        page.index("Centres silencieux") : page.index("</section>", page.index("Centres silencieux"))
    ]
    assert "Centre Arc-en-ciel" in warning and "Espace Jean-Jaurès" in warning
    assert "Les Tilleuls" not in warning and "Bellevue" not in warning
    assert "dernière synchronisation jamais" in warning


def test_centre_filter_narrows_the_figures(client):
    page = text_of(client.get(f"/?{MARCH}&centre={A}"))
    assert "Centre social Les Tilleuls, du 1er mars 2026" in page
    assert "<strong>10</strong> passages" in page and "Café des parents" not in page


def test_unknown_centre_in_the_filter_is_named(client):
    answer = client.get(f"/?{MARCH}&centre=nowhere")
    assert answer.status_code == 400 and "Ce centre n'existe pas" in html.unescape(answer.text)


def test_centre_page_shows_its_devices_and_silence(client):
    page = text_of(client.get(f"/centres/{C}?{MARCH}"))
    assert "Aucune donnée reçue depuis plus de 7 jours" in page
    assert "Borne Arc-en-ciel" in page
    tilleuls = text_of(client.get(f"/centres/{A}?{MARCH}"))
    assert "Aucune donnée reçue" not in tilleuls and "Borne de l'accueil" in tilleuls
    assert "1 conflit(s)" in tilleuls
    assert client.get("/centres/nowhere").status_code == 404


def test_devices_page_lists_every_device(client):
    page = text_of(client.get("/devices"))
    for label in ("Borne de l'accueil", "Ancienne tablette", "Borne Bellevue", "Borne Arc-en-ciel"):
        assert label in page
    assert page.count("Révoqué le") == 1


def test_conflicts_page_shows_the_conflict(client):
    page = text_of(client.get("/conflicts"))
    assert sample.uid(999) in page and "visit.recorded" in page and "Centre social Les Tilleuls" in page


def test_indicators_csv_download(client):
    answer = client.get(f"/exports/indicators.csv?{MARCH}&centre={A}")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    values = {(r[3], r[4]): r[5] for r in rows[1:]}
    assert values[("Passages", "Total des passages")] == "10"
    assert rows[1][2] == "Centre social Les Tilleuls"


def test_visits_per_week_csv_download(client):
    answer = client.get(f"/exports/visits-per-week.csv?{MARCH}")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[2] == ["02/03/2026", "Tous les centres", "8"]


def test_pdf_report_download(client):
    answer = client.get(f"/exports/report.pdf?{MARCH}")
    assert answer.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(answer.content)).pages)
    assert "Tous les centres — du 1er mars 2026 au 31 mars 2026" in text
    assert "Total des passages 15" in text


def test_styles_are_served_locally(client):
    page = client.get("/").text
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/..%2Fpages.py").status_code == 404
