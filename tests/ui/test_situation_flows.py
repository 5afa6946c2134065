"""The FSE+ situation, driven by taps: the staff settings' switch, the
optional step at the end of a registration made by a volunteer, the member
card's tile to change or erase the answers, and nothing asked of a
resident registering alone or where the centre does not ask."""

from __future__ import annotations

import json

import pytest
from kivyhelp import screen_text, settle, tap, type_text
from modehelp import STAFF_PIN, VOLUNTEER_PIN, add_people, keys_in, register, sign_in


@pytest.fixture
def volunteer(app):
    person, _staff = add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    return person


def member_events(app) -> list[dict]:
    rows = app.centre.store.conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()
    found = [json.loads(row[0]) for row in rows]
    return [e["data"] for e in found if e["type"] in ("member.created", "member.updated")]


def fill_first_visit(app) -> None:
    """The form as the volunteers' flow test fills it, up to « Oui » on the consent."""
    assert app.sm.current == "first_visit"
    form = app.screen("first_visit")
    type_text(app, "fatou")
    tap(form.ids.next)
    type_text(app, "diallo")
    tap(form.ids.next)
    tap(next(t for t in form.ids.choices.children if t.text == "De 1970 à 1979"))
    tap(next(t for t in form.ids.choices.children if t.text == "1975"))
    tap(next(t for t in form.ids.choices.children if t.text == "Outreau"))
    while app.sm.current == "first_visit":
        tap(form.ids.next)
    assert app.sm.current == "consent"
    tap(app.screen("consent").ids.yes)


def press(widget) -> None:
    """Scroll the settings to ``widget`` (a long screen), then tap it."""
    from kivy.uix.scrollview import ScrollView

    parent = widget.parent
    while parent is not None and not isinstance(parent, ScrollView):
        parent = parent.parent
    parent.scroll_to(widget, padding=20, animate=False)
    settle(widget)
    tap(widget)


def tile(screen, column: str, words: str):
    return next(t for t in screen.ids[f"{column}_tiles"].children if t.text == words)


def test_setting_off_a_registration_asks_nothing_and_the_card_offers_nothing(app, volunteer):
    tap(app.screen("volunteer").ids.tiles.ids.new_member)
    fill_first_visit(app)
    assert app.sm.current == "card"
    assert all("employment" not in data for data in member_events(app))
    app.go("member_card")
    screen = app.screen("member_card")
    screen.show(app.centre.store.one("SELECT * FROM members"))
    assert not screen.situation_shown and screen.ids.situation.disabled


def test_a_volunteer_s_registration_asks_consent_then_two_questions(app, volunteer):
    app.centre.settings.set("collect_situation", True)
    tap(app.screen("volunteer").ids.tiles.ids.new_member)
    fill_first_visit(app)
    assert app.sm.current == "member_situation"
    screen = app.screen("member_situation")
    said = screen_text(app)
    assert "FSE+" in said and "pas obligatoire" in said and "jamais votre nom" in said
    tap(screen.ids.yes)
    tap(tile(screen, "employment", "Je cherche un travail"))
    tap(tile(screen, "education", "Lycée, CAP ou bac"))
    assert app.sm.current == "card"
    row = app.centre.store.one("SELECT situation_consent_at, employment, education FROM members")
    assert row["situation_consent_at"]
    assert (row["employment"], row["education"]) == ("unemployed", "isced_3_4")
    last = member_events(app)[-1]
    assert (last["employment"], last["education"]) == ("unemployed", "isced_3_4")
    assert app.centre.staff.audit_log(limit=1)[0]["actor_name"] == "Martine Dupuis"


def test_no_thanks_keeps_nothing_and_sends_nothing(app, volunteer):
    app.centre.settings.set("collect_situation", True)
    tap(app.screen("volunteer").ids.tiles.ids.new_member)
    fill_first_visit(app)
    tap(app.screen("member_situation").ids.no)
    assert app.sm.current == "card"
    row = app.centre.store.one("SELECT situation_consent_at, employment, education FROM members")
    assert row == {"situation_consent_at": None, "employment": None, "education": None}
    assert all("employment" not in data for data in member_events(app))


def test_each_question_may_be_skipped(app, volunteer):
    app.centre.settings.set("collect_situation", True)
    member = register(app.centre)
    card = app.screen("member_card")
    app.go("member_card")
    card.show(member)
    tap(card.ids.situation)
    screen = app.screen("member_situation")
    tap(screen.ids.yes)
    tap(screen.ids.skip)
    tap(tile(screen, "education", "Je préfère ne pas répondre"))
    assert app.sm.current == "member_card" and card.member["id"] == member["id"]
    held = app.centre.members.get(member["id"])
    assert (held["employment"], held["education"]) == (None, "unsaid")


def test_the_member_card_changes_then_erases_the_answers(app, volunteer):
    app.centre.settings.set("collect_situation", True)
    member = register(app.centre)
    tap(app.screen("volunteer").ids.tiles.ids.member_card)
    card = app.screen("member_card")
    keys_in(card, "ben")
    tap(card.ids.picker.ids.results.children[-1])
    assert card.situation_text == "Situation (FSE+) : pas renseignée"
    tap(card.ids.situation)
    screen = app.screen("member_situation")
    tap(screen.ids.yes)
    tap(tile(screen, "employment", "J'ai un travail"))
    tap(screen.ids.skip)
    assert card.situation_text == "Situation (FSE+) : répondu"
    # later: a new job search, shown chosen, then the answers erased
    tap(card.ids.situation)
    tap(screen.ids.yes)
    assert tile(screen, "employment", "J'ai un travail").chosen
    tap(tile(screen, "employment", "Je cherche un travail"))
    tap(screen.ids.skip)
    assert app.centre.members.get(member["id"])["employment"] == "unemployed"
    tap(card.ids.situation)
    tap(screen.ids.no)
    held = app.centre.members.get(member["id"])
    assert (held["situation_consent_at"], held["employment"]) == (None, None)
    assert "employment" not in member_events(app)[-1]


def test_a_resident_registering_alone_is_not_asked(app):
    app.centre.settings.set("collect_situation", True)
    app.go("first_visit")
    fill_first_visit(app)
    assert app.sm.current == "card"


def test_staff_turn_the_question_on_with_one_switch(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids.settings)
    screen = app.screen("staff_settings")
    switch = screen.ids.collect_situation.ids.switch
    assert switch.text == "Non"
    press(switch)
    assert switch.text == "Oui"
    tap(screen.ids.save)
    assert app.centre.settings.get("collect_situation") is True


def test_every_answer_has_a_pictogram_of_the_font():
    from kiosk.core import situation
    from kiosk.ui import icons

    assert all(icon in icons.CODEPOINTS for _code, _words, icon in situation.EMPLOYMENT + situation.EDUCATION)
