"""The volunteers' member search: prefixes, accents, one typo, ranking, cards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kiosk.core import search
from kiosk.core.members import Members
from kiosk.core.privacy import Privacy
from kiosk.core.settings import Settings
from kiosk.core.visits import Visits
from tests.dbstate import add_staff


@pytest.fixture
def members(store):
    return Members(store, Settings(store))


def add(members, first, last):
    return members.register(first_name=first, last_name=last, consent_data=True)


def names(found):
    return [f"{m['first_name']} {m['last_name']}" for m in found]


@pytest.fixture
def register(members):
    for first, last in [
        ("Gérard", "Dupont"),
        ("Bérénice", "Lefebvre"),
        ("Aïcha", "Benali"),
        ("Marie-Thérèse", "N'Diaye"),
        ("Oleksandr", "Kowalczyk"),
        ("Mamadou", "Traoré"),
        ("Benoît", "Martin"),
    ]:
        add(members, first, last)
    return members


@pytest.mark.parametrize(
    "query, expected",
    [
        ("gerard", "Gérard Dupont"),
        ("GÉRARD", "Gérard Dupont"),
        ("BÉR", "Bérénice Lefebvre"),
        ("ber", "Bérénice Lefebvre"),
        ("lefeb", "Bérénice Lefebvre"),
        ("traore", "Mamadou Traoré"),
        ("ndiaye", "Marie-Thérèse N'Diaye"),
        ("n'diaye", "Marie-Thérèse N'Diaye"),
        ("therese", "Marie-Thérèse N'Diaye"),
        ("kowal", "Oleksandr Kowalczyk"),
    ],
)
def test_prefix_search_ignores_accents_and_case(register, query, expected):
    assert names(register.search(query)) == [expected]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("gerrard", "Gérard Dupont"),  # a letter too many
        ("gerad", "Gérard Dupont"),  # a letter missing
        ("gerand", "Gérard Dupont"),  # a wrong letter
        ("gearrd", "Gérard Dupont"),  # two letters swapped
        ("xerard", "Gérard Dupont"),  # the first letter wrong
        ("bneali", "Aïcha Benali"),  # swapped near the start
        ("kowlacz", "Oleksandr Kowalczyk"),  # swapped inside a prefix
    ],
)
def test_search_forgives_one_typo(register, query, expected):
    assert names(register.search(query)) == [expected]


def test_search_does_not_forgive_two_typos(register):
    assert register.search("gaerrd") == []


def test_short_words_need_an_exact_prefix(register):
    assert register.search("gre") == []


def test_two_words_must_both_match(register, members):
    add(members, "Aïcha", "Haddad")
    assert names(register.search("aicha ben")) == ["Aïcha Benali"]
    assert names(register.search("benali aicha")) == ["Aïcha Benali"]


def test_exact_prefix_ranks_before_typo(register, members):
    add(members, "Bernard", "Petit")  # 'benard' is one edit from Bernard…
    add(members, "Benardo", "Rossi")  # …and an exact prefix of Benardo
    assert names(register.search("benard")) == ["Benardo Rossi", "Bernard Petit"]


def test_whole_word_ranks_before_longer_names(register, members):
    add(members, "Martine", "Leroy")
    found = names(register.search("martin"))
    assert found == ["Benoît Martin", "Martine Leroy"]


def test_most_recently_seen_comes_first_among_equals(members, store, clock):
    first = add(members, "Karim", "Haddad")
    second = add(members, "Karim", "Saïdi")
    clock.advance(minutes=1)
    Visits(store, Settings(store)).check_in("accueil", member_id=first["id"])
    assert [m["id"] for m in members.search("karim")] == [first["id"], second["id"]]
    clock.advance(minutes=1)
    Visits(store, Settings(store)).check_in("accueil", member_id=second["id"])
    assert [m["id"] for m in members.search("karim")] == [second["id"], first["id"]]


def test_search_returns_at_most_the_limit(members):
    for _ in range(12):
        add(members, "Fatima", "Benali")
    assert len(members.search("fatima")) == 8
    assert len(members.search("fatima", limit=3)) == 3


def test_search_by_card_code(register, members):
    member = add(members, "Léa", "Durand")
    assert [m["id"] for m in members.search(member["card_code"].lower())] == [member["id"]]


def test_search_never_returns_erased_members(register, members, store):
    member = add(members, "Zbigniew", "Wójcik")
    Privacy(store, Settings(store)).erase(member["id"], add_staff(store))
    assert members.search("zbigniew") == []
    assert members.search(member["card_code"]) == []


def test_erasing_the_last_bearer_of_a_name_forgets_its_variants(members, store):
    member = add(members, "Zbigniew", "Wójcik")
    Privacy(store, Settings(store)).erase(member["id"], None)
    assert store.query("SELECT * FROM token_variants WHERE token IN ('zbigniew', 'wojcik')") == []


@pytest.mark.parametrize("query", ["", "   ", "-", "'"])
def test_empty_queries_find_nobody(register, query):
    assert register.search(query) == []


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghij", min_size=1, max_size=9), st.text(alphabet="abcdefghij", max_size=4))
def test_prefix_distance_is_zero_for_a_prefix(start, rest):
    assert search.prefix_distance(start, start + rest) == 0


def _edit(word: str, kind: int, position: int, letter: str) -> str:
    return [
        word[:position] + word[position + 1 :],  # deletion
        word[:position] + letter + word[position:],  # insertion
        word[:position] + letter + word[position + 1 :],  # substitution
        word[:position] + word[position + 1] + word[position] + word[position + 2 :],  # swap
    ][kind]


@hsettings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcdefgh", min_size=5, max_size=10), st.integers(0, 3), st.data())
def test_any_single_edit_of_a_name_prefix_still_finds_it(tmp_path_factory, word, kind, data):
    from kiosk.core.store import Store

    with Store.open(tmp_path_factory.mktemp("search") / "k.db") as store:
        members = Members(store, Settings(store))
        member = members.register(first_name="Anne", last_name=word.capitalize(), consent_data=True)
        length = data.draw(st.integers(search.TYPO_MIN_LENGTH + 1, len(word)))
        position = data.draw(st.integers(0, length - 2))
        typed = _edit(word[:length], kind, position, data.draw(st.sampled_from("xyz")))
        if len(typed) < search.TYPO_MIN_LENGTH:
            return
        assert member["id"] in [m["id"] for m in members.search(typed)]


def test_common_prefixes_rank_the_same_read_by_recency(members, store, clock, monkeypatch):
    visits = Visits(store, Settings(store))
    people = []
    for first, last in [
        ("Marc", "Petit"),
        ("Marie", "Roux"),
        ("Martine", "Diop"),
        ("Maryam", "Saïdi"),
        ("Marius", "Popescu"),
    ]:
        clock.advance(seconds=1)
        people.append(add(members, first, last))
    for person in (people[3], people[0], people[1]):  # Marie seen last, then Marc, then Maryam
        clock.advance(minutes=1)
        visits.check_in("accueil", member_id=person["id"])
    merged = names(members.search("mar", limit=4))  # marc, marie, marius…: one arm a token, merged
    assert merged == ["Marie Roux", "Marc Petit", "Maryam Saïdi", "Marius Popescu"]
    monkeypatch.setattr(search, "MERGE_AT_MOST", 1)  # as if 'mar' spanned hundreds of tokens: sorted
    assert names(members.search("mar", limit=4)) == merged
    monkeypatch.setattr(search, "SORT_AT_MOST", 1)  # …and matched thousands: everyone walked by recency
    assert names(members.search("mar", limit=4)) == merged


@pytest.mark.parametrize("merge_at_most, sort_at_most", [(64, 2000), (0, 2000), (0, 0)])
def test_every_way_of_reading_a_rank_gives_the_same_answer(
    members, store, clock, monkeypatch, merge_at_most, sort_at_most
):
    """A rank's tokens merged, or one key range sorted, or walked by recency:
    the same members in the same order, other words checked on the row."""
    people = []
    for first, last in [
        ("Marc", "Petit"),
        ("Marie", "Petitjean"),
        ("Martine", "Diop"),
        ("Mario", "Pettit"),
        ("Marius", "Popescu"),
        ("Maria", "Petrova"),
        ("Jean", "Petit"),
    ]:
        clock.advance(seconds=1)
        people.append(add(members, first, last))
    queries = ["mar pet", "petit", "pe mari", "marc petti", "jean"]
    expected = {query: names(members.search(query)) for query in queries}
    assert expected["mar pet"] == [
        "Maria Petrova",
        "Mario Pettit",
        "Marie Petitjean",
        "Marc Petit",
    ]  # by recency
    assert expected["marc petti"][0] == "Marc Petit"  # both words whole or prefix before the typo ones
    monkeypatch.setattr(search, "MERGE_AT_MOST", merge_at_most)
    monkeypatch.setattr(search, "SORT_AT_MOST", sort_at_most)
    assert {query: names(members.search(query)) for query in queries} == expected
