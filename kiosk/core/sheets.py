"""Workshop sheets (« fiches atelier ») at the centre: the sheets the
federation published (as kiosk.core.federation_feed last received them),
adopting one as a local workshop, and offering one of the centre's own
workshops to the other centres.

Adopting makes a workshop with the sheet's title, theme and description
(Workshops.create_workshop with its ``sheet``): its events name the sheet
(protocol 1.3), which is how the hub counts the sheet's diffusion. The
centre then schedules its sessions as for any workshop.

Offering sends ``sheet.offered`` with the next sync: what the workshop is
(title, theme, description, usual length and places), never who runs it.
The federation reviews it as a draft before any centre sees it.

Which workshop came from which sheet, and when one was offered, is this
device's (table ``workshop_sheets``): it does not replicate to the centre's
other devices.
"""

from __future__ import annotations

from typing import Any

from kiosk.core import federation_feed
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from kiosk.core.workshops import Workshops
from sync.sheets import FIELDS, MAX_CAPACITY, MAX_DURATION, SheetError, check_sheet

KIND = "sheet"


class Sheets:
    def __init__(self, store: Store, workshops: Workshops):
        self.store = store
        self.workshops = workshops

    # ------------------------------------------------------------ the federation's

    def published(self) -> list[dict[str, Any]]:
        """The sheets held, by title: each sheet's fields, its ``id``, the
        centre that offered it (``offered_by``, "" for the federation's own)
        and ``adopted``: the workshop made here from it, or None. A body this
        kiosk's check refuses (a newer hub's) is left out."""
        adopted = dict(
            self.store.conn.execute(
                "SELECT sheet_id, workshop_id FROM workshop_sheets WHERE sheet_id IS NOT NULL"
            ).fetchall()
        )
        sheets = []
        for item in federation_feed.items(self.store, KIND):
            fields = {key: value for key, value in item.items() if key in FIELDS}
            try:
                sheet = check_sheet(fields)
            except SheetError:
                continue
            sheet.update(
                id=item["key"],
                offered_by=item.get("offered_by") or "",
                adopted=adopted.get(item["key"]),
            )
            sheets.append(sheet)
        return sorted(sheets, key=lambda sheet: sheet["title"].casefold())

    def get(self, sheet_id: str) -> dict[str, Any]:
        found = next((sheet for sheet in self.published() if sheet["id"] == sheet_id), None)
        if found is None:
            raise NotFound(
                "sheet",
                N_("Cette fiche n'est plus proposée par la fédération."),
                f"no sheet {sheet_id!r} held",
                value=sheet_id,
            )
        return found

    def adopt(self, sheet_id: str, actor: dict | None) -> dict[str, Any]:
        """Make the sheet a workshop of this centre; returns the workshop.
        A sheet adopted here already is refused (its workshop is there)."""
        sheet = self.get(sheet_id)
        if sheet["adopted"]:
            raise Conflict(
                "sheet",
                N_("Cet atelier est déjà dans vos ateliers."),
                f"sheet {sheet_id!r} already adopted as workshop {sheet['adopted']!r}",
                value=sheet_id,
            )
        return self.workshops.create_workshop(
            sheet["title"],
            sheet["theme"],
            description=sheet["description"],
            actor=actor,
            sheet=sheet_id,
        )

    # ------------------------------------------------------------ the centre's

    def offered_at(self, workshop_id: str) -> str | None:
        row = self.store.conn.execute(
            "SELECT offered_at FROM workshop_sheets WHERE workshop_id = ?", (workshop_id,)
        ).fetchone()
        return row[0] if row else None

    def offer(
        self, workshop_id: str, duration_minutes: int | None, capacity: int | None, actor: dict | None
    ) -> None:
        """Offer a workshop of this centre to the others (once): its title,
        theme and description, with the usual length and places of the
        session staff are looking at."""
        if duration_minutes is not None and not 15 <= duration_minutes <= MAX_DURATION:
            duration_minutes = None  # a session too short or too long says nothing of the usual
        if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
            capacity = None
        with self.store.transaction():
            check_actor(self.store, actor)
            workshop = self.workshops.get_workshop(workshop_id)
            if self.offered_at(workshop_id):
                raise Conflict(
                    "workshop_id",
                    N_("Cet atelier a déjà été proposé aux autres centres."),
                    "already offered",
                    value=workshop_id,
                )
            if self._adopted_from(workshop_id):
                raise InvalidInput(
                    "workshop_id",
                    N_("Cet atelier vient déjà de la fédération."),
                    "adopted from a federation sheet",
                    value=workshop_id,
                )
            now = self.store.now_iso()
            self.store.conn.execute(
                "INSERT INTO workshop_sheets (workshop_id, offered_at) VALUES (?, ?) "
                "ON CONFLICT (workshop_id) DO UPDATE SET offered_at = excluded.offered_at",
                (workshop_id, now),
            )
            self.store.emit(
                "sheet.offered",
                {
                    "workshop_id": workshop_id,
                    "title": workshop["title"],
                    "theme": workshop["theme"],
                    "description": workshop["description"] or "",
                    "duration_minutes": duration_minutes,
                    "capacity": capacity,
                },
            )
            self.store.audit(actor, "workshop.offer", workshop_id=workshop_id)

    def _adopted_from(self, workshop_id: str) -> str | None:
        row = self.store.conn.execute(
            "SELECT sheet_id FROM workshop_sheets WHERE workshop_id = ?", (workshop_id,)
        ).fetchone()
        return row[0] if row else None
