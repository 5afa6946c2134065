"""Volunteers' time, driven by taps: « Je commence » / « Je termine » on the
volunteer's menu, a forgotten « Je termine » found in staff's « À vérifier »
and corrected or confirmed there, hours entered afterwards by staff, and a
bad entry refused in French with nothing stored."""

from __future__ import annotations

from kivyhelp import screen_text, tap
from modehelp import STAFF_PIN, VOLUNTEER_PIN, add_people, sign_in

from tests.dbstate import events


def press(widget) -> None:
    """Scroll the form to ``widget`` (the window may be short), then tap it."""
    from kivy.uix.scrollview import ScrollView

    holder = widget.parent
    while holder is not None and not isinstance(holder, ScrollView):
        holder = holder.parent
    if holder is not None:
        holder.scroll_to(widget, animate=False)
    tap(widget)


def stretches(app) -> list[dict]:
    return app.centre.store.query(
        "SELECT kind, day, minutes, to_review, removed_at FROM volunteer_stretches ORDER BY created_at"
    )


def presence(app):
    """The part of the volunteer's menu about their own time."""
    (part,) = app.screen("volunteer").ids.presence.children
    return part


def test_a_volunteer_starts_and_ends_their_time_with_two_taps(app, clock):
    add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    tap(presence(app).ids.governance)
    assert [(s["kind"], s["minutes"]) for s in stretches(app)] == [("governance", None)]
    assert "vous avez commencé à 09:00" in screen_text(app)
    assert "Commencé à 09:00 : Gouvernance : CA, commissions" in screen_text(app)
    clock.advance(hours=2, minutes=15)
    tap(presence(app).ids.finish)
    assert [(s["kind"], s["minutes"]) for s in stretches(app)] == [("governance", 135)]
    assert "Merci ! 2 h 15 de bénévolat." in screen_text(app)
    assert "governance" == events(app.centre.store, "volunteering.recorded")[0]["data"]["kind"]
    assert "activity" in presence(app).ids  # ready to start again


def test_staff_see_no_je_commence_on_their_menu(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    assert app.sm.current == "staff_home"
    assert "Je commence" not in screen_text(app)


def forgotten(app, clock):
    """Martine starts at 9:00 and forgets « Je termine »; staff sign in the next day."""
    volunteer, _staff = add_people(app.centre)
    app.centre.volunteering.start(volunteer, "activity")
    clock.advance(days=1)
    sign_in(app, STAFF_PIN)
    assert app.sm.current == "staff_home"


def test_a_forgotten_je_termine_is_corrected_from_a_verifier(app, clock):
    forgotten(app, clock)
    home = app.screen("staff_home")
    assert home.review_count == 1 and "À vérifier (1)" in screen_text(app)
    tap(home.ids.review)
    assert app.sm.current == "staff_review"
    assert "Martine Dupuis : Activités, de 09:00 à 19:00. « Je termine » oublié ?" in screen_text(app)
    (row,) = [w for w in app.screen("staff_review").ids.entries.children if "correct" in w.ids]
    tap(row.ids.correct)
    assert app.sm.current == "staff_volunteering"
    hours = app.screen("staff_volunteering")
    assert hours.chosen and (hours.ids.start.text, hours.ids.end.text) == ("09:00", "19:00")
    hours.ids.end.text = "12:30"
    press(hours.ids.save)
    assert [(s["minutes"], s["to_review"]) for s in stretches(app)] == [(210, 0)]
    assert "Correction enregistrée" in hours.result
    assert [e["data"]["auto_closed"] for e in events(app.centre.store, "volunteering.recorded")] == [
        True,
        False,
    ]
    app.go("staff_review")
    assert "Rien à vérifier." in screen_text(app)


def test_a_forgotten_je_termine_is_confirmed_with_one_tap(app, clock):
    forgotten(app, clock)
    tap(app.screen("staff_home").ids.review)
    (row,) = [w for w in app.screen("staff_review").ids.entries.children if "confirm" in w.ids]
    tap(row.ids.confirm)
    assert [(s["minutes"], s["to_review"]) for s in stretches(app)] == [(600, 0)]
    assert "Rien à vérifier." in screen_text(app)


def open_hours(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids.volunteering)
    assert app.sm.current == "staff_volunteering"
    return app.screen("staff_volunteering")


def test_staff_enter_a_board_meeting_afterwards(app):
    hours = open_hours(app)
    (martine,) = [w for w in hours.ids.volunteers.children if getattr(w, "person", {}).get("name")]
    press(martine)
    press(hours.ids.governance)
    hours.ids.day.text = "27/11/2026"
    hours.ids.duration.text = "2h30"
    press(hours.ids.save)
    assert [(s["kind"], s["day"], s["minutes"]) for s in stretches(app)] == [
        ("governance", "2026-11-27", 150)
    ]
    assert "27/11/2026 · Martine Dupuis · Gouvernance : CA, commissions · 2 h 30" in screen_text(app)


def test_a_bad_entry_is_refused_in_french_and_nothing_is_stored(app):
    hours = open_hours(app)
    press(hours.ids.save)  # no volunteer chosen
    assert hours.result == "Choisissez un bénévole dans la liste."
    (martine,) = [w for w in hours.ids.volunteers.children if getattr(w, "person", {}).get("name")]
    press(martine)
    hours.ids.day.text = "30/11/2026"
    hours.ids.start.text, hours.ids.end.text = "14:00", "13:00"
    press(hours.ids.save)
    assert hours.result == "L'heure de fin doit venir après l'heure de début."
    hours.ids.start.text = hours.ids.end.text = ""
    hours.ids.duration.text = "30h"
    press(hours.ids.save)
    assert hours.result == "La durée doit aller de 1 minute à 24 heures."
    assert stretches(app) == [] and events(app.centre.store, "volunteering.recorded") == []
