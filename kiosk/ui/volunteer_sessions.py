"""Today's workshop sessions (Europe/Paris day), each opening its roll call."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def today_sessions(centre) -> list[dict]:
    day = centre.store.now().astimezone(PARIS).date()
    start = datetime.combine(day, time(0, 0), PARIS)
    return centre.workshops.sessions_between(start, start + timedelta(days=1))


def hour(iso: str) -> str:
    return parse_utc(iso).astimezone(PARIS).strftime("%H:%M")


class SessionsTodayScreen(ModeScreen):
    message = StringProperty("")

    def refresh(self) -> None:
        app = App.get_running_app()
        rows = self.ids.rows
        rows.clear_widgets()
        sessions = today_sessions(app.centre)
        self.message = "" if sessions else _("Pas d'atelier aujourd'hui.")
        for session in sessions:
            text = _(
                "%(start)s–%(end)s  %(title)s  (inscrits : %(booked)d sur %(capacity)d)",
                start=hour(session["starts_at"]),
                end=hour(session["ends_at"]),
                title=session["title"],
                booked=session["booked"],
                capacity=session["capacity"],
            )
            row = Factory.ShortRow(icon="checklist", text=text)
            row.session_id = session["id"]
            row.bind(on_release=self.open)
            rows.add_widget(row)

    def open(self, row) -> None:
        app = App.get_running_app()
        app.screen("roll_call").session_id = row.session_id
        app.go("roll_call")
