"""The workshop sheets' side of the ingest and their « diffusion »: a
centre's ``sheet.offered`` becomes a draft sheet, a workshop event naming a
``sheet`` (protocol 1.3) records that this centre's workshop came from it;
the diffusion joins those adoptions to the sessions held and the
participants present. Apart from federation.sheets so the projections need
nothing of the publications.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from federation import formatting
from federation import store as db
from sync import csvsafe, protocol
from sync.clock import PARIS
from sync.protocol import THEME_PICTOGRAMS

#: what a sheet offered by a centre gets for the fields its workshop does not hold
OFFER_DEFAULTS = {"duration_minutes": 120, "capacity": 12, "bring": "", "animator_needs": ""}
STATUS_LABELS = {"draft": "Brouillon", "published": "Publiée", "withdrawn": "Retirée", "": "Inconnue"}


def _insert(conn: Connection, table: sa.Table):
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


# ---------------------------------------------------------------- from the centres


def project_offers(conn: Connection, centre_id: str, pairs: list[tuple[str, dict]]) -> None:
    """``sheet.offered`` events: one draft sheet per offered workshop (an
    offer made again of the same workshop changes nothing: the federation
    may already have edited its draft)."""
    now = db.utc_now_iso()
    rows = []
    for _at, event in pairs:
        data = event["data"]
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "title": data["title"],
                "theme": data["theme"],
                "pictogram": THEME_PICTOGRAMS[data["theme"]],
                "description": data.get("description") or "",
                "duration_minutes": data.get("duration_minutes") or OFFER_DEFAULTS["duration_minutes"],
                "capacity": data.get("capacity") or OFFER_DEFAULTS["capacity"],
                "bring": OFFER_DEFAULTS["bring"],
                "animator_needs": OFFER_DEFAULTS["animator_needs"],
                "status": "draft",
                "offered_by": centre_id,
                "offered_workshop": data["workshop_id"],
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        statement = _insert(conn, db.sheets).on_conflict_do_nothing(
            index_elements=["offered_by", "offered_workshop"]
        )
        conn.execute(statement, rows)


def project_adoptions(conn: Connection, centre_id: str, pairs: Iterable[tuple[str, dict]]) -> None:
    """Workshop events naming a ``sheet`` (protocol 1.3): that workshop of
    that centre came from that sheet, from its first event on."""
    rows = [
        {
            "centre_id": centre_id,
            "workshop_id": event["data"]["workshop_id"],
            "sheet_id": event["data"]["sheet"],
            "day": protocol.parse_utc(at).astimezone(PARIS).date().isoformat(),
        }
        for at, event in pairs
        if event["data"].get("sheet")
    ]
    if rows:
        statement = _insert(conn, db.sheet_adoptions).on_conflict_do_nothing(
            index_elements=["centre_id", "workshop_id"]
        )
        conn.execute(statement, rows)


# ---------------------------------------------------------------- diffusion


@dataclass
class Diffusion:
    """One sheet's spread: the centres and workshops made from it, the
    sessions held (not cancelled) and the participants present (each member
    once per centre, plus anonymous walk-ins)."""

    sheet_id: str
    title: str
    theme: str
    status: str
    centres: int
    workshops: int
    sessions: int
    participants: int


_DIFFUSION_SQL = """
WITH adopted AS (
    SELECT sheet_id, count(DISTINCT centre_id) AS centres, count(*) AS workshops
    FROM sheet_adoptions GROUP BY sheet_id
), held AS (
    SELECT a.sheet_id, count(*) AS sessions
    FROM sheet_adoptions a
    JOIN p_sessions s ON s.centre_id = a.centre_id AND s.workshop_id = a.workshop_id
    WHERE NOT s.cancelled
    GROUP BY a.sheet_id
), present AS (
    SELECT a.sheet_id,
           count(DISTINCT CASE WHEN t.member_id IS NOT NULL THEN t.centre_id || ':' || t.member_id END)
           + sum(CASE WHEN t.member_id IS NULL THEN 1 ELSE 0 END) AS participants
    FROM sheet_adoptions a
    JOIN p_sessions s ON s.centre_id = a.centre_id AND s.workshop_id = a.workshop_id
    JOIN p_attendance t ON t.centre_id = s.centre_id AND t.session_id = s.session_id
    WHERE NOT s.cancelled AND t.present
    GROUP BY a.sheet_id
)
SELECT ad.sheet_id, sh.title, sh.theme, sh.status, ad.centres, ad.workshops,
       coalesce(h.sessions, 0), coalesce(p.participants, 0)
FROM adopted ad
LEFT JOIN sheets sh ON sh.id = ad.sheet_id
LEFT JOIN held h ON h.sheet_id = ad.sheet_id
LEFT JOIN present p ON p.sheet_id = ad.sheet_id
"""


def diffusion(conn: Connection) -> list[Diffusion]:
    """Every adopted sheet's diffusion, the most adopted first; a sheet this
    hub does not hold (adopted from another federation's file) keeps its id."""
    rows = [
        Diffusion(
            sheet_id=row[0],
            title=row[1] or row[0],
            theme=row[2] or "",
            status=row[3] or "",
            centres=int(row[4]),
            workshops=int(row[5]),
            sessions=int(row[6]),
            participants=int(row[7]),
        )
        for row in conn.exec_driver_sql(_DIFFUSION_SQL)
    ]
    return sorted(rows, key=lambda d: (-d.centres, -d.participants, d.title))


DIFFUSION_HEADER = ["Fiche", "Titre", "Thème", "État", "Centres", "Ateliers", "Séances", "Participants"]


def diffusion_csv(conn: Connection) -> bytes:
    """The diffusion table as the hub's CSV files are (UTF-8 with a BOM, ';'
    between cells, every cell through sync.csvsafe)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(DIFFUSION_HEADER)
    writer.writerows(
        csvsafe.row(
            [
                d.sheet_id,
                d.title,
                formatting.theme_label(d.theme),
                STATUS_LABELS.get(d.status, d.status),
                d.centres,
                d.workshops,
                d.sessions,
                d.participants,
            ]
        )
        for d in diffusion(conn)
    )
    return buffer.getvalue().encode("utf-8-sig")
