"""« À vérifier », for staff: what each feature asks them to check
(kiosk.core.review's registry: a volunteer's stretch that closed itself,
and the kinds other features add), each with « C'est juste » and
« Corriger ». The screen knows no kind by name: a kind lists its items,
confirms one, and names the screen that corrects one."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class StaffReviewScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")

    def reset(self) -> None:
        self.result = ""

    def refresh(self) -> None:
        app = App.get_running_app()
        box = self.ids.entries
        box.clear_widgets()
        pending = app.centre.review.pending()
        for kind, items in pending:
            box.add_widget(_title(kind.icon, _.gettext(kind.title)))
            for item in items:
                row = Factory.ReviewItem()
                row.text = _.display(item.text(_.gettext))
                row.ids.confirm.text = _.gettext(kind.confirm_text)
                if kind.confirm is None:
                    row.ids.buttons.remove_widget(row.ids.confirm)
                else:
                    row.ids.confirm.bind(
                        on_release=lambda _b, k=kind.code, i=item.item_id: self.confirm(k, i)
                    )
                if kind.correct_screen is None:
                    row.ids.buttons.remove_widget(row.ids.correct)
                else:
                    row.ids.correct.bind(
                        on_release=lambda _b, s=kind.correct_screen, i=item.item_id: self.correct(s, i)
                    )
                box.add_widget(row)
        if not pending:
            box.add_widget(_title("check_circle", _("Rien à vérifier.")))

    def confirm(self, kind: str, item_id: str) -> None:
        app = App.get_running_app()
        try:
            app.centre.review.confirm(kind, item_id, self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
        else:
            self.result = _("C'est noté.")
        self.refresh()

    def correct(self, screen: str, item_id: str) -> None:
        """Open the item in the screen that corrects it (it checks it once corrected)."""
        app = App.get_running_app()
        target = app.screen(screen)
        if hasattr(target, "open_stretch"):
            target.open_stretch(item_id)
        app.go(screen)


def _title(icon: str, text: str):
    title = Factory.ReviewTitle()
    title.icon, title.text = icon, text
    return title
