"""The dashboard's « Fiches atelier » in a real headless Chromium against a
real `federation serve`: write a sheet, see its preview, correct what the
form refused, publish it (the kiosks' publications hold it), edit it,
withdraw it; the JSON export and the « Diffusion » page with its CSV. And
without the dashboard's session or its form token, nothing is written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

from federation import publications, sheets
from federation import store as hub_store
from tests.hub_sample import hidden_csrf
from tests.hub_sample import sign_in as sign_in_client

# the Chromium fixture and its marks, as the dashboard's browser tests have them
from tests.test_hub_web_browser import page as page
from tests.test_hub_web_browser import pytestmark as pytestmark
from tests.test_hub_web_browser import sign_in


def held_sheets(hub) -> dict[str, dict]:
    engine = hub_store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return {item["key"]: item["body"] for item in publications.held(conn, "sheet")}
    finally:
        engine.dispose()


def fill(page, **fields) -> None:
    labels = {
        "title": "Titre",
        "description": "Description, en mots simples",
        "duration": "Durée habituelle (minutes)",
        "capacity": "Places",
        "bring": "À apporter",
        "needs": "Ce qu'il faut à l'animateur",
    }
    for name, value in fields.items():
        page.get_by_label(labels[name], exact=True).fill(value)


def test_a_sheet_is_written_previewed_corrected_published_and_withdrawn(page, web_hub, tmp_path):
    sign_in(page, web_hub, "/fiches")
    page.get_by_role("link", name="Écrire une nouvelle fiche").click()
    page.wait_for_url("**/fiches/nouvelle")
    fill(
        page,
        title="Réparer son vélo",
        description="On apprend à réparer son vélo ensemble.",
        duration="120",
        capacity="0",
        bring="Votre vélo",
        needs="Une caisse à outils",
    )
    page.get_by_label("Thème").select_option(label="Pouvoir d'agir")
    page.get_by_label("Pictogramme").select_option(label="Sortie, transport")
    page.get_by_role("button", name="Aperçu").click()
    # the browser holds the form back (the field's bounds are the hub's) ...
    assert page.get_by_label("Places", exact=True).evaluate("field => field.validity.rangeUnderflow")
    assert page.get_by_role("region", name="Aperçu : ce que les centres verront").count() == 0
    # ... and without the browser's check, the hub refuses it: named, nothing stored, what was typed kept
    page.locator("form.sheet-form").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Aperçu").click()
    assert "Places : Le nombre de places va de 1 à 500." in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Places", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Titre").input_value() == "Réparer son vélo"
    fill(page, capacity="8")
    page.get_by_role("button", name="Aperçu").click()
    preview = page.get_by_role("region", name="Aperçu : ce que les centres verront").inner_text()
    assert "Réparer son vélo" in preview and "120 minutes · 8 places" in preview and "Votre vélo" in preview
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/fiches/*?enregistree=1")
    sheet_id = page.url.split("/fiches/")[1].split("?")[0]
    assert page.locator("#sheet-status").inner_text() == "Brouillon"
    assert held_sheets(web_hub).get(sheet_id) is None  # a draft reaches no kiosk
    page.get_by_role("button", name="Publier pour tous les centres").click()
    page.wait_for_url(f"**/fiches/{sheet_id}")
    assert page.locator("#sheet-status").inner_text() == "Publiée"
    assert held_sheets(web_hub)[sheet_id]["capacity"] == 8
    # edited while published: the kiosks get the new version
    fill(page, capacity="10")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/fiches/*?enregistree=1")
    assert held_sheets(web_hub)[sheet_id]["capacity"] == 10
    page.screenshot(path=str(tmp_path / "sheet.png"), full_page=True)
    # the list, and the export the CLI reads back
    page.get_by_role("link", name="← Toutes les fiches").click()
    assert "Réparer son vélo" in page.get_by_role("table", name="Fiches atelier").inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter les fiches publiées (JSON)").click()
    exported = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert [row["id"] for row in exported] == [sheet_id] and exported[0]["capacity"] == 10
    page.get_by_role("link", name="Réparer son vélo").click()
    page.get_by_role("button", name="Retirer la fiche").click()
    page.wait_for_url(f"**/fiches/{sheet_id}")
    assert page.locator("#sheet-status").inner_text() == "Retirée"
    assert sheet_id not in held_sheets(web_hub)


def test_the_diffusion_page_and_its_csv(page, web_hub):
    sign_in(page, web_hub, "/diffusion")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Diffusion")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger la diffusion (CSV)").click()
    text = Path(download_info.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Fiche", "Titre", "Thème", "État", "Centres", "Ateliers", "Séances", "Participants"]


def test_nothing_is_written_without_a_session_or_the_forms_token(web_hub):
    form = {"title": "Intrus", "theme": "autre", "pictogram": "info", "description": ""}
    form |= {"duration_minutes": "60", "capacity": "5", "bring": "", "animator_needs": "", "action": "save"}
    with httpx.Client(base_url=web_hub.url, follow_redirects=False) as anonymous:
        answer = anonymous.post("/fiches/nouvelle", data=form)
        assert answer.status_code in (303, 401, 403) and "/fiches/" not in answer.headers.get("location", "")
    with httpx.Client(base_url=web_hub.url, follow_redirects=False) as staff:
        sign_in_client(staff)
        assert staff.post("/fiches/nouvelle", data=form).status_code == 403  # no CSRF token
        token = hidden_csrf(staff.get("/fiches/nouvelle").text)
        assert staff.post("/fiches/nouvelle", data=form | {"csrf_token": "x" + token}).status_code == 403
    assert "Intrus" not in json.dumps(held_sheets(web_hub))
    engine = hub_store.create_engine(web_hub.db_url)
    try:
        with engine.connect() as conn:
            assert all(s["title"] != "Intrus" for s in sheets.listing(conn))
    finally:
        engine.dispose()
