"""Workshops: the week's cards, the detail, sign up, waitlist, cancel."""

from __future__ import annotations

from datetime import UTC, datetime

from kivyhelp import scan, screen_text, tap, type_text

from kiosk.ui.workshops import WorkshopCard


def member(centre, first="Aïcha", last="Benali"):
    return centre.members.register(first, last, 1980, commune="Outreau", consent_data=True)


def session(centre, capacity=2, title="Café des parents", theme="parentalite"):
    workshop = centre.workshops.create_workshop(title, theme, place="Salle bleue")
    # Tuesday 3 December 2026, 14:00-16:00 in Paris (the test clock is Tuesday 1st, 9:00)
    return centre.workshops.add_session(
        workshop["id"],
        datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
        capacity,
    )


def open_first_card(app):
    tap(app.screen("home").ids.workshops)
    assert app.sm.current == "workshops"
    cards = app.screen("workshops").ids.grid.children
    tap(cards[-1])
    assert app.sm.current == "workshop"


def test_the_week_shows_day_time_place_and_seats_in_words(app, centre):
    session(centre, capacity=3)
    tap(app.screen("home").ids.workshops)
    shown = screen_text(app)
    assert "Café des parents" in shown
    assert "jeudi 3 décembre, 14 h – 16 h" in shown
    assert "Salle bleue" in shown
    assert "Encore 3 places libres" in shown


def test_sign_up_by_card_books_a_place(app, centre, mono):
    aicha = member(centre)
    s = session(centre)
    open_first_card(app)
    tap(app.screen("workshop").ids.signup)
    assert app.sm.current == "checkin"
    assert app.screen("checkin").anonymous_allowed is False  # a sign-up needs a name
    scan(mono, aicha["card_code"])
    rows = centre.store.query("SELECT member_id, status FROM registrations WHERE session_id = ?", (s["id"],))
    assert rows == [{"member_id": aicha["id"], "status": "booked"}]
    assert app.sm.current == "confirmation"
    assert "Nous gardons une place pour vous." in screen_text(app)


def test_a_full_session_puts_the_member_on_the_waitlist_with_a_position(app, centre):
    s = session(centre, capacity=1)
    first = member(centre, "Bernard", "Martin")
    centre.workshops.register(s["id"], first["id"])
    aicha = member(centre)
    open_first_card(app)
    assert "Complet : liste d'attente" in screen_text(app)
    tap(app.screen("workshop").ids.signup)
    type_text(app, "aich")
    tap(app.screen("checkin").ids.results.children[0])
    status = centre.store.one("SELECT status FROM registrations WHERE member_id = ?", (aicha["id"],))
    assert status == {"status": "waitlisted"}
    assert "Vous êtes numéro 1 sur la liste d'attente." in screen_text(app)


def test_cancel_ones_own_registration(app, centre, mono):
    s = session(centre)
    aicha = member(centre)
    centre.workshops.register(s["id"], aicha["id"])
    open_first_card(app)
    tap(app.screen("workshop").ids.cancel)
    scan(mono, aicha["card_code"])
    status = centre.store.one("SELECT status FROM registrations WHERE member_id = ?", (aicha["id"],))
    assert status == {"status": "cancelled"}
    assert "Nous avons annulé votre inscription." in screen_text(app)


def test_cancelling_without_a_registration_is_explained(app, centre, mono):
    session(centre)
    aicha = member(centre)
    open_first_card(app)
    tap(app.screen("workshop").ids.cancel)
    scan(mono, aicha["card_code"])
    assert "n'est pas inscrite" in screen_text(app)
    assert centre.store.query("SELECT * FROM registrations") == []


def test_more_than_four_sessions_page_with_buttons(app, centre):
    for i in range(5):
        session(centre, title=f"Atelier {i}")
    tap(app.screen("home").ids.workshops)
    screen = app.screen("workshops")
    cards = lambda: [c for c in screen.ids.grid.children if isinstance(c, WorkshopCard)]  # noqa: E731
    assert len(cards()) == 4  # four a page on the 1280x800 design window
    tap(screen.ids.next)
    assert len(cards()) == 1
    assert "Page 2 sur 2" in screen_text(app)
