"""Settings live in the database: defaults, checked changes, audit, reopening."""

from __future__ import annotations

import copy

import pytest
from people import add_staff, snapshot

from kiosk.core.errors import InvalidInput
from kiosk.core.settings import DEFAULT_REASONS, DEFAULTS, Settings
from kiosk.core.store import Store


@pytest.fixture
def settings(store):
    return Settings(store)


def test_an_empty_database_gives_the_defaults(settings):
    assert settings.all() == DEFAULTS
    assert settings.get("idle_timeout_s") == 60
    assert settings.reason_codes() == [
        "accueil",
        "demarches",
        "rendez_vous",
        "atelier",
        "ordinateur",
        "permanence",
        "autre",
    ]
    assert settings.get("hub_url") is None


def test_a_setting_is_stored_audited_and_survives_reopening(db_path, clock):
    with Store.open(db_path, clock=clock) as store:
        staff = add_staff(store)
        Settings(store).set("centre_name", "Centre social Audrey Bartier", actor=staff)
        entry = store.one("SELECT * FROM audit_log WHERE action = 'settings.set'")
        assert entry["actor_id"] == staff["id"]
        assert "Audrey Bartier" in entry["detail"]
    with Store.open(db_path, clock=clock) as store:
        assert Settings(store).get("centre_name") == "Centre social Audrey Bartier"
        assert Settings(store).all()["centre_name"] == "Centre social Audrey Bartier"


def test_accents_and_lists_round_trip(settings):
    reasons = DEFAULT_REASONS + [
        {"code": "epicerie", "label": "Épicerie solidaire", "icon": "shopping_basket"}
    ]
    settings.set("reasons", reasons)
    assert settings.get("reasons") == reasons
    assert settings.reason_codes()[-1] == "epicerie"


def test_the_device_token_is_never_written_to_the_audit_log(store, settings):
    settings.set("device_token", "s3cr3t-token-value")
    assert settings.get("device_token") == "s3cr3t-token-value"
    detail = store.one("SELECT detail FROM audit_log")["detail"]
    assert "s3cr3t" not in detail and "***" in detail


def test_neighbourhood_lookup(settings):
    assert settings.neighbourhood("Chemin Vert") == {
        "name": "Chemin Vert",
        "commune": "Boulogne-sur-Mer",
        "qpv": True,
    }
    assert settings.neighbourhood("Nulle part") is None


def _reason(**change):
    return [dict(DEFAULT_REASONS[0], **change)]


BAD = [
    ("centre_name", ""),
    ("centre_name", "x" * 121),
    ("centre_name", "Centre\x1b"),
    ("centre_name", 42),
    ("idle_timeout_s", 5),
    ("idle_timeout_s", 901),
    ("idle_timeout_s", "60"),
    ("idle_timeout_s", True),
    ("retention_months", 0),
    ("languages", ["en"]),
    ("languages", ["fr", "de"]),
    ("languages", ["fr", "fr"]),
    ("languages", ["fr", {}]),
    ("languages", "fr"),
    ("reasons", []),
    ("reasons", [{"code": "a"}]),
    ("reasons", _reason(code="Démarches")),
    ("reasons", _reason(code=12)),
    ("reasons", _reason(icon=None)),
    ("reasons", _reason(label="")),
    ("reasons", DEFAULT_REASONS + DEFAULT_REASONS[:1]),
    ("neighbourhoods", "Transition"),
    ("neighbourhoods", [{"name": "Transition", "commune": "Boulogne-sur-Mer"}]),
    ("neighbourhoods", [{"name": "A", "commune": "B", "qpv": True}] * 2),
    ("communes", []),
    ("communes", ["Outreau", "Outreau"]),
    ("communes", ["Outreau", None]),
    ("hub_url", "hub.example.fr"),
    ("hub_url", "ftp://hub.example.fr"),
    ("hub_url", "https://"),
    ("device_token", ""),
]


@pytest.mark.parametrize("key, value", BAD)
def test_a_bad_value_is_refused_naming_the_setting_and_nothing_is_written(store, settings, key, value):
    before = snapshot(store)
    with pytest.raises(InvalidInput) as refused:
        settings.set(key, copy.deepcopy(value))
    assert refused.value.field == key
    assert refused.value.message_fr == f"Ce réglage n'est pas valable : {key}."
    assert snapshot(store) == before


def test_an_unknown_setting_is_refused(store, settings):
    with pytest.raises(InvalidInput) as refused:
        settings.set("colour", "blue")
    assert refused.value.field == "key"
    with pytest.raises(KeyError):
        settings.get("colour")


def test_optional_settings_can_be_cleared(settings):
    settings.set("hub_url", "http://127.0.0.1:8000")
    settings.set("hub_url", None)
    assert settings.get("hub_url") is None


def test_reasons_changed_by_another_process_count_at_the_next_check_in(store, settings, db_path, clock):
    # the app keeps its reasons parsed; `kiosk settings` in another process changes them
    assert settings.is_reason("autre")
    with Store.open(db_path, clock=clock) as other:
        Settings(other).set("reasons", [{"code": "accueil", "label": "Accueil", "icon": "info"}])
    assert not settings.is_reason("autre")
    assert settings.reason_codes() == ["accueil"]
    with Store.open(db_path, clock=clock) as other:
        other.conn.execute("DELETE FROM settings WHERE key = 'reasons'")  # back to the defaults
    assert settings.is_reason("autre")


def test_reasons_read_inside_a_transaction_that_rolls_back_are_not_kept(store, settings):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.conn.execute(
                "INSERT INTO settings (key, value) VALUES ('reasons', ?)",
                ('[{"code": "x", "label": "X", "icon": "info"}]',),
            )
            assert settings.reason_codes() == ["x"]
            raise RuntimeError("refused")
    assert settings.reason_codes() == [reason["code"] for reason in DEFAULT_REASONS]
