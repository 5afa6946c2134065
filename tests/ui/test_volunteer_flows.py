"""Volunteer mode, driven by taps: check-in on someone's behalf, the roll
call, a new member registered by the volunteer, a lost card replaced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kivyhelp import scan, screen_text, tap, type_text
from modehelp import VOLUNTEER_PIN, add_people, keys_in, register, sign_in, wait_for

from kiosk.core.errors import DomainError


@pytest.fixture
def volunteer(app):
    person, _staff = add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    return person


def tiles(app):
    return app.screen("volunteer").ids.tiles.ids


def test_a_check_in_on_someones_behalf_is_recorded_as_the_volunteers(app, volunteer):
    member = register(app.centre)
    tap(tiles(app).checkin)
    assert app.sm.current == "checkin"
    type_text(app, "aic")
    tap(app.screen("checkin").ids.results.children[0])
    tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "demarches")
    tap(tile)
    tap(next(t for t in app.screen("reason").ids.grid.children if t.text == "La CAF"))  # which body
    visits = app.centre.store.query("SELECT member_id, reason, recorded_by_role, recorded_by FROM visits")
    assert visits == [
        {
            "member_id": member["id"],
            "reason": "demarches",
            "recorded_by_role": "volunteer",
            "recorded_by": volunteer["id"],
        }
    ]
    line = app.centre.staff.audit_log(limit=1)[0]
    assert (line["action"], line["actor_name"]) == ("visit.check_in", "Martine Dupuis")
    wait_for(lambda: app.sm.current == "volunteer")  # back to the volunteer's menu, still signed in
    assert app.pin_mode


def test_an_anonymous_check_in_and_a_scanned_card(app, volunteer, mono):
    member = register(app.centre)
    tap(tiles(app).checkin)
    tap(app.screen("checkin").ids.anonymous)
    tap(next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil"))
    wait_for(lambda: app.sm.current == "volunteer")
    tap(tiles(app).checkin)
    scan(mono, member["card_code"])
    assert app.sm.current == "reason"
    tap(next(t for t in app.screen("reason").ids.grid.children if t.reason == "atelier"))
    rows = app.centre.store.query("SELECT member_id, recorded_by_role FROM visits ORDER BY occurred_at, id")
    assert sorted(r["member_id"] or "" for r in rows) == sorted(["", member["id"]])
    assert {r["recorded_by_role"] for r in rows} == {"volunteer"}


def today_session(centre, capacity=2):
    workshop = centre.workshops.create_workshop("Atelier numérique", "numerique", place="Salle 2")
    # 9:30-11:00 in Paris today (the test clock says 9:00)
    return centre.workshops.add_session(
        workshop["id"],
        datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        capacity,
    )


def open_roll_call(app):
    tap(tiles(app).sessions)
    assert app.sm.current == "sessions_today"
    assert "Atelier numérique" in screen_text(app)
    tap(app.screen("sessions_today").ids.rows.children[-1])
    assert app.sm.current == "roll_call"
    return app.screen("roll_call")


def row_of(screen, name):
    return next(r for r in screen.ids.rows.children if r.name.startswith(name))


def test_the_roll_call_stores_present_absent_and_walk_ins(app, volunteer):
    session = today_session(app.centre)
    aicha, bernard = register(app.centre), register(app.centre, "Bernard", "Martin")
    chloe = register(app.centre, "Chloé", "Petit")
    for member in (aicha, bernard, chloe):
        app.centre.workshops.register(session["id"], member["id"])
    screen = open_roll_call(app)
    assert "1. Chloé Petit" in screen_text(app)  # the waitlist
    tap(row_of(screen, "Aïcha").ids.present_button)
    tap(row_of(screen, "Bernard").ids.absent_button)
    tap(screen.ids.walk_in)
    keys_in(screen.popup, "ch")
    tap(screen.popup.ids.picker.ids.results.children[-1])
    tap(screen.ids.walk_in)
    tap(screen.popup.ids.anonymous)
    stored = app.centre.store.query(
        "SELECT member_id, present, walk_in, marked_by FROM attendance ORDER BY marked_at, rowid"
    )
    assert [(r["member_id"], r["present"], r["walk_in"]) for r in stored] == [
        (aicha["id"], 1, 0),
        (bernard["id"], 0, 0),
        (chloe["id"], 1, 1),
        (None, 1, 1),
    ]
    assert {r["marked_by"] for r in stored} == {volunteer["id"]}
    assert row_of(screen, "Aïcha").present is True
    assert row_of(screen, "Bernard").present is False


def test_a_card_scanned_at_the_roll_call_marks_the_person_present(app, volunteer, mono):
    session = today_session(app.centre)
    aicha = register(app.centre)
    app.centre.workshops.register(session["id"], aicha["id"])
    screen = open_roll_call(app)
    scan(mono, aicha["card_code"])
    assert app.sm.current == "roll_call"
    assert row_of(screen, "Aïcha").present is True


def test_a_roll_call_too_early_says_when_it_opens(app, volunteer, clock):
    today_session(app.centre)
    aicha = register(app.centre)
    clock.advance(hours=-3)  # 6:00: the roll call opens at 8:30
    session_id = app.centre.workshops.sessions_between(
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    )[0]["id"]
    app.centre.workshops.register(session_id, aicha["id"])
    screen = open_roll_call(app)
    tap(row_of(screen, "Aïcha").ids.present_button)
    assert "L'appel s'ouvre une heure avant la séance." in screen_text(app)
    assert app.centre.store.query("SELECT * FROM attendance") == []


def test_a_volunteer_registers_a_new_member_with_their_consent(app, volunteer):
    tap(tiles(app).new_member)
    assert app.sm.current == "first_visit"
    form = app.screen("first_visit")
    type_text(app, "fatou")
    tap(form.ids.next)
    type_text(app, "diallo")
    tap(form.ids.next)
    tap(next(t for t in form.ids.choices.children if t.text == "De 1970 à 1979"))
    tap(next(t for t in form.ids.choices.children if t.text == "1975"))
    tap(next(t for t in form.ids.choices.children if t.text == "Outreau"))
    tap(form.ids.next)
    tap(form.ids.next)
    if app.sm.current != "consent":
        tap(form.ids.next)
    assert app.sm.current == "consent"
    tap(app.screen("consent").ids.yes)
    member = app.centre.store.one("SELECT id, first_name, consent_data FROM members")
    assert (member["first_name"], member["consent_data"]) == ("Fatou", 1)
    line = app.centre.staff.audit_log(limit=1)[0]
    assert (line["action"], line["detail"]["member_id"], line["actor_name"]) == (
        "member.register",
        member["id"],
        "Martine Dupuis",
    )
    assert app.sm.current == "card"


def find_card(app, letters):
    tap(tiles(app).member_card)
    screen = app.screen("member_card")
    keys_in(screen, letters)
    tap(screen.ids.picker.ids.results.children[-1])
    return screen


def test_a_lost_card_is_replaced_and_the_old_code_refused(app, volunteer):
    member = register(app.centre)
    screen = find_card(app, "ben")
    assert screen.member["id"] == member["id"]
    assert "Aïcha Benali" in screen_text(app)
    tap(screen.ids.replace)
    tap(screen.popup.ids.yes)
    new = app.centre.members.get(member["id"])
    assert new["card_code"] != member["card_code"]
    assert screen.member["card_code"] == new["card_code"]
    with pytest.raises(DomainError):
        app.centre.members.by_card(member["card_code"])
    assert app.centre.members.by_card(new["card_code"])["id"] == member["id"]
    assert app.centre.staff.audit_log(limit=1)[0]["action"] == "member.replace_card"
    assert "Nouvelle carte" in screen_text(app)
    assert app.screen("member_card") is screen and app.sm.current == "member_card"  # still its own name


def test_a_card_is_printed_as_a_pdf_in_the_output_folder(app, volunteer, tmp_path):
    from pypdf import PdfReader

    app.centre.settings.set("backup_dir", str(tmp_path))
    register(app.centre)
    screen = find_card(app, "aic")
    tap(screen.ids.print)
    pdfs = list(tmp_path.glob("carte-*.pdf"))
    assert len(pdfs) == 1
    assert "Aïcha" in PdfReader(pdfs[0]).pages[0].extract_text()


def test_a_card_is_printed_on_a_receipt_printer_over_the_network(app, volunteer):
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def printer() -> None:
        conn, _addr = server.accept()
        with conn:
            while chunk := conn.recv(4096):
                received.extend(chunk)

    thread = threading.Thread(target=printer, daemon=True)
    thread.start()
    app.centre.settings.set("printer", f"tcp://127.0.0.1:{server.getsockname()[1]}")
    member = register(app.centre)
    screen = find_card(app, "aic")
    tap(screen.ids.print)
    wait_for(lambda: screen.status == "La carte est imprimée.", 10)
    thread.join(5)
    server.close()
    assert received.startswith(b"\x1b@")  # ESC/POS initialise
    assert member["card_code"].encode() in bytes(received)


def test_a_printer_that_does_not_answer_is_named(app, volunteer):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.centre.settings.set("printer", f"tcp://127.0.0.1:{port}")
    register(app.centre)
    screen = find_card(app, "aic")
    tap(screen.ids.print)
    wait_for(lambda: "ne répond pas" in screen.status, 10)
    assert f"tcp://127.0.0.1:{port}" in screen.status
