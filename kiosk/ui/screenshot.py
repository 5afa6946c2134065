"""``kiosk screenshot``: one screen, drawn offscreen into a PNG.

Screens that show a person or a session are filled from the database the way
a resident would reach them: the first workshop of the week, a sample member
for the card and the confirmation. Nothing is written to the database.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.ui import SCREENS, offscreen

SAMPLE_MEMBER = {"id": "sample", "first_name": "Aïcha", "last_name": "Benali", "card_code": "K7QM3XPD"}


def render(db: str | Path, out: str | Path, screen: str = "home", lang: str = "fr") -> Path:
    from kiosk.app import KioskApp
    from kiosk.core.centre import Centre

    names = [name for name, _target in SCREENS]
    if screen not in names:
        raise SystemExit(f"unknown screen {screen!r}: choose from {', '.join(names)}")
    app = KioskApp(Centre.open(db), kiosk_mode=False)
    offscreen.start(app)
    try:
        app.set_language(lang)
        _fill(app, screen)
        return offscreen.screenshot(out)
    finally:
        offscreen.stop(app)


def _fill(app, screen: str) -> None:
    from kiosk.ui.i18n import _

    if screen in ("workshop",):
        sessions = app.centre.workshops.week_sessions()
        if sessions:
            app.screen("workshop").session_id = sessions[0]["id"]
    if screen == "confirmation":
        app.screen("confirmation").show("check_circle", _("Bienvenue, %(name)s !", name="Aïcha"),
                                        _("Votre passage est bien noté."))
    if screen == "card":
        app.screen("card").member = SAMPLE_MEMBER
    if screen == "checkin":
        app.flow = {"purpose": "checkin"}
    _sign_in_for(app, screen)
    app.go(screen)
    offscreen.frames(2)


def _sign_in_for(app, screen: str) -> None:
    """The volunteer and staff screens are drawn with a sample person signed
    in (nothing is written: the mode only holds who it is)."""
    from kiosk.ui.mode import STAFF_SCREENS, VOLUNTEER_SCREENS

    if screen in STAFF_SCREENS or screen in VOLUNTEER_SCREENS:
        role = "staff" if screen in STAFF_SCREENS else "volunteer"
        app.mode.start({"id": "sample", "name": "Martine Dupuis", "role": role})
