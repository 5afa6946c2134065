"""The audit log: what was done in the PIN modes, newest first."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder

from kiosk.ui.i18n import PARIS, _
from kiosk.ui.mode import ModeScreen
from kiosk.ui.widgets import KioskLabel
from sync.protocol import parse_utc

Builder.load_file(str(Path(__file__).with_suffix(".kv")))
SHOWN = 100


class StaffAuditScreen(ModeScreen):
    staff_only = True

    def refresh(self) -> None:
        rows = self.ids.rows
        rows.clear_widgets()
        for line in App.get_running_app().centre.staff.audit_log(limit=SHOWN):
            at = parse_utc(line["at"]).astimezone(PARIS)
            detail = ", ".join(f"{k}={v}" for k, v in line["detail"].items())
            text = f"{at:%d/%m %H:%M}  {line['actor_name'] or '—'}  {line['action']}  {detail}"
            rows.add_widget(KioskLabel(text=_.display(text[:110]), font_size=24, halign="left",
                                       size_hint_y=None, height=44, shorten=True))
