"""The dashboard in a real headless Chromium (Debian's, driven by Playwright)
against a real `federation serve`: sign in, see the chart, filter, download."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from tests import hub_sample as sample
from tests.hub_sample import EMAIL, PASSWORD, A

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not shutil.which("chromium"),
        reason="Debian's chromium is not installed: run scripts/system-deps.sh test",
    ),
]


@pytest.fixture
def page(web_hub):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="fr-FR",
            timezone_id="Europe/Paris",
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()


def sign_in(page, web_hub, path: str) -> None:
    page.goto(web_hub.url + path)
    assert "/login" in page.url  # sent to sign in first, then back where we were going
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web_hub.url}{path}")


def test_sign_in_and_see_the_weekly_chart(page, web_hub, tmp_path):
    sign_in(page, web_hub, "/?from=2026-03-01&to=2026-03-31")
    chart = page.locator("svg.week-chart")
    chart.wait_for()
    bars = chart.locator("rect.bar")
    assert bars.count() == 6
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(6)]
    assert heights[1] > heights[2] > heights[5] > 0 == heights[0]
    box = chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 100  # drawn, not collapsed
    assert bars.nth(1).locator("title").text_content() == "Semaine du 2 mars 2026 : 8 passages"
    assert page.get_by_role("heading", name="Centres silencieux depuis plus de 7 jours").is_visible()
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)


def test_filter_by_centre_then_download_its_indicators(page, web_hub):
    sign_in(page, web_hub, "/?from=2026-03-01&to=2026-03-31")
    page.get_by_label("Centre", exact=True).select_option(label=sample.CENTRE_NAMES[A])
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url(f"**centre={A}**")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Vue d'ensemble")
    assert "Centre social Les Tilleuls" in page.get_by_role("heading", level=1).inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Indicateurs FEDER / SENACS (CSV pour Excel)").click()
    download = download_info.value
    assert download.suggested_filename.endswith("_2026-03-01_2026-03-31.csv")
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    values = {(r[3], r[4]): r[5] for r in rows[1:]}
    assert values[("Passages", "Total des passages")] == "10"
    assert values[("Passages par motif", "Démarches administratives")] == "3"


def test_download_the_pdf_report_and_sign_out(page, web_hub):
    sign_in(page, web_hub, "/?from=2026-03-01&to=2026-03-31")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Rapport d'activité (PDF)").click()
    assert Path(download_info.value.path()).read_bytes().startswith(b"%PDF")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login")
    page.goto(web_hub.url + "/")
    assert "/login" in page.url
