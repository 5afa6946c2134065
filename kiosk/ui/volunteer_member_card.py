"""A member's card: find them (name or card), show the QR code, print it
(receipt printer if one is set, else a CR80 PDF in the backup folder), or
replace a lost card — a new code, the old one refused from then on.

Their household (« foyer ») too: who else is in it, add someone found by
name (« même foyer que… »), or take the member out of it
(kiosk/core/households.py). Their FSE+ situation where the centre asks it
(kiosk/ui/member_situation.py). Volunteers and staff alike; each change is
in the journal."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ObjectProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import (
    member_situation,
    mode_widgets,  # noqa: F401  (MemberPicker, ConfirmPopup)
)
from kiosk.ui.card import print_in_background, qr_texture
from kiosk.ui.i18n import _, source
from kiosk.ui.mode import ModeScreen
from kiosk.ui.mode_widgets import ConfirmPopup

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class MemberCardScreen(ModeScreen):
    """Two parts: the member picker, then the chosen member's card."""

    member = DictProperty({})
    texture = ObjectProperty(None, allownone=True)
    code = StringProperty("")
    member_name = StringProperty("")
    status = StringProperty("")
    #: the household tile's words, the household part's title, and whether there is one
    household_text = StringProperty("")
    household_title = StringProperty("")
    in_household = BooleanProperty(False)
    #: the FSE+ situation's tile: its words, and whether it is offered
    situation_text = StringProperty("")
    situation_shown = BooleanProperty(False)
    popup = None

    #: the parts of ``ids.parts``
    PICKER, CARD, HOUSEHOLD, HOUSEHOLD_SEARCH = range(4)

    def reset(self) -> None:
        self.member = {}
        self.texture = None
        self.code = self.member_name = self.status = ""
        self.household_text = self.household_title = ""
        self.in_household = False
        self.ids.picker.clear()
        self.ids.household_picker.clear()
        self.ids.parts.show(0)
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None

    def show(self, member: dict) -> None:
        from kiosk.core import card_print

        self.member = dict(member)
        self.texture = qr_texture(member["card_code"])
        self.code = card_print.printable(member["card_code"])
        self.member_name = _.display(f"{member['first_name']} {member['last_name']}")
        self.ids.picker.clear()
        self._household_words()
        self._situation_words()
        self.ids.parts.show(self.CARD)

    def card_scanned(self, code: str) -> None:
        """The card's owner; while choosing whom to add to a household, that person."""
        app = App.get_running_app()
        try:
            found = app.centre.members.by_card(code)
        except DomainError as error:
            self.status = app.error_text(error)
            return
        if self.member and self._showing(self.HOUSEHOLD_SEARCH):
            self.add_to_household(found)
        else:
            self.show(found)

    def other(self) -> None:
        self.reset()

    def refresh(self) -> None:
        if not self.member:
            return
        if self._showing(self.HOUSEHOLD):
            self.show_household()  # its lines in the language now chosen
        else:
            self._household_words()
            self._situation_words()

    def _showing(self, part: int) -> bool:
        parts = self.ids.parts  # a weak proxy: compare the children themselves
        return any(child is parts.parts[part] for child in parts.children)

    # ------------------------------------------------------------ household

    def _household_words(self) -> list[dict]:
        """Set the household's words from what the core holds; returns the
        other members of the household."""
        others = App.get_running_app().centre.households.of(self.member["id"])
        size = len(others) + 1
        self.in_household = bool(others)
        self.household_text = (
            _.ngettext("Foyer : %(count)d personne", "Foyer : %(count)d personnes", size, count=size)
            if others
            else _("Foyer : pas renseigné")
        )
        full_name = " ".join((self.member["first_name"], self.member["last_name"]))
        self.household_title = _("Foyer de %(name)s", name=full_name)
        return others

    def show_household(self) -> None:
        self.status = ""
        box = self.ids.household_people
        box.clear_widgets()
        others = self._household_words()
        for person in others:
            line = Factory.HouseholdLine()
            line.text = _.display(f"{person['first_name']} {person['last_name']}")
            box.add_widget(line)
        if not others:
            line = Factory.HouseholdLine()
            line.text = _("Personne d'autre pour l'instant.")
            box.add_widget(line)
        self.ids.household_picker.clear()
        self.ids.parts.show(self.HOUSEHOLD)

    def pick_for_household(self) -> None:
        self.ids.household_picker.clear()
        self.ids.parts.show(self.HOUSEHOLD_SEARCH)

    def add_to_household(self, other: dict) -> None:
        app = App.get_running_app()
        try:
            app.centre.households.together(self.member["id"], other["id"], actor=self.actor)
        except DomainError as error:
            self.show_household()
            self.status = app.error_text(error)
            return
        self.show_household()
        self.status = _("%(name)s est dans ce foyer.", name=other["first_name"])

    def ask_leave(self) -> None:
        question = source(_("Retirer %(name)s de ce foyer ?", name=self.member["first_name"]))
        self.popup = ConfirmPopup(question, _("Oui, retirer"))
        self.popup.bind(on_yes=lambda *_a: self.leave())
        self.popup.open(animation=False)

    def leave(self) -> None:
        app = App.get_running_app()
        self.popup = None
        try:
            app.centre.households.unlink(self.member["id"], actor=self.actor)
        except DomainError as error:
            self.status = app.error_text(error)
            return
        self.show_household()
        self.status = _("%(name)s n'est plus dans ce foyer.", name=self.member["first_name"])

    # ------------------------------------------------------------ FSE+ situation

    def _situation_words(self) -> None:
        given = bool(self.member.get("situation_consent_at"))
        self.situation_shown = given or member_situation.asks(App.get_running_app())
        self.situation_text = (
            _("Situation (FSE+) : répondu") if given else _("Situation (FSE+) : pas renseignée")
        )

    def ask_situation(self) -> None:
        """The situation's steps (kiosk/ui/member_situation.py), then back to this card."""
        app = App.get_running_app()
        app.screen("member_situation").start(self.member, then="member_card")
        app.go("member_situation")

    # ------------------------------------------------------------ lost card

    def ask_replace(self) -> None:
        # the popup's Paragraph shapes it: the reading-order text, the name isolated
        question = source(
            _(
                "Remplacer la carte de %(name)s ? L'ancienne carte ne marchera plus.",
                name=self.member["first_name"],
            )
        )
        self.popup = ConfirmPopup(question, _("Oui, nouvelle carte"))
        self.popup.bind(on_yes=lambda *_a: self.replace())
        self.popup.open(animation=False)

    def replace(self) -> None:
        app = App.get_running_app()
        self.popup = None
        try:
            member = app.centre.members.replace_card(self.member["id"], actor=self.actor)
        except DomainError as error:
            self.status = app.error_text(error)
            return
        self.show(member)
        self.status = _("Nouvelle carte : l'ancienne est refusée désormais.")

    # ------------------------------------------------------------ printing

    def print_card(self) -> None:
        """Off the UI thread: a printer or a USB stick may be slow."""
        from kiosk.core import card_print

        app = App.get_running_app()
        settings = app.centre.settings
        printer, folder = settings.get("printer"), settings.get("backup_dir")
        member, centre_name = dict(self.member), app.centre_name
        if not printer and not folder:
            self.status = _("Aucune imprimante ni dossier de sortie dans les réglages.")
            return
        if not printer:
            # the PDF needs the database: written here, on the UI thread (fast, one page)
            out = Path(folder) / f"carte-{member['first_name']}-{member['id'][-6:]}.pdf"
            try:
                card_print.cards_pdf(app.centre.store, out, [member["id"]], actor=self.actor)
            except (DomainError, OSError) as error:
                self.status = app.error_text(error) if isinstance(error, DomainError) else str(error)
                return
            self.status = _("Carte enregistrée : %(file)s", file=str(out))
            return
        data = card_print.escpos_card(member, centre_name)
        self.status = _("Impression de la carte…")
        print_in_background(
            data, printer, lambda: _("La carte est imprimée."), lambda text: setattr(self, "status", text)
        )
