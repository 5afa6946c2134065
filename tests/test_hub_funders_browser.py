"""The funders' pages in a real headless Chromium against a real `federation
serve` on the sample federation (March 2026): from the overview to a
funder's page, its age bands at the period's year, its CSV the same as the
screen, and a new period that stays on the funder's page."""

from __future__ import annotations

import csv
import io
from pathlib import Path

# the Chromium fixture and its marks, as the dashboard's browser tests have them
from tests.test_hub_web_browser import page as page
from tests.test_hub_web_browser import pytestmark as pytestmark
from tests.test_hub_web_browser import sign_in

MARCH = "?from=2026-03-01&to=2026-03-31"


def table_of(page, section: str) -> dict[str, str]:
    """A section's rows as shown: indicator -> value."""
    rows = page.get_by_role("region", name=section, exact=True).locator("tbody tr")
    return {
        rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").inner_text()
        for i in range(rows.count())
    }


def test_from_the_overview_to_senacs_s_figures_and_its_csv(page, web_hub, tmp_path):
    sign_in(page, web_hub, "/" + MARCH)
    page.get_by_role("link", name="SENACS — observatoire des centres sociaux").click()
    page.wait_for_url("**/funders/senacs?**")
    assert page.get_by_role("heading", level=1).inner_text().startswith("SENACS")
    # M1 gave 1990 (26-59); M2 65+ (60+); M3 16-24 (11-25); M4 55-64 straddles 59/60; M5 erased
    bands = table_of(page, "Personnes touchées par tranche d'âge")
    assert bands == {
        "0 à 10 ans": "0",
        "11 à 25 ans": "1",
        "26 à 59 ans": "1",
        "60 ans et plus": "1",
        "Non renseigné": "2",
    }
    assert table_of(page, "Personnes touchées")["Personnes touchées (adhérents distincts venus)"] == "5"
    page.screenshot(path=str(tmp_path / "senacs.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Ces chiffres en CSV pour Excel").click()
    download = download_info.value
    assert download.suggested_filename == "senacs_tous-centres_2026-03-01_2026-03-31.csv"
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    written = {r[4]: r[5] for r in rows[1:] if r[3] == "Personnes touchées par tranche d'âge"}
    assert written == bands


def test_the_cra_page_gives_the_national_categories_and_keeps_its_period(page, web_hub):
    sign_in(page, web_hub, "/funders/cra" + MARCH)
    themes = table_of(page, "Accompagnements par thème")
    assert themes["Aide aux démarches administratives"] == "3" and len(themes) == 19
    accompaniments = table_of(page, "Accompagnements")
    assert accompaniments["Passages sans thème du CRA"] == "12"  # 15 visits in March, 3 of « demarches »
    page.get_by_label("Du").fill("2026-03-01")
    page.get_by_label("Au").fill("2026-03-05")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**/funders/cra?from=2026-03-01&to=2026-03-05**")
    assert table_of(page, "Accompagnements par thème")["Aide aux démarches administratives"] == "3"
    assert table_of(page, "Accompagnements")["Passages sans thème du CRA"] == "5"


def test_the_overview_shows_the_volunteers_time_by_kind_and_by_centre(page, web_hub):
    sign_in(page, web_hub, "/" + MARCH)
    section = page.get_by_role("region", name="Bénévolat", exact=True)
    figures = section.locator("ul.figures li")
    assert [" ".join(figures.nth(i).inner_text().split()) for i in range(figures.count())] == [
        "3 bénévoles actifs",
        "18,0 heures de bénévolat",
        "0,13 équivalent temps plein",
    ]
    kinds = section.locator("table").first.locator("tbody tr")
    shown = [
        [kinds.nth(i).locator("th, td").nth(j).inner_text() for j in range(4)] for i in range(kinds.count())
    ]
    assert shown == [
        ["Activités", "3", "14,0", "0,10"],
        ["Gouvernance (CA, commissions)", "2", "4,0", "0,03"],
    ]
    by_centre = page.get_by_role("table", name="Bénévolat par centre").locator("tbody tr")
    assert by_centre.count() == 2
    assert by_centre.nth(0).locator("th").inner_text() == "Centre social Les Tilleuls"
    assert "10,0 heures closes automatiquement" in section.inner_text()
    # the centre's own page: its volunteers only, and a link there from the table
    by_centre.nth(1).locator("a").click()
    page.wait_for_url("**/centres/**")
    centre = page.get_by_role("region", name="Bénévolat", exact=True)
    assert " ".join(centre.locator("ul.figures li").first.inner_text().split()) == "1 bénévole actif"
    # SENACS's page says the same as the overview
    page.goto(web_hub.url + "/funders/senacs" + MARCH)
    volunteers = table_of(page, "Bénévoles")
    assert volunteers["Bénévoles actifs (distincts)"] == "3"
    assert volunteers["Heures de bénévolat"] == "18,0"
    assert volunteers["Équivalents temps plein (1 607 h par an)"] == "0,13"


def test_the_overview_shows_the_events_held_outside_and_senacs_counts_them(page, web_hub):
    sign_in(page, web_hub, "/" + MARCH)
    section = page.get_by_role("region", name="Hors les murs", exact=True)
    figures = section.locator("ul.figures").inner_text()
    assert "2 événements hors les murs tenus" in figures.replace("\n", " ")
    assert "4 passages lors de ces événements" in figures.replace("\n", " ")
    places = section.get_by_role("table", name="Événements hors les murs par lieu").locator("tbody tr")
    rows = {
        places.nth(i).locator("th").inner_text(): places.nth(i).locator("td").all_inner_texts()
        for i in range(places.count())
    }
    assert rows == {"Chemin Vert (Boulogne-sur-Mer)": ["1", "3", "1"], "Wimereux": ["1", "1", "0"]}
    page.get_by_role("link", name="SENACS — observatoire des centres sociaux").click()
    page.wait_for_url("**/funders/senacs?**")
    assert table_of(page, "Événements hors les murs")["Événements hors les murs tenus"] == "2"
