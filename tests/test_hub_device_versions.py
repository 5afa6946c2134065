"""The hub's devices page says which app version each device runs and when
it last exchanged, its batches' and its relay's (federation.reports
.device_list), from a real kiosk syncing with a real `federation serve`."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

import kiosk
from federation import store, users
from kiosk import syncing
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol
from tests.hub_sample import sign_in

pytest_plugins = ["tests.conftest_hub"]

EMAIL, PASSWORD = "coordination@example.org", "un mot de passe assez long"


def row_of(page: str, label: str) -> str:
    """The text of the devices table's row whose device is ``label``."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    (row,) = [r for r in rows if label in r]
    return html.unescape(re.sub(r"<[^>]+>", " | ", row))


def test_the_devices_page_shows_each_device_s_version_and_last_exchanges(hub, tmp_path):
    engine = store.create_engine(hub.db_url)
    users.add_user(engine, EMAIL, PASSWORD)
    engine.dispose()
    _centre_id, code = hub.add_centre("Centre social Les Tilleuls")
    path = str(tmp_path / "reception.db")
    answer = syncing.enrol(hub.url, code, "Borne de l'accueil")
    with Store.open(path) as kiosk_store:
        syncing.save_enrolment(Settings(kiosk_store), hub.url, answer)
    with Centre.open(path) as centre:
        centre.members.register("Aïcha", "Benali", consent_data=True)
    assert syncing.sync_once(path)["last_result"]["ok"]  # the batch, then the relay's exchange
    hub.enrol(hub_code(hub, answer["centre_id"]), "Tablette jamais synchronisée")

    with hub.client() as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        page = client.get("/devices")
    assert page.status_code == 200
    kiosk_row = row_of(page.text, "Borne de l&#39;accueil")
    assert kiosk.__version__ in kiosk_row
    dates = re.findall(r"\d{2}/\d{2}/\d{4}|\d{1,2} \w+ \d{4}", kiosk_row)
    assert len(dates) >= 4, kiosk_row  # enrolled, last contact, last batch, last relay exchange
    quiet_row = row_of(page.text, "Tablette jamais synchronisée")
    assert "inconnue" in quiet_row


def hub_code(hub, centre_id: str) -> str:
    from federation import centres

    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            return centres.new_code(conn, centre_id)
    finally:
        engine.dispose()


def test_a_version_outside_the_pattern_is_ignored_and_the_batch_stored(hub):
    device = hub.new_device()
    with hub.client(device["device_token"]) as client:
        for version in ("<script>alert(1)</script>", "x" * 41, "1.0 beta"):
            answer = client.post(
                "/api/v1/batches",
                json={"protocol": protocol.PROTOCOL_VERSION, "events": []},
                headers={protocol.APP_VERSION_HEADER: version},
            )
            assert answer.status_code == 200, answer.text
        answer = client.post(
            "/api/v1/batches",
            json={"protocol": protocol.PROTOCOL_VERSION, "events": []},
            headers={protocol.APP_VERSION_HEADER: "2.3.1+deb12"},
        )
        assert answer.status_code == 200
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            held = conn.execute(sa.select(store.device_versions.c.app_version)).scalars().all()
    finally:
        engine.dispose()
    assert held == ["2.3.1+deb12"]
