"""Check in: by name on the on-screen keyboard, by scanner, without a card."""

from __future__ import annotations

import json
import time

from kivyhelp import scan, screen_text, tap, type_text

from kiosk.ui import offscreen


def register(centre, first="Aïcha", last="Benali"):
    return centre.members.register(first, last, 1980, commune="Boulogne-sur-Mer", consent_data=True)


def visits(centre):
    return centre.store.query("SELECT member_id, reason FROM visits")


def wait_home(app, seconds=20.0):
    end = time.monotonic() + seconds
    while app.sm.current != "home" and time.monotonic() < end:
        offscreen.frames(1)
        time.sleep(0.02)


def test_check_in_by_typing_a_first_name(app, centre):
    member = register(centre)
    register(centre, "Bernard", "Martin")
    tap(app.screen("home").ids.checkin)
    assert app.sm.current == "checkin"
    type_text(app, "aic")
    screen = app.screen("checkin")
    rows = screen.ids.results.children
    assert [row.text for row in rows] == ["Aïcha B."]
    shown = screen_text(app)
    assert "Benali" not in shown and "Bernard" not in shown  # only the first name and initial
    tap(rows[0])
    assert app.sm.current == "reason"
    tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "demarches")
    assert tile.text == "Aide pour un papier sur internet"
    tap(tile)
    # « Aide pour un papier » asks which body, in pictograms, before the visit is noted
    assert app.screen("reason").ids.title.text == "Votre papier, c'est pour…" and visits(centre) == []
    tap(next(t for t in app.screen("reason").ids.grid.children if t.text == "Les impôts"))
    assert visits(centre) == [{"member_id": member["id"], "reason": "demarches"}]
    (event,) = [
        json.loads(body)
        for (body,) in centre.store.conn.execute("SELECT body FROM outbox WHERE type = 'visit.recorded'")
    ]
    assert (event["data"]["cra_theme"], event["data"]["domain"]) == (
        "demarches_administratives",
        "argent_impots",
    )
    assert app.sm.current == "confirmation"
    assert app.screen("confirmation").ids.title.text == "Bienvenue, Aïcha !"
    wait_home(app)
    assert app.sm.current == "home"  # the confirmation went home by itself


def test_an_unknown_name_says_so_and_stores_nothing(app, centre):
    register(centre)
    tap(app.screen("home").ids.checkin)
    type_text(app, "zzqx")
    assert not app.screen("checkin").ids.results.children
    assert "Nous ne trouvons pas ce prénom" in screen_text(app)
    assert visits(centre) == []


def test_the_erase_key_removes_the_last_letter(app, centre):
    tap(app.screen("home").ids.checkin)
    type_text(app, "ab")
    from kivyhelp import tap as press

    press(next(w for w in app.screen("checkin").ids.keyboard.walk() if getattr(w, "icon", "") == "backspace"))
    assert app.screen("checkin").query == "A"


def test_a_scanned_card_checks_in_from_the_home_screen(app, centre, mono):
    member = register(centre)
    scan(mono, member["card_code"])
    assert app.sm.current == "reason"
    tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil")
    tap(tile)
    assert visits(centre) == [{"member_id": member["id"], "reason": "accueil"}]
    assert app.screen("confirmation").ids.title.text == "Bienvenue, Aïcha !"


def test_slow_typing_on_a_keyboard_is_not_a_scan(app, centre, mono):
    member = register(centre)
    scan(mono, member["card_code"], gap=0.3)
    assert app.sm.current == "home"


def test_an_unknown_card_is_explained_on_the_check_in_screen(app, centre, mono):
    scan(mono, "ZZZZZZZZ")
    assert app.sm.current == "checkin"
    assert "code de carte" in screen_text(app) or "carte" in app.screen("checkin").message
    assert visits(centre) == []


def test_a_card_error_is_redrawn_in_the_new_language(app, centre, mono):
    # the message is kept as a function of the error; Python unbinds an
    # ``except ... as error`` name when the block ends, so it must be bound
    scan(mono, "ZZZZZZZZ")
    french = app.screen("checkin").message
    app.set_language("en")
    english = app.screen("checkin").message
    assert french and english and english != french


def test_the_body_question_goes_back_to_the_reasons_and_is_gone_for_the_next_visitor(app, centre):
    tap(app.screen("home").ids.checkin)
    tap(app.screen("checkin").ids.anonymous)
    reason = app.screen("reason")
    tap(next(t for t in reason.ids.grid.children if t.reason == "demarches"))
    assert {t.text for t in reason.ids.grid.children} >= {
        "La CAF",
        "Le logement",
        "Autre chose, ou je ne sais pas",
    }
    tap(reason.ids.back)  # back to the reasons, not to the check-in
    assert app.sm.current == "reason" and reason.ids.title.text == "Pourquoi venez-vous aujourd'hui ?"
    tap(next(t for t in reason.ids.grid.children if t.reason == "demarches"))
    tap(next(t for t in reason.ids.grid.children if t.text == "Autre chose, ou je ne sais pas"))
    assert visits(centre) == [{"member_id": None, "reason": "demarches"}]
    (body,) = centre.store.conn.execute("SELECT body FROM outbox WHERE type = 'visit.recorded'").fetchone()
    assert json.loads(body)["data"]["domain"] is None  # « autre »: the reason's own (none)
    wait_home(app)
    tap(app.screen("home").ids.checkin)
    tap(app.screen("checkin").ids.anonymous)
    assert reason.ids.title.text == "Pourquoi venez-vous aujourd'hui ?"


def test_without_a_card_records_an_anonymous_visit(app, centre):
    tap(app.screen("home").ids.checkin)
    tap(app.screen("checkin").ids.anonymous)
    tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "ordinateur")
    tap(tile)
    assert visits(centre) == [{"member_id": None, "reason": "ordinateur"}]
    assert app.screen("confirmation").ids.title.text == "Bienvenue !"


def test_back_at_rest_the_kiosk_applies_the_check_ins_to_last_contact(app, centre):
    # a check-in writes only its visit and event; the member's last contact
    # (and the search's recency) are brought up to date between two residents
    member = register(centre)
    app.flow = {"purpose": "checkin", "member": member}
    app.check_in("accueil")
    stored = lambda: centre.store.conn.execute(  # noqa: E731
        "SELECT last_seen_at FROM members WHERE id = ?", (member["id"],)
    ).fetchone()[0]
    assert stored() is None
    app.reset_to_home()
    end = time.monotonic() + 20
    while stored() is None and time.monotonic() < end:
        offscreen.frames(1)
        time.sleep(0.05)
    visit_at = centre.store.conn.execute("SELECT occurred_at FROM visits").fetchone()[0]
    assert stored() == visit_at


def test_back_at_rest_the_kiosk_checkpoints_its_database(app, centre, monkeypatch):
    # the WAL is copied into the file between two residents, not in a check-in
    copies = []
    checkpoint = centre.store.checkpoint
    monkeypatch.setattr(centre.store, "checkpoint", lambda: copies.append(checkpoint()) or copies[-1])
    app.flow = {"purpose": "checkin", "member": None}
    app.check_in("accueil")
    assert copies == []
    app.reset_to_home()
    end = time.monotonic() + 20
    while not copies and time.monotonic() < end:
        offscreen.frames(1)
        time.sleep(0.05)
    assert copies == [0]  # every page of the check-in copied
