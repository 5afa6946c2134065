"""Every screen, at every display size centres buy, in French, English and
Arabic, with the worst real content: nothing cut, nothing spilling, no
targets overlapping, nothing off the window, nothing under the physical
minimums of kiosk.ui.theme at that display's density (layoutcheck.py).

One app and one window serve every case, the window resized between them;
each case has its own copy of the worst centre, so that what one case's looks
change in the data (a household linked, a duplicate added, a volunteer's time
started, a busy week's sessions) never reaches another, whatever the order
the cases run in.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from between_centres import fill as between_centres
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
    manager = centre.staff.add("Marie-Thérèse Vandenbussche-Delattre", "staff", "1357")
    _volunteers_time(centre, manager, clock)
    _residents_voice(centre, manager, clock)
    _federation_sheets(centre)
    between_centres(centre.store, clock())  # the other centres' week, seat requests both ways
    return centre


LONG_SHEET = "0190a5d0-ac96-774b-bcce-b302099a8001"


def _federation_sheets(centre: Centre) -> None:
    """The federation's sheets as a page received: one with every field at
    its longest, offered by the centre with the longest name, and a short one."""
    from kiosk.core import federation_feed
    from sync import publications as wire

    longest = {
        "title": LONG_TITLE,
        "theme": "e_administration",
        "pictogram": "account_balance",
        "description": (DESCRIPTION * 6)[:2000],
        "duration_minutes": 480,
        "capacity": 500,
        "bring": (LONG_PLACE + " ") * 13,
        "animator_needs": (LONG_PLACE + " ") * 13,
        "offered_by": CENTRE_NAME,
    }
    short = dict(longest, title="Café", description="", bring="", animator_needs="", offered_by="")
    items = [
        {
            "kind": "sheet",
            "key": key,
            "seq": seq,
            "updated_at": "2026-11-30T10:00:00.000Z",
            "withdrawn": False,
            "body": wire.check_body("sheet", body),
        }
        for seq, (key, body) in enumerate(((LONG_SHEET, longest), (LONG_SHEET[:-1] + "2", short)), 1)
    ]
    page = wire.Page(
        hub_key="00" * 32, cursor=2, more=False, issued_at="2026-11-30T10:00:00.000Z", items=items
    )
    federation_feed.apply(centre.store, page)


LONG_ANSWER = (
    "Un atelier smartphone et tablette a lieu chaque jeudi de 14 h à 16 h à l'espace numérique, "
    "avec Marie-Thérèse et deux bénévoles : apprendre les visios avec la famille, les photos, "
    "les messages et les applications de la CAF, d'Ameli et des impôts. Inscriptions à l'accueil."
)[:300]
LONG_IDEA = ("Organiser une grande fête des voisins au square Marie-Thérèse Vandenbussche " * 8)[:500]


def _residents_voice(centre: Centre, manager: dict, clock) -> None:
    """An idea realised with the longest answer (the home's line), one with
    the longest words and a contact, and Marie-Thérèse present yesterday at
    a workshop with the longest title (« Comment ça s'est passé ? »)."""
    voice = centre.voice
    done = voice.propose("numerique", LONG_IDEA)
    voice.answer(done["id"], LONG_ANSWER, manager)
    voice.mark_done(done["id"], manager)
    voice.propose("quartier", LONG_IDEA, first_name="Marie-Françoise", phone="0611223344", consent=True)
    now = clock()
    start = now - timedelta(hours=20)
    centre.store.clock = lambda: start - timedelta(days=2)
    try:
        workshop = centre.workshops.create_workshop(LONG_TITLE, "numerique", place=LONG_PLACE)
        session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 12)
        members = [m["id"] for m in centre.store.query("SELECT id FROM members")]
        for member in members:
            centre.workshops.register(session["id"], member)
        centre.store.clock = lambda: start
        for member in members:
            centre.workshops.mark_attendance(session["id"], member, True, actor=manager)
        centre.workshops.add_walk_in(session["id"], None, actor=manager)
    finally:
        centre.store.clock = clock


def _held_session(app) -> dict:
    return app.centre.store.one("SELECT id AS session_id, ends_at FROM sessions ORDER BY starts_at LIMIT 1")


def fill_ideas(step: str, **values):
    def fill(app) -> None:
        app.open_ideas()
        screen = app.screen("ideas")
        screen.values = {"theme": "quartier", "words": LONG_IDEA.upper(), **values}
        screen.step = step
        screen.refresh()

    return fill


def fill_ideas_done(app) -> None:
    app.open_ideas(done=True)


def fill_confirmation_ask(app) -> None:
    asked = {**_held_session(app), "title": LONG_TITLE, "member_id": _member(app)["id"]}
    app.go("confirmation")
    app.screen("confirmation").show(
        "check_circle",
        lambda: _("Bienvenue, %(name)s !", name="Marie-Thérèse"),
        lambda: _("C'est noté."),
        ask=asked,
    )


def fill_feedback(faces: bool):
    def fill(app) -> None:
        screen = app.screen("feedback")
        screen.reset()
        screen.session_id = _held_session(app)["session_id"]
        app.go("feedback")
        if faces:
            screen.pick(_member(app)["id"], "Marie-Françoise W.")

    return fill


def fill_staff_sheet_chosen(app) -> None:
    """The longest sheet, read whole, its « Adopter » and « Programmer » in view."""
    app.go("staff_sheets")
    app.screen("staff_sheets").choose(LONG_SHEET)


def fill_staff_idea_chosen(app) -> None:
    app.go("staff_ideas")
    screen = app.screen("staff_ideas")
    screen.show("all")
    screen.choose(app.centre.voice.ideas("all")[-1]["id"])


VOLUNTEER = "Marie-Françoise Wiśniewski-Ait Ouali"


def _volunteers_time(centre: Centre, manager: dict, clock) -> None:
    """A volunteer with a long name: hours of both kinds, and a « Je termine »
    forgotten yesterday (« À vérifier »)."""
    volunteer = centre.staff.add(VOLUNTEER, "volunteer", "2468")
    time = centre.volunteering
    for back, kind in ((2, "governance"), (3, "activity"), (4, "activity")):
        day = (clock() - timedelta(days=back)).date()
        time.enter(manager, volunteer["id"], kind, day, "14:00", "17:30")
    centre.store.clock = lambda: clock() - timedelta(days=1)
    try:
        time.start(volunteer, "governance")
    finally:
        centre.store.clock = clock
    time.close_forgotten()


def fill_volunteer_started(app) -> None:
    """The volunteer's menu, their time started: since when, and « Je termine »."""
    person = next(p for p in app.centre.staff.list() if p["name"] == VOLUNTEER)
    app.mode.start({key: person[key] for key in ("id", "name", "role")})
    if app.centre.volunteering.current(app.mode.actor) is None:
        app.centre.volunteering.start(app.mode.actor, "activity")
    app.go("volunteer")


def fill_volunteer_hours_chosen(app) -> None:
    """Staff's hours of volunteers, a stretch open for correction."""
    app.go("staff_volunteering")
    screen = app.screen("staff_volunteering")
    screen.choose(screen.ids.stretches.children[-1].stretch)


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


def fill_first_visit_household(app) -> None:
    """The form for someone of Marie-Thérèse's household, at its question."""
    screen = app.screen("first_visit")
    screen.start_same_household(
        {
            "id": "x",
            "first_name": "Marie-Thérèse",
            "last_name": "Vandenbussche-Wiśniewski",
            "commune": "Boulogne-sur-Mer",
        }
    )
    screen.step = 1  # « Vous vivez avec Marie-Thérèse V. ? »
    app.go("first_visit")
    screen.refresh()


def fill_member_card_household(app) -> None:
    """The three long names in one household, seen from the first one's card."""
    people = app.centre.members.search("Mari", limit=3)
    for person in people[1:]:
        app.centre.households.link(person["id"], people[0]["id"])
    app.go("member_card")
    screen = app.screen("member_card")
    screen.show(people[0])
    screen.show_household()


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


def fill_member_situation(step: int):
    """The FSE+ situation's steps (0 the consent, 1 employment, 2 education) for a member."""

    def fill(app) -> None:
        screen = app.screen("member_situation")
        screen.start(_member(app), then="member_card")
        app.go("member_situation")
        screen.step = step

    return fill


def fill_privacy_person(app) -> None:
    app.go("staff_privacy")
    app.screen("staff_privacy").show(_member(app))


def fill_elsewhere_ask(step: int):
    """A seat request in another centre: the names typed at their longest, then the consent."""

    def fill(app) -> None:
        from kiosk.core import agenda

        entry = next(e for e in agenda.week(app.centre.store) if not e["asked"] and e["seats_left"])
        screen = app.screen("elsewhere_ask")
        screen.start(entry)
        screen.values = {
            "first_name": "Marie-Françoise",
            "last_name": "Wiśniewski-Ait Ouali",
            "phone": "06112233445566",
        }
        screen.step = step
        app.go("elsewhere_ask")
        screen.refresh()

    return fill


def plain(name: str):
    return lambda app: app.go(name)


def fill_turned(name: str, page: int = 1):
    """A page of session cards past the first: « Précédents » and « Suivants »
    side by side with the page's number (where the cards make that many pages)."""

    def fill(app) -> None:
        app.go(name)
        screen = app.screen(name)
        offscreen.frames(2)  # as many cards a page as the window holds
        screen.turn(page)

    return fill


def fill_busy_week(app) -> None:
    """A busy centre's week, two dozen sessions more: the workshops' pages
    numbered with two digits, « Précédents » and « Suivants » both shown."""
    now = app.centre.store.now()
    workshop = app.centre.workshops.create_workshop("Café des parents", "parentalite")
    for n in range(24):
        at = now + timedelta(days=1 + n % 5, hours=n // 5)
        app.centre.workshops.add_session(workshop["id"], at, at + timedelta(hours=1), 12)
    fill_turned("workshops", page=9)(app)


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
    "workshops_turned": fill_turned("workshops"),
    "workshop": fill_workshop,
    "first_visit": fill_first_visit(0),
    "first_visit_commune": fill_first_visit(5),
    "first_visit_year": fill_first_visit(3),
    "first_visit_age_band": fill_first_visit(4),
    "first_visit_digits": fill_first_visit(7),
    "consent": plain("consent"),
    "card": fill_card,
    "first_visit_household": fill_first_visit_household,
    "pin": plain("pin"),
    "ideas": fill_ideas("theme"),
    "ideas_words": fill_ideas("words"),
    "ideas_contact": fill_ideas("contact"),
    "ideas_first_name": fill_ideas("first_name", first_name="Marie-Françoise"),
    "ideas_phone": fill_ideas("phone", first_name="Marie-Françoise", phone="06112233445566"),
    "ideas_consent": fill_ideas("consent", first_name="Marie-Françoise"),
    "ideas_done": fill_ideas_done,
    "confirmation_ask": fill_confirmation_ask,
    "elsewhere": plain("elsewhere"),
    "elsewhere_turned": fill_turned("elsewhere"),
    "elsewhere_ask": fill_elsewhere_ask(0),
    "elsewhere_ask_phone": fill_elsewhere_ask(2),
    "elsewhere_ask_consent": fill_elsewhere_ask(3),
}


def fill_staff_devices(word: str | None):
    """« Ajouter un appareil » with its invite's QR code shown, then with the check word to compare."""

    def fill(app):
        from kiosk.core import replication

        ids = "01890a5d-ac96-774b-bcce-b302099a8057", "01890a5d-ac96-774b-bcce-b302099a8058"
        text = replication.encode_invite("https://hub.example.org", "ABCD-EFGH-JKLM", *ids, b"\x01" * 32)
        app.go("staff_devices")
        screen = app.screen("staff_devices")
        screen.reset()
        screen.side = "invite"
        expires = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
        screen._invited({"invite": text, "expires_at": expires, "short_code": "K7P4-QX9M"}, None)
        screen._stop()  # no ticking nor asking a hub while the layout is looked at
        if word:
            screen._asked(word, None)

    return fill


def fill_staff_duplicates(confirm: bool):
    """« Doublons possibles » with the longest names side by side, then the
    merge's confirmation (which record to keep, what it takes)."""

    def fill(app):
        centre = app.centre
        if not centre.duplicates.pairs():
            centre.members.register(
                "Marie Therese",
                "Vandenbusche",
                1975,
                phone="0611223344",
                email="m.t@example.org",
                consent_data=True,
            )
        app.go("staff_duplicates")
        screen = app.screen("staff_duplicates")
        screen.reset()
        screen.refresh()
        if confirm:
            pair = centre.duplicates.pairs()[0]
            screen.start_merge(pair.member_a, pair.member_b)

    return fill


MODE_STATES = {name: plain(name) for name in sorted(STAFF_SCREENS | VOLUNTEER_SCREENS)}
MODE_STATES.update(
    roll_call=fill_roll_call,
    member_card=fill_member_card,
    member_card_picker=plain("member_card"),
    member_card_household=fill_member_card_household,
    member_situation=fill_member_situation(0),
    member_situation_employment=fill_member_situation(1),
    member_situation_education=fill_member_situation(2),
    staff_privacy_person=fill_privacy_person,
    feedback_names=fill_feedback(faces=False),
    feedback_faces=fill_feedback(faces=True),
    staff_ideas_chosen=fill_staff_idea_chosen,
    staff_sheets_chosen=fill_staff_sheet_chosen,
    staff_volunteering_chosen=fill_volunteer_hours_chosen,
    staff_devices_invite=fill_staff_devices(None),
    staff_devices_check=fill_staff_devices("journal-cahier-costume"),
    staff_duplicates_pair=fill_staff_duplicates(False),
    staff_duplicates_confirm=fill_staff_duplicates(True),
    # last: it signs a volunteer in instead of the staff member
    volunteer_started=fill_volunteer_started,
)


NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday morning


@pytest.fixture(scope="session")
def worst_template(tmp_path_factory) -> Path:
    """The worst centre's database, built once and closed (its WAL folded
    into the file): each case copies it, since the looks change the data."""
    path = tmp_path_factory.mktemp("layout") / "worst.db"
    worst_centre(path, lambda: NOW).close()
    return path


def fresh_centre(template: Path, folder: Path) -> Centre:
    path = folder / "kiosk.db"
    shutil.copyfile(template, path)
    return Centre.open(path, clock=lambda: NOW)


@pytest.fixture(scope="module")
def layout_app(worst_template, tmp_path_factory):
    """One app for every case: its screens are built once (a new app a case
    would leave the last ones' widgets bound to the window's sizes, each
    resize laying them all out again)."""
    from kiosk.app import KioskApp

    centre = fresh_centre(worst_template, tmp_path_factory.mktemp("layout-app"))
    # a still idle clock: no idle reset in the middle of a look
    app = KioskApp(centre, kiosk_mode=False, monotonic=lambda: 1000.0, confirm_s=3600)
    offscreen.start(app)
    yield app
    Window.size = offscreen.SIZE
    sizes.follow(Window, 96)
    offscreen.stop(app)
    _.switch("fr")


@pytest.fixture
def kiosk(layout_app, worst_template, tmp_path):
    """The app on a fresh copy of the worst centre, as a restored backup
    reopens it (staff_backups): every display and language sees the same
    data, whichever case ran before it (or on another worker)."""
    app = layout_app
    app.centre.close()
    app.centre = fresh_centre(worst_template, tmp_path)
    app.centre_name = app.centre.settings.get("centre_name")
    return app


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
    # last: it adds sessions, which every screen after it would show
    found += look(app, "workshops_busy_week", fill_busy_week, dpi, resident=True)
    assert not found, f"{len(found)} layout problems at {width}x{height}, {dpi} dpi, {lang}:\n" + "\n".join(
        found
    )
