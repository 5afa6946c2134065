"""Workshops and sessions for staff: create a workshop with one session or a
weekly series, edit a session and its workshop, cancel a session and see who
was registered so they can be told."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import ListProperty, StringProperty

from kiosk.core.errors import N_, DomainError, InvalidInput
from kiosk.core.sheets import Sheets
from kiosk.ui import mode_widgets  # noqa: F401  (Field, ConfirmPopup)
from kiosk.ui.i18n import NP_, PARIS, _, source
from kiosk.ui.mode import ModeScreen
from kiosk.ui.mode_widgets import ConfirmPopup
from sync.protocol import THEMES, parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

LISTED_DAYS = 60
#: The protocol's workshop themes, in words (the Spinner shows these).
THEME_LABELS = {
    "accueil": NP_("thème", "Accueil"),
    "education": NP_("thème", "Éducation"),
    "parentalite": NP_("thème", "Parentalité"),
    "e_administration": NP_("thème", "Démarches en ligne"),
    "numerique": NP_("thème", "Numérique"),
    "pouvoir_d_agir": NP_("thème", "Pouvoir d'agir"),
    "autre": NP_("thème", "Autre"),
}


def theme_label(theme: str) -> str:
    return _.pgettext("thème", THEME_LABELS[theme]) if theme in THEME_LABELS else _(theme)


def theme_code(label: str) -> str:
    return next((code for code in THEMES if theme_label(code) == label), label)


def paris_moment(field: str, day: str, clock: str) -> datetime:
    """« 01/12/2026 » and « 14:30 » as an aware time in Paris."""
    try:
        return datetime.strptime(f"{day.strip()} {clock.strip()}", "%d/%m/%Y %H:%M").replace(tzinfo=PARIS)
    except ValueError:
        raise InvalidInput(
            field,
            N_("Date ou heure invalide : écrivez 01/12/2026 et 14:30."),
            "expected DD/MM/YYYY and HH:MM",
            value=f"{day} {clock}",
        ) from None


def whole(field: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(field, N_("Écrivez un nombre."), "expected a whole number", value=text) from None


def french_phone(stored: str | None) -> str:
    """+33612345678 (how kiosk.core.text stores it) as staff dial it: 06 12 34 56 78."""
    if not stored or not stored.startswith("+33") or len(stored) != 12:
        return stored or ""
    national = "0" + stored[3:]
    return " ".join(national[i : i + 2] for i in range(0, 10, 2))


class StaffWorkshopsScreen(ModeScreen):
    staff_only = True
    themes = ListProperty([])
    message = StringProperty("")
    editing = StringProperty("")  # the session being edited, or "" for a new workshop
    #: the workshop a new session is for (one adopted from a federation sheet), or "" for a new one
    adopted = StringProperty("")
    told = StringProperty("")
    popup = None

    def refresh(self) -> None:
        app = App.get_running_app()
        self.themes = [theme_label(code) for code in THEMES]
        if self.ids.theme.text not in self.themes:
            self.ids.theme.text = self.themes[0]
        now = app.centre.store.now()
        rows = []  # a RecycleView's data: a term of weekly series stays quick to redraw
        for session in app.centre.workshops.sessions_between(now, now + timedelta(days=LISTED_DAYS)):
            start = parse_utc(session["starts_at"]).astimezone(PARIS)
            rows.append(
                {
                    "session": session,
                    "screen": self,
                    "text": _.display(
                        f"{start:%d/%m %H:%M}  {session['title']}  "
                        f"({session['booked']}/{session['capacity']})"
                    ),
                }
            )
        self.ids.sessions_view.data = rows

    def reset(self) -> None:
        self.new()
        self.told = ""
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None

    def field(self, name: str) -> str:
        return self.ids[name].text

    def new(self) -> None:
        self.editing = self.message = self.adopted = ""
        for name in ("title", "facilitator", "place", "day", "start", "end", "capacity"):
            self.ids[name].text = ""
        self.ids.weeks.text = "1"
        self.ids.theme.text = theme_label(THEMES[0])

    def edit(self, session: dict) -> None:
        start = parse_utc(session["starts_at"]).astimezone(PARIS)
        end = parse_utc(session["ends_at"]).astimezone(PARIS)
        values = {
            "title": session["title"],
            "facilitator": session["facilitator"] or "",
            "place": session["place"] or "",
            "day": f"{start:%d/%m/%Y}",
            "start": f"{start:%H:%M}",
            "end": f"{end:%H:%M}",
            "capacity": str(session["capacity"]),
            "weeks": "1",
        }
        for name, value in values.items():
            self.ids[name].text = value
        self.ids.theme.text = theme_label(session["theme"])
        self.editing, self.message = session["id"], ""

    def save(self) -> None:
        app = App.get_running_app()
        try:
            self._save(app.centre.workshops)
        except DomainError as error:
            self.message = app.error_text(error)
            return
        self.message = _("C'est enregistré.")
        self.refresh()

    def schedule(self, workshop: dict, capacity: int) -> None:
        """The form ready for the first session of ``workshop`` (adopted
        from a federation sheet): its title and theme, the sheet's places."""
        self.new()
        self.ids.title.text = workshop["title"]
        self.ids.theme.text = theme_label(workshop["theme"])
        self.ids.capacity.text = str(capacity)
        self.adopted = workshop["id"]
        self.message = _("Choisissez la date et l'heure de la séance.")

    def offer(self) -> None:
        """« Proposer aux autres centres »: the workshop of the session being
        edited, with this session's length and places as the usual ones."""
        app = App.get_running_app()
        try:
            session = app.centre.workshops.session(self.editing)
            minutes = (parse_utc(session["ends_at"]) - parse_utc(session["starts_at"])).seconds // 60
            Sheets(app.centre.store, app.centre.workshops).offer(
                session["workshop_id"], minutes, session["capacity"], self.actor
            )
        except DomainError as error:
            self.message = app.error_text(error)
            return
        self.message = _("Proposé aux autres centres. La fédération le relit avant de le publier.")

    def _save(self, workshops) -> None:
        day = self.field("day")
        start = paris_moment("starts_at", day, self.field("start"))
        end = paris_moment("ends_at", day, self.field("end"))
        capacity = whole("capacity", self.field("capacity"))
        details = {
            "title": self.field("title"),
            "theme": theme_code(self.ids.theme.text),
            "facilitator": self.field("facilitator") or None,
        }
        place, actor = self.field("place") or None, self.actor
        if self.editing:
            session = workshops.session(self.editing)
            workshops.update_workshop(session["workshop_id"], actor=actor, **details)
            workshops.update_session(
                self.editing, actor=actor, starts_at=start, ends_at=end, capacity=capacity, place=place
            )
            return
        weeks = whole("weeks", self.field("weeks"))
        if self.adopted:
            workshop = workshops.update_workshop(self.adopted, actor=actor, place=place, **details)
        else:
            workshop = workshops.create_workshop(place=place, actor=actor, **details)
        if weeks == 1:
            workshops.add_session(workshop["id"], start, end, capacity, actor=actor)
        else:
            workshops.add_weekly_series(workshop["id"], start, end, weeks, capacity, actor=actor)
        self.new()

    # ------------------------------------------------------------ cancelling

    def ask_cancel(self) -> None:
        if not self.editing:
            return
        # the popup's Paragraph shapes it: the reading-order text, the date isolated
        question = source(
            _("Annuler la séance du %(day)s ? Les inscrits devront être prévenus.", day=self.field("day"))
        )
        self.popup = ConfirmPopup(question, _("Oui, annuler la séance"))
        self.popup.bind(on_yes=lambda *_a: self.cancel_session())
        self.popup.open(animation=False)

    def cancel_session(self) -> None:
        app = App.get_running_app()
        self.popup = None
        try:
            people = app.centre.workshops.cancel_session(self.editing, actor=self.actor)
        except DomainError as error:
            self.message = app.error_text(error)
            return
        lines = [f"{p['first_name']} {p['last_name']}  {french_phone(p['phone'])}".rstrip() for p in people]
        head = (
            _.gettext("Séance annulée. À prévenir :")
            if lines
            else _.gettext("Séance annulée. Personne n'était inscrit.")
        )
        self.told = _.display("\n".join([head, *lines]))
        self.new()
        self.refresh()
