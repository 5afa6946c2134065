"""Members: registering, validation, card codes, updates, display names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kiosk.core import cards
from kiosk.core.errors import Conflict, InvalidInput, NotFound
from kiosk.core.members import Members
from kiosk.core.settings import Settings
from tests.dbstate import add_staff, dump, events


@pytest.fixture
def members(store):
    return Members(store, Settings(store))


def aicha(members, **extra):
    fields = dict(
        first_name="Aïcha",
        last_name="Benali",
        birth_year=1985,
        gender="woman",
        commune="Boulogne-sur-Mer",
        neighbourhood="Transition",
        phone="06 12 34 56 78",
        email="aicha@example.fr",
        consent_data=True,
    )
    fields.update(extra)
    return members.register(**fields)


# ---------------------------------------------------------------- register


def test_register_stores_the_member_as_given(members, store):
    member = aicha(members)
    row = store.one("SELECT * FROM members WHERE id = ?", (member["id"],))
    assert row["first_name"] == "Aïcha" and row["last_name"] == "Benali"
    assert row["birth_year"] == 1985 and row["gender"] == "woman"
    assert row["phone"] == "+33612345678" and row["email"] == "aicha@example.fr"
    assert row["consent_data"] == 1 and row["consent_data_at"] == store.now_iso()
    assert row["created_at"] == row["updated_at"] == store.now_iso()
    assert member == members.get(member["id"])


def test_register_derives_qpv_from_the_neighbourhood(members):
    assert aicha(members)["qpv"] is True
    assert aicha(members, first_name="Léa", neighbourhood="Centre-ville")["qpv"] is False
    assert aicha(members, first_name="Jean", neighbourhood=None)["qpv"] is False


def test_register_takes_the_commune_from_the_neighbourhood_when_none_given(members):
    member = aicha(members, commune=None, neighbourhood="Tour du Renard")
    assert member["commune"] == "Outreau" and member["qpv"] is True


def test_register_refuses_a_neighbourhood_outside_the_commune(members, store):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        aicha(members, commune="Wimereux", neighbourhood="Transition")
    assert error.value.field == "neighbourhood"
    assert dump(store) == before


def test_register_emits_member_created_without_personal_data(members, store):
    member = aicha(members)
    (event,) = events(store, "member.created")
    assert event["data"] == {
        "member_id": member["id"],
        "age_band": "25-54",
        "year_born": member["birth_year"],
        "gender": "woman",
        "commune": "Boulogne-sur-Mer",
        "neighbourhood": "Transition",
        "qpv": True,
        "household_id": None,
        "outreach_id": None,
    }
    body = store.conn.execute("SELECT body FROM outbox").fetchone()[0]
    for secret in ("Aïcha", "Benali", "612345678", "aicha@example.fr", member["card_code"]):
        assert secret not in body


def test_register_without_consent_is_refused_and_stores_nothing(members, store):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        aicha(members, consent_data=False)
    assert error.value.field == "consent_data"
    assert "sans vous inscrire" in error.value.message_fr
    assert dump(store) == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("first_name", ""),
        ("first_name", "   "),
        ("first_name", "Aï\x00cha"),
        ("last_name", "Ben\u202eali"),
        ("last_name", "B" * 300),
        ("first_name", "R2D2"),
        ("first_name", "<script>"),
        ("last_name", None),
        ("birth_year", 2027),
        ("birth_year", 1899),
        ("birth_year", "vieux"),
        ("gender", "robot"),
        ("commune", "Paris"),
        ("neighbourhood", "Nulle part"),
        ("phone", "12345"),
        ("phone", "+44 20 7946 0958"),
        ("email", "aicha@"),
        ("email", "aicha exemple.fr"),
        ("consent_photos", "oui"),
    ],
)
def test_register_refuses_bad_input_naming_the_field_and_changing_nothing(members, store, field, value):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        aicha(members, **{field: value})
    assert error.value.field == field
    assert error.value.message_fr and error.value.message_en
    assert dump(store) == before


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("  Marie  -  Thérèse ", "Marie-Thérèse"),
        ("N’Diaye", "N'Diaye"),
        ("Jean   Pierre", "Jean Pierre"),
        ("Éloïse", "Éloïse"),
        ("Kowalczyk", "Kowalczyk"),
    ],
)
def test_register_accepts_and_tidies_real_names(members, typed, stored):
    assert aicha(members, first_name=typed)["first_name"] == stored


@pytest.mark.parametrize(
    "typed", ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678", "06-12-34-56-78"]
)
def test_phone_numbers_are_stored_in_one_form(members, typed):
    assert aicha(members, phone=typed)["phone"] == "+33612345678"


def test_register_by_a_volunteer_is_audited(members, store):
    karim = add_staff(store, "Karim Haddad", "volunteer")
    member = aicha(members, actor=karim)
    row = store.one("SELECT * FROM audit_log WHERE action = 'member.register'")
    assert row["actor_id"] == karim["id"] and member["id"] in row["detail"]


def test_register_at_the_kiosk_writes_no_audit_line(members, store):
    aicha(members)
    assert store.query("SELECT * FROM audit_log") == []


# ---------------------------------------------------------------- card codes


def test_card_codes_are_eight_unambiguous_characters(members):
    code = aicha(members)["card_code"]
    assert len(code) == 8 and cards.is_valid(code)
    assert not set(code) & set("0O1I")


def test_card_codes_are_unique_over_many_members(members):
    codes = {cards.new_code() for _ in range(20_000)}
    assert len(codes) == 20_000


def test_a_taken_card_code_is_never_given_twice(members, monkeypatch):
    first = aicha(members)
    fresh = cards.new_code()
    offered = iter([first["card_code"], fresh])
    monkeypatch.setattr(cards, "new_code", lambda: next(offered))
    assert aicha(members, first_name="Léa")["card_code"] == fresh


@hsettings(max_examples=300)
@given(st.integers(0, 6), st.sampled_from(cards.ALPHABET), st.randoms())
def test_check_character_catches_one_wrong_character(position, wrong, rnd):
    code = cards.new_code()
    if code[position] == wrong:
        return
    assert not cards.is_valid(code[:position] + wrong + code[position + 1 :])


@hsettings(max_examples=300)
@given(st.integers(0, 6))
def test_check_character_catches_two_swapped_neighbours(position):
    code = cards.new_code()
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        assert not cards.is_valid(swapped)


def test_by_card_finds_the_holder_however_typed(members):
    member = aicha(members)
    assert members.by_card(member["card_code"])["id"] == member["id"]
    assert members.by_card(" " + cards.printable(member["card_code"]).lower())["id"] == member["id"]


def test_by_card_refuses_a_mistyped_code(members):
    code = aicha(members)["card_code"]
    wrong = code[:3] + ("Z" if code[3] != "Z" else "Y") + code[4:]
    with pytest.raises(InvalidInput) as error:
        members.by_card(wrong)
    assert error.value.field == "card_code"


def test_by_card_of_an_unknown_code_is_not_found(members):
    aicha(members)
    with pytest.raises(NotFound):
        members.by_card(cards.new_code())


def test_replace_card_gives_a_new_code_and_revokes_the_old(members, store):
    claire = add_staff(store)
    member = aicha(members)
    replaced = members.replace_card(member["id"], claire)
    assert replaced["card_code"] != member["card_code"] and cards.is_valid(replaced["card_code"])
    assert store.one(
        "SELECT member_id, reason FROM revoked_cards WHERE card_code = ?", (member["card_code"],)
    ) == {"member_id": member["id"], "reason": "replaced"}
    assert store.one("SELECT action FROM audit_log")["action"] == "member.replace_card"


def test_a_replaced_card_is_refused_saying_it_was_replaced(members, store):
    member = aicha(members)
    members.replace_card(member["id"], add_staff(store))
    with pytest.raises(Conflict) as error:
        members.by_card(member["card_code"])
    assert "vous avez une nouvelle carte" in error.value.message_fr


def test_replace_card_needs_a_volunteer_or_staff(members, store):
    member = aicha(members)
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        members.replace_card(member["id"], None)
    assert error.value.field == "actor"
    assert dump(store) == before


# ---------------------------------------------------------------- update


def test_update_of_a_reported_attribute_emits_member_updated(members, store, clock):
    member = aicha(members)
    clock.advance(minutes=5)
    updated = members.update(member["id"], commune="Outreau", neighbourhood="Tour du Renard")
    assert updated["commune"] == "Outreau" and updated["updated_at"] == store.now_iso()
    (event,) = events(store, "member.updated")
    assert event["data"]["commune"] == "Outreau" and event["data"]["qpv"] is True


def test_update_of_a_phone_number_emits_no_event(members, store):
    member = aicha(members)
    members.update(member["id"], phone="07 11 22 33 44")
    assert members.get(member["id"])["phone"] == "+33711223344"
    assert events(store, "member.updated") == []


def test_update_of_a_name_changes_what_search_finds(members):
    member = aicha(members)
    members.update(member["id"], last_name="Haddad")
    assert [m["id"] for m in members.search("haddad")] == [member["id"]]
    assert members.search("benali") == []


def test_update_refuses_an_unknown_field_and_changes_nothing(members, store):
    member = aicha(members)
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        members.update(member["id"], card_code="AAAAAAAA")
    assert error.value.field == "card_code"
    assert dump(store) == before


def test_update_refuses_a_bad_value_and_changes_nothing(members, store):
    member = aicha(members)
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        members.update(member["id"], first_name="Aïcha", birth_year=3000)
    assert error.value.field == "birth_year"
    assert dump(store) == before


def test_get_of_an_unknown_member_is_not_found(members):
    with pytest.raises(NotFound) as error:
        members.get("0190aaaa-0000-7000-8000-000000000000")
    assert error.value.field == "member_id"


# ---------------------------------------------------------------- display


@pytest.mark.parametrize(
    "first, last, shown",
    [
        ("Aïcha", "Benali", "Aïcha B."),
        ("Marie-Thérèse", "N'Diaye", "Marie-Thérèse N."),
        ("Élodie", "étienne", "Élodie É."),
    ],
)
def test_display_name_is_first_name_and_initial(members, first, last, shown):
    assert Members.display_name(aicha(members, first_name=first, last_name=last)) == shown


# ---------------------------------------------------------------- each change has exactly its event

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["register", "update_commune", "update_phone", "check_in", "erase", "refused"]),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)


@hsettings(max_examples=25, deadline=None)
@given(OPERATIONS)
def test_every_change_has_exactly_its_event(tmp_path_factory, operations):
    from kiosk.core.privacy import Privacy
    from kiosk.core.store import Store
    from kiosk.core.visits import Visits

    with Store.open(tmp_path_factory.mktemp("events") / "k.db") as store:
        settings = Settings(store)
        members, visits, privacy = Members(store, settings), Visits(store, settings), Privacy(store, settings)
        live: list[str] = []
        expected = {"member.created": 0, "member.updated": 0, "member.erased": 0, "visit.recorded": 0}
        for kind, pick in operations:
            target = live[pick % len(live)] if live else None
            if kind == "register":
                live.append(members.register(first_name="Léa", last_name="Roux", consent_data=True)["id"])
                expected["member.created"] += 1
            elif kind == "update_commune" and target:
                before = members.get(target)["commune"]
                commune = ["Outreau", "Wimereux"][pick % 2]
                members.update(target, commune=commune)
                expected["member.updated"] += before != commune
            elif kind == "update_phone" and target:
                members.update(target, phone=f"06 12 34 56 {pick:02d}")
            elif kind == "check_in":
                visits.check_in("accueil", member_id=target)
                expected["visit.recorded"] += 1
            elif kind == "erase" and target:
                privacy.erase(target, None)
                live.remove(target)
                expected["member.erased"] += 1
            elif kind == "refused":
                with pytest.raises(InvalidInput):
                    members.register(first_name="", last_name="Roux", consent_data=True)
        counted = {kind: len(events(store, kind)) for kind in expected}
        assert counted == expected
        visit_ids = {row[0] for row in store.conn.execute("SELECT id FROM visits")}
        assert visit_ids == {event["data"]["visit_id"] for event in events(store, "visit.recorded")}


def test_update_of_the_neighbourhood_alone_brings_its_commune(members):
    member = aicha(members)
    moved = members.update(member["id"], neighbourhood="Tour du Renard")
    assert (moved["commune"], moved["qpv"]) == ("Outreau", True)


def test_a_resident_may_give_an_age_band_instead_of_a_year(members, store):
    member = aicha(members, birth_year=None, age_band="55-64")
    assert (member["birth_year"], member["age_band"], member["age_band_year"]) == (
        None,
        "55-64",
        store.now().year,
    )
    (event,) = events(store, "member.created")
    assert event["data"]["age_band"] == "55-64" and event["data"]["year_born"] is None


def test_a_year_given_later_replaces_the_band(members, store):
    member = aicha(members, birth_year=None, age_band="25-54")
    member = members.update(member["id"], birth_year=1960)
    assert (member["birth_year"], member["age_band"], member["age_band_year"]) == (1960, None, None)
    (event,) = events(store, "member.updated")
    assert event["data"]["year_born"] == 1960 and event["data"]["age_band"] == "65+"


def test_a_band_that_is_no_band_is_refused_and_stores_nothing(members, store):
    before = dump(store)
    with pytest.raises(InvalidInput) as error:
        aicha(members, birth_year=None, age_band="unknown")
    assert error.value.field == "age_band"
    assert dump(store) == before


@pytest.mark.parametrize(
    "band,given_in,on_year,expected",
    [
        ("25-54", 2026, 2026, "25-54"),
        ("25-54", 2026, 2027, "unknown"),  # 25 then may be 26 or the oldest 55
        ("65+", 2020, 2026, "65+"),
        ("55-64", 2020, 2026, "unknown"),
        (None, None, 2026, "unknown"),
    ],
)
def test_a_band_given_is_the_band_of_its_year_only(band, given_in, on_year, expected):
    from datetime import date

    from kiosk.core.members import band_now

    assert band_now(band, given_in, date(on_year, 6, 1)) == expected
