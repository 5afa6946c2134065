"""The federation's signed publications: the hub publishes, the kiosk pulls
at its sync and keeps only what the hub it pinned signed for it
(sync/publications.py, federation/publications.py,
kiosk/core/federation_feed.py, kiosk.syncing.pull_publications)."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import httpx
import nacl.signing
import pytest

from federation import publications, store
from kiosk import syncing
from kiosk.core import federation_feed
from kiosk.core.settings import DEFAULTS, Settings
from kiosk.core.store import Store
from sync import outbox
from sync import publications as wire
from tests.faultproxy import FaultProxy

REAL_FETCH = wire.fetch

pytest_plugins = ["tests.conftest_hub"]

MESSAGE = {
    "text": {"fr": "Fermeture exceptionnelle lundi", "en": "Closed on Monday", "ar": ""},
    "pictogram": "event_busy",
    "starts_on": "2026-01-01",
    "ends_on": "2099-12-31",
}


def publish(hub, kind, key, body, audience=None):
    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            return publications.publish(conn, kind, key, body, audience)
    finally:
        engine.dispose()


def withdraw(hub, kind, key):
    engine = store.create_engine(hub.db_url)
    try:
        with store.writer(engine) as conn, conn.begin():
            return publications.withdraw(conn, kind, key)
    finally:
        engine.dispose()


def hub_signing_key(hub) -> nacl.signing.SigningKey:
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return publications.signing_key(conn)
    finally:
        engine.dispose()


def kiosk(hub, path, name="Centre social", url=None) -> tuple[str, str]:
    """A kiosk database enrolled at ``hub`` for a new centre: (path, centre id)."""
    centre_id, code = hub.add_centre(name)
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(path) as db:
        syncing.save_enrolment(Settings(db), url or hub.url, answer)
    return str(path), centre_id


def held(path, kind="message"):
    with Store.open(path) as db:
        return federation_feed.items(db, kind)


def summary(path):
    with Store.open(path) as db:
        return federation_feed.summary(db)


# ---------------------------------------------------------------- the bodies


def test_a_message_is_rebuilt_from_its_allowed_fields_only():
    body = wire.check_body("message", {**MESSAGE, "author": "Mme Martin", "text": {"fr": " Bonjour "}})
    assert body == {
        "text": {"fr": "Bonjour"},
        "pictogram": "event_busy",
        "starts_on": "2026-01-01",
        "ends_on": "2099-12-31",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pictogram": "skull"}, "pictogram"),
        ({"ends_on": "2025-12-31"}, "ends_on"),
        ({"starts_on": "2026-02-30"}, "starts_on"),
        ({"text": {"fr": "x" * 101}}, "text.fr"),
        ({"text": {"fr": "Bonjour", "de": "Hallo"}}, "text"),
        ({"text": {"fr": "Bon\x00jour"}}, "text.fr"),
    ],
)
def test_a_message_out_of_bounds_is_refused_naming_its_field(change, field):
    with pytest.raises(wire.InvalidBody) as refused:
        wire.check_body("message", {**MESSAGE, **change})
    assert refused.value.field == field


def test_an_unknown_kind_is_refused():
    with pytest.raises(wire.InvalidBody) as refused:
        wire.check_body("poster", {})
    assert refused.value.field == "kind"


# ---------------------------------------------------------------- hub and kiosk


def test_the_kiosk_pins_the_hub_key_at_enrolment_and_pulls_a_message(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    assert summary(path)["hub_key"] == wire.key_text(hub_signing_key(shared_hub).verify_key)
    publish(shared_hub, "message", "fermeture-test-1", MESSAGE)
    got = syncing.pull_publications(path)
    assert got["received"] >= 1
    (message,) = [item for item in held(path) if item["key"] == "fermeture-test-1"]
    assert message["text"] == {"fr": "Fermeture exceptionnelle lundi", "en": "Closed on Monday"}
    assert summary(path)["updated_at"] is not None
    with Store.open(path) as db:
        shown = federation_feed.messages(db, "en", date(2026, 6, 1))
        english = {"key": "fermeture-test-1", "text": "Closed on Monday", "pictogram": "event_busy"}
        assert english | {"language": "en"} in shown
        arabic = federation_feed.messages(db, "ar", date(2026, 6, 1))
        french = {"key": "fermeture-test-1", "text": MESSAGE["text"]["fr"], "pictogram": "event_busy"}
        french["language"] = "fr"
        assert french in arabic  # no Arabic translation: the French
        assert federation_feed.messages(db, "fr", date(2025, 6, 1)) == []  # before its dates


def test_the_next_pull_brings_only_what_changed_and_withdrawals(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    publish(shared_hub, "message", "changes-a", MESSAGE)
    syncing.pull_publications(path)
    assert syncing.pull_publications(path)["received"] == 0
    publish(shared_hub, "message", "changes-b", {**MESSAGE, "text": {"fr": "Nouveau"}})
    withdraw(shared_hub, "message", "changes-a")
    got = syncing.pull_publications(path)
    assert (got["received"], got["withdrawn"]) == (1, 1)
    keys = {item["key"] for item in held(path)}
    assert "changes-b" in keys and "changes-a" not in keys


def test_a_publication_for_some_centres_reaches_them_only(shared_hub, tmp_path):
    a, centre_a = kiosk(shared_hub, tmp_path / "a.db", "Centre A")
    b, _centre_b = kiosk(shared_hub, tmp_path / "b.db", "Centre B")
    publish(shared_hub, "message", "audience-1", MESSAGE, audience=[centre_a])
    syncing.pull_publications(a)
    syncing.pull_publications(b)
    assert "audience-1" in {item["key"] for item in held(a)}
    assert "audience-1" not in {item["key"] for item in held(b)}
    # its audience no longer names A: A drops it at its next pull
    centre_c, _code = shared_hub.add_centre("Centre C")
    publish(shared_hub, "message", "audience-1", MESSAGE, audience=[centre_c])
    assert syncing.pull_publications(a)["withdrawn"] == 1
    assert "audience-1" not in {item["key"] for item in held(a)}


def test_a_kiosk_enrolled_before_publications_learns_the_key_at_its_next_sync(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    with Store.open(path) as db, db.transaction():
        outbox.set_state(db.conn, federation_feed.HUB_KEY, None)  # as an upgraded kiosk holds
    syncing.pull_publications(path)
    assert summary(path)["hub_key"] == wire.key_text(hub_signing_key(shared_hub).verify_key)


# ---------------------------------------------------------------- refusals


def _answer_for(monkeypatch, forge):
    """Make the kiosk's next fetch return ``forge(since, nonce, real answer)``."""

    def fetch(hub_url, token, since, nonce, session=None):
        return forge(since, nonce, REAL_FETCH(hub_url, token, since, nonce, session=session))

    monkeypatch.setattr(wire, "fetch", fetch)


def _good_copy(shared_hub, tmp_path, key):
    path, centre = kiosk(shared_hub, tmp_path / "k.db")
    publish(shared_hub, "message", key, MESSAGE)
    syncing.pull_publications(path)
    publish(shared_hub, "message", key, {**MESSAGE, "text": {"fr": "Changé"}})
    return path, centre


def _kept(path, key):
    (item,) = [item for item in held(path) if item["key"] == key]
    return item["text"]["fr"] == MESSAGE["text"]["fr"]


def test_a_page_altered_in_transit_is_refused_and_the_last_good_copy_kept(shared_hub, tmp_path):
    with FaultProxy(("127.0.0.1", int(shared_hub.url.rsplit(":", 1)[1]))) as proxy:
        centre_id, code = shared_hub.add_centre("Centre altéré")
        path = str(tmp_path / "k.db")
        with Store.open(path) as db:
            syncing.save_enrolment(Settings(db), proxy.url, syncing.enrol(shared_hub.url, code, "Borne"))
        publish(shared_hub, "message", "tamper-1", MESSAGE)
        syncing.pull_publications(path)
        publish(shared_hub, "message", "tamper-1", {**MESSAGE, "text": {"fr": "Changé"}})
        proxy.tamper = lambda body: body.replace(b"Chang", b"Range")
        proxy.plan(["tamper"])
        got = syncing.pull_publications(path)
        assert proxy.counts["tamper"] == 1
        assert got["refused"] == wire.BAD_SIGNATURE
        assert _kept(path, "tamper-1")
        assert summary(path)["refused"]["reason"] == wire.BAD_SIGNATURE
        # the next good page is taken, and the refusal cleared
        proxy.plan(["drop"])  # a lost answer first: the request goes again
        syncing.pull_publications(path)
        assert proxy.counts["drop"] == 1
        assert not _kept(path, "tamper-1")
        assert summary(path)["refused"] is None
        assert centre_id


def test_a_page_signed_by_another_key_is_refused(shared_hub, tmp_path, monkeypatch):
    path, centre = _good_copy(shared_hub, tmp_path, "other-key-1")
    intruder = nacl.signing.SigningKey.generate()

    def forge(since, nonce, real):
        payload = json.loads(real["payload"])
        return wire.sign_page(intruder, {k: v for k, v in payload.items() if k not in ("format", "hub_key")})

    _answer_for(monkeypatch, forge)
    assert syncing.pull_publications(path)["refused"] == wire.KEY_CHANGED
    assert _kept(path, "other-key-1")

    def same_name(since, nonce, real):  # names the pinned key, signed by another
        page = forge(since, nonce, real)
        payload = json.loads(page["payload"]) | {"hub_key": json.loads(real["payload"])["hub_key"]}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return {"payload": text, "signature": page["signature"]}

    _answer_for(monkeypatch, same_name)
    assert syncing.pull_publications(path)["refused"] == wire.BAD_SIGNATURE
    assert _kept(path, "other-key-1")
    assert summary(path)["refused"]["reason"] == wire.BAD_SIGNATURE


def test_a_page_made_for_another_centre_is_refused(shared_hub, tmp_path, monkeypatch):
    path, _centre = _good_copy(shared_hub, tmp_path, "replay-1")
    other = shared_hub.new_device("Centre voisin")

    def replayed(since, nonce, real):  # the same request, answered for the other centre's device
        response = httpx.get(
            f"{shared_hub.url}/api/v1/publications",
            params={"since": since, "nonce": nonce},
            headers={"Authorization": f"Bearer {other['device_token']}"},
        )
        return response.json()

    _answer_for(monkeypatch, replayed)
    assert syncing.pull_publications(path)["refused"] == wire.WRONG_CENTRE
    assert _kept(path, "replay-1")


def test_an_old_page_replayed_is_refused(shared_hub, tmp_path, monkeypatch):
    path, _centre = _good_copy(shared_hub, tmp_path, "old-page-1")
    with Store.open(path) as db:
        token = Settings(db).get("device_token")
    old = httpx.get(
        f"{shared_hub.url}/api/v1/publications",
        params={"since": 0, "nonce": "a-nonce-of-before-1234"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    _answer_for(monkeypatch, lambda since, nonce, real: old)
    assert syncing.pull_publications(path)["refused"] == wire.REPLAYED
    assert _kept(path, "old-page-1")


def test_a_page_moving_the_cursor_back_is_refused(shared_hub, tmp_path, monkeypatch):
    path, centre = _good_copy(shared_hub, tmp_path, "rollback-1")
    key = hub_signing_key(shared_hub)

    def rolled_back(since, nonce, real):  # signed by the hub itself, yet older than the cursor
        payload = {k: v for k, v in json.loads(real["payload"]).items() if k not in ("format", "hub_key")}
        return wire.sign_page(key, payload | {"cursor": since - 1, "items": []})

    _answer_for(monkeypatch, rolled_back)
    assert syncing.pull_publications(path)["refused"] == wire.ROLLED_BACK
    assert _kept(path, "rollback-1")


def test_the_hub_refuses_a_page_without_a_device_token_or_a_nonce(shared_hub):
    device = shared_hub.new_device("Centre sans nonce")
    url = f"{shared_hub.url}/api/v1/publications"
    assert httpx.get(url, params={"nonce": "x" * 20}).status_code == 401
    bearer = {"Authorization": f"Bearer {device['device_token']}"}
    assert httpx.get(url, params={"since": 0}, headers=bearer).status_code == 400
    assert httpx.get(url, params={"since": -1, "nonce": "x" * 20}, headers=bearer).status_code == 400


def test_a_centre_device_cannot_publish(shared_hub):
    device = shared_hub.new_device("Centre qui voudrait publier")
    bearer = {"Authorization": f"Bearer {device['device_token']}"}
    answer = httpx.post(
        f"{shared_hub.url}/api/v1/publications",
        json={"kind": "message", "key": "pirate", "body": MESSAGE},
        headers=bearer,
    )
    assert answer.status_code in (401, 403, 405)
    page = httpx.get(
        f"{shared_hub.url}/api/v1/publications", params={"nonce": "y" * 20}, headers=bearer
    ).json()
    assert "pirate" not in page["payload"]


# ---------------------------------------------------------------- the reasons list


FEDERAL_REASONS = {
    "reasons": [
        {"code": "accueil", "label": "Une question", "icon": "info"},
        {
            "code": "demarches",
            "label": "Un papier en ligne",
            "icon": "computer",
            "cra_theme": "demarches_administratives",
            "domain": "papiers_citoyennete",
            "asks_body": True,
        },
        {"code": "caf", "label": "La CAF", "icon": "family_restroom", "domain": "social_sante"},
    ]
}


def test_a_centre_on_the_default_reasons_follows_the_federation_list(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    publish(shared_hub, "reasons", "list", FEDERAL_REASONS)
    syncing.pull_publications(path)
    with Store.open(path) as db:
        assert Settings(db).get("reasons") == FEDERAL_REASONS["reasons"]


def test_a_centre_that_edited_its_reasons_keeps_them_with_the_national_categories(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    own = [
        {"code": "demarches", "label": "Les papiers", "icon": "badge", "cra_theme": "email"},
        {"code": "jardin", "label": "Le jardin partagé", "icon": "park"},
    ]
    with Store.open(path) as db:
        Settings(db).set("reasons", own)
    publish(shared_hub, "reasons", "list", FEDERAL_REASONS)
    syncing.pull_publications(path)
    with Store.open(path) as db:
        assert Settings(db).get("reasons") == [
            {
                "code": "demarches",
                "label": "Les papiers",
                "icon": "badge",
                "cra_theme": "demarches_administratives",
                "domain": "papiers_citoyennete",
            },
            {"code": "jardin", "label": "Le jardin partagé", "icon": "park"},
        ]
    assert DEFAULTS["reasons"] != own


# ---------------------------------------------------------------- status, and the sync itself


def test_the_sync_pulls_and_status_counts_what_came(shared_hub, tmp_path):
    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    publish(shared_hub, "message", "status-1", MESSAGE)
    outcome = syncing.sync_once(path)
    assert outcome["after_push"]["publications"]["received"] >= 1
    with Store.open(path) as db:
        settings = {key: Settings(db).get(key) for key in syncing.SYNC_SETTINGS}
    federation = syncing.status(path, settings, ask_hub=False)["federation"]
    assert federation["messages"] >= 1 and federation["sheets"] == 0 and federation["agenda"] == 0
    assert federation["updated_at"] and federation["refused"] is None


def test_federation_reasons_publishes_a_file_and_refuses_a_bad_one(shared_hub, tmp_path):
    from tests.conftest_hub import run_federation

    path, _centre = kiosk(shared_hub, tmp_path / "k.db")
    good = tmp_path / "motifs.json"
    good.write_text(json.dumps(FEDERAL_REASONS), encoding="utf-8")
    done = run_federation("reasons", "--publish", str(good), db_url=shared_hub.db_url)
    assert "3 reason(s) published" in done.stdout
    shown = run_federation("reasons", db_url=shared_hub.db_url)
    assert json.loads(shown.stdout) == FEDERAL_REASONS["reasons"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"code": "Démarches", "label": "x", "icon": "info"}]), encoding="utf-8")
    with pytest.raises(subprocess.CalledProcessError) as refused:
        run_federation("reasons", "--publish", str(bad), db_url=shared_hub.db_url)
    assert refused.value.returncode == 2 and "reasons[0].code" in refused.value.stderr
    syncing.pull_publications(path)
    with Store.open(path) as db:
        assert Settings(db).get("reasons") == FEDERAL_REASONS["reasons"]


def test_a_hub_restored_from_an_older_backup_starts_the_kiosk_again(hub, tmp_path):
    path, _centre = kiosk(hub, tmp_path / "k.db")
    kept = publish(hub, "message", "kept", MESSAGE)
    publish(hub, "message", "lost", {**MESSAGE, "text": {"fr": "Perdu"}})
    syncing.pull_publications(path)
    # the hub goes back to a backup taken between the two
    engine = store.create_engine(hub.db_url)
    with store.writer(engine) as conn, conn.begin():
        conn.execute(store.publications.delete().where(store.publications.c.key == "lost"))
        conn.execute(store.publication_counter.update().values(seq=kept["seq"]))
    engine.dispose()
    assert syncing.pull_publications(path)["received"] == 1  # everything held, again
    assert {item["key"] for item in held(path)} == {"kept"}
    # what it publishes next comes after the kiosk's cursor all the same
    publish(hub, "message", "after", {**MESSAGE, "text": {"fr": "Après"}})
    assert syncing.pull_publications(path)["received"] == 1
    assert {item["key"] for item in held(path)} == {"kept", "after"}
    assert summary(path)["refused"] is None


@pytest.mark.postgres
def test_publications_on_postgresql(hub_server, postgres_url, tmp_path):
    hub = hub_server(postgres_url)
    path, centre = kiosk(hub, tmp_path / "k.db")
    publish(hub, "message", "pg-1", MESSAGE, audience=[centre])
    publish(hub, "message", "pg-2", MESSAGE)
    assert syncing.pull_publications(path)["received"] == 2
    withdraw(hub, "message", "pg-1")
    got = syncing.pull_publications(path)
    assert (got["received"], got["withdrawn"]) == (0, 1)
    assert [item["key"] for item in held(path)] == ["pg-2"]
    assert summary(path)["hub_key"] == wire.key_text(hub_signing_key(hub).verify_key)
