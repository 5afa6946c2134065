"""A member's card: find them (name or card), show the QR code, print it
(receipt printer if one is set, else a CR80 PDF in the backup folder), or
replace a lost card — a new code, the old one refused from then on."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import DictProperty, ObjectProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (MemberPicker, ConfirmPopup)
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
    popup = None

    def reset(self) -> None:
        self.member = {}
        self.texture = None
        self.code = self.member_name = self.status = ""
        self.ids.picker.clear()
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
        self.ids.parts.show(1)

    def card_scanned(self, code: str) -> None:
        app = App.get_running_app()
        try:
            self.show(app.centre.members.by_card(code))
        except DomainError as error:
            self.status = app.error_text(error)

    def other(self) -> None:
        self.reset()

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
