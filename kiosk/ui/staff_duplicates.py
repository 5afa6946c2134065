"""« Doublons possibles », for staff: the same person registered twice (on
two devices of the centre, or twice on one), each pair side by side (name,
year of birth, card, last visit, where the record was made), with
« Fusionner » and « Pas la même personne » (kiosk.core.duplicates).

« Fusionner » asks which record to keep (the older one is chosen first),
says which details the kept record takes from the other, and merges only
on « Oui, fusionner ». Reached from the staff menu and from « À vérifier »."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import DictProperty, StringProperty

from kiosk.core import replication
from kiosk.core.errors import N_, DomainError
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: pairs shown at once: staff work through them from the newest
SHOWN = 20

#: where a record was made, as staff read it
ORIGINS = {
    "this_device": N_("Inscrite sur cet appareil"),
    "other_device": N_("Inscrite sur un autre appareil du centre"),
    "outreach": N_("Inscrite hors les murs"),
}
#: the details a kept record may take from the other, as staff read them
FIELD_NAMES = {
    "birth_year": N_("année de naissance"),
    "age_band": N_("âge"),
    "age_band_year": N_("âge"),
    "gender": N_("genre"),
    "commune": N_("commune"),
    "neighbourhood": N_("quartier"),
    "qpv": N_("quartier"),
    "phone": N_("téléphone"),
    "email": N_("e-mail"),
    "card_code": N_("carte"),
    "household_id": N_("foyer"),
}


class StaffDuplicatesScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")
    #: "list": the pairs; "confirm": one pair, which record to keep, the merge
    step = StringProperty("list")
    #: in "confirm": {"keep": id, "other": id}
    choice = DictProperty({})

    def reset(self) -> None:
        self.result, self.step, self.choice = "", "list", {}

    def refresh(self) -> None:
        box = self.ids.entries
        box.clear_widgets()
        if self.step == "confirm" and self.choice:
            self._show_confirm(box)
            return
        duplicates = App.get_running_app().centre.duplicates
        pairs = duplicates.pairs(limit=SHOWN)
        for pair in pairs:
            try:
                sides = duplicates.side(pair.member_a), duplicates.side(pair.member_b)
            except DomainError:
                continue  # merged or erased meanwhile (another device)
            card = Factory.DuplicatePair()
            for widget, side in zip((card.ids.one, card.ids.other), sides, strict=True):
                widget.name, widget.details = self._describe(side)
            card.ids.merge.bind(on_release=lambda _b, p=pair: self.start_merge(p.member_a, p.member_b))
            card.ids.dismiss.bind(on_release=lambda _b, p=pair: self.dismiss(p.member_a, p.member_b))
            box.add_widget(card)
        if not pairs:
            note = Factory.DuplicateNote()
            note.icon, note.text = "check_circle", _("Aucun doublon possible.")
            box.add_widget(note)

    def _describe(self, side: dict, kept: bool = False) -> tuple[str, str]:
        """The record's name (shaped), and its facts one a line (shaped)."""
        name = f"{side['first_name']} {side['last_name']}"
        seen = side["last_seen_at"]
        lines = [
            _.gettext("Année de naissance : %(year)s") % {"year": side["birth_year"]},
            _.gettext("Carte : %(code)s") % {"code": side["card_code"]}
            if side["card_code"]
            else _.gettext("Pas de carte"),
            _.gettext("Dernier passage : %(day)s") % {"day": replication.paris_day(seen)}
            if seen
            else _.gettext("Pas encore de passage"),
            _.gettext(ORIGINS[side["origin"]]),
        ]
        return (_("Gardée : %(name)s", name=name) if kept else _.display(name)), _.display("\n".join(lines))

    # ------------------------------------------------------------ actions

    def start_merge(self, one: str, other: str) -> None:
        """« Fusionner »: the older record is kept unless staff choose the other."""
        keep, gone = sorted((one, other))  # ids are time-ordered: the first registered
        self.result, self.step, self.choice = "", "confirm", {"keep": keep, "other": gone}
        self.refresh()

    def keep(self, member_id: str) -> None:
        if member_id != self.choice.get("keep"):
            self.choice = {"keep": member_id, "other": self.choice["keep"]}
            self.refresh()

    def _show_confirm(self, box) -> None:
        app = App.get_running_app()
        duplicates = app.centre.duplicates
        try:
            keep, other = duplicates.side(self.choice["keep"]), duplicates.side(self.choice["other"])
            fill = duplicates.preview(keep["id"], other["id"])
        except DomainError as error:
            self.result, self.step, self.choice = app.error_text(error), "list", {}
            self.refresh()
            return
        card = Factory.DuplicatePair()
        card.ids.one.name, card.ids.one.details = self._describe(keep, kept=True)
        card.ids.other.name, card.ids.other.details = self._describe(other)
        card.ids.one.chosen = True
        card.ids.merge.text = _("Oui, fusionner")
        card.ids.merge.bind(on_release=lambda _b: self.merge())
        card.ids.dismiss.text, card.ids.dismiss.icon = _("Annuler"), "close"
        card.ids.dismiss.bind(on_release=lambda _b: self.cancel())
        box.add_widget(card)
        words = sorted({_.gettext(FIELD_NAMES[name]) for name in fill})
        info = Factory.DuplicateNote()
        info.icon = "info"
        filled = (
            _.gettext("La fiche gardée prend aussi : %(fields)s.") % {"fields": ", ".join(words)}
            if words
            else _.gettext("La fiche gardée ne change pas.")
        )
        moved = _.gettext(
            "L'autre fiche est effacée. Ses passages et ses inscriptions vont sur la fiche gardée."
        )
        info.text = _.display(f"{filled} {moved}")
        box.add_widget(info)
        swap = Factory.DuplicateWideButton()
        swap.text = _("Garder plutôt l'autre fiche")
        swap.bind(on_release=lambda _b: self.keep(other["id"]))
        box.add_widget(swap)

    def merge(self) -> None:
        app = App.get_running_app()
        try:
            kept = app.centre.duplicates.merge(self.choice["keep"], self.choice["other"], self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
        else:
            self.result = _("Fusion faite : %(name)s.", name=f"{kept['first_name']} {kept['last_name']}")
        self.step, self.choice = "list", {}
        self.refresh()

    def cancel(self) -> None:
        self.result, self.step, self.choice = "", "list", {}
        self.refresh()

    def dismiss(self, one: str, other: str) -> None:
        app = App.get_running_app()
        try:
            app.centre.duplicates.dismiss(one, other, self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
        else:
            self.result = _("C'est noté : ces deux fiches ne reviendront pas.")
        self.refresh()
