"""Households (« foyers »): linking members, leaving, erasure, and the
events that tell the hub (member.updated's household_id, protocol 1.2)."""

from __future__ import annotations

import pytest

from kiosk.core.centre import Centre
from kiosk.core.errors import InvalidInput, NotFound
from kiosk.core.households import MAX_MEMBERS
from sync import protocol
from tests.dbstate import add_staff, events


@pytest.fixture
def centre(store):
    return Centre(store)


def person(centre, first_name, birth_year=1985, **extra):
    return centre.members.register(
        first_name=first_name, last_name="Benali", birth_year=birth_year, consent_data=True, **extra
    )


def household_of(store, member_id):
    return store.one("SELECT household_id FROM members WHERE id = ?", (member_id,))["household_id"]


def updates(store):
    """(member, household_id) of each member.updated, in order."""
    return [(e["data"]["member_id"], e["data"]["household_id"]) for e in events(store, "member.updated")]


def test_a_member_has_no_household_until_linked_and_says_so_to_the_hub(centre, store):
    aicha = person(centre, "Aïcha")
    assert aicha["household_id"] is None
    (created,) = events(store, "member.created")
    assert created["data"]["household_id"] is None
    assert centre.households.of(aicha["id"]) == [] and centre.households.size(aicha["id"]) == 1


def test_linking_two_members_makes_one_random_household_and_tells_the_hub_of_both(centre, store):
    aicha, yanis = person(centre, "Aïcha"), person(centre, "Yanis", 2015)
    household = centre.households.link(yanis["id"], aicha["id"])
    assert protocol.is_id(household)
    assert household_of(store, aicha["id"]) == household_of(store, yanis["id"]) == household
    assert sorted(updates(store)) == sorted([(aicha["id"], household), (yanis["id"], household)])
    for event in events(store, "member.updated"):
        assert protocol.validate_event(event) == event
    assert [m["display_name"] for m in centre.households.of(aicha["id"])] == ["Yanis B."]
    assert centre.households.size(yanis["id"]) == 2


def test_a_third_member_joins_the_household_already_there(centre, store):
    aicha, yanis, ines = person(centre, "Aïcha"), person(centre, "Yanis", 2015), person(centre, "Inès", 2018)
    household = centre.households.link(yanis["id"], aicha["id"])
    before = len(updates(store))
    assert centre.households.link(ines["id"], yanis["id"]) == household
    assert updates(store)[before:] == [(ines["id"], household)]  # only the newcomer changed
    assert centre.households.size(aicha["id"]) == 3


def test_linking_again_within_the_household_changes_nothing(centre, store):
    aicha, yanis = person(centre, "Aïcha"), person(centre, "Yanis", 2015)
    household = centre.households.link(yanis["id"], aicha["id"])
    before = len(events(store))
    assert centre.households.link(aicha["id"], yanis["id"]) == household
    assert len(events(store)) == before


def test_moving_to_another_household_leaves_the_first_and_a_lone_member_goes_back_to_none(centre, store):
    aicha, yanis = person(centre, "Aïcha"), person(centre, "Yanis", 2015)
    karim, lea = person(centre, "Karim"), person(centre, "Léa")
    first = centre.households.link(yanis["id"], aicha["id"])
    second = centre.households.link(lea["id"], karim["id"])
    before = len(updates(store))
    centre.households.link(yanis["id"], karim["id"])
    assert household_of(store, yanis["id"]) == second
    # Aïcha, left alone in the first household, has none any more: the hub is told
    assert household_of(store, aicha["id"]) is None
    assert (aicha["id"], None) in updates(store)[before:]
    assert store.one("SELECT count(*) AS n FROM members WHERE household_id = ?", (first,))["n"] == 0


def test_unlinking_takes_the_member_out_and_keeps_the_others_together(centre, store):
    aicha, yanis, ines = person(centre, "Aïcha"), person(centre, "Yanis", 2015), person(centre, "Inès", 2018)
    household = centre.households.link(yanis["id"], aicha["id"])
    centre.households.link(ines["id"], aicha["id"])
    staff = add_staff(store)
    centre.households.unlink(ines["id"], actor=staff)
    assert household_of(store, ines["id"]) is None
    assert household_of(store, aicha["id"]) == household_of(store, yanis["id"]) == household
    assert updates(store)[-1] == (ines["id"], None)
    audit = store.one("SELECT action, actor_id FROM audit_log ORDER BY rowid DESC LIMIT 1")
    assert audit == {"action": "household.unlink", "actor_id": staff["id"]}
    centre.households.unlink(yanis["id"])
    assert household_of(store, aicha["id"]) is None  # a household is two members or more


def test_unlinking_a_member_in_no_household_writes_nothing(centre, store):
    aicha = person(centre, "Aïcha")
    before = len(events(store))
    centre.households.unlink(aicha["id"])
    assert len(events(store)) == before


def test_erasing_a_member_removes_their_link_and_a_household_with_one_left_is_gone(centre, store):
    aicha, yanis, ines = person(centre, "Aïcha"), person(centre, "Yanis", 2015), person(centre, "Inès", 2018)
    household = centre.households.link(yanis["id"], aicha["id"])
    centre.households.link(ines["id"], aicha["id"])
    staff = add_staff(store)
    before = len(updates(store))
    centre.privacy.erase(ines["id"], actor=staff)
    assert household_of(store, ines["id"]) is None
    assert household_of(store, aicha["id"]) == household
    # the erasure itself tells the hub (member.erased): no member.updated of the erased member
    assert len(updates(store)) == before and events(store)[-1]["type"] == "member.erased"
    centre.privacy.erase(yanis["id"], actor=staff)
    assert household_of(store, aicha["id"]) is None
    assert updates(store)[-1] == (aicha["id"], None)
    assert store.one("SELECT count(*) AS n FROM members WHERE household_id = ?", (household,))["n"] == 0


def test_registering_in_the_same_household_is_one_step(centre, store):
    aicha = person(centre, "Aïcha")
    yanis = centre.households.register(
        same_household_as=aicha["id"],
        first_name="Yanis",
        last_name="Benali",
        birth_year=2015,
        consent_data=True,
    )
    assert yanis["household_id"] and yanis["household_id"] == household_of(store, aicha["id"])


def test_a_registration_never_waits_on_the_household(centre, store):
    aicha = person(centre, "Aïcha")
    centre.privacy.erase(aicha["id"], actor=add_staff(store))
    yanis = centre.households.register(
        same_household_as=aicha["id"], first_name="Yanis", last_name="Benali", consent_data=True
    )
    assert yanis["household_id"] is None and centre.members.get(yanis["id"])["first_name"] == "Yanis"
    # a refused registration stores nothing, household or not
    with pytest.raises(InvalidInput):
        centre.households.register(
            same_household_as=yanis["id"], first_name="", last_name="B", consent_data=True
        )
    assert centre.members.count() == 1


def test_links_that_make_no_sense_are_refused_by_name(centre, store):
    aicha = person(centre, "Aïcha")
    with pytest.raises(InvalidInput) as error:
        centre.households.link(aicha["id"], aicha["id"])
    assert error.value.field == "with_member_id"
    with pytest.raises(NotFound):
        centre.households.link(aicha["id"], protocol.new_id())
    with pytest.raises(InvalidInput) as error:
        centre.households.link(aicha["id"], person(centre, "Yanis")["id"], actor={"role": "resident"})
    assert error.value.field == "actor"
    assert household_of(store, aicha["id"]) is None


def test_a_household_holds_a_bounded_number_of_members(centre, store):
    first = person(centre, "Aïcha")
    for n in range(MAX_MEMBERS - 1):
        centre.households.link(
            person(centre, "Enfant" + "abcdefghijklmnopqrstuvwxyz"[n], 2015)["id"], first["id"]
        )
    with pytest.raises(InvalidInput) as error:
        centre.households.link(person(centre, "Karim")["id"], first["id"])
    assert error.value.field == "with_member_id"
    assert centre.households.size(first["id"]) == MAX_MEMBERS


def test_adding_someone_from_a_member_s_card_never_splits_a_household(centre, store):
    aicha, yanis, karim = person(centre, "Aïcha"), person(centre, "Yanis", 2015), person(centre, "Karim")
    household = centre.households.link(yanis["id"], aicha["id"])
    # from Karim's card (no household): Karim joins Aïcha's, which stays whole
    assert centre.households.together(karim["id"], aicha["id"]) == household
    assert centre.households.size(aicha["id"]) == 3
    lea = person(centre, "Léa")
    # from Aïcha's card: Léa comes into Aïcha's household
    assert centre.households.together(aicha["id"], lea["id"]) == household
    assert {m["first_name"] for m in centre.households.of(lea["id"])} == {"Aïcha", "Yanis", "Karim"}
