"""Every screen, at every display size centres buy, in French, English and
Arabic, with the worst real content: nothing cut, nothing spilling, no
targets overlapping, nothing off the window, nothing under the physical
minimums of kiosk.ui.theme at that display's density (layoutcheck.py).

One app and one window serve every case: the window is resized between them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from kivy.core.window import Window
from kivyhelp import settle
from layoutcheck import problems

from kiosk.core.centre import Centre
from kiosk.ui import offscreen
from kiosk.ui.i18n import _
from kiosk.ui.mode import STAFF_SCREENS, VOLUNTEER_SCREENS
from kiosk.ui.sizes import sizes

pytestmark = pytest.mark.ui

#: (width, height, dpi): the displays of docs/ui.md, each at the highest
#: density its size comes in (the hardest for the physical minimums)
DISPLAYS = [
    (800, 480, 133),
    (1024, 600, 170),
    (1280, 720, 210),
    (720, 1280, 210),
    (1280, 800, 150),
    (1920, 1080, 150),
    (1080, 1920, 100),
]
LANGUAGES = ["fr", "en", "ar"]

CENTRE_NAME = (
    "Centre social et culturel intercommunal de l'Accompagnement administratif "
    "des familles du Boulonnais, Chemin Vert"
)[:120].ljust(120, ".")
LONG_TITLE = (
    "Accompagnement administratif et numérique : comprendre ses courriers de la CAF, "
    "de la CPAM et des impôts, remplir ses déclarations en ligne, créer et retrouver "
    "ses identifiants, imprimer ses attestations"
)[:200]
LONG_PLACE = "Salle polyvalente Marie-Thérèse Vandenbussche, bâtiment B, rez-de-chaussée"
DESCRIPTION = (
    "Un atelier pour apprendre pas à pas, avec une animatrice et des bénévoles. "
    "Venez avec vos papiers et, si vous en avez un, votre téléphone. "
) * 3


def worst_centre(path, clock) -> Centre:
    centre = Centre.open(path, clock=clock)
    settings = centre.settings
    settings.set("centre_name", CENTRE_NAME)
    settings.set(
        "reasons",
        settings.get("reasons")
        + [{"code": "administratif", "label": "Accompagnement administratif", "icon": "support_agent"}],
    )
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    for day in range(5):
        workshop = centre.workshops.create_workshop(
            f"{LONG_TITLE[:190]} {day}",
            "numerique",
            description=DESCRIPTION,
            place=LONG_PLACE,
            facilitator="Marie-Thérèse Vandenbussche",
        )
        at = start + timedelta(days=day)
        centre.workshops.add_session(workshop["id"], at, at + timedelta(hours=2), 12)
    for first, last in (
        ("Marie-Thérèse", "Vandenbussche"),
        ("Marie-Françoise", "Wiśniewski"),
        ("Marianne", "Ait Ouali-Benmansour"),
    ):
        centre.members.register(first, last, 1975, commune="Boulogne-sur-Mer", consent_data=True)
    centre.staff.add("Marie-Thérèse Vandenbussche-Delattre", "staff", "1357")
    return centre


# ---------------------------------------------------------------- the screens, filled


def _session(app) -> str:
    return app.centre.workshops.week_sessions()[0]["id"]


def _member(app) -> dict:
    return app.centre.members.search("Marie", limit=1)[0]


def fill_checkin(app) -> None:
    app.flow = {"purpose": "checkin"}
    app.go("checkin")
    screen = app.screen("checkin")
    screen.query = "MARI"
    screen.search()


def fill_confirmation(app) -> None:
    app.go("confirmation")
    app.screen("confirmation").show(
        "check_circle",
        lambda: _("Bienvenue, %(name)s !", name="Marie-Thérèse"),
        lambda: _("Votre passage est bien noté."),
    )


def fill_workshop(app) -> None:
    app.screen("workshop").session_id = _session(app)
    app.go("workshop")


def fill_first_visit(step: int):
    def fill(app) -> None:
        screen = app.screen("first_visit")
        screen.reset()
        screen.values = {
            "first_name": "Marie-Thérèse",
            "last_name": "Vandenbussche-Wiśniewski",
            "commune": "Boulogne-sur-Mer",
        }
        screen.step = step
        app.go("first_visit")
        screen.refresh()

    return fill


def fill_card(app) -> None:
    app.screen("card").member = {
        "id": "x",
        "first_name": "Marie-Thérèse",
        "last_name": "Vandenbussche",
        "card_code": "K7QM3XPD",
    }
    app.go("card")


def fill_roll_call(app) -> None:
    app.screen("roll_call").session_id = _session(app)
    app.go("roll_call")


def fill_member_card(app) -> None:
    app.go("member_card")
    app.screen("member_card").show(_member(app))


def fill_privacy_person(app) -> None:
    app.go("staff_privacy")
    app.screen("staff_privacy").show(_member(app))


def plain(name: str):
    return lambda app: app.go(name)


def fill_reason_body(app) -> None:
    """The reason screen asking which body « Aide pour un papier » is for."""
    app.go("reason")
    screen = app.screen("reason")
    screen.choose(next(t for t in screen.ids.grid.children if t.reason == "demarches"))


RESIDENT_STATES = {
    "home": plain("home"),
    "checkin": fill_checkin,
    "reason": plain("reason"),
    "reason_body": fill_reason_body,
    "confirmation": fill_confirmation,
    "workshops": plain("workshops"),
    "workshop": fill_workshop,
    "first_visit": fill_first_visit(0),
    "first_visit_commune": fill_first_visit(4),
    "first_visit_year": fill_first_visit(2),
    "first_visit_age_band": fill_first_visit(3),
    "first_visit_digits": fill_first_visit(6),
    "consent": plain("consent"),
    "card": fill_card,
    "pin": plain("pin"),
}
MODE_STATES = {name: plain(name) for name in sorted(STAFF_SCREENS | VOLUNTEER_SCREENS)}
MODE_STATES.update(
    roll_call=fill_roll_call,
    member_card=fill_member_card,
    member_card_picker=plain("member_card"),
    staff_privacy_person=fill_privacy_person,
)


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    from kiosk.app import KioskApp

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday morning
    centre = worst_centre(tmp_path_factory.mktemp("layout") / "kiosk.db", lambda: now)
    # a still idle clock: no idle reset in the middle of a look
    app = KioskApp(centre, kiosk_mode=False, monotonic=lambda: 1000.0, confirm_s=3600)
    offscreen.start(app)
    yield app
    Window.size = offscreen.SIZE
    sizes.follow(Window, 96)
    offscreen.stop(app)
    _.switch("fr")


def show(app, width: int, height: int, dpi: float, lang: str) -> None:
    Window.size = (width, height)
    sizes.follow(Window, dpi)
    if app.lang != lang:
        app.set_language(lang)


def look(app, state: str, fill, dpi: float, resident: bool) -> list[str]:
    try:
        fill(app)
    except Exception as error:  # noqa: BLE001  (named in the failure, the other screens still looked at)
        return [f"{state}: could not be shown: {error!r}"]
    settle(app.sm.current_screen)
    offscreen.frames(3)  # lists filled on entry, and fitted text, lay out over a few frames
    settle(app.sm.current_screen)
    return [f"{state}: {problem}" for problem in problems(app.root, dpi, resident)]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width, height, dpi", DISPLAYS, ids=[f"{w}x{h}" for w, h, _d in DISPLAYS])
def test_every_screen_fits_the_display(kiosk, width, height, dpi, lang):
    app = kiosk
    app.mode.end()
    show(app, width, height, dpi, lang)
    found = []
    for state, fill in RESIDENT_STATES.items():
        found += look(app, state, fill, dpi, resident=True)
    # a name short enough to stand beside the buttons: the header's one-row
    # form, with « Écouter » shown where a speech engine exists (not on the PIN screen)
    app.centre_name, speaker = "Centre social du Chemin Vert (démo)", app.speaker
    app.speaker = SimpleNamespace(available=True, say=lambda *_a: None, stop=lambda: None, close=lambda: None)
    app.root.ids.listen.update()
    try:
        for state in ("checkin", "pin", "home"):  # « Écouter » shown, hidden, shown again
            found += look(app, f"{state} (short name)", RESIDENT_STATES[state], dpi, resident=True)
    finally:
        app.centre_name, app.speaker = CENTRE_NAME, speaker
        app.root.ids.listen.update()
    app.mode.start({"id": "sample", "name": "Marie-Thérèse Vandenbussche-Delattre", "role": "staff"})
    for state, fill in MODE_STATES.items():
        found += look(app, state, fill, dpi, resident=False)
    app.mode.end()
    assert not found, f"{len(found)} layout problems at {width}x{height}, {dpi} dpi, {lang}:\n" + "\n".join(
        found
    )
