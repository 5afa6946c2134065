"""Exports for the centre: visits, workshop attendance and the member list as
CSV for a French Excel, and the one-page PDF summary, for a chosen period,
written to the folder of the setting backup_dir (a USB stick)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core import exports, report_pdf
from kiosk.core.errors import N_, DomainError, InvalidInput
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

WRITERS = {
    "visits": exports.export_visits,
    "attendance": exports.export_attendance,
    "members": exports.export_members,
}


def parse_day(field: str, text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        raise InvalidInput(
            field, N_("Date invalide : écrivez-la comme 01/12/2026."), "expected DD/MM/YYYY", value=text
        ) from None


class StaffExportsScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")
    folder = StringProperty("")

    def refresh(self) -> None:
        app = App.get_running_app()
        self.folder = app.centre.settings.get("backup_dir") or ""
        today = app.centre.store.now().astimezone(PARIS).date()
        if not self.ids.start.text:
            self.ids.start.text = f"{today.replace(day=1):%d/%m/%Y}"
        if not self.ids.end.text:
            self.ids.end.text = f"{today:%d/%m/%Y}"

    def reset(self) -> None:
        self.result = ""
        self.ids.start.text = self.ids.end.text = ""

    def _target(self, name: str) -> Path:
        if not self.folder or not Path(self.folder).is_dir():
            raise InvalidInput(
                "backup_dir",
                N_("Le dossier de sortie est introuvable : %(folder)s. La clé USB est-elle branchée ?"),
                "output folder missing",
                value=self.folder,
                folder=self.folder,
            )
        return Path(self.folder) / name

    def export(self, what: str) -> None:
        app = App.get_running_app()
        try:
            start = parse_day("start", self.ids.start.text)
            end = parse_day("end", self.ids.end.text)
            if what == "summary":
                out = self._target(f"bilan-{start:%Y%m%d}-{end:%Y%m%d}.pdf")
                report_pdf.summary_pdf(app.centre.store, out, start, end, actor=self.actor)
                self.result = _("Bilan écrit : %(file)s", file=str(out))
                return
            out = self._target(f"{what}-{start:%Y%m%d}-{end:%Y%m%d}.csv")
            count = WRITERS[what](app.centre.store, out, start, end, actor=self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        except OSError as error:
            self.result = _("Écriture impossible : %(error)s", error=str(error))
            return
        self.result = _.ngettext(
            "%(count)d ligne écrite dans %(file)s",
            "%(count)d lignes écrites dans %(file)s",
            count,
            count=count,
            file=str(out),
        )
