"""The audit log: what was done in the PIN modes, newest first, in words
(the action's code stays visible for the actions without a description)."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.factory import Factory
from kivy.lang import Builder

from kiosk.core.errors import N_
from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))
SHOWN = 100

#: The audit log's action codes (kiosk.core) in words staff understand.
ACTIONS = {
    "staff.login": N_("Connexion"),
    "staff.pin_locked": N_("Code bloqué après trop d'essais"),
    "staff.add": N_("Personne ajoutée à l'équipe"),
    "staff.reset_pin": N_("Code changé"),
    "staff.deactivate": N_("Accès retiré"),
    "visit.check_in": N_("Passage enregistré"),
    "member.register": N_("Adhérent inscrit"),
    "member.update": N_("Adhérent modifié"),
    "member.replace_card": N_("Carte remplacée"),
    "member.export": N_("Données d'un adhérent exportées"),
    "member.erase": N_("Adhérent effacé"),
    "privacy.retention_purge": N_("Effacement des données anciennes"),
    "attendance.mark": N_("Présence notée"),
    "attendance.walk_in": N_("Personne ajoutée à l'appel"),
    "registration.add": N_("Inscription à un atelier"),
    "registration.cancel": N_("Inscription annulée"),
    "registration.promote": N_("Place donnée depuis la liste d'attente"),
    "workshop.create": N_("Atelier créé"),
    "workshop.update": N_("Atelier modifié"),
    "session.create": N_("Séance créée"),
    "session.create_series": N_("Série de séances créée"),
    "session.update": N_("Séance modifiée"),
    "session.cancel": N_("Séance annulée"),
    "settings.set": N_("Réglage changé"),
    "backup.made": N_("Sauvegarde faite"),
    "cards.print": N_("Cartes imprimées"),
    "export.summary": N_("Bilan exporté"),
    "export.visits": N_("Passages exportés"),
    "export.attendance": N_("Présences exportées"),
    "export.members": N_("Liste des adhérents exportée"),
}


def describe(line: dict) -> str:
    at = parse_utc(line["at"]).astimezone(PARIS)
    action = line["action"]
    words = _.gettext(ACTIONS[action]) if action in ACTIONS else action
    detail = ", ".join(
        f"{key}={value}" for key, value in line["detail"].items() if not key.endswith("_id")
    )  # ids mean nothing to a reader
    who = line["actor_name"] or "—"
    if line.get("device_label"):  # written on another device of the centre
        who = f"{who} ({line['device_label']})"
    return f"{at:%d/%m %H:%M}  {who} : {words}" + (f" ({detail})" if detail else "")


class StaffAuditScreen(ModeScreen):
    staff_only = True

    def refresh(self) -> None:
        rows = self.ids.rows
        rows.clear_widgets()
        for line in App.get_running_app().centre.staff.audit_log(limit=SHOWN):
            rows.add_widget(Factory.AuditLine(text=_.display(describe(line))))
