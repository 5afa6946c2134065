"""The residents' voice on the dashboard, in a real headless Chromium against
a real `federation serve` on the sample federation (March 2026): « La
parole des habitants » on the overview and on a centre's page, with the
figures worked out in tests/hub_sample.py, and SENACS's rows the same."""

from __future__ import annotations

# the Chromium fixture and its marks, as the dashboard's browser tests have them
from tests.hub_sample import A
from tests.test_hub_funders_browser import table_of
from tests.test_hub_web_browser import page as page
from tests.test_hub_web_browser import pytestmark as pytestmark
from tests.test_hub_web_browser import sign_in

MARCH = "?from=2026-03-01&to=2026-03-31"


def figures_of(section) -> dict[str, str]:
    """A section's key figures, as shown: words -> figure."""
    items = section.locator("ul.figures li")
    shown = {}
    for i in range(items.count()):
        figure = items.nth(i).locator("strong").inner_text()
        shown[items.nth(i).inner_text().removeprefix(figure).strip()] = figure
    return shown


def test_the_overview_shows_the_residents_voice_and_senacs_says_the_same(page, web_hub, tmp_path):
    sign_in(page, web_hub, "/" + MARCH)
    section = page.get_by_role("region", name="La parole des habitants", exact=True)
    section.scroll_into_view_if_needed()
    assert figures_of(section) == {
        "idées reçues": "2",
        "idées ayant reçu une réponse": "2",
        "idées réalisées": "1",
        "initiatives d'habitants soutenues": "1",
    }
    ideas = section.get_by_role("table", name="Idées des habitants par sujet")
    quartier = ideas.get_by_role("row", name="Quartier")
    assert quartier.locator("td").all_inner_texts() == ["1", "2", "1", "1"]
    faces = section.get_by_role("table", name="« Comment ça s'est passé ? » après les ateliers")
    assert faces.get_by_role("row", name="Numérique").locator("td").all_inner_texts() == ["2", "1", "0", "3"]
    assert faces.locator("tfoot td").all_inner_texts() == ["3", "1", "1", "5"]
    assert "60,0" in section.inner_text()
    page.screenshot(path=str(tmp_path / "voice.png"), full_page=True)
    page.goto(web_hub.url + "/funders/senacs" + MARCH)
    assert table_of(page, "Initiatives d'habitants") == {
        "Initiatives d'habitants soutenues": "1",
        "Idées reçues (boîte à idées)": "2",
        "Idées ayant reçu une réponse": "2",
        "Idées réalisées par le centre": "1",
    }
    assert table_of(page, "Idées reçues par sujet")["Famille"] == "1"


def test_a_centre_s_page_shows_its_own_voice(page, web_hub):
    sign_in(page, web_hub, f"/centres/{A}" + MARCH)
    section = page.get_by_role("region", name="La parole des habitants", exact=True)
    assert figures_of(section)["idées reçues"] == "1"  # I1; I3 is B's
    faces = section.get_by_role("table", name="« Comment ça s'est passé ? » après les ateliers")
    assert faces.locator("tfoot td").all_inner_texts() == ["3", "1", "0", "4"]
