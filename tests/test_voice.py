"""The residents' voice on the kiosk: the idea box (anonymous unless the
resident chooses, answered, realised, supported), the faces after a
workshop (once a person and session), and what reaches the outbox: counts,
never an idea's words nor who gave it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from people import add_member, add_staff, erase_member, events, snapshot

from kiosk.core.centre import Centre
from kiosk.core.errors import Conflict, InvalidInput, NotFound
from kiosk.core.voice import MAX_IDEA, SHOWN_DAYS
from sync.protocol import utc_iso

WORDS = "Un atelier cuisine du monde le samedi, avec les enfants"


@pytest.fixture
def centre(db_path, clock):
    with Centre.open(db_path, clock=clock) as centre:
        yield centre


@pytest.fixture
def boss(centre):
    return add_staff(centre.store)


def outbox_text(centre) -> str:
    return "\n".join(body for (body,) in centre.store.conn.execute("SELECT body FROM outbox"))


# ---------------------------------------------------------------- ideas


def test_an_idea_is_anonymous_and_only_its_theme_goes_out(centre):
    idea = centre.voice.propose("activites", WORDS)
    assert idea["text"] == WORDS and idea["theme"] == "activites"
    assert idea["contact_first_name"] is None and idea["member_id"] is None
    assert events(centre.store, "idea.received") == [{"idea_id": idea["id"], "theme": "activites"}]


def test_a_few_taps_are_an_idea_without_words(centre):
    idea = centre.voice.propose("sorties")
    assert idea["text"] == ""
    assert centre.voice.counts() == {"all": 1, "open": 1, "done": 0, "initiative": 0}


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"theme": "politique"}, "theme"),
        ({"theme": "quartier", "words": "x" * (MAX_IDEA + 1)}, "text"),
        ({"theme": "quartier", "words": "bonjour\x00"}, "text"),
        ({"theme": "quartier", "first_name": "Aïcha", "phone": "06 12 34 56 78"}, "consent"),
        ({"theme": "quartier", "first_name": "Aïcha", "consent": True}, "phone"),
        ({"theme": "quartier", "phone": "06 12 34 56 78", "consent": True}, "first_name"),
        ({"theme": "quartier", "first_name": "Aïcha", "phone": "12", "consent": True}, "phone"),
    ],
)
def test_a_bad_idea_names_what_is_wrong_and_keeps_nothing(centre, kwargs, field):
    before = snapshot(centre.store)
    with pytest.raises(InvalidInput) as error:
        centre.voice.propose(**kwargs)
    assert error.value.field == field and error.value.message_fr
    assert snapshot(centre.store) == before


def test_a_contact_is_kept_on_the_kiosk_with_the_consent_and_never_sent(centre):
    idea = centre.voice.propose("famille", WORDS, first_name="Aïcha", phone="06 12 34 56 78", consent=True)
    assert idea["contact_first_name"] == "Aïcha" and idea["contact_phone"] == "+33612345678"
    assert idea["contact_consent_at"] == idea["created_at"]
    sent = outbox_text(centre)
    assert "Aïcha" not in sent and "612345678" not in sent and "cuisine" not in sent


def test_a_member_card_is_a_contact_and_gives_the_first_name(centre):
    member = add_member(centre.store, "Gérard", "Lefebvre")
    idea = centre.voice.propose("quartier", "Des bancs", member_id=member, consent=True)
    assert idea["member_id"] == member and idea["contact_first_name"] == "Gérard"
    erased = add_member(centre.store, "Zoé", "Martin")
    erase_member(centre.store, erased)
    with pytest.raises(NotFound):
        centre.voice.propose("quartier", member_id=erased, consent=True)


def test_staff_answer_realise_and_support_an_idea_and_the_hub_gets_the_dates(centre, boss, clock):
    idea = centre.voice.propose("quartier", "Un jardin partagé")
    with pytest.raises(Conflict) as error:
        centre.voice.mark_done(idea["id"], boss)  # the home would show nothing
    assert error.value.field == "answer"
    clock.advance(days=2)
    answered = centre.voice.answer(idea["id"], "Un jardin partagé derrière le centre", boss)
    clock.advance(days=30)
    centre.voice.mark_done(idea["id"], boss)
    centre.voice.mark_initiative(idea["id"], boss)
    held = centre.voice.idea(idea["id"])
    assert held["answer"] == "Un jardin partagé derrière le centre"
    assert held["answered_at"] == answered["answered_at"] < held["done_at"] == held["initiative_at"]
    sent = events(centre.store, "idea.updated")
    assert sent[-1] == {
        "idea_id": idea["id"],
        "theme": "quartier",
        "answered_at": held["answered_at"],
        "done_at": held["done_at"],
        "initiative_at": held["initiative_at"],
    }
    assert "jardin" not in outbox_text(centre)
    # a slip is undone, and the hub told so
    centre.voice.mark_done(idea["id"], boss, done=False)
    assert events(centre.store, "idea.updated")[-1]["done_at"] is None
    assert centre.voice.ideas("open") == [] and len(centre.voice.ideas("initiative")) == 1


def test_only_staff_read_and_answer_ideas(centre):
    idea = centre.voice.propose("autre", "Plus de chaises")
    volunteer = add_staff(centre.store, "Paul Bénévole", role="volunteer", pin="1357")
    before = snapshot(centre.store)
    for act in (
        lambda: centre.voice.answer(idea["id"], "Merci", volunteer),
        lambda: centre.voice.mark_initiative(idea["id"], None),
    ):
        with pytest.raises(InvalidInput) as error:
            act()
        assert error.value.field == "actor"
    assert snapshot(centre.store) == before


def test_an_answer_is_short_and_never_empty(centre, boss):
    idea = centre.voice.propose("autre")
    for words in ("   ", "x" * 301):
        with pytest.raises(InvalidInput) as error:
            centre.voice.answer(idea["id"], words, boss)
        assert error.value.field == "answer"
    with pytest.raises(NotFound):
        centre.voice.answer("no-such-idea", "Merci", boss)


def test_the_home_shows_ideas_realised_lately_with_their_answer_only(centre, boss, clock):
    old = centre.voice.propose("sorties", "La mer")
    centre.voice.answer(old["id"], "Une sortie à la mer en juillet", boss)
    centre.voice.mark_done(old["id"], boss)
    clock.advance(days=SHOWN_DAYS + 1)
    new = centre.voice.propose("numerique", "Des cours de smartphone")
    centre.voice.answer(new["id"], "Un atelier smartphone le jeudi", boss)
    centre.voice.mark_done(new["id"], boss)
    shown = centre.voice.done_lately()
    assert [row["answer"] for row in shown] == ["Un atelier smartphone le jeudi"]
    assert "text" not in shown[0]


def test_erasing_a_member_erases_the_first_name_left_with_their_ideas(centre, boss):
    member = add_member(centre.store, "Gérard", "Lefebvre")
    idea = centre.voice.propose("quartier", "Des bancs", member_id=member, consent=True)
    assert centre.privacy.export(member, boss)["ideas"][0]["text"] == "Des bancs"
    erase_member(centre.store, member)
    held = centre.voice.idea(idea["id"])
    assert held["text"] == "Des bancs" and held["contact_first_name"] is None and held["member_id"] is None


def test_the_retention_purge_erases_contacts_left_without_a_card(centre, clock):
    kept = centre.voice.propose(
        "famille", "Garde d'enfants", first_name="Lina", phone="0611223344", consent=True
    )
    months = centre.settings.get("retention_months")
    clock.advance(days=31 * months + 1)
    fresh = centre.voice.propose("famille", first_name="Nour", phone="0611223355", consent=True)
    centre.privacy.retention_purge()
    assert centre.voice.idea(kept["id"])["contact_phone"] is None
    assert centre.voice.idea(fresh["id"])["contact_first_name"] == "Nour"


# ---------------------------------------------------------------- faces


@pytest.fixture
def held_session(centre, clock, boss):
    """A session of Monday 14:00-16:00 (the day before the clock), Aïcha
    present, Gérard absent, one walk-in without a name present."""
    today = clock()
    clock.advance(days=-7)
    workshop = centre.workshops.create_workshop("Atelier tablette", "numerique")
    start = today - timedelta(hours=19)
    session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 10)
    aicha, gerard = add_member(centre.store, "Aïcha", "Benali"), add_member(centre.store, "Gérard", "Martin")
    for member in (aicha, gerard):
        centre.workshops.register(session["id"], member)
    clock.set(start)
    centre.workshops.mark_attendance(session["id"], aicha, True, actor=boss)
    centre.workshops.mark_attendance(session["id"], gerard, False, actor=boss)
    centre.workshops.add_walk_in(session["id"], None, actor=boss)
    clock.set(today)
    return {"id": session["id"], "aicha": aicha, "gerard": gerard}


def test_a_member_present_at_a_session_since_their_last_visit_is_asked_once(centre, held_session, clock):
    voice, sid = centre.voice, held_session["id"]
    asked = voice.pending_feedback(held_session["aicha"], since=None)
    assert asked["session_id"] == sid and asked["title"] == "Atelier tablette"
    # they came after it ended: asked then, not again
    assert voice.pending_feedback(held_session["aicha"], since=utc_iso(clock() - timedelta(hours=1))) is None
    assert voice.pending_feedback(held_session["gerard"], since=None) is None  # absent
    voice.give_feedback(sid, "content", member_id=held_session["aicha"])
    assert voice.pending_feedback(held_session["aicha"], since=None) is None
    with pytest.raises(Conflict):
        voice.give_feedback(sid, "moyen", member_id=held_session["aicha"])
    with pytest.raises(Conflict):
        voice.give_feedback(sid, "moyen", member_id=held_session["gerard"])
    assert [(e["session_id"], e["face"]) for e in events(centre.store, "feedback.given")] == [
        (sid, "content")
    ]


def test_a_session_long_past_is_not_asked_about(centre, held_session, clock):
    clock.advance(days=31)
    assert centre.voice.pending_feedback(held_session["aicha"], since=None) is None


def test_at_the_roll_call_s_end_each_present_person_answers_once(centre, held_session):
    voice, sid = centre.voice, held_session["id"]
    left = voice.still_to_answer(sid)
    assert [m["first_name"] for m in left["members"]] == ["Aïcha"] and left["anonymous"] == 1
    voice.give_feedback(sid, "pas_content", via="roll_call")
    with pytest.raises(Conflict):
        voice.give_feedback(sid, "content", via="roll_call")  # the one walk-in answered
    voice.give_feedback(sid, "moyen", member_id=held_session["aicha"], via="roll_call")
    assert voice.still_to_answer(sid) == {"members": [], "anonymous": 0}
    assert voice.faces(sid) == {"content": 0, "moyen": 1, "pas_content": 1}
    sent = events(centre.store, "feedback.given")
    assert [e["face"] for e in sent] == ["pas_content", "moyen"]
    assert all(set(e) == {"feedback_id", "session_id", "face"} for e in sent)


def test_a_bad_face_or_a_session_to_come_is_refused(centre, held_session, clock):
    with pytest.raises(InvalidInput) as error:
        centre.voice.give_feedback(held_session["id"], "furieux", member_id=held_session["aicha"])
    assert error.value.field == "face"
    workshop = centre.workshops.create_workshop("Couture", "accueil")
    later = centre.workshops.add_session(
        workshop["id"], clock() + timedelta(days=1), clock() + timedelta(days=1, hours=2), 5
    )
    with pytest.raises(Conflict):
        centre.voice.give_feedback(later["id"], "content", via="roll_call")
    with pytest.raises(NotFound):
        centre.voice.give_feedback("nothing", "content")


def test_no_idea_s_words_nor_any_name_ever_reaches_the_outbox(centre, boss, held_session):
    member = add_member(centre.store, "Bérénice", "Quatremaire", phone="0699887766")
    ideas = [
        centre.voice.propose("quartier", "Réparer l'aire de jeux Quatremaire"),
        centre.voice.propose(
            "famille", "Sortie zoo", first_name="Ludivine", phone="0655443322", consent=True
        ),
        centre.voice.propose("autre", "Ludothèque", member_id=member, consent=True),
    ]
    for idea in ideas:
        centre.voice.answer(idea["id"], "Réponse publique Ornithorynque", boss)
        centre.voice.mark_done(idea["id"], boss)
        centre.voice.mark_initiative(idea["id"], boss)
    centre.voice.give_feedback(held_session["id"], "content", member_id=held_session["aicha"])
    voice_events = [
        body
        for (body,) in centre.store.conn.execute(
            "SELECT body FROM outbox WHERE type LIKE 'idea.%' OR type LIKE 'feedback.%'"
        )
    ]
    assert len(voice_events) == 3 + 3 * 3 + 1
    sent = "\n".join(voice_events)
    for secret in (
        "aire de jeux",
        "Ludivine",
        "655443322",
        "Ludothèque",
        "Ornithorynque",
        "Bérénice",
        member,
        held_session["aicha"],
    ):
        assert secret not in sent
