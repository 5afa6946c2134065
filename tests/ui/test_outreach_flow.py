"""« Hors les murs », driven by taps and checked in the database: staff
switch the device to an event from the staff menu, the staff banner and
the residents' home show its name, a visit recorded then carries it, a
missing name is refused in French with nothing written, and ending the
event brings the device back to the centre."""

from __future__ import annotations

import pytest
from kivyhelp import tap
from modehelp import STAFF_PIN, add_people, sign_in


@pytest.fixture
def staff(app):
    _volunteer, person = add_people(app.centre)
    sign_in(app, STAFF_PIN)
    assert app.sm.current == "staff_home"
    return person


def open_outreach(app):
    tap(app.screen("staff_home").ids.outreach)
    assert app.sm.current == "staff_outreach"
    return app.screen("staff_outreach")


def test_staff_take_the_device_out_and_bring_it_back(app, staff):
    screen = open_outreach(app)
    assert "au centre" in screen.ids.status.text
    screen.ids.name.text = "Fête de quartier"
    screen.ids.place.text = "Square du Chemin Vert"
    screen.ids.where.text = "Chemin Vert (Boulogne-sur-Mer)"
    screen.ids.partner.text = "Habitat du Littoral"
    screen.ids.partner_kind.text = "Un bailleur social"
    tap(screen.ids.start)
    assert screen.result.startswith("Hors les murs"), screen.result
    (event,) = app.centre.store.query("SELECT * FROM outreach_events")
    assert (event["name"], event["neighbourhood"], event["qpv"], event["partner_kind"]) == (
        "Fête de quartier",
        "Chemin Vert",
        1,
        "social_landlord",
    )
    assert "Fête de quartier" in screen.ids.status.text
    assert "Fête de quartier" in app.root.ids.mode_banner.ids.who.text
    app.go("staff_home")  # « Menu »
    assert "Fête de quartier" in app.screen("staff_home").ids.outreach.text
    # the residents' home shows it, and a visit recorded there carries it
    app.mode.end()
    assert app.sm.current == "home"
    assert "Fête de quartier" in app.screen("home").ids.date.text
    visit = app.centre.visits.check_in("accueil")
    assert visit["outreach_id"] == event["id"]
    # back in staff mode: end it
    sign_in(app, STAFF_PIN)
    screen = open_outreach(app)
    tap(screen.ids.end)
    assert app.centre.outreach.active() is None
    assert app.outreach_name == ""
    assert "retour au centre" in screen.result
    assert app.centre.visits.check_in("accueil")["outreach_id"] is None


def test_an_event_without_a_name_is_refused_in_french(app, staff):
    screen = open_outreach(app)
    screen.ids.name.text = "  "
    screen.ids.place.text = "Marché"
    tap(screen.ids.start)
    assert "Écrivez quelques mots" in screen.result
    assert app.centre.store.query("SELECT * FROM outreach_events") == []
