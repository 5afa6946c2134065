"""The FSE+ situation of a member, asked by a volunteer or staff member: at
the end of a registration they make, or from the member's card.

Three steps, each one tap: the consent question in plain words (what is
asked, why, that it is optional, that only counts leave the centre), then
the situation on the labour market, then the highest level of education,
each a grid of pictogram tiles with « Je préfère ne pas répondre » and
« Passer ». Each answer is stored as it is tapped (kiosk/core/situation.py);
« Non, merci » keeps nothing, and erases the answers a member gave before.
Only where the centre turned ``collect_situation`` on; a resident's own
registration never shows it (their flow stays short)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, NumericProperty, StringProperty

from kiosk.core import situation
from kiosk.core.errors import N_, DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (OneOf)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: the steps, parts of ``ids.steps``
CONSENT, EMPLOYMENT, EDUCATION = range(3)
QUESTIONS = {EMPLOYMENT: ("employment", situation.EMPLOYMENT), EDUCATION: ("education", situation.EDUCATION)}
#: each step's question, as the .kv shows it (read aloud)
ASKED = {EMPLOYMENT: N_("Aujourd'hui, vous…"), EDUCATION: N_("Jusqu'où avez-vous fait vos études ?")}


def asks(app) -> bool:
    """Whether this centre asks the situation (a screen opens it only then)."""
    return situation.asked(app.centre.settings)


class MemberSituationScreen(ModeScreen):
    member = DictProperty({})
    #: where to go once done: "card" (a registration) or "member_card"
    then = StringProperty("member_card")
    step = NumericProperty(CONSENT)
    status = StringProperty("")
    consent_text = StringProperty("")
    #: the bar's words: the consent's title, then each question
    title = StringProperty("")

    def start(self, member: dict, then: str) -> None:
        self.member, self.then = dict(member), then
        self.status = ""
        self.step = CONSENT

    def reset(self) -> None:
        self.member, self.status, self.step = {}, "", CONSENT

    def refresh(self) -> None:
        self.consent_text = _(situation.CONSENT_QUESTION)
        self._show()

    def on_step(self, *_args) -> None:
        self._show()

    def _show(self) -> None:
        if "steps" not in self.ids:
            return
        self.ids.steps.show(self.step)
        self.title = _(ASKED[self.step]) if self.step in ASKED else _("Situation (FSE+)")
        if self.step in QUESTIONS:
            column, answers = QUESTIONS[self.step]
            grid = self.ids[f"{column}_tiles"]
            grid.clear_widgets()
            for code, words, icon in answers:
                tile = Factory.SituationTile(icon=icon, text=_(words))
                tile.code = code
                tile.chosen = self.member.get(column) == code
                tile.bind(on_release=lambda tile, column=column: self.answer(column, tile.code))
                grid.add_widget(tile)

    def speech_parts(self) -> list[str]:
        if self.step == CONSENT:
            return [self.consent_text]
        _column, answers = QUESTIONS[self.step]
        return [_(ASKED[self.step])] + [_(words) for _c, words, _i in answers]

    # ------------------------------------------------------------ answers

    def _save(self, **fields) -> bool:
        app = App.get_running_app()
        try:
            self.member = app.centre.members.update(self.member["id"], actor=self.actor, **fields)
        except DomainError as error:
            self.status = app.error_text(error)
            return False
        self.status = ""
        return True

    def agree(self) -> None:
        if self._save(situation_consent=True):
            self.step = EMPLOYMENT

    def refuse(self) -> None:
        """« Non, merci »: nothing kept; what was given before is erased."""
        if self.member.get("situation_consent_at") and not self._save(situation_consent=False):
            return
        self.finish()

    def answer(self, column: str, code: str) -> None:
        if self._save(**{column: code}):
            self.skip()

    def skip(self) -> None:
        if self.step == EMPLOYMENT:
            self.step = EDUCATION
        else:
            self.finish()

    def back(self) -> None:
        if self.step == CONSENT:
            self.finish()
        else:
            self.step -= 1

    def finish(self) -> None:
        app = App.get_running_app()
        member = dict(self.member)
        if self.then == "card":
            app.screen("card").member = member
            app.go("card")
        else:
            app.go("member_card")
            app.screen("member_card").show(member)
        self.reset()
