"""« Idées des habitants »: staff read the idea box, answer each idea in a
short public sentence (the kiosk's home may show it), mark the ones the
centre carried out (« réalisée ») and those that became an initiative of
residents the centre supports. Only staff get here, and kiosk.core.voice
checks the actor again. The words and any contact stay on the kiosk."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import PARIS, _
from kiosk.ui.icons import IDEA_THEME_ICONS
from kiosk.ui.ideas import THEMES
from kiosk.ui.mode import ModeScreen
from kiosk.ui.staff_workshops import french_phone
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def _day(moment: str | None) -> str:
    return parse_utc(moment).astimezone(PARIS).strftime("%d/%m/%Y") if moment else ""


class StaffIdeasScreen(ModeScreen):
    staff_only = True
    #: "open" (waiting for an answer) or "all"
    which = StringProperty("open")
    chosen = DictProperty({})
    details = StringProperty("")
    summary = StringProperty("")
    result = StringProperty("")

    def reset(self) -> None:
        self.chosen, self.details, self.result, self.which = {}, "", "", "open"
        self.ids.answer.text = ""

    def refresh(self) -> None:
        voice = App.get_running_app().centre.voice
        counts = voice.counts()
        self.summary = _(
            "%(open)d à répondre · %(done)d réalisées · %(initiative)d initiatives soutenues",
            open=counts["open"],
            done=counts["done"],
            initiative=counts["initiative"],
        )
        rows = self.ids.ideas
        rows.clear_widgets()
        for idea in voice.ideas(self.which):
            words = idea["text"] or _.gettext(dict(THEMES)[idea["theme"]])
            row = Factory.ShortRow(
                icon="check_circle" if idea["done_at"] else IDEA_THEME_ICONS[idea["theme"]],
                text=_.display(f"{_day(idea['created_at'])}  {words}"),
            )
            row.idea_id = idea["id"]
            row.bind(on_release=lambda r: self.choose(r.idea_id))
            rows.add_widget(row)
        if not rows.children:
            rows.add_widget(Factory.StaffNote(text=_("Aucune idée à répondre.")))
        if self.chosen:
            self.choose(self.chosen["id"], keep_answer=True)

    def show(self, which: str) -> None:
        self.which = which
        self.refresh()

    def choose(self, idea_id: str, keep_answer: bool = False) -> None:
        idea = App.get_running_app().centre.voice.idea(idea_id)
        self.chosen = idea
        lines = [
            _.gettext("Reçue le %(day)s, sujet : %(theme)s")
            % {"day": _day(idea["created_at"]), "theme": _.gettext(dict(THEMES)[idea["theme"]])},
            idea["text"] or _.gettext("(sans texte : un sujet touché)"),
        ]
        if idea["contact_first_name"]:
            contact = idea["contact_first_name"]
            if idea["contact_phone"]:
                contact += " · " + french_phone(idea["contact_phone"])
            lines.append(_.gettext("Contact laissé : %(contact)s") % {"contact": contact})
        if idea["answered_at"]:
            lines.append(_.gettext("Répondue le %(day)s") % {"day": _day(idea["answered_at"])})
        self.details = "\n\n".join(lines)
        if not keep_answer:
            self.ids.answer.text = idea["answer"] or ""
            self.result = ""

    def _run(self, action, done: str) -> None:
        app = App.get_running_app()
        try:
            action(app.centre.voice, self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.result = done
        self.refresh()

    def save_answer(self) -> None:
        idea_id, words = self.chosen["id"], self.ids.answer.text
        self._run(lambda voice, actor: voice.answer(idea_id, words, actor), _("Réponse enregistrée."))

    def toggle_done(self) -> None:
        idea_id, done = self.chosen["id"], not self.chosen.get("done_at")
        self._run(
            lambda voice, actor: voice.mark_done(idea_id, actor, done=done),
            _("Réalisée : la réponse s'affiche sur la borne.")
            if done
            else _("Ce n'est plus marqué réalisé."),
        )

    def toggle_initiative(self) -> None:
        idea_id, supported = self.chosen["id"], not self.chosen.get("initiative_at")
        self._run(
            lambda voice, actor: voice.mark_initiative(idea_id, actor, supported=supported),
            _("Initiative d'habitants soutenue : comptée pour le SENACS.")
            if supported
            else _("Ce n'est plus une initiative soutenue."),
        )
