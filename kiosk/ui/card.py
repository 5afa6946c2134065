"""The new member's card on screen as a QR code (and printed, where the
setting "printer" names a receipt printer: the print runs off the UI thread).
It offers to register another person of the same household next, in one tap
(« même foyer que… », kiosk/ui/first_visit.py)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, ObjectProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def qr_texture(code: str):
    from kiosk.core import card_print  # fpdf2 behind it: loaded off the start-up path

    buffer = io.BytesIO()
    card_print.qr_image(code).save(buffer, "png")
    buffer.seek(0)
    return CoreImage(buffer, ext="png").texture


class CardScreen(KioskScreen):
    member = DictProperty({})
    texture = ObjectProperty(None, allownone=True)
    greeting = StringProperty("")
    code = StringProperty("")
    status = StringProperty("")
    printer = BooleanProperty(False)

    def on_member(self, *_args) -> None:
        if not self.member:
            return
        from kiosk.core import card_print

        app = App.get_running_app()
        self.texture = qr_texture(self.member["card_code"])
        self.code = card_print.printable(self.member["card_code"])
        self.printer = bool(app.centre.settings.get("printer"))
        self.refresh()
        if self.printer:
            self.print_card()

    def refresh(self) -> None:
        if self.member:
            self.greeting = _("Bienvenue, %(name)s !", name=self.member["first_name"])

    def print_card(self) -> None:
        from kiosk.core import card_print

        app = App.get_running_app()
        target = app.centre.settings.get("printer")
        data = card_print.escpos_card(self.member, app.centre_name)
        self.status = _("Nous imprimons votre carte…")
        print_in_background(
            data,
            target,
            lambda: _("Votre carte est prête. Prenez-la dans l'imprimante."),
            lambda text: setattr(self, "status", text),
        )

    def speech_parts(self) -> list[str]:
        ids = self.ids
        return [
            self.greeting,
            ids.keep.text,
            self.status,
            ids.household.text,
            ids.checkin.text,
            ids.done.text,
        ]

    def same_household(self) -> None:
        """« Inscrire une autre personne du même foyer »: the form again,
        for someone who lives with this member."""
        app = App.get_running_app()
        app.screen("first_visit").start_same_household(dict(self.member))
        self.reset()
        app.go("first_visit")

    def check_in_now(self) -> None:
        app = App.get_running_app()
        app.flow = {"purpose": "checkin", "member": dict(self.member)}
        self.reset()
        app.go("reason")

    def reset(self) -> None:
        self.member = {}
        self.texture = None
        self.greeting = self.code = self.status = ""


def print_in_background(data: bytes, target: str, printed, show) -> None:
    """Send an ESC/POS ticket off the UI thread (a printer may be slow or not
    answer), then hand the outcome back on the UI thread: ``show(text)`` with
    ``printed()`` or the error, in the current language."""
    from kiosk.core import card_print

    app = App.get_running_app()

    def work() -> None:
        try:
            card_print.send_escpos(data, target)
            done = printed
        except DomainError as error:
            # bound now: Python unbinds ``error`` when the except block ends
            done = lambda failure=error: app.error_text(failure)  # noqa: E731
        Clock.schedule_once(lambda *_a: show(done()))

    threading.Thread(target=work, name="accueil-print", daemon=True).start()
