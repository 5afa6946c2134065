"""« Doublons possibles » driven offscreen: staff find the same person
registered twice, choose which record to keep, confirm, and the merge is
done; « Pas la même personne » takes a pair away for good; « À vérifier »
leads to the screen."""

from __future__ import annotations

import pytest
from kivyhelp import screen_text, settle, tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.ui import offscreen

pytestmark = pytest.mark.ui


def person(centre, first, last, **extra):
    return centre.members.register(first, last, birth_year=1985, consent_data=True, **extra)


def open_duplicates(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids["duplicates"])
    assert app.sm.current == "staff_duplicates"
    screen = app.screen("staff_duplicates")
    settle(screen)
    return screen


def pairs_shown(screen) -> list:
    return [w for w in screen.ids.entries.children if "merge" in getattr(w, "ids", {})]


def test_staff_merge_two_records_keeping_the_one_they_choose(app):
    first = person(app.centre, "Aïcha", "Benali")
    second = person(app.centre, "Aicha", "Benalli", phone="0612345678")
    app.centre.visits.check_in("accueil", member_id=second["id"])
    screen = open_duplicates(app)
    (pair,) = pairs_shown(screen)
    assert "Aïcha Benali" in screen_text(app) and "Aicha Benalli" in screen_text(app)

    tap(pair.ids.merge)
    settle(screen)
    assert screen.step == "confirm" and screen.choice == {"keep": first["id"], "other": second["id"]}
    assert "téléphone" in screen_text(app)  # what the kept record takes from the other
    # staff keep the second record after all: it becomes the one kept
    swap = next(w for w in screen.ids.entries.children if w.text == "Garder plutôt l'autre fiche")
    tap(swap)
    settle(screen)
    assert screen.choice == {"keep": second["id"], "other": first["id"]}
    (confirm,) = pairs_shown(screen)
    tap(confirm.ids.merge)  # « Oui, fusionner »
    settle(screen)

    assert screen.step == "list" and pairs_shown(screen) == []
    assert "Fusion faite" in screen.result
    store = app.centre.store
    gone = store.one("SELECT merged_into, first_name FROM members WHERE id = ?", (first["id"],))
    assert gone == {"merged_into": second["id"], "first_name": None}
    assert app.centre.members.count() == 1
    assert store.one("SELECT count(*) AS n FROM audit_log WHERE action = 'member.merge'")["n"] == 1


def test_cancel_merges_nothing_and_not_the_same_person_removes_the_pair(app):
    person(app.centre, "Aïcha", "Benali")
    person(app.centre, "Aicha", "Benali")
    screen = open_duplicates(app)
    (pair,) = pairs_shown(screen)
    tap(pair.ids.merge)
    settle(screen)
    (confirm,) = pairs_shown(screen)
    tap(confirm.ids.dismiss)  # « Annuler »
    settle(screen)
    assert screen.step == "list" and app.centre.members.count() == 2
    (pair,) = pairs_shown(screen)
    tap(pair.ids.dismiss)  # « Pas la même personne »
    settle(screen)
    assert pairs_shown(screen) == [] and "Aucun doublon possible." in screen_text(app)
    assert app.centre.duplicates.pairs() == [] and app.centre.members.count() == 2


def test_a_review_item_leads_to_the_duplicates(app):
    person(app.centre, "Aïcha", "Benali")
    person(app.centre, "Aicha", "Benali")
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    app.go("staff_review")
    review = app.screen("staff_review")
    settle(review)
    offscreen.frames(3)  # the list is filled on entry and laid out over a few frames
    settle(review)
    assert "Doublons possibles" in screen_text(app)
    item = next(w for w in review.ids.entries.children if "en double" in getattr(w, "text", ""))
    tap(item.ids.correct, frames=3)
    settle(app.sm.current_screen)
    assert app.sm.current == "staff_duplicates"
