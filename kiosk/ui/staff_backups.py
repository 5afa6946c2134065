"""Backups: make one now, list those in the backup folder, restore one after
a confirmation. The hourly automatic copy is kiosk.core.backup.daily_backup,
which KioskApp runs itself."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.core import backup
from kiosk.core.centre import Centre
from kiosk.core.errors import DomainError
from kiosk.ui import mode_widgets  # noqa: F401  (ConfirmPopup)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.mode_widgets import ConfirmPopup

Builder.load_file(str(Path(__file__).with_suffix(".kv")))
SHOWN = 14


class StaffBackupsScreen(ModeScreen):
    staff_only = True
    folder = StringProperty("")
    result = StringProperty("")
    #: staff chose the backup's hub address and token over the kiosk's own
    enrolment_from_backup = BooleanProperty(False)
    popup = None

    def refresh(self) -> None:
        app = App.get_running_app()
        self.folder = app.centre.settings.get("backup_dir") or ""
        rows = self.ids.files
        rows.clear_widgets()
        if not self.folder or not Path(self.folder).is_dir():
            return
        for path in reversed(backup.backups(self.folder)[-SHOWN:]):
            row = Factory.StaffRow(icon="restore", text=_("Restaurer %(file)s", file=path.name))
            row.path = path
            row.bind(on_release=lambda r: self.ask_restore(r.path))
            rows.add_widget(row)

    def reset(self) -> None:
        self.result = ""
        self.enrolment_from_backup = False
        if self.popup is not None:
            self.popup.dismiss(animation=False)
            self.popup = None

    def backup_now(self) -> None:
        app = App.get_running_app()
        try:
            made = backup.backup(app.centre.store, self.folder or "", actor=self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        self.result = _("Sauvegarde faite : %(file)s", file=made.name)
        self.refresh()

    def ask_restore(self, path: Path) -> None:
        question = _.gettext(
            "Remplacer toutes les données de la borne par la sauvegarde "
            "%(file)s ? Ce qui a été fait depuis sera perdu."
        ) % {"file": path.name}
        self.popup = ConfirmPopup(question, _("Oui, restaurer"))
        self.popup.bind(on_yes=lambda *_a: self.restore(path))
        self.popup.open(animation=False)

    def restore(self, path: Path) -> None:
        """Close the database, restore, open it again; then everyone signs in anew
        (the accounts may differ in the backup)."""
        app = App.get_running_app()
        self.popup = None
        try:
            backup.check_backup_file(path)
        except DomainError as error:
            self.result = app.error_text(error)
            return
        store = app.centre.store
        db_path, clock = store.path, store.clock
        app.centre.close()
        refused = None
        try:
            backup.restore(db_path, path, enrolment_from_backup=self.enrolment_from_backup)
        except DomainError as error:  # the file changed since it was checked
            refused = error
        finally:
            app.centre = Centre.open(db_path, clock=clock)
        if refused is not None:
            self.result = app.error_text(refused)
            return
        app.centre_name = app.centre.settings.get("centre_name")
        app.mode.end()
