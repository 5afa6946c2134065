"""Consent, in plain words: what is kept, why, for how long, who sees it.
« Oui » registers the member and shows the card; « Non » keeps nothing
(anonymous visits stay possible)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.errors import DomainError, N_
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

CONSENT_TEXT = N_(
    "Nous gardons votre prénom, votre nom, votre année de naissance, votre commune, "
    "votre quartier et votre téléphone si vous l'avez donné.\n"
    "Pourquoi ? Pour vous reconnaître à l'accueil, vous inscrire aux ateliers, "
    "et compter les passages sans votre nom pour les financeurs du centre.\n"
    "Combien de temps ? %(months)d mois après votre dernière visite.\n"
    "Qui les voit ? Seulement l'équipe du centre. Votre nom ne sort jamais du centre.\n"
    "Vous pouvez demander à tout moment de voir, corriger ou effacer vos informations."
)


class ConsentScreen(KioskScreen):
    is_form = True
    text = StringProperty("")

    def has_input(self) -> bool:
        return True  # the form's answers are still waiting here

    def refresh(self) -> None:
        months = App.get_running_app().centre.settings.get("retention_months")
        self.text = _.gettext(CONSENT_TEXT) % {"months": months}

    def agree(self) -> None:
        app = App.get_running_app()
        form = app.screen("first_visit")
        try:
            member = app.centre.members.register(consent_data=True, actor=app.mode.actor,
                                                 **form.member_fields())
        except DomainError as error:
            app.go("first_visit")
            form.go_to_field(error.field, lambda error=error: app.error_text(error))
            return
        form.reset()
        app.screen("card").member = member
        app.go("card")

    def refuse(self) -> None:
        app = App.get_running_app()
        app.screen("first_visit").reset()
        app.confirm("check_circle", lambda: _("Pas de problème."),
                    lambda: _("Rien n'est gardé. Vous pouvez venir sans carte : "
                              "touchez « Je suis là » puis « Sans carte »."))
