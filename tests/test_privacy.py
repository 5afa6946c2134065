"""Privacy: erasure, export, retention purge, each audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.core.errors import InvalidInput, NotFound
from kiosk.core.members import Members
from kiosk.core.privacy import Privacy, months_before
from kiosk.core.settings import Settings
from kiosk.core.visits import Visits
from kiosk.core.workshops import Workshops
from tests.dbstate import add_staff, dump, events


@pytest.fixture
def settings(store):
    return Settings(store)


@pytest.fixture
def members(store, settings):
    return Members(store, settings)


@pytest.fixture
def privacy(store, settings):
    return Privacy(store, settings)


@pytest.fixture
def claire(store):
    return add_staff(store)


@pytest.fixture
def aicha(members):
    return members.register(
        first_name="Aïcha",
        last_name="Benali",
        birth_year=1985,
        gender="woman",
        commune="Boulogne-sur-Mer",
        neighbourhood="Transition",
        phone="0612345678",
        email="aicha@example.fr",
        consent_data=True,
        consent_photos=True,
    )


# ---------------------------------------------------------------- erase


def test_erase_wipes_personal_fields_and_keeps_a_tombstone(privacy, store, aicha, claire):
    privacy.erase(aicha["id"], claire)
    row = store.one("SELECT * FROM members WHERE id = ?", (aicha["id"],))
    assert row["erased_at"] == store.now_iso() and row["created_at"] == aicha["created_at"]
    kept = {"id", "created_at", "updated_at", "erased_at"}
    assert all(not value for key, value in row.items() if key not in kept)


def test_erase_leaves_no_trace_of_the_name_anywhere(privacy, store, aicha, claire):
    Visits(store, Settings(store)).check_in("accueil", member_id=aicha["id"])
    privacy.erase(aicha["id"], claire)
    everything = json.dumps(dump(store), default=str)
    for secret in ("Aïcha", "aicha", "Benali", "benali", "612345678"):
        assert secret not in everything


def test_erase_keeps_visits_as_anonymous_counts(privacy, store, aicha, claire):
    visits = Visits(store, Settings(store))
    visits.check_in("accueil", member_id=aicha["id"])
    visits.check_in("demarches", member_id=aicha["id"])
    privacy.erase(aicha["id"], claire)
    assert store.query("SELECT member_id, reason FROM visits ORDER BY reason") == [
        {"member_id": None, "reason": "accueil"},
        {"member_id": None, "reason": "demarches"},
    ]


def test_erase_emits_member_erased(privacy, store, aicha, claire):
    privacy.erase(aicha["id"], claire)
    assert [e["data"] for e in events(store, "member.erased")] == [{"member_id": aicha["id"]}]


def test_erase_is_audited(privacy, store, aicha, claire):
    privacy.erase(aicha["id"], claire)
    row = store.one("SELECT actor_id, action, detail FROM audit_log WHERE action = 'member.erase'")
    assert row["actor_id"] == claire["id"] and aicha["id"] in row["detail"]


def test_erase_revokes_the_card(privacy, members, store, aicha, claire):
    privacy.erase(aicha["id"], claire)
    with pytest.raises(NotFound):
        members.by_card(aicha["card_code"])
    assert store.one("SELECT reason FROM revoked_cards")["reason"] == "erased"


def test_erase_twice_is_refused_and_changes_nothing(privacy, store, aicha, claire):
    privacy.erase(aicha["id"], claire)
    before = dump(store)
    with pytest.raises(NotFound):
        privacy.erase(aicha["id"], claire)
    assert dump(store) == before


def test_erase_frees_upcoming_places_for_the_waitlist(privacy, store, members, aicha, claire, clock):
    workshops = Workshops(store)
    workshop = workshops.create_workshop("Atelier cuisine", "parentalite", actor=claire)
    start = clock() + timedelta(days=1)
    session = workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 1, actor=claire)
    jean = members.register(first_name="Jean", last_name="Petit", consent_data=True)
    workshops.register(session["id"], aicha["id"])
    assert workshops.register(session["id"], jean["id"])["status"] == "waitlisted"
    privacy.erase(aicha["id"], claire)
    statuses = {
        r["member_id"]: r["status"] for r in store.query("SELECT member_id, status FROM registrations")
    }
    assert statuses == {aicha["id"]: "cancelled", jean["id"]: "booked"}


# ---------------------------------------------------------------- export


def test_export_holds_everything_on_the_member_as_json(privacy, store, aicha, claire):
    Visits(store, Settings(store)).check_in("accueil", member_id=aicha["id"])
    held = privacy.export(aicha["id"], claire)
    text = json.dumps(held, ensure_ascii=False)
    assert "Aïcha" in text and "+33612345678" in text and aicha["card_code"] in text
    assert [v["reason"] for v in held["visits"]] == ["accueil"]
    assert held["registrations"] == [] and held["attendance"] == []


def test_export_is_audited(privacy, store, aicha, claire):
    privacy.export(aicha["id"], claire)
    assert store.one("SELECT action, actor_id FROM audit_log") == {
        "action": "member.export",
        "actor_id": claire["id"],
    }


def test_export_of_an_erased_member_is_not_found(privacy, aicha, claire):
    privacy.erase(aicha["id"], claire)
    with pytest.raises(NotFound):
        privacy.export(aicha["id"], claire)


# ---------------------------------------------------------------- retention


def test_months_before_clamps_to_the_end_of_the_month():
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1).date().isoformat() == "2026-02-28"
    assert months_before(datetime(2026, 12, 1, tzinfo=UTC), 24).date().isoformat() == "2024-12-01"


def test_retention_candidates_are_those_without_contact_for_the_period(privacy, members, store, clock):
    old = members.register(first_name="Léon", last_name="Vieux", consent_data=True)
    seen = members.register(first_name="Lina", last_name="Fidèle", consent_data=True)
    clock.advance(days=30 * 23)
    Visits(store, Settings(store)).check_in("accueil", member_id=seen["id"])
    clock.advance(days=60)
    assert [m["id"] for m in privacy.retention_candidates()] == [old["id"]]
    assert privacy.retention_candidates(months=36) == []


def test_retention_purge_erases_the_candidates_and_audits(privacy, members, store, clock):
    old = members.register(first_name="Léon", last_name="Vieux", consent_data=True)
    clock.advance(days=800)
    recent = members.register(first_name="Lina", last_name="Fidèle", consent_data=True)
    assert privacy.retention_purge() == 1
    assert store.one("SELECT erased_at FROM members WHERE id = ?", (old["id"],))["erased_at"]
    assert members.get(recent["id"])["first_name"] == "Lina"
    assert [e["data"]["member_id"] for e in events(store, "member.erased")] == [old["id"]]
    actions = [row["action"] for row in store.query("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["member.erase", "privacy.retention_purge"]


def test_retention_purge_turns_the_visits_of_everyone_erased_into_anonymous_counts(
    privacy, members, store, clock
):
    visits = Visits(store, Settings(store))
    gone = [
        members.register(first_name=name, last_name="Ancien", consent_data=True) for name in ("Léon", "Jules")
    ]
    for member in gone:
        visits.check_in("accueil", member_id=member["id"])
        visits.check_in("demarches", member_id=member["id"])
    visits.check_in("accueil")  # anonymous already
    clock.advance(days=800)
    kept = members.register(first_name="Lina", last_name="Fidèle", consent_data=True)
    visits.check_in("accueil", member_id=kept["id"])
    assert privacy.retention_purge() == 2
    assert store.query("SELECT member_id, count(*) AS n FROM visits GROUP BY member_id ORDER BY n") == [
        {"member_id": kept["id"], "n": 1},
        {"member_id": None, "n": 5},
    ]


def test_retention_purge_refuses_an_absurd_period_and_changes_nothing(privacy, members, store):
    members.register(first_name="Léon", last_name="Vieux", consent_data=True)
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        privacy.retention_purge(months=0)
    assert error.value.field == "months"
    assert dump(store) == before
