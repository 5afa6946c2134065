"""The dashboard's « Messages aux bornes » in a real headless Chromium
against a real `federation serve`: write a message, preview it, publish it
for some centres, withdraw it; a kiosk pulls it signed; a centre's device
cannot publish (federation/web/messages_page.py)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from federation import publications, store
from tests import hub_sample as sample
from tests.hub_sample import A
from tests.test_hub_web_browser import page, sign_in  # noqa: F401 - the page fixture
from tests.test_hub_web_browser import pytestmark as browser_marks

pytestmark = browser_marks


def messages(hub) -> list[dict]:
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return publications.held(conn, "message", include_withdrawn=True)
    finally:
        engine.dispose()


def test_write_preview_publish_and_withdraw_a_message(page, web_hub):  # noqa: F811
    sign_in(page, web_hub, "/messages")
    page.get_by_role("link", name="Écrire un message").click()
    page.get_by_label("Message en français").fill("Fermeture exceptionnelle lundi 12")
    page.get_by_label("En anglais (facultatif)").fill("Closed on Monday 12th")
    page.get_by_label("Pictogramme").select_option(label="Fermeture")
    page.get_by_label("Premier jour").fill("2026-01-05")
    page.get_by_label("Dernier jour").fill("2026-01-04")
    page.get_by_role("button", name="Aperçu").click()
    error = page.locator("#message-error")
    assert error.text_content() == "Dernier jour : ne doit pas être avant le premier jour"
    assert page.get_by_label("Dernier jour").get_attribute("aria-invalid") == "true"

    page.get_by_label("Dernier jour").fill("2026-01-12")
    page.get_by_label("Seulement les centres cochés :").check()
    page.get_by_label(sample.CENTRE_NAMES[A]).check()
    page.get_by_role("button", name="Aperçu").click()
    preview = page.locator("#message-preview")
    assert "Fermeture exceptionnelle lundi 12" in preview.text_content()
    assert "Closed on Monday 12th" in preview.text_content()
    assert f"pour {sample.CENTRE_NAMES[A]}" in preview.text_content()
    assert "du 5 janvier 2026 au 12 janvier 2026" in preview.text_content()
    assert messages(web_hub) == []  # a preview stores nothing

    page.get_by_role("button", name="Publier").click()
    page.wait_for_url(f"{web_hub.url}/messages?publie=1")
    (held,) = messages(web_hub)
    assert held["body"] == {
        "text": {"fr": "Fermeture exceptionnelle lundi 12", "en": "Closed on Monday 12th"},
        "pictogram": "event_busy",
        "starts_on": "2026-01-05",
        "ends_on": "2026-01-12",
    }
    assert held["audience"] == [A] and held["updated_by"] == sample.EMAIL
    row = page.get_by_role("row", name="Fermeture exceptionnelle lundi 12")
    assert sample.CENTRE_NAMES[A] in row.text_content()
    row.get_by_role("button", name="Retirer").click()
    page.wait_for_url(f"{web_hub.url}/messages?retire=1")
    assert messages(web_hub)[0]["withdrawn"] is True
    assert "Retiré" in page.get_by_role("row", name="Fermeture exceptionnelle lundi 12").text_content()


def test_a_centre_device_cannot_publish(web_hub):
    device = web_hub.new_device("Centre qui voudrait publier")
    bearer = {"Authorization": f"Bearer {device['device_token']}"}
    form = {"text_fr": "Pirate", "pictogram": "info", "starts_on": "2026-01-01", "ends_on": "2026-01-02"}
    answer = httpx.post(f"{web_hub.url}/messages/nouveau", data={**form, "action": "publish"}, headers=bearer)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    api = httpx.post(
        f"{web_hub.url}/api/v1/publications",
        json={"kind": "message", "key": "pirate", "body": {}},
        headers=bearer,
    )
    assert api.status_code == 403
    assert httpx.post(f"{web_hub.url}/api/v1/publications", json={}).status_code == 401
    engine = store.create_engine(web_hub.db_url)
    try:
        with engine.connect() as conn:
            pirate = store.publications.c.key == "pirate"
            count = conn.execute(sa.select(sa.func.count()).where(pirate)).scalar_one()
    finally:
        engine.dispose()
    assert not any(item["body"]["text"]["fr"] == "Pirate" for item in messages(web_hub))
    assert count == 0


def test_the_published_reasons_list_in_words(page, web_hub):  # noqa: F811
    sign_in(page, web_hub, "/raisons")
    assert page.locator("#reasons-none").is_visible()
    reasons = [
        {
            "code": "demarches",
            "label": "Un papier en ligne",
            "icon": "computer",
            "cra_theme": "demarches_administratives",
        },
        {"code": "caf", "label": "La CAF", "icon": "family_restroom", "domain": "social_sante"},
    ]
    engine = store.create_engine(web_hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            publications.publish_reasons(conn, reasons, by="federation reasons")
    finally:
        engine.dispose()
    page.reload()
    row = page.get_by_role("row", name="caf")
    assert "La CAF" in row.text_content() and "Social - Santé" in row.text_content()
    row = page.get_by_role("row", name="demarches")
    assert "Aide aux démarches administratives" in row.text_content()
    assert "Sans domaine administratif" in row.text_content()
