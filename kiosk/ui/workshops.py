"""This week's workshops as cards, as many a page as the window holds (four
at 1280x800, twelve on a wall screen, two a row in portrait), with
« Suivants » / « Précédents » buttons (no scrolling: a single tap is the
only gesture). The cards and their pages are kiosk/ui/session_cards.py's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder

from kiosk.ui.i18n import _
from kiosk.ui.session_cards import SessionCard, SessionPages

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def when(session: dict) -> str:
    """« mardi 3 décembre, 14 h – 16 h » in the current language (not shaped)."""
    return _.span(datetime.fromisoformat(session["starts_at"]), datetime.fromisoformat(session["ends_at"]))


def seats_text(session: dict) -> tuple[str, str]:
    """(pictogram, words) for the seats: never the colour alone."""
    if session["seats_left"] > 0 and not session["waitlisted"]:
        left = session["seats_left"]
        return "event_seat", _.ngettext(
            "Encore %(n)d place libre", "Encore %(n)d places libres", left, n=left
        )
    return "hourglass_empty", _("Complet : liste d'attente")


class WorkshopCard(SessionCard):
    """A session of this centre's workshops; tapping it opens the workshop."""

    @classmethod
    def of(cls, session: dict) -> WorkshopCard:
        icon, seats = seats_text(session)
        return cls(
            session_id=session["id"],
            theme=session["theme"],
            title=_.display(session["title"]),
            when=_.display(when(session)),
            place=_.display(session["place"] or ""),
            seats_icon=icon,
            seats=seats,
        )


class WorkshopsScreen(SessionPages):
    card_lines = 5.6

    def refresh(self) -> None:
        self.show(App.get_running_app().centre.workshops.week_sessions(), WorkshopCard.of)

    def speech_parts(self) -> list[str]:
        ids = self.ids
        if self.empty:
            return [ids.title.text, ids.empty.text]
        return [ids.title.text, *self.cards_speech()]

    def open(self, card: SessionCard) -> None:
        app = App.get_running_app()
        app.screen("workshop").session_id = card.session_id
        app.go("workshop")
