"""``kiosk screenshot``: screens drawn offscreen into PNGs, at any window
size and display density.

Screens that show a person or a session are filled from the database the way
a resident would reach them: the first workshop of the week, a sample member
for the card and the confirmation. Nothing is written to the database.

``render`` draws one screen; ``render_many`` draws every (screen, size,
language) asked for with one app and one window, resized between shots.
"""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.ui import SCREENS, offscreen

SAMPLE_MEMBER = {"id": "sample", "first_name": "Aïcha", "last_name": "Benali", "card_code": "K7QM3XPD"}
DEFAULT_SIZE = offscreen.SIZE


def parse_size(text: str) -> tuple[int, int]:
    """ "1280x800" -> (1280, 800); a clear error for anything else."""
    match = re.fullmatch(r"\s*(\d{3,4})\s*[xX×]\s*(\d{3,4})\s*", text or "")
    if not match:
        raise SystemExit(f"bad size {text!r}: write it WIDTHxHEIGHT, e.g. 1280x800")
    width, height = int(match[1]), int(match[2])
    if not (320 <= width <= 7680 and 320 <= height <= 7680):
        raise SystemExit(f"bad size {text!r}: each side from 320 to 7680 pixels")
    return width, height


def screen_names() -> list[str]:
    return [name for name, _target in SCREENS]


def render(
    db: str | Path,
    out: str | Path,
    screen: str = "home",
    lang: str = "fr",
    size: tuple[int, int] = DEFAULT_SIZE,
    dpi: float | None = None,
) -> Path:
    return render_many(db, [(screen, size, lang, Path(out))], dpi=dpi)[0]


def render_many(
    db: str | Path, shots: list[tuple[str, tuple[int, int], str, Path]], dpi: float | None = None
) -> list[Path]:
    """Each (screen, (width, height), lang, out) into its PNG, in order."""
    from kivy.core.window import Window

    from kiosk.app import KioskApp
    from kiosk.core.centre import Centre
    from kiosk.ui.sizes import sizes
    from kiosk.ui.speech import Speaker

    names = screen_names()
    for screen, _size, _lang, _out in shots:
        if screen not in names:
            raise SystemExit(f"unknown screen {screen!r}: choose from {', '.join(names)}")
    # « Écouter » shows where espeak-ng is installed, as on the kiosk (nothing is spoken)
    app = KioskApp(Centre.open(db), kiosk_mode=False, dpi=dpi, speaker=Speaker("espeak-ng"))
    offscreen.start(app)
    written = []
    try:
        for screen, size, lang, out in shots:
            if tuple(Window.size) != tuple(size):
                Window.size = size
            sizes.apply(*size)
            app.mode.end()
            app.reset_to_home()
            if app.lang != lang:
                app.set_language(lang)
            _fill(app, screen)
            written.append(offscreen.screenshot(out))
        return written
    finally:
        offscreen.stop(app)


def _fill(app, screen: str) -> None:
    from kiosk.ui.i18n import _

    if screen in ("workshop",):
        sessions = app.centre.workshops.week_sessions()
        if sessions:
            app.screen("workshop").session_id = sessions[0]["id"]
    if screen == "confirmation":
        app.screen("confirmation").show(
            "check_circle", _("Bienvenue, %(name)s !", name="Aïcha"), _("C'est noté. Bonne journée !")
        )
    if screen == "card":
        app.screen("card").member = SAMPLE_MEMBER
    if screen == "member_situation":
        app.screen("member_situation").start(SAMPLE_MEMBER, then="member_card")
    if screen == "checkin":
        app.flow = {"purpose": "checkin"}
    if screen == "elsewhere_ask":
        from kiosk.core import agenda

        shown = [entry for entry in agenda.week(app.centre.store) if not entry["asked"]]
        if shown:
            app.screen("elsewhere_ask").start(shown[0])
    _sign_in_for(app, screen)
    app.go(screen)
    offscreen.frames(6)  # lists filled on entry and fitted text settle over a few frames


def _sign_in_for(app, screen: str) -> None:
    """The volunteer and staff screens are drawn with a sample person signed
    in (nothing is written: the mode only holds who it is)."""
    from kiosk.ui.mode import STAFF_SCREENS, VOLUNTEER_SCREENS

    if screen in STAFF_SCREENS or screen in VOLUNTEER_SCREENS:
        role = "staff" if screen in STAFF_SCREENS else "volunteer"
        # someone of the database when there is one (a volunteer's own time shows)
        found = [p for p in app.centre.staff.list() if p["role"] == role and p["active"]]
        person = found[0] if found else {"id": "sample", "name": "Martine Dupuis", "role": role}
        app.mode.start({key: person[key] for key in ("id", "name", "role")})
