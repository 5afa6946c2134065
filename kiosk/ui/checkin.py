"""Check in (identify): scan the card, type a first name on the big keyboard,
or « Sans carte ». The same screen identifies someone signing up for a
workshop or cancelling (then « Sans carte » is hidden: a sign-up needs a name).

Results show only ``members.display_name`` (« Aïcha B. »): never another
member's details on a public screen.
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.errors import DomainError
from kiosk.ui import camera_scan
from kiosk.ui.i18n import _
from kiosk.ui.widgets import KioskScreen, RowButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MIN_QUERY = 2
MAX_RESULTS = 3


class CheckinScreen(KioskScreen):
    is_form = True
    query = StringProperty("")
    message = StringProperty("")
    anonymous_allowed = BooleanProperty(True)
    camera = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.camera = camera_scan.camera_available()
        self._message_source = None

    def refresh(self) -> None:
        app = App.get_running_app()
        self.anonymous_allowed = app.flow.get("purpose", "checkin") == "checkin"
        self.search()
        if self._message_source:  # the language may have changed
            self.message = self._message_source()

    def reset(self) -> None:
        self.query = ""
        self.message = ""
        self._message_source = None
        self.ids.results.clear_widgets()

    def on_leave(self, *_args) -> None:
        self.reset()

    def has_input(self) -> bool:
        return bool(self.query)

    # ------------------------------------------------------------ typing

    def key(self, char: str) -> None:
        self.message = ""
        self._message_source = None
        self.query = self.query[:-1] if char == "\b" else (self.query + char)[:40]
        self.search()

    def search(self) -> None:
        results = self.ids.results
        results.clear_widgets()
        if len(self.query.strip()) < MIN_QUERY:
            return
        app = App.get_running_app()
        found = app.centre.members.search(self.query, limit=MAX_RESULTS)
        if not found:
            self._message_source = lambda: _(
                "Nous ne trouvons pas ce prénom. Tapez-le autrement, ou demandez à l'accueil."
            )
            self.message = self._message_source()
        for member in found:
            row = RowButton(icon="person", text=_.display(app.centre.members.display_name(member)))
            row.member_id = member["id"]
            row.bind(on_release=self.choose)
            results.add_widget(row)

    def speech_parts(self) -> list[str]:
        ids = self.ids
        parts = [ids.typed.text, ids.message.text if self.message or not self.query else ""]
        parts += [row.text for row in self._rows()]
        if self.anonymous_allowed:
            parts.append(ids.anonymous.text)
        return parts

    def _rows(self) -> list:
        """The names found, first found first (a mirrored row lists them the other way)."""
        rows = [child for child in self.ids.results.children if hasattr(child, "member_id")]
        return rows if getattr(self.ids.results, "_mirrored", False) else rows[::-1]

    def choose(self, row) -> None:
        app = App.get_running_app()
        app.identified(app.centre.members.get(row.member_id))

    def without_card(self) -> None:
        App.get_running_app().identified(None)

    # ------------------------------------------------------------ cards

    def identify_by_card(self, code: str) -> None:
        app = App.get_running_app()
        try:
            member = app.centre.members.by_card(code)
        except DomainError as error:
            self.query = ""
            self.ids.results.clear_widgets()
            self._message_source = lambda error=error: app.error_text(error)
            self.message = self._message_source()
            return
        app.identified(member)

    def start_camera(self) -> None:
        from kiosk.ui.camera_view import CameraPopup

        CameraPopup(on_code=lambda code: self.identify_by_card(code)).open()
