"""« Demandes d'autres centres », for staff: the seat requests other
centres' residents made for a session here (« Accepter » registers the
resident, a new member if nobody here has that name and phone; « Refuser »
declines; a session with no seat left is answered « complet »), and the
answers to the requests residents made here, for staff to tell them
(« C'est dit »). Everything goes through kiosk/core/seat_requests.py; the
answers leave at the next sync."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core import seat_requests
from kiosk.core.errors import N_, DomainError
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.staff_workshops import french_phone

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: what became of a request made here, in plain words: (pictogram, words)
OUTCOME_WORDS = {
    "accepted": ("check_circle", N_("%(centre)s a donné une place à %(name)s (%(phone)s) : %(session)s.")),
    "declined": ("cancel", N_("%(centre)s n'a pas pu prendre %(name)s (%(phone)s) : %(session)s.")),
    "full": ("event_busy", N_("%(centre)s est complet pour %(name)s (%(phone)s) : %(session)s.")),
    None: ("hourglass_empty", N_("En attente de %(centre)s pour %(name)s : %(session)s.")),
}


def _when(starts_at: str | None) -> str:
    return _.day(datetime.fromisoformat(starts_at)) if starts_at else ""


class StaffRequestsScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")

    def reset(self) -> None:
        self.result = ""

    def refresh(self) -> None:
        app = App.get_running_app()
        requests = seat_requests.SeatRequests(app.centre.store)
        box = self.ids.entries
        box.clear_widgets()
        incoming, outgoing = requests.incoming(), requests.outgoing()
        box.add_widget(_title("groups", _("Demandes d'autres centres")))
        for row in incoming:
            session = row["session"]
            what = (
                f"{session['title']}, {_when(session['starts_at'])}"
                if session
                else _("une séance qui n'est plus ici")
            )
            line = Factory.SeatRequestRow()
            line.text = _.display(
                _(
                    "%(name)s (%(phone)s), du %(centre)s, demande une place : %(session)s.",
                    name=f"{row['first_name']} {row['last_name']}",
                    phone=french_phone(row["phone"]),
                    centre=row["from_centre_name"] or _("un autre centre"),
                    session=what,
                )
            )
            line.ids.accept.bind(on_release=lambda _b, i=row["id"]: self.decide(i, True))
            line.ids.decline.bind(on_release=lambda _b, i=row["id"]: self.decide(i, False))
            box.add_widget(line)
        if not incoming:
            box.add_widget(_title("check_circle", _("Aucune demande en attente.")))
        box.add_widget(_title("reply", _("Réponses à nos demandes")))
        for row in outgoing:
            icon, words = OUTCOME_WORDS.get(row["outcome"], OUTCOME_WORDS[None])
            line = Factory.SeatAnswerRow()
            line.icon = icon
            line.text = _.display(
                _(
                    words,
                    centre=row["to_centre_name"],
                    name=f"{row['first_name']} {row['last_name']}",
                    phone=french_phone(row["phone"]),
                    session=f"{row['title']}, {_when(row['starts_at'])}",
                )
            )
            if row["outcome"] is None:
                line.ids.buttons.remove_widget(line.ids.told)
            else:
                line.ids.told.bind(on_release=lambda _b, i=row["id"]: self.told(i))
            box.add_widget(line)
        if not outgoing:
            box.add_widget(_title("check_circle", _("Aucune réponse à donner.")))

    def decide(self, request_id: str, accept: bool) -> None:
        app = App.get_running_app()
        requests = seat_requests.SeatRequests(app.centre.store)
        try:
            if accept:
                outcome = requests.accept(request_id, self.actor)["outcome"]
            else:
                outcome = requests.decline(request_id, self.actor)["outcome"]
        except DomainError as error:
            self.result = app.error_text(error)
        else:
            self.result = {
                "accepted": _("Inscription faite. La réponse part à la prochaine synchronisation."),
                "full": _("La séance est complète : le centre le saura à la prochaine synchronisation."),
                "declined": _("Refus noté. La réponse part à la prochaine synchronisation."),
            }[outcome]
        self.refresh()

    def told(self, request_id: str) -> None:
        app = App.get_running_app()
        try:
            seat_requests.SeatRequests(app.centre.store).mark_told(request_id, self.actor)
        except DomainError as error:
            self.result = app.error_text(error)
        else:
            self.result = _("C'est noté.")
        self.refresh()


def _title(icon: str, text: str):
    title = Factory.SeatRequestsTitle()
    title.icon, title.text = icon, text
    return title
