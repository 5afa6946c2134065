"""Between centres, on screen: a resident finds another centre's session in
« Dans les autres centres » and asks for a seat there with their consent;
staff accept a request another centre's resident made for a session here,
and say they told a resident the answer that came back."""

from __future__ import annotations

from datetime import UTC, datetime

from between_centres import OTHER_CENTRE, fill
from kivyhelp import key, screen_text, tap, type_text
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.core import seat_requests
from kiosk.ui.elsewhere import ElsewhereCard

OWN_CENTRE = "01890a5d-ac96-774b-bcce-b30209900002"


def cards(app) -> list[ElsewhereCard]:
    return [c for c in reversed(app.screen("elsewhere").ids.grid.children) if isinstance(c, ElsewhereCard)]


def test_a_resident_asks_for_a_seat_in_another_centre_with_their_consent(app, centre, clock):
    centre.settings.set("centre_id", OWN_CENTRE)
    fill(centre.store, clock())
    tap(app.screen("home").ids.workshops)
    tap(app.screen("workshops").ids.elsewhere)
    assert app.sm.current == "elsewhere"
    shown = screen_text(app)
    assert "Dans les autres centres" in shown and "Mis à jour il y a 2 jours." in shown
    assert "Complet" in shown and "Encore 12 places libres" in shown
    full, *_others = cards(app)
    tap(full)
    assert app.sm.current == "elsewhere"  # a full session is not asked for
    free = next(card for card in cards(app) if card.seats.startswith("Encore"))
    tap(free)
    assert app.sm.current == "elsewhere_ask"
    screen = app.screen("elsewhere_ask")
    type_text(app, "Yasmina")
    tap(screen.ids.next)
    type_text(app, "Belkacemi")
    tap(screen.ids.next)
    for digit in "0671429358":
        key(app, digit)
    tap(screen.ids.next)
    consent = screen_text(app)
    assert "Nous envoyons votre prénom, votre nom et votre téléphone" in consent
    assert OTHER_CENTRE[:40] in consent
    assert centre.store.query("SELECT id FROM seat_requests_out WHERE first_name = 'Yasmina'") == []
    tap(screen.ids.yes)
    assert app.sm.current == "confirmation"
    (asked,) = centre.store.query(
        "SELECT session_id, first_name, last_name, phone, consent_at, sent_at FROM seat_requests_out "
        "WHERE first_name = 'Yasmina'"
    )
    assert (asked["session_id"], asked["last_name"], asked["phone"]) == (
        free.session_id,
        "Belkacemi",
        "+33671429358",
    )
    assert asked["consent_at"] is not None and asked["sent_at"] is None  # the sync sends it


def test_saying_no_sends_nothing(app, centre, clock):
    centre.settings.set("centre_id", OWN_CENTRE)
    fill(centre.store, clock())
    before = len(centre.store.query("SELECT id FROM seat_requests_out"))
    tap(app.screen("home").ids.workshops)
    tap(app.screen("workshops").ids.elsewhere)
    tap(next(card for card in cards(app) if card.seats.startswith("Encore")))
    screen = app.screen("elsewhere_ask")
    for word in ("Yasmina", "Belkacemi"):
        type_text(app, word)
        tap(screen.ids.next)
    for digit in "0671429358":
        key(app, digit)
    tap(screen.ids.next)
    tap(screen.ids.no)
    assert app.sm.current == "elsewhere"
    assert len(centre.store.query("SELECT id FROM seat_requests_out")) == before


def test_staff_accept_a_request_from_another_centre_and_say_they_told_a_resident(app, centre, clock):
    add_people(centre)
    workshop = centre.workshops.create_workshop("Café des parents", "parentalite", place="Salle bleue")
    session = centre.workshops.add_session(
        workshop["id"], datetime(2026, 12, 3, 13, 0, tzinfo=UTC), datetime(2026, 12, 3, 15, 0, tzinfo=UTC), 8
    )
    fill(centre.store, clock())
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids.requests)
    assert app.sm.current == "staff_requests"
    shown = screen_text(app)
    assert "Marie-Françoise Wiśniewski-Ait Ouali (06 11 22 33 44)" in shown and "Café des parents" in shown
    rows = [w for w in app.screen("staff_requests").ids.entries.children if "accept" in w.ids]
    tap(rows[0].ids.accept)
    assert "Inscription faite" in screen_text(app)
    (booked,) = centre.workshops.registrations(session["id"])
    member = centre.members.get(booked["member_id"])
    assert (member["first_name"], member["phone"], member["consent_data"]) == (
        "Marie-Françoise",
        "+33611223344",
        True,
    )
    requests = seat_requests.SeatRequests(centre.store)
    assert requests.incoming() == [] and len(requests.answers_to_send()) == 1
    told = [
        w for w in app.screen("staff_requests").ids.entries.children if "told" in w.ids and w.ids.told.parent
    ]
    assert len(told) == 1  # the answered one; the one still waiting has no button
    tap(told[0].ids.told)
    assert [row["outcome"] for row in requests.outgoing()] == [None]


def test_a_kiosk_that_never_received_the_agenda_says_so_and_the_way_back_is_on_screen(app):
    from kivy.core.window import Window

    from kiosk.ui import offscreen

    tap(app.screen("home").ids.workshops)
    tap(app.screen("workshops").ids.elsewhere)
    offscreen.frames(3)
    screen = app.screen("elsewhere")
    shown = screen_text(app)
    assert "Pas encore reçu" in shown and "Pas d'atelier dans les autres centres" in shown
    back = screen.ids.back
    x, y = back.to_window(back.x, back.y)
    assert 0 <= x and 0 <= y and x + back.width <= Window.width and y + back.height <= Window.height
    tap(back)
    assert app.sm.current == "workshops"
