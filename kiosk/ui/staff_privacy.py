"""Data protection: find a member, show what is held, export it (right of
access) to the output folder, erase them after a confirmation; preview then
run the retention purge."""

from __future__ import annotations

import json
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import DictProperty, ListProperty, StringProperty

from kiosk.core.errors import N_, DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (MemberPicker, ConfirmPopup)
from kiosk.ui.i18n import PARIS, _, source
from kiosk.ui.mode import ModeScreen
from kiosk.ui.mode_widgets import ConfirmPopup
from kiosk.ui.staff_workshops import french_phone
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MENU, PICKER, MEMBER, RETENTION = range(4)
#: What staff see of a member, in this order, with the French words for each field.
SHOWN = {
    "first_name": N_("Prénom"),
    "last_name": N_("Nom"),
    "birth_year": N_("Année de naissance"),
    "gender": N_("Genre"),
    "commune": N_("Commune"),
    "neighbourhood": N_("Quartier"),
    "phone": N_("Téléphone"),
    "email": N_("E-mail"),
    "created_at": N_("Inscrit le"),
    "last_seen_at": N_("Dernière venue"),
}
DATES = ("created_at", "last_seen_at")


def shown_value(key: str, value) -> str:
    if key in DATES:
        return parse_utc(value).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    if key == "phone":
        return french_phone(value)
    return str(value)


class StaffPrivacyScreen(ModeScreen):
    staff_only = True
    member = DictProperty({})
    details = StringProperty("")
    result = StringProperty("")
    candidates = ListProperty([])
    popup = None

    def reset(self) -> None:
        self.member, self.details, self.result, self.candidates = {}, "", "", []
        self.ids.picker.clear()
        self.ids.parts.show(MENU)
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None

    def show(self, member: dict) -> None:
        self.member = dict(member)
        self.details = _.display(
            "\n".join(
                f"{_.gettext(label)} : {shown_value(key, member[key])}"
                for key, label in SHOWN.items()
                if member.get(key) not in (None, "")
            )
        )
        self.result = ""
        self.ids.picker.clear()
        self.ids.parts.show(MEMBER)

    def other(self) -> None:
        self.member, self.details = {}, ""
        self.ids.picker.clear()
        self.ids.parts.show(PICKER)

    def back(self) -> None:
        self.candidates, self.result = [], ""
        self.ids.parts.show(MENU)

    def _ask(self, question: str, yes: str, then) -> None:
        self.popup = ConfirmPopup(question, yes)
        self.popup.bind(on_yes=lambda *_a: then())
        self.popup.open(animation=False)

    def _run(self, action) -> None:
        app = App.get_running_app()
        self.popup = None
        try:
            action(app)
        except DomainError as error:
            self.result = app.error_text(error)
        except OSError as error:
            self.result = _("Écriture impossible : %(error)s", error=str(error))

    # ------------------------------------------------------------ one member

    def export(self) -> None:
        def action(app) -> None:
            folder = app.centre.settings.get("backup_dir")
            if not folder or not Path(folder).is_dir():
                self.result = _("Aucun dossier de sortie : choisissez-le dans les réglages.")
                return
            held = app.centre.privacy.export(self.member["id"], actor=self.actor)
            out = Path(folder) / f"donnees-{self.member['id']}.json"
            out.write_text(json.dumps(held, ensure_ascii=False, indent=2), encoding="utf-8")
            self.result = _("Données écrites : %(file)s", file=str(out))

        self._run(action)

    def ask_erase(self) -> None:
        question = _.gettext("Effacer %(name)s ? Son nom et ses coordonnées seront perdus pour de bon.") % {
            "name": self.member["first_name"]
        }
        self._ask(question, _("Oui, effacer"), self.erase)

    def erase(self) -> None:
        def action(app) -> None:
            app.centre.privacy.erase(self.member["id"], actor=self.actor)
            self.other()
            self.result = _("La personne est effacée.")

        self._run(action)

    # ------------------------------------------------------------ retention

    def preview_purge(self) -> None:
        app = App.get_running_app()
        self.candidates = app.centre.privacy.retention_candidates()
        months = app.centre.settings.get("retention_months")
        names = ", ".join(f"{m['first_name']} {m['last_name']}" for m in self.candidates[:12])
        count = len(self.candidates)
        self.result = _.ngettext(
            "%(count)d personne n'est pas venue pendant la durée "
            "de conservation (mois : %(months)d). %(names)s",
            "%(count)d personnes ne sont pas venues pendant la durée de conservation (mois : %(months)d). "
            "%(names)s",
            count,
            count=count,
            months=months,
            names=names,
        )
        self.ids.parts.show(RETENTION)

    def ask_purge(self) -> None:
        if not self.candidates:
            self.preview_purge()
            return
        count = len(self.candidates)
        question = source(
            _.ngettext("Effacer cette personne ?", "Effacer ces %(count)d personnes ?", count, count=count)
        )  # the popup's Paragraph shapes it
        self._ask(question, _("Oui, effacer"), self.purge)

    def purge(self) -> None:
        def action(app) -> None:
            count = app.centre.privacy.retention_purge(actor=self.actor)
            self.candidates = []
            self.result = _.ngettext(
                "%(count)d personne effacée.", "%(count)d personnes effacées.", count, count=count
            )

        self._run(action)
