"""The residents' voice, driven by taps: the idea box from the home screen
(anonymous, with a first name, with a card), « nous l'avons fait » on the
home, the faces on a check-in's confirmation and at the roll call's end,
and staff's « Idées des habitants »."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kivyhelp import scan, screen_text, tap, type_text
from modehelp import STAFF_PIN, VOLUNTEER_PIN, add_people, register, sign_in

from kiosk.ui.confirmation import ConfirmationScreen


def choose(app, words):
    tiles = app.screen("ideas").ids.choices.children
    tap(next(t for t in tiles if t.text == words))


def outbox(app) -> str:
    return "\n".join(body for (body,) in app.centre.store.conn.execute("SELECT body FROM outbox"))


def test_an_idea_from_the_home_screen_is_anonymous_with_two_taps_and_a_few_words(app):
    tap(app.screen("home").ids.ideas)
    assert app.sm.current == "ideas"
    assert "Votre idée parle de quoi ?" in screen_text(app)
    choose(app, "Le quartier")
    screen = app.screen("ideas")
    assert screen.ids.next.text == "Passer"  # words are optional
    type_text(app, "des bancs au square")
    assert screen.typed == "Des bancs au square"
    tap(screen.ids.next)
    assert "Voulez-vous une réponse ?" in screen_text(app)
    choose(app, "Non, sans mon nom")
    assert app.sm.current == "confirmation"
    assert "Merci pour votre idée !" in screen_text(app)
    (idea,) = app.centre.voice.ideas()
    assert (idea["theme"], idea["text"], idea["contact_first_name"]) == (
        "quartier",
        "Des bancs au square",
        None,
    )
    assert "bancs" not in outbox(app) and '"theme":"quartier"' in outbox(app)


def test_a_first_name_and_phone_are_left_only_after_the_consent(app):
    tap(app.screen("home").ids.ideas)
    choose(app, "La famille")
    screen = app.screen("ideas")
    tap(screen.ids.next)  # no words: « Passer »
    choose(app, "Oui, avec mon prénom")
    tap(screen.ids.next)
    assert "Écrivez votre prénom" in screen_text(app)  # a first name is needed
    type_text(app, "lina")
    tap(screen.ids.next)
    type_text(app, "0611223344")
    tap(screen.ids.next)
    assert "jamais envoyé ailleurs" in screen_text(app) and "Lina" in screen_text(app)
    choose(app, "J'accepte")
    (idea,) = app.centre.voice.ideas()
    assert (idea["contact_first_name"], idea["contact_phone"]) == ("Lina", "+33611223344")
    assert idea["contact_consent_at"] and "Lina" not in outbox(app)


def test_a_member_card_passed_at_the_contact_question_is_the_contact(app, mono):
    member = register(app.centre, "Gérard", "Lefebvre")
    tap(app.screen("home").ids.ideas)
    choose(app, "Des sorties")
    tap(app.screen("ideas").ids.next)
    scan(mono, member["card_code"])
    assert app.sm.current == "ideas" and "Gérard" in screen_text(app)
    choose(app, "J'accepte")
    (idea,) = app.centre.voice.ideas()
    assert idea["member_id"] == member["id"]
    assert app.centre.store.query("SELECT count(*) AS n FROM visits") == [{"n": 0}]  # no check-in


def test_a_card_passed_before_the_contact_question_is_a_check_in(app, mono):
    member = register(app.centre, "Gérard", "Lefebvre")
    tap(app.screen("home").ids.ideas)
    scan(mono, member["card_code"])
    assert app.sm.current == "reason" and app.flow["member"]["id"] == member["id"]
    assert app.centre.voice.ideas() == []


def test_an_idea_left_half_way_is_forgotten_for_the_next_person(app):
    tap(app.screen("home").ids.ideas)
    choose(app, "Des activités")
    type_text(app, "couture")
    app.reset_to_home()
    tap(app.screen("home").ids.ideas)
    assert app.screen("ideas").step == "theme" and not app.screen("ideas").values
    assert app.centre.voice.ideas() == []


def test_the_home_says_what_the_centre_did_of_an_idea_and_opens_it_whole(app):
    _volunteer, staff = add_people(app.centre)
    home = app.screen("home")
    assert "Une idée pour le centre" in home.ids.done.text
    idea = app.centre.voice.propose("numerique", "Des cours de smartphone")
    app.centre.voice.answer(idea["id"], "Un atelier smartphone a lieu chaque jeudi à 14 h", staff)
    app.centre.voice.mark_done(idea["id"], staff)
    app.go("workshops")
    app.go("home")
    assert "nous l'avons fait : Un atelier smartphone" in home.ids.done.text
    tap(home.ids.done)
    assert app.sm.current == "ideas"
    assert "Un atelier smartphone a lieu chaque jeudi à 14 h" in screen_text(app)


@pytest.fixture
def attended(app, clock):
    """Aïcha present at yesterday's workshop, which she has not talked about."""
    volunteer, _staff = add_people(app.centre)
    member = register(app.centre)
    today = clock()
    clock.advance(days=-3)
    workshop = app.centre.workshops.create_workshop("Atelier tablette", "numerique")
    start = today - timedelta(hours=20)
    session = app.centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 10)
    app.centre.workshops.register(session["id"], member["id"])
    clock.set(start)
    app.centre.workshops.mark_attendance(session["id"], member["id"], True, actor=volunteer)
    app.centre.workshops.add_walk_in(session["id"], None, actor=volunteer)
    clock.set(today)
    return member, session


def test_a_check_in_after_a_workshop_asks_how_it_went_once(app, mono, attended):
    member, session = attended
    scan(mono, member["card_code"])
    tap(next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil"))
    confirmation = app.screen("confirmation")
    assert app.sm.current == "confirmation" and "Comment ça s'est passé ?" in screen_text(app)
    assert "Atelier tablette" in screen_text(app)
    tap(confirmation.ids.moyen)
    assert "Merci pour votre réponse !" in screen_text(app)
    tap(confirmation.ids.content)  # once
    assert app.centre.voice.faces(session["id"]) == {"content": 0, "moyen": 1, "pas_content": 0}
    confirmation.go_home()
    scan(mono, member["card_code"])
    tap(next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil"))
    assert "Comment ça s'est passé ?" not in screen_text(app)


def test_an_anonymous_check_in_is_never_asked(app):
    screen = app.screen("confirmation")
    assert isinstance(screen, ConfirmationScreen)
    app.start_checkin()
    app.identified(None)
    app.check_in("accueil")
    assert app.sm.current == "confirmation" and not screen.ask


def test_at_the_roll_call_s_end_each_person_present_taps_their_name_then_a_face(app, attended):
    member, session = attended
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    roll = app.screen("roll_call")
    roll.session_id = session["id"]
    app.go("roll_call")
    tap(roll.ids.feedback)
    assert app.sm.current == "feedback"
    screen = app.screen("feedback")
    names = [row.text for row in screen.ids.names.children]
    assert sorted(names) == ["Aïcha B.", "Quelqu'un sans nom"]
    tap(next(row for row in screen.ids.names.children if row.text == "Aïcha B."))
    assert "Comment ça s'est passé, Aïcha B. ?" in screen_text(app)
    tap(screen.ids.content)
    tap(screen.ids.names.children[0])  # the one without a name
    tap(screen.ids.pas_content)
    assert "Tout le monde a répondu" in screen_text(app)
    assert app.centre.voice.faces(session["id"]) == {"content": 1, "moyen": 0, "pas_content": 1}
    assert app.centre.voice.pending_feedback(member["id"], since=None) is None


def test_staff_answer_an_idea_mark_it_done_and_a_supported_initiative(app):
    app.centre.voice.propose(
        "quartier", "Une fête des voisins", first_name="Nour", phone="0611223355", consent=True
    )
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    assert app.screen("staff_home").ids.ideas.text == "Idées des habitants (1)"  # one to answer
    tap(app.screen("staff_home").ids.ideas)
    assert app.sm.current == "staff_ideas"
    screen = app.screen("staff_ideas")
    assert "1 à répondre" in screen.summary
    tap(screen.ids.ideas.children[-1])
    assert "Une fête des voisins" in screen.details and "Nour" in screen.details
    tap(screen.ids.done)  # no answer yet: said so, nothing changed
    assert "Écrivez d'abord la réponse" in screen.result
    screen.ids.answer.text = "Un groupe d'habitants l'organise, le centre prête le matériel"
    tap(screen.ids.save)
    assert screen.result == "Réponse enregistrée."
    tap(screen.ids.done)
    assert "la réponse s'affiche sur la borne" in screen.result, screen.result
    tap(screen.ids.initiative)
    (idea,) = app.centre.voice.ideas()
    assert idea["answer"].startswith("Un groupe") and idea["done_at"] and idea["initiative_at"]
    assert "0 à répondre · 1 réalisées · 1 initiatives soutenues" in screen.summary


def test_a_volunteer_never_reaches_the_ideas(app):
    add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    app.go("staff_ideas")
    assert app.sm.current == "volunteer"
