"""Households (« foyers ») on the kiosk, by taps: a resident registers
someone of the same household from the new card in one tap, or drops the
link in one tap; a volunteer registers a family the same way, and later
adds someone to a member's household or takes them out of it from the
member's card."""

from __future__ import annotations

import pytest
from kivyhelp import screen_text, tap, type_text
from modehelp import STAFF_PIN, VOLUNTEER_PIN, add_people, keys_in, register, sign_in
from test_first_visit_flow import choose, fill_form

from kiosk.core.members import display_name
from tests.dbstate import events


def households(centre) -> dict[str, str | None]:
    return {
        row["first_name"]: row["household_id"]
        for row in centre.store.query("SELECT first_name, household_id FROM members WHERE erased_at IS NULL")
    }


def register_the_next_one(app, first_name: str, year_decade: str, year: str) -> None:
    """From the card: « Inscrire une autre personne du même foyer », then
    only what differs (the surname, town and neighbourhood are given)."""
    tap(app.screen("card").ids.household)
    assert app.sm.current == "first_visit"
    fill_the_next_one(app, first_name, year_decade, year)


def fill_the_next_one(app, first_name: str, year_decade: str, year: str) -> None:
    form = app.screen("first_visit")
    type_text(app, first_name)
    tap(form.ids.next)
    assert "Vous vivez avec" in form.question
    choose(app, "Oui, même foyer")  # one tap
    assert form.values["last_name"] == "Diallo"
    tap(form.ids.next)  # the surname given: « Suivant »
    choose(app, year_decade)
    choose(app, year)
    tap(form.ids.next)  # the town given
    tap(form.ids.next)  # the neighbourhood given
    tap(form.ids.next)  # no phone
    assert app.sm.current == "consent"
    tap(app.screen("consent").ids.yes)
    assert app.sm.current == "card"


def test_a_resident_registers_their_child_in_one_tap_from_the_card(app, centre):
    fill_form(app)
    tap(app.screen("consent").ids.yes)
    assert "Inscrire une autre personne du même foyer" in screen_text(app)
    tap(app.screen("card").ids.household)
    form = app.screen("first_visit")
    assert form.values == {
        "last_name": "Diallo",
        "commune": "Boulogne-sur-Mer",
        "neighbourhood": "Chemin Vert",
    }
    assert "Étape 1 sur 8" in screen_text(app)  # the household's question counts now
    fill_the_next_one(app, "awa", "De 2010 à 2019", "2016")
    assert "Bienvenue, Awa !" in screen_text(app)
    linked = households(centre)
    assert linked["Fatou"] and linked["Fatou"] == linked["Awa"]
    # and a third, from the second one's card
    register_the_next_one(app, "moussa", "De 2010 à 2019", "2019")
    assert len(set(households(centre).values())) == 1
    updated = [e["data"] for e in events(centre.store, "member.updated")]
    assert {d["household_id"] for d in updated} == {linked["Fatou"]}


def test_the_household_is_dropped_in_one_tap_and_never_blocks_the_registration(app, centre):
    fatou = register(app.centre, "Fatou", "Diallo")
    app.screen("card").member = fatou
    app.go("card")
    tap(app.screen("card").ids.household)
    form = app.screen("first_visit")
    assert form.household_of["name"] == display_name(fatou)
    type_text(app, "karim")
    tap(form.ids.next)
    assert "Vous vivez avec Fatou D. ?" in screen_text(app)  # the public sees a first name and an initial
    choose(app, "Pas le même foyer")  # one tap: this one is not of the same household
    assert form.household_of == {} and form.question == "Votre nom de famille"
    assert form.values == {"first_name": "Karim"}  # the surname and town the household gave go with it
    type_text(app, "haddad")
    tap(form.ids.next)
    tap(form.ids.next)  # no year
    tap(form.ids.next)  # no age either
    choose(app, "Boulogne-sur-Mer")
    choose(app, "Chemin Vert")
    tap(form.ids.next)  # no phone
    tap(app.screen("consent").ids.yes)
    assert app.sm.current == "card"
    assert households(centre) == {"Fatou": None, "Karim": None}


def test_a_registration_goes_through_when_the_household_s_member_was_erased_meanwhile(app, centre):
    _volunteer, staff = add_people(centre)
    fatou = register(app.centre, "Fatou", "Diallo")
    app.screen("card").member = fatou
    app.go("card")
    tap(app.screen("card").ids.household)
    centre.privacy.erase(fatou["id"], actor={"role": "staff", "id": staff["id"], "name": staff["name"]})
    form = app.screen("first_visit")
    type_text(app, "awa")
    tap(form.ids.next)
    choose(app, "Oui, même foyer")
    while app.sm.current == "first_visit":
        tap(form.ids.next)
    tap(app.screen("consent").ids.yes)
    assert app.sm.current == "card"
    assert households(centre) == {"Awa": None}


@pytest.fixture
def volunteer(app):
    person, _staff = add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    return person


def open_card(app, letters: str):
    tap(app.screen("volunteer").ids.tiles.ids.member_card)
    screen = app.screen("member_card")
    keys_in(screen, letters)
    tap(screen.ids.picker.ids.results.children[-1])
    return screen


def test_a_volunteer_adds_someone_to_a_member_s_household_and_takes_them_out(app, volunteer):
    centre = app.centre
    fatou = register(centre, "Fatou", "Diallo")
    register(centre, "Awa", "Diallo")
    screen = open_card(app, "fatou")
    assert "Foyer : pas renseigné" in screen_text(app)
    tap(screen.ids.household)
    assert "Foyer de Fatou Diallo" in screen_text(app) and "Personne d'autre" in screen_text(app)
    assert screen.ids.household_leave.disabled  # not in a household: nothing to leave
    tap(screen.ids.household_add)
    assert "Tapez un nom" in screen_text(app)
    tap(screen.ids.household_picker.ids.back)  # « Retour »: the household again
    assert "Foyer de Fatou Diallo" in screen_text(app)
    tap(screen.ids.household_add)
    keys_in(screen, "awa")
    tap(screen.ids.household_picker.ids.results.children[-1])
    assert households(centre)["Fatou"] == households(centre)["Awa"] is not None
    assert "Awa Diallo" in screen_text(app) and "Awa est dans ce foyer." in screen_text(app)
    tap(screen.ids.household_back)
    assert "Foyer : 2 personnes" in screen_text(app)
    line = centre.staff.audit_log(limit=1)[0]
    assert (line["action"], line["actor_name"]) == ("household.link", "Martine Dupuis")
    tap(screen.ids.household)
    tap(screen.ids.household_leave)
    tap(screen.popup.ids.yes)
    # Fatou out, Awa alone: a household is two people or more
    assert households(centre) == {"Fatou": None, "Awa": None}
    assert centre.members.get(fatou["id"])["household_id"] is None
    assert "Fatou n'est plus dans ce foyer." in screen_text(app)


def test_staff_link_a_scanned_card_to_a_member_s_household(app, mono):
    from kivyhelp import scan

    add_people(app.centre)
    fatou = register(app.centre, "Fatou", "Diallo")
    awa = register(app.centre, "Awa", "Diallo")
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids.member_card)
    screen = app.screen("member_card")
    keys_in(screen, "fatou")
    tap(screen.ids.picker.ids.results.children[-1])
    tap(screen.ids.household)
    tap(screen.ids.household_add)
    scan(mono, awa["card_code"])  # a card held up while choosing: that person joins
    assert app.centre.households.of(fatou["id"])[0]["id"] == awa["id"]
    assert screen.member["id"] == fatou["id"]
