"""Workshop sheets (« fiches atelier ») on the hub: written by federation
staff or offered by a centre (a draft), published to every kiosk through the
signed publications (federation.publications, kind ``sheet``), withdrawn;
imported from and exported to a JSON list; and their « diffusion »: which
centres adopted each sheet, and the sessions and participants that came of it.

What a sheet holds and its check are sync.sheets' (the kiosk checks the same
body). Every function works in the caller's transaction (``conn``); a refused
sheet raises sync.sheets.SheetError before anything is written.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import publications
from federation import store as db
from sync import protocol
from sync.sheets import FIELDS, SheetError, check_sheet

KIND = "sheet"
STATUSES = ("draft", "published", "withdrawn")
#: the most sheets one file may import
MAX_IMPORT = 2000


# ---------------------------------------------------------------- reading


def get(conn: Connection, sheet_id: str) -> dict | None:
    row = conn.execute(sa.select(db.sheets).where(db.sheets.c.id == sheet_id)).mappings().first()
    return dict(row) if row else None


def listing(conn: Connection, status: str | None = None) -> list[dict]:
    """The sheets, drafts first then by title; one status only if given."""
    query = sa.select(db.sheets)
    if status is not None:
        query = query.where(db.sheets.c.status == status)
    order = sa.case({"draft": 0, "published": 1}, value=db.sheets.c.status, else_=2)
    return [dict(row) for row in conn.execute(query.order_by(order, db.sheets.c.title)).mappings()]


def body(sheet: dict) -> dict[str, Any]:
    """What a sheet publishes and exports: its fields alone."""
    return {field: sheet[field] for field in FIELDS}


# ---------------------------------------------------------------- writing


def create(conn: Connection, fields: Any, sheet_id: str | None = None) -> str:
    """A new draft sheet; its id."""
    cleaned = check_sheet(fields)
    sheet_id = sheet_id or str(uuid.uuid4())
    now = db.utc_now_iso()
    conn.execute(
        db.sheets.insert().values(id=sheet_id, status="draft", created_at=now, updated_at=now, **cleaned)
    )
    return sheet_id


def _existing(conn: Connection, sheet_id: str) -> dict:
    sheet = get(conn, sheet_id)
    if sheet is None:
        raise SheetError("id", "Cette fiche n'existe pas.", f"no sheet {sheet_id!r}")
    return sheet


def update(conn: Connection, sheet_id: str, fields: Any, by: str | None = None) -> dict:
    """Change a sheet; a published one is published again as it now is."""
    cleaned = check_sheet(fields)
    sheet = _existing(conn, sheet_id)
    conn.execute(
        db.sheets.update().where(db.sheets.c.id == sheet_id).values(updated_at=db.utc_now_iso(), **cleaned)
    )
    if sheet["status"] == "published":
        publications.publish(conn, KIND, sheet_id, _published_body(conn, dict(sheet, **cleaned)), by=by)
    return _existing(conn, sheet_id)


def _published_body(conn: Connection, sheet: dict) -> dict[str, Any]:
    """What the kiosks get: the sheet's fields, and the name of the centre
    that offered it, if one did."""
    offered_by = ""
    if sheet["offered_by"]:
        name = conn.execute(sa.select(db.centres.c.name).where(db.centres.c.id == sheet["offered_by"]))
        offered_by = name.scalar() or ""
    return dict(check_sheet(body(sheet)), offered_by=offered_by)


def publish(conn: Connection, sheet_id: str, by: str | None = None) -> dict:
    """Publish a sheet (a draft, a withdrawn one, or again): every kiosk gets
    it. ``by``: who did (the dashboard's e-mail), kept with the publication."""
    sheet = _existing(conn, sheet_id)
    published = _published_body(conn, sheet)
    now = db.utc_now_iso()
    conn.execute(
        db.sheets.update()
        .where(db.sheets.c.id == sheet_id)
        .values(status="published", published_at=now, withdrawn_at=None, updated_at=now)
    )
    publications.publish(conn, KIND, sheet_id, published, by=by)
    return _existing(conn, sheet_id)


def withdraw(conn: Connection, sheet_id: str, by: str | None = None) -> dict:
    """Withdraw a published sheet: the kiosks drop it from their list (a
    workshop already adopted from it stays the centre's)."""
    sheet = _existing(conn, sheet_id)
    if sheet["status"] != "published":
        raise SheetError("status", "Seule une fiche publiée peut être retirée.", "not published")
    now = db.utc_now_iso()
    conn.execute(
        db.sheets.update()
        .where(db.sheets.c.id == sheet_id)
        .values(status="withdrawn", withdrawn_at=now, updated_at=now)
    )
    publications.withdraw(conn, KIND, sheet_id, by=by)
    return _existing(conn, sheet_id)


# ---------------------------------------------------------------- files


class SheetFileError(SheetError):
    """A file refused: ``index`` is the entry (from 1) that is wrong, or 0
    when the file as a whole is."""

    def __init__(self, index: int, field: str, message: str, detail: str):
        super().__init__(field, message, detail)
        self.index = index

    def __str__(self) -> str:
        where = f"entry {self.index}" if self.index else "file"
        return f"{where}: {self.field}: {self.detail}"


def read_file(text: str) -> list[dict]:
    """The entries of a sheets file (the JSON list ``export`` writes), each
    checked, or SheetFileError naming the entry and its field."""
    try:
        entries = json.loads(text)
    except ValueError as error:
        raise SheetFileError(
            0, "file", "Ce fichier n'est pas du JSON valide.", f"not JSON: {error}"
        ) from None
    if not isinstance(entries, list):
        raise SheetFileError(
            0, "file", "Le fichier doit contenir une liste de fiches.", "must be a JSON list"
        )
    if len(entries) > MAX_IMPORT:
        raise SheetFileError(
            0, "file", f"{MAX_IMPORT} fiches au plus par fichier.", f"at most {MAX_IMPORT} sheets"
        )
    checked, seen = [], set()
    for index, entry in enumerate(entries, 1):
        fields = dict(entry) if isinstance(entry, dict) else entry
        sheet_id = fields.pop("id", None) if isinstance(fields, dict) else None
        if sheet_id is not None and (not protocol.is_id(sheet_id) or sheet_id in seen):
            raise SheetFileError(
                index, "id", "Identifiant de fiche invalide ou en double.", "must be a unique lowercase UUID"
            )
        seen.add(sheet_id)
        try:
            checked.append({"id": sheet_id, **check_sheet(fields)})
        except SheetError as error:
            raise SheetFileError(index, error.field, error.message, error.detail) from None
    return checked


def import_sheets(conn: Connection, entries: list[dict]) -> tuple[int, int]:
    """Publish the checked ``entries`` (from ``read_file``): an entry with the
    id of a sheet held here updates it, any other is a new sheet. Returns
    (created, updated). The caller's transaction makes it all or nothing."""
    created = updated = 0
    for entry in entries:
        fields = {field: entry[field] for field in FIELDS}
        if entry["id"] and get(conn, entry["id"]) is not None:
            update(conn, entry["id"], fields)
            updated += 1
            sheet_id = entry["id"]
        else:
            sheet_id = create(conn, fields, entry["id"])
            created += 1
        if _existing(conn, sheet_id)["status"] != "published":
            publish(conn, sheet_id)
    return created, updated


def export(conn: Connection) -> str:
    """The published sheets as the JSON list ``federation publish --sheets`` reads."""
    rows = [{"id": sheet["id"], **body(sheet)} for sheet in listing(conn, "published")]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
