"""The centre's settings: name, idle times, languages, printer, the output
folder (USB stick), the reasons for a visit and the neighbourhoods. Each is
checked by kiosk.core.settings; a refused value names its setting."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.core.errors import DomainError, InvalidInput, N_
from kiosk.ui import mode_widgets  # noqa: F401  (Field)
from kiosk.ui.i18n import _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.staff_workshops import whole

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

TEXTS = ("centre_name", "printer", "backup_dir")
NUMBERS = ("idle_timeout_s", "pin_idle_timeout_s", "retention_months")
YES = ("oui", "o", "yes", "1", "qpv")


def reasons_text(reasons: list[dict]) -> str:
    return "\n".join(f"{r['code']} ; {r['label']} ; {r['icon']}" for r in reasons)


def parse_reasons(text: str) -> list[dict]:
    reasons = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        parts = [part.strip() for part in line.split(";")]
        if len(parts) != 3:
            raise InvalidInput("reasons", N_("Une raison par ligne : code ; libellé ; pictogramme."),
                               "expected code ; label ; icon", value=line)
        reasons.append({"code": parts[0], "label": parts[1], "icon": parts[2]})
    return reasons


def neighbourhoods_text(items: list[dict]) -> str:
    return "\n".join(f"{n['name']} ; {n['commune']} ; {'oui' if n['qpv'] else 'non'}" for n in items)


def parse_neighbourhoods(text: str) -> list[dict]:
    items = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        parts = [part.strip() for part in line.split(";")]
        if len(parts) != 3:
            raise InvalidInput("neighbourhoods",
                               N_("Un quartier par ligne : nom ; commune ; QPV oui ou non."),
                               "expected name ; commune ; yes/no", value=line)
        items.append({"name": parts[0], "commune": parts[1], "qpv": parts[2].lower() in YES})
    return items


class StaffSettingsScreen(ModeScreen):
    staff_only = True
    result = StringProperty("")

    def refresh(self) -> None:
        values = App.get_running_app().centre.settings.all()
        for key in TEXTS:
            self.ids[key].text = values[key] or ""
        for key in NUMBERS:
            self.ids[key].text = str(values[key])
        self.ids.languages.text = ", ".join(values["languages"])
        self.ids.reasons.text = reasons_text(values["reasons"])
        self.ids.neighbourhoods.text = neighbourhoods_text(values["neighbourhoods"])

    def reset(self) -> None:
        self.result = ""

    def wanted(self) -> dict:
        values = {key: self.ids[key].text.strip() or None for key in TEXTS}
        values["centre_name"] = values["centre_name"] or ""
        values.update({key: whole(key, self.ids[key].text) for key in NUMBERS})
        values["languages"] = [code.strip() for code in self.ids.languages.text.split(",") if code.strip()]
        values["reasons"] = parse_reasons(self.ids.reasons.text)
        values["neighbourhoods"] = parse_neighbourhoods(self.ids.neighbourhoods.text)
        return values

    def save(self) -> None:
        app = App.get_running_app()
        settings = app.centre.settings
        try:
            wanted = self.wanted()
            current = settings.all()
            for key, value in wanted.items():
                if value != current[key]:
                    settings.set(key, value, actor=self.actor)
        except DomainError as error:
            # the core names the setting by its key: say which field on this screen
            field = self.ids.get(error.field)
            label = getattr(field, "label", "")
            self.result = f"{label} — {app.error_text(error)}" if label else app.error_text(error)
            return
        app.centre_name = settings.get("centre_name")
        self.result = _("Réglages enregistrés.")
