"""Consent, in plain words, one item a line with its pictogram: what is kept,
why, for how long, who sees it, whom to ask, and that saying no is fine.
« Oui » registers the member and shows the card; « Non » keeps nothing
(anonymous visits stay possible)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import ListProperty

from kiosk.core.errors import N_, DomainError
from kiosk.ui.i18n import _
from kiosk.ui.member_situation import asks as situation_asked
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: (pictogram, text): one idea a line. None is the retention line, which
#: counts months (plural forms): built in ``refresh``. Whom to ask comes
#: early, where a small screen still shows it without scrolling; that saying
#: no is fine is also said by the question above the buttons.
CONSENT_ITEMS = [
    ("person", N_("Nous gardons votre prénom, votre nom et votre année de naissance.")),
    ("place", N_("Nous gardons aussi votre ville, votre quartier et votre téléphone.")),
    ("how_to_reg", N_("Avec ces informations, l'équipe vous reconnaît et vous inscrit aux ateliers.")),
    ("support_agent", N_("Pour voir, changer ou effacer vos informations, demandez à l'accueil.")),
    ("lock", N_("Seule l'équipe du centre voit votre nom. Il reste au centre.")),
    ("schedule", None),
    ("groups", N_("Nous comptons les visites sans votre nom, pour ceux qui donnent de l'argent au centre.")),
    (
        "cloud_upload",
        N_(
            "Pour ces comptes, nous envoyons votre année de naissance, votre ville et votre quartier. "
            "Jamais votre nom."
        ),
    ),
    ("thumb_down", N_("Si vous dites non, vous pouvez quand même venir au centre.")),
]


class ConsentScreen(KioskScreen):
    is_form = True
    #: what the lines show, (pictogram, text) in the current language
    items = ListProperty([])

    def has_input(self) -> bool:
        return True  # the form's answers are still waiting here

    def refresh(self) -> None:
        months = App.get_running_app().centre.settings.get("retention_months")
        items = []
        for icon, text in CONSENT_ITEMS:
            if text is None:
                text = _.ngettext(
                    "Nous effaçons tout %(months)d mois après votre dernière visite.",
                    "Nous effaçons tout %(months)d mois après votre dernière visite.",
                    months,
                    months=months,
                )
            else:
                text = _(text)
            items.append((icon, text))
        self.items = items
        box = self.ids.lines
        box.clear_widgets()
        for icon, text in items:
            line = Factory.ConsentLine()  # a kv-declared class: its properties exist once built
            line.icon, line.text = icon, text
            box.add_widget(line)

    def speech_parts(self) -> list[str]:
        ids = self.ids
        return (
            [ids.title.text]
            + [text for _icon, text in self.items]
            + [ids.ask.text, ids.yes.text, ids.no.text]
        )

    def agree(self) -> None:
        app = App.get_running_app()
        form = app.screen("first_visit")
        try:
            # in the household chosen on the card, if any: never a reason to refuse
            member = app.centre.households.register(
                consent_data=True, actor=app.mode.actor, **form.member_fields()
            )
        except DomainError as error:
            app.go("first_visit")
            form.go_to_field(error.field, lambda error=error: app.error_text(error))
            return
        form.reset()
        if app.mode.actor and situation_asked(app):
            # a volunteer or staff member registering someone: the FSE+
            # situation's optional step, then the card (never for a resident
            # registering alone: their flow stays short)
            app.screen("member_situation").start(member, then="card")
            app.go("member_situation")
            return
        app.screen("card").member = member
        app.go("card")

    def refuse(self) -> None:
        app = App.get_running_app()
        app.screen("first_visit").reset()
        app.confirm(
            "check_circle",
            lambda: _("Pas de problème."),
            lambda: _(
                "Nous ne gardons rien. Vous pouvez venir sans carte. "
                "Touchez « Je suis là », puis « Sans carte »."
            ),
        )
