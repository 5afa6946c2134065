"""Visits: check-in (with or without a member), its event, and the day's counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kiosk.core import search
from kiosk.core.errors import Conflict, InvalidInput, NotFound
from kiosk.core.members import Members
from kiosk.core.privacy import Privacy
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from kiosk.core.visits import Visits, day_bounds
from sync import protocol
from tests import queries
from tests.dbstate import add_staff, dump, events


@pytest.fixture
def settings(store):
    return Settings(store)


@pytest.fixture
def visits(store, settings):
    return Visits(store, settings)


@pytest.fixture
def member(store, settings):
    return Members(store, settings).register(first_name="Aïcha", last_name="Benali", consent_data=True)


def test_check_in_of_a_member_stores_the_visit(visits, store, member):
    visit = visits.check_in("demarches", member_id=member["id"])
    row = store.one("SELECT * FROM visits")
    assert row == {
        "id": visit["id"],
        "occurred_at": store.now_iso(),
        "member_id": member["id"],
        "reason": "demarches",
        "recorded_by_role": "resident",
        "recorded_by": None,
        "outreach_id": None,
    }


def test_check_in_emits_visit_recorded(visits, store, member):
    visit = visits.check_in("demarches", member_id=member["id"])
    (event,) = events(store, "visit.recorded")
    assert event["data"] == {
        "visit_id": visit["id"],
        "member_id": member["id"],
        "reason": "demarches",
        "recorded_by": "resident",
        "cra_theme": "demarches_administratives",
        "domain": None,
        "outreach_id": None,
    }
    assert event["occurred_at"] == visit["occurred_at"]


def test_a_visit_carries_its_reason_s_national_categories_as_the_centre_maps_them(visits, store, settings):
    reasons = settings.get("reasons") + [
        {
            "code": "caf",
            "label": "Un papier de la CAF",
            "icon": "description",
            "cra_theme": "demarches_administratives",
            "domain": "social_sante",
        }
    ]
    settings.set("reasons", reasons)
    visits.check_in("caf")
    visits.check_in("accueil")
    caf, desk = (event["data"] for event in events(store, "visit.recorded"))
    assert (caf["cra_theme"], caf["domain"]) == ("demarches_administratives", "social_sante")
    assert (desk["cra_theme"], desk["domain"]) == (None, None)


def test_the_body_named_after_a_reason_gives_the_visit_its_domain(visits, store):
    visits.check_in("demarches", body="logement")
    visits.check_in("demarches", body="autre")  # « je ne sais pas »: the reason's own (none)
    named, unsure = (event["data"] for event in events(store, "visit.recorded"))
    assert (named["cra_theme"], named["domain"]) == ("demarches_administratives", "logement")
    assert unsure["domain"] is None
    before = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    with pytest.raises(InvalidInput) as error:
        visits.check_in("demarches", body="banque")
    assert error.value.field == "body"
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == before


def test_a_reason_mapped_to_no_national_category_is_refused(settings, store):
    from kiosk.core.errors import InvalidInput

    reasons = settings.get("reasons") + [
        {"code": "caf", "label": "CAF", "icon": "description", "domain": "caf"}
    ]
    with pytest.raises(InvalidInput) as error:
        settings.set("reasons", reasons)
    assert error.value.field == "reasons" and "domain" in str(error.value)


def test_check_in_sets_the_members_last_contact(visits, store, settings, member, clock):
    clock.advance(hours=2)
    visits.check_in("accueil", member_id=member["id"])
    # read fresh at once, without writing (the check-in leaves it to search.refresh_recency)…
    assert Members(store, settings).get(member["id"])["last_seen_at"] == store.now_iso()
    assert Members(store, settings).by_card(member["card_code"])["last_seen_at"] == store.now_iso()
    # …and stored, with the search's recency, by the next refresh
    assert search.refresh_recency(store.conn) == 1
    assert store.one("SELECT last_seen_at FROM members")["last_seen_at"] == store.now_iso()
    assert {row["seen"] for row in store.query("SELECT seen FROM member_tokens")} == {store.now_iso()}
    assert search.refresh_recency(store.conn) == 0


def test_a_check_in_writes_only_the_visit_and_its_event(visits, store, member):
    before = dump(store)
    visit = visits.check_in("accueil", member_id=member["id"])
    after = dump(store)
    changed = sorted(table for table in after if after[table] != before.get(table))
    assert changed == ["outbox", "visits"]
    assert visit["id"] in {row[0] for row in after["visits"]}


def test_the_latest_contact_wins_whatever_the_order_visits_were_recorded(
    visits, store, settings, member, clock
):
    members = Members(store, settings)
    clock.advance(hours=3)
    visits.check_in("accueil", member_id=member["id"])
    latest = store.now_iso()
    clock.advance(hours=-1)  # a clock set back: an older visit recorded after
    visits.check_in("accueil", member_id=member["id"])
    assert members.get(member["id"])["last_seen_at"] == latest
    search.refresh_recency(store.conn)
    assert store.one("SELECT last_seen_at FROM members")["last_seen_at"] == latest
    assert members.get(member["id"])["last_seen_at"] == latest


def test_the_visit_recorded_text_is_the_protocols_canonical_json(visits, store, member):
    visits.check_in("accueil", member_id=member["id"])
    visits.check_in("demarches")
    for body in [row["body"] for row in store.query("SELECT body FROM outbox WHERE type = 'visit.recorded'")]:
        assert protocol.canonical_json(protocol.validate_event(json.loads(body))) == body


def test_anonymous_check_in_counts_too(visits, store):
    visit = visits.check_in("ordinateur")
    assert visit["member_id"] is None
    assert events(store, "visit.recorded")[0]["data"]["member_id"] is None
    assert queries.today_count(visits) == 1


def test_check_in_by_a_volunteer_records_who_and_audits(visits, store, member):
    karim = add_staff(store, "Karim Haddad", "volunteer")
    visit = visits.check_in("rendez_vous", member_id=member["id"], actor=karim)
    assert store.one("SELECT recorded_by_role, recorded_by FROM visits") == {
        "recorded_by_role": "volunteer",
        "recorded_by": karim["id"],
    }
    assert events(store, "visit.recorded")[0]["data"]["recorded_by"] == "volunteer"
    audit = store.one("SELECT actor_id, action, detail FROM audit_log")
    assert audit["actor_id"] == karim["id"] and visit["id"] in audit["detail"]


def test_check_in_refuses_an_unknown_reason_and_changes_nothing(visits, store, member):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        visits.check_in("shopping", member_id=member["id"])
    assert error.value.field == "reason"
    assert dump(store) == before


def test_check_in_refuses_an_unknown_member_and_changes_nothing(visits, store):
    before = dump(store)
    with pytest.raises(NotFound) as error:
        visits.check_in("accueil", member_id="0190aaaa-0000-7000-8000-000000000000")
    assert error.value.field == "member_id"
    assert dump(store) == before


def test_check_in_refuses_an_erased_member(visits, store, settings, member):
    Privacy(store, settings).erase(member["id"], None)
    before = dump(store)
    with pytest.raises(NotFound):
        visits.check_in("accueil", member_id=member["id"])
    assert dump(store) == before


def test_check_in_follows_the_centres_own_reasons(visits, settings):
    settings.set("reasons", [{"code": "cafe", "label": "Café des parents", "icon": "local_cafe"}])
    assert visits.check_in("cafe")["reason"] == "cafe"
    with pytest.raises(InvalidInput):
        visits.check_in("accueil")


def test_check_in_by_card(visits, member, store):
    visit = queries.check_in_by_card(visits, member["card_code"], "atelier")
    assert visit["member_id"] == member["id"]


def test_check_in_by_a_replaced_card_is_refused_and_changes_nothing(visits, member, store, settings):
    Members(store, settings).replace_card(member["id"], add_staff(store))
    before = dump(store)
    with pytest.raises(Conflict):
        queries.check_in_by_card(visits, member["card_code"], "atelier")
    assert dump(store) == before


def test_a_check_in_is_on_disk_when_it_returns(visits, db_path, member):
    visit = visits.check_in("accueil", member_id=member["id"])
    with Store.open(db_path) as other:
        assert other.one("SELECT id FROM visits")["id"] == visit["id"]


def test_between_lists_visits_in_the_period_oldest_first(visits, clock):
    first = visits.check_in("accueil")
    clock.advance(hours=1)
    second = visits.check_in("autre")
    clock.advance(days=2)
    visits.check_in("autre")
    found = visits.between(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert [v["id"] for v in found] == [first["id"], second["id"]]


def test_counts_by_reason_lists_every_reason(visits):
    visits.check_in("accueil")
    visits.check_in("accueil")
    visits.check_in("permanence")
    counts = queries.counts_by_reason(visits, "2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z")
    assert counts == {
        "accueil": 2,
        "demarches": 0,
        "rendez_vous": 0,
        "atelier": 0,
        "ordinateur": 0,
        "permanence": 1,
        "autre": 0,
    }


def test_today_count_follows_paris_midnight(visits, clock):
    clock.set(datetime(2026, 12, 1, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    visits.check_in("accueil")
    clock.set(datetime(2026, 12, 1, 23, 30, tzinfo=UTC))  # 00:30 the next day in Paris
    visits.check_in("accueil")
    assert queries.today_count(visits) == 1


def test_day_bounds_cover_a_daylight_saving_day():
    start, end = day_bounds(datetime(2026, 3, 29).date())
    assert (start, end) == ("2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z")


def test_check_in_refuses_an_actor_who_is_not_staff_and_changes_nothing(visits, store):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        visits.check_in(
            "accueil",
            actor={"id": "0190aaaa-0000-7000-8000-000000000000", "name": "Inconnu", "role": "staff"},
        )
    assert error.value.field == "actor"
    assert dump(store) == before
