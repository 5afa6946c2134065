"""The dashboard's « Familles » section in a real headless Chromium against
a real `federation serve` on the sample federation (March 2026, where M1
and M2 of centre A share a household): on the overview, a centre's page
and the CAF's page, the same figures."""

from __future__ import annotations

# the Chromium fixture and its marks, as the dashboard's browser tests have them
from tests.hub_sample import A, B
from tests.test_hub_funders_browser import table_of
from tests.test_hub_web_browser import page as page
from tests.test_hub_web_browser import pytestmark as pytestmark
from tests.test_hub_web_browser import sign_in

MARCH = "?from=2026-03-01&to=2026-03-31"


def families(page) -> dict[str, str]:
    return table_of(page, "Familles")


def test_the_families_section_on_the_overview_a_centre_and_the_caf(page, web_hub):
    sign_in(page, web_hub, "/" + MARCH)
    shown = families(page)
    # five participants in March: M1 and M2 in one family, M3, M4 and M5 (erased) in none
    assert shown["Familles touchées (foyers dont un membre est venu)"] == "1"
    assert shown["Personnes dans ces familles"] == "2"
    assert shown["Participants membres d'une famille"] == "2"
    assert shown["Participants sans foyer renseigné"] == "3"
    assert shown["Familles avec au moins un enfant de moins de 18 ans"] == "0"
    assert (
        "2\npersonnes dans ces familles"
        in page.get_by_role("region", name="Familles", exact=True).inner_text()
    )
    page.goto(web_hub.url + f"/centres/{A}" + MARCH)
    assert families(page)["Familles touchées (foyers dont un membre est venu)"] == "1"
    page.goto(web_hub.url + f"/centres/{B}" + MARCH)
    at_b = families(page)
    assert at_b["Familles touchées (foyers dont un membre est venu)"] == "0"
    assert at_b["Participants sans foyer renseigné"] == "2"  # M3 came, M4 was present at a session
    page.goto(web_hub.url + "/funders/caf" + MARCH)
    caf = table_of(page, "Familles")
    for name in ("Familles touchées (foyers dont un membre est venu)", "Personnes dans ces familles"):
        assert caf[name] == shown[name]
