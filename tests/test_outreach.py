"""The itinerant mode (« hors les murs ») on the kiosk: staff switch a
device to an event and back; visits and new members recorded meanwhile
carry the event; it ends by itself at the end of its day; every bad input
is refused in French with nothing written; and what the hub is told
(``outreach.held``: a day, a place's commune and neighbourhood, a partner's
kind, never a name)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.core.centre import Centre
from kiosk.core.errors import Conflict, InvalidInput
from kiosk.core.outreach import MAX_NAME, active_id
from sync import protocol
from tests.dbstate import add_staff, dump, events


@pytest.fixture
def centre(store):
    return Centre(store)


@pytest.fixture
def claire(store):
    return add_staff(store, "Claire Martin", "staff")


def start_fete(centre, claire, **extra):
    fields = {
        "name": "Fête de quartier",
        "place": "Place de la Transition",
        "neighbourhood": "Transition",
        "partner": "Habitat du Littoral",
        "partner_kind": "social_landlord",
    }
    return centre.outreach.start(**{**fields, **extra}, actor=claire)


def test_visits_and_new_members_recorded_during_an_event_carry_it(centre, store, claire):
    before = centre.visits.check_in("accueil")
    event = start_fete(centre, claire)
    assert centre.outreach.active()["name"] == "Fête de quartier"
    visit = centre.visits.check_in("accueil")
    aicha = centre.members.register(
        first_name="Aïcha", last_name="Benali", birth_year=1985, consent_data=True
    )
    centre.visits.check_in("accueil", member_id=aicha["id"])

    rows = store.query("SELECT id, outreach_id FROM visits ORDER BY occurred_at, id")
    assert {row["id"]: row["outreach_id"] for row in rows}[before["id"]] is None
    assert [row["outreach_id"] for row in rows if row["id"] != before["id"]] == [event["id"], event["id"]]
    assert store.one("SELECT outreach_id FROM members")["outreach_id"] == event["id"]
    sent_visits = [e["data"] for e in events(store, "visit.recorded")]
    assert [v["outreach_id"] for v in sent_visits] == [None, event["id"], event["id"]]
    assert visit["outreach_id"] == event["id"]
    (created,) = events(store, "member.created")
    assert created["data"]["outreach_id"] == event["id"]
    for sent in events(store):  # everything sent passes the protocol
        protocol.validate_event(sent)


def test_the_hub_learns_the_day_place_and_partner_kind_never_the_names(centre, store, claire):
    event = start_fete(centre, claire)
    (held,) = events(store, "outreach.held")
    assert held["data"] == {
        "outreach_id": event["id"],
        "day": "2026-12-01",
        "commune": "Boulogne-sur-Mer",
        "neighbourhood": "Transition",
        "qpv": True,
        "partner_kind": "social_landlord",
    }
    assert "Fête" not in str(held) and "Habitat" not in str(held) and "Place de" not in str(held)
    protocol.validate_event(held)


def test_ending_the_event_brings_the_device_back_to_the_centre(centre, store, claire):
    event = start_fete(centre, claire)
    ended = centre.outreach.end(actor=claire)
    assert ended["id"] == event["id"] and ended["ended_at"] is not None
    assert centre.outreach.active() is None
    visit = centre.visits.check_in("accueil")
    assert visit["outreach_id"] is None
    assert centre.outreach.end(actor=claire) is None  # nothing on: nothing to do
    actions = [row["action"] for row in store.query("SELECT action FROM audit_log ORDER BY rowid")]
    assert actions[-2:] == ["outreach.start", "outreach.end"]


def test_one_event_at_a_time(centre, store, claire):
    start_fete(centre, claire)
    before = dump(store)
    with pytest.raises(Conflict) as refused:
        start_fete(centre, claire, name="Marché")
    assert "déjà en cours" in refused.value.message_fr
    assert dump(store) == before


def test_an_event_ends_by_itself_at_the_end_of_its_day(centre, store, clock, claire):
    event = start_fete(centre, claire)
    clock.set(datetime(2026, 12, 1, 22, 59, tzinfo=UTC))  # 23:59 in Paris: still on
    assert active_id(store) == event["id"]
    clock.set(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # midnight in Paris: over
    assert active_id(store) is None
    assert centre.visits.check_in("accueil")["outreach_id"] is None
    assert centre.outreach.active() is None
    closed = centre.outreach.get(event["id"])
    assert closed["ended_at"] == "2026-12-01T23:00:00.000Z"
    # and another may start on the new day
    assert start_fete(centre, claire, name="Marché")["day"] == "2026-12-02"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": ""}, "name", "Écrivez quelques mots"),
        ({"name": "x" * (MAX_NAME + 1)}, "name", "trop long"),
        ({"name": "Fête\nde quartier"}, "name", "une seule ligne"),
        ({"place": "   "}, "place", "Écrivez quelques mots"),
        ({"place": "Place\x00"}, "place", "caractères invalides"),
        ({"neighbourhood": "Atlantis"}, "neighbourhood", "quartier dans la liste"),
        ({"neighbourhood": "Transition", "commune": "Outreau"}, "commune", "pas dans cette commune"),
        ({"neighbourhood": None, "commune": "Paris"}, "commune", "commune dans la liste"),
        ({"partner_kind": "bank"}, "partner_kind", "type de partenaire"),
        ({"day": "2026-12-02"}, "day", "le jour même"),
        ({"day": "2026-13-40"}, "day", "JJ/MM/AAAA"),
        ({"name": 12}, "name", "pas valide"),
    ],
)
def test_bad_inputs_are_refused_in_french_and_nothing_is_written(centre, store, claire, change, field, words):
    before = dump(store)
    with pytest.raises(InvalidInput) as refused:
        start_fete(centre, claire, **change)
    assert refused.value.field == field
    assert words in refused.value.message_fr
    assert dump(store) == before


def test_a_commune_without_a_neighbourhood_and_a_partner_without_a_kind(centre, store, claire):
    event = start_fete(centre, claire, neighbourhood=None, commune="Outreau", partner_kind=None)
    assert (event["commune"], event["neighbourhood"], event["qpv"], event["partner_kind"]) == (
        "Outreau",
        None,
        0,
        "other",
    )


def test_recent_events_count_their_visits_and_new_members(centre, store, claire):
    event = start_fete(centre, claire)
    centre.visits.check_in("accueil")
    centre.members.register(first_name="Marc", last_name="Petit", birth_year=1970, consent_data=True)
    (row,) = centre.outreach.recent()
    assert (row["id"], row["visits"], row["new_members"]) == (event["id"], 1, 1)


def test_the_protocol_refuses_an_event_with_a_name_or_an_unknown_partner_kind():
    good = {
        "outreach_id": protocol.new_id(),
        "day": "2026-12-01",
        "commune": None,
        "neighbourhood": None,
        "qpv": False,
        "partner_kind": None,
    }
    event = {
        "id": protocol.new_id(),
        "type": "outreach.held",
        "occurred_at": "2026-12-01T08:00:00Z",
        "data": good,
    }
    protocol.validate_event(event)
    for bad in ({"partner_kind": "bank"}, {"day": "1/12/2026"}, {"qpv": "yes"}, {"outreach_id": "x"}):
        with pytest.raises(protocol.ProtocolError):
            protocol.validate_event({**event, "data": {**good, **bad}})
    with pytest.raises(protocol.ProtocolError):
        protocol.validate_event({**event, "data": {**good, "name": "Fête de quartier"}})
    # an older visit without the key still passes
    visit = {
        "id": protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": "2026-12-01T08:00:00Z",
        "data": {
            "visit_id": protocol.new_id(),
            "member_id": None,
            "reason": "accueil",
            "recorded_by": "resident",
        },
    }
    protocol.validate_event(visit)
    with pytest.raises(protocol.ProtocolError):
        protocol.validate_event({**visit, "data": {**visit["data"], "outreach_id": "nope"}})
