"""« Hors les murs »: staff switch this device to an event held today (its
name, its place, the neighbourhood or commune from the centre's list, a
partner if any) and back. While it is on, every visit and new member
recorded here carries it (kiosk.core.outreach), and the home and the staff
banner show its name."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import DictProperty, ListProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import NP_, _
from kiosk.ui.mode import ModeScreen
from sync.protocol import PARTNER_KINDS

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: The protocol's partner kinds, in words (the Spinner shows these).
PARTNER_LABELS = {
    "town": NP_("partenaire", "La mairie"),
    "association": NP_("partenaire", "Une association"),
    "social_landlord": NP_("partenaire", "Un bailleur social"),
    "school": NP_("partenaire", "Une école"),
    "public_service": NP_("partenaire", "Un service public"),
    "other": NP_("partenaire", "Autre partenaire"),
}


def partner_label(kind: str) -> str:
    return _.pgettext("partenaire", PARTNER_LABELS[kind])


def place_label(item: dict) -> str:
    """A neighbourhood of the centre's list as the Spinner shows it."""
    return f"{item['name']} ({item['commune']})"


class StaffOutreachScreen(ModeScreen):
    staff_only = True
    #: the event on today on this device ({} when none)
    event = DictProperty({})
    result = StringProperty("")
    today_text = StringProperty("")
    places = ListProperty([])
    partner_kinds = ListProperty([])

    def refresh(self) -> None:
        app = App.get_running_app()
        outreach = app.centre.outreach
        self.event = outreach.active() or {}
        app.outreach_name = self.event.get("name", "")
        # put into a message by _(), which lays it out right-to-left itself
        self.today_text = _.today(app.now())
        listed = outreach.places()
        communes = sorted({item["commune"] for item in listed})
        self.places = [_("Lieu hors de la liste")] + [place_label(item) for item in listed] + communes
        self.partner_kinds = [_("Sans partenaire")] + [partner_label(kind) for kind in PARTNER_KINDS]

    def reset(self) -> None:
        self.result = ""
        for name in ("name", "place", "partner"):
            self.ids[name].text = ""
        self.ids.where.text = _("Lieu hors de la liste")
        self.ids.partner_kind.text = _("Sans partenaire")

    def _where(self) -> dict:
        """The neighbourhood or commune chosen, as the core takes them."""
        chosen = self.ids.where.text
        for item in App.get_running_app().centre.outreach.places():
            if chosen == place_label(item):
                return {"neighbourhood": item["name"]}
        listed = {item["commune"] for item in App.get_running_app().centre.outreach.places()}
        return {"commune": chosen} if chosen in listed else {}

    def _partner_kind(self) -> str | None:
        chosen = self.ids.partner_kind.text
        return next((kind for kind in PARTNER_KINDS if partner_label(kind) == chosen), None)

    def start(self) -> None:
        app = App.get_running_app()
        ids = self.ids
        try:
            event = app.centre.outreach.start(
                ids.name.text,
                ids.place.text,
                None,  # held today: the day shown on the screen
                partner=ids.partner.text,
                partner_kind=self._partner_kind(),
                actor=self.actor,
                **self._where(),
            )
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.refresh()
        self.result = _(
            "Hors les murs : %(name)s. Les passages et les inscriptions d'aujourd'hui y sont comptés.",
            name=event["name"],
        )

    def end(self) -> None:
        app = App.get_running_app()
        try:
            ended = app.centre.outreach.end(actor=self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.refresh()
        self.reset()
        if ended:
            self.result = _("Événement terminé : la borne est de retour au centre.")
