"""« Ateliers de la fédération », driven by taps and checked in the database:
a sheet the federation published becomes one of the centre's workshops in
two taps, its first session is scheduled from the workshops screen as
usual, and one of the centre's own workshops is offered to the others."""

from __future__ import annotations

import json

import pytest
from kivyhelp import screen_text, tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.core import federation_feed
from sync import publications as wire

SHEET = "0190a5d0-ac96-774b-bcce-b302099a8001"
BODY = {
    "title": "Réparer son vélo",
    "theme": "pouvoir_d_agir",
    "pictogram": "directions_bus",
    "description": "On apprend à réparer son vélo ensemble.",
    "duration_minutes": 120,
    "capacity": 8,
    "bring": "Votre vélo",
    "animator_needs": "Une caisse à outils",
    "offered_by": "Centre social du Portel",
}


@pytest.fixture
def staff(app):
    _volunteer, person = add_people(app.centre)
    at = "2026-11-30T10:00:00.000Z"
    item = {"kind": "sheet", "key": SHEET, "seq": 1, "updated_at": at, "withdrawn": False, "body": BODY}
    page = wire.Page("00" * 32, 1, False, at, [item])
    federation_feed.apply(app.centre.store, page)
    sign_in(app, STAFF_PIN)
    return person


def outbox(app, kind: str) -> list[dict]:
    rows = app.centre.store.conn.execute("SELECT body FROM outbox WHERE type = ? ORDER BY seq", (kind,))
    return [json.loads(body)["data"] for (body,) in rows]


def test_a_federation_sheet_is_adopted_in_two_taps_then_scheduled(app, staff):
    tap(app.screen("staff_home").ids.federation_sheets)
    assert app.sm.current == "staff_sheets"
    screen = app.screen("staff_sheets")
    assert "Réparer son vélo" in screen_text(app)
    tap(screen.ids.sheets.children[-1])  # one: the sheet, read whole
    shown = screen_text(app)
    assert "À apporter : Votre vélo" in shown and "Proposé par : Centre social du Portel" in shown
    tap(screen.ids.adopt)  # two: it is the centre's
    [workshop] = app.centre.store.query("SELECT id, title, theme FROM workshops")
    assert (workshop["title"], workshop["theme"]) == ("Réparer son vélo", "pouvoir_d_agir")
    assert outbox(app, "workshop.created")[-1]["sheet"] == SHEET
    assert "Ajouté à vos ateliers" in screen_text(app)
    assert screen.ids.adopt.disabled  # once only
    # then as usual: a session of that workshop, from the workshops screen
    tap(screen.ids.schedule)
    assert app.sm.current == "staff_workshops"
    form = app.screen("staff_workshops")
    assert (form.ids.title.text, form.ids.capacity.text) == ("Réparer son vélo", "8")
    form.ids.day.text, form.ids.start.text, form.ids.end.text = "03/12/2026", "14:00", "16:00"
    tap(form.ids.save)
    sessions = app.centre.store.query("SELECT workshop_id, capacity FROM sessions")
    assert sessions == [{"workshop_id": workshop["id"], "capacity": 8}]
    assert len(app.centre.store.query("SELECT id FROM workshops")) == 1  # no second workshop


def test_a_centres_workshop_is_offered_to_the_others_once(app, staff):
    tap(app.screen("staff_home").ids.workshops)
    form = app.screen("staff_workshops")
    assert form.ids.offer.disabled  # a workshop to offer is chosen first
    values = dict(title="Jardin partagé", facilitator="Karim", day="03/12/2026", start="14:00", end="15:30")
    for name, value in dict(values, capacity="10").items():
        form.ids[name].text = value
    tap(form.ids.save)
    form.edit(app.centre.workshops.sessions_between("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")[0])
    tap(form.ids.offer)
    [offer] = outbox(app, "sheet.offered")
    assert (offer["title"], offer["duration_minutes"], offer["capacity"]) == ("Jardin partagé", 90, 10)
    assert "Karim" not in json.dumps(offer)
    assert "Proposé aux autres centres" in screen_text(app)
    tap(form.ids.offer)
    assert len(outbox(app, "sheet.offered")) == 1
    assert "déjà été proposé" in screen_text(app)
