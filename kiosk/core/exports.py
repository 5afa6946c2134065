"""The centre's CSV exports: visits, workshop attendance, the member list.

Written for a French Excel opened by double-click: UTF-8 with a BOM (without
it Excel reads the accents as Windows-1252), semicolons (the French list
separator), dates dd/mm/yyyy HH:MM in Paris time, « oui »/« non », French
headers. Each export writes a temporary file next to the target and renames
it at the end, so a pulled USB stick never leaves a half-file that looks whole.
Each returns how many data rows it wrote.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from kiosk.core import period, search
from kiosk.core.cards import printable
from kiosk.core.files import atomic_output
from kiosk.core.members import age_band_of
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import csvsafe

GENDERS_FR = {"woman": "Femme", "man": "Homme", "non_binary": "Non binaire", "unsaid": "Non précisé"}
RECORDERS_FR = {"resident": "Adhérent (borne)", "volunteer": "Bénévole", "staff": "Salarié"}


def yes_no(value: Any) -> str:
    return "oui" if value else "non"


def write_csv(out_path: str | Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    """Write ``rows`` under ``header`` atomically; returns the row count."""
    count = 0
    with atomic_output(out_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for row in rows:
            writer.writerow(csvsafe.row(row))
            count += 1
    return count


def _audit(
    store: Store,
    actor: dict | None,
    what: str,
    out_path: Any,
    count: int,
    start: date | None,
    end: date | None,
) -> None:
    if actor is None:
        return
    with store.transaction():
        store.audit(
            actor,
            f"export.{what}",
            file=str(out_path),
            rows=count,
            start=start.isoformat() if start else None,
            end=end.isoformat() if end else None,
        )


def _full_name(row: sqlite3.Row) -> str:
    if row["erased_at"]:
        return "(adhérent effacé)"
    return " ".join(part for part in (row["first_name"], row["last_name"]) if part)


def _rows(store: Store, sql: str, params: list) -> Iterator[sqlite3.Row]:
    """Stream the query's rows (one SELECT: a consistent snapshot under WAL),
    so years of visits are never all in memory at once."""
    cursor = store.conn.cursor()
    cursor.row_factory = sqlite3.Row
    try:
        yield from cursor.execute(sql, params)
    finally:
        cursor.close()


# ---------------------------------------------------------------- visits

VISIT_HEADER = [
    "Date et heure",
    "Motif",
    "Adhérent",
    "Code carte",
    "Quartier prioritaire (QPV)",
    "Commune",
    "Saisi par",
    "Nom du bénévole ou salarié",
]


def visit_rows(store: Store, start: date | None = None, end: date | None = None) -> Iterator[list[Any]]:
    """The visits of the period, oldest first, as the CSV shows them."""
    labels = {r["code"]: r["label"] for r in Settings(store).get("reasons")}
    condition, params = period.where("v.occurred_at", start, end)
    rows = _rows(
        store,
        "SELECT v.occurred_at, v.reason, v.recorded_by_role, m.first_name, m.last_name, "
        "m.erased_at, m.card_code, m.qpv, m.commune, m.id AS member_id, s.name AS staff_name "
        "FROM visits v LEFT JOIN members m ON m.id = v.member_id "
        "LEFT JOIN staff s ON s.id = v.recorded_by "
        f"WHERE {condition} ORDER BY v.occurred_at, v.id",
        params,
    )
    return (
        [
            period.local_text(r["occurred_at"]),
            labels.get(r["reason"], r["reason"]),
            _full_name(r) if r["member_id"] else "Anonyme",
            printable(r["card_code"]) if r["card_code"] and not r["erased_at"] else "",
            yes_no(r["qpv"]) if r["member_id"] else "",
            (r["commune"] or "") if not r["erased_at"] else "",
            RECORDERS_FR.get(r["recorded_by_role"], r["recorded_by_role"]),
            r["staff_name"] or "",
        ]
        for r in rows
    )


def export_visits(
    store: Store,
    out_path: str | Path,
    start: date | None = None,
    end: date | None = None,
    actor: dict | None = None,
) -> int:
    """Write the visits from ``start`` to ``end`` (Paris days, both included)."""
    count = write_csv(out_path, VISIT_HEADER, visit_rows(store, start, end))
    _audit(store, actor, "visits", out_path, count, start, end)
    return count


# ---------------------------------------------------------------- attendance

ATTENDANCE_HEADER = [
    "Atelier",
    "Thème",
    "Séance (date et heure)",
    "Lieu",
    "Séance annulée",
    "Adhérent",
    "Inscrit",
    "Sur liste d'attente",
    "Présent",
    "Venu sans inscription",
    "Pointé le",
    "Pointé par",
]

# One row per person and session: everyone registered (booked or waiting),
# plus everyone marked, registered or not (walk-ins). Anonymous walk-ins have
# no member and appear once each.
_ATTENDANCE_SQL = """
SELECT s.id AS session_id, s.starts_at, s.cancelled_at, COALESCE(s.place, w.place) AS place,
       w.title, w.theme, p.member_id, p.status, p.present, p.walk_in, p.marked_at,
       st.name AS marked_by, m.first_name, m.last_name, m.erased_at
FROM (
    SELECT r.session_id, r.member_id, r.status, a.present, a.walk_in, a.marked_at, a.marked_by
    FROM registrations r
    LEFT JOIN attendance a ON a.session_id = r.session_id AND a.member_id = r.member_id
    WHERE r.status IN ('booked', 'waitlisted')
    UNION ALL
    SELECT a.session_id, a.member_id, NULL, a.present, a.walk_in, a.marked_at, a.marked_by
    FROM attendance a
    WHERE a.member_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM registrations r WHERE r.session_id = a.session_id
        AND r.member_id = a.member_id AND r.status IN ('booked', 'waitlisted'))
) p
JOIN sessions s ON s.id = p.session_id
JOIN workshops w ON w.id = s.workshop_id
LEFT JOIN members m ON m.id = p.member_id
LEFT JOIN staff st ON st.id = p.marked_by
WHERE {condition}
ORDER BY s.starts_at, w.title, m.last_name, m.first_name, p.marked_at
"""


def attendance_rows(store: Store, start: date | None = None, end: date | None = None) -> Iterator[list[Any]]:
    """Registrations and marks of the sessions starting in the period."""
    condition, params = period.where("s.starts_at", start, end)
    rows = _rows(store, _ATTENDANCE_SQL.format(condition=condition), params)
    return (
        [
            r["title"],
            r["theme"],
            period.local_text(r["starts_at"]),
            r["place"] or "",
            yes_no(r["cancelled_at"]),
            _full_name(r) if r["member_id"] else "Anonyme",
            yes_no(r["status"] == "booked"),
            yes_no(r["status"] == "waitlisted"),
            "" if r["present"] is None else yes_no(r["present"]),
            "" if r["walk_in"] is None else yes_no(r["walk_in"]),
            period.local_text(r["marked_at"]),
            r["marked_by"] or "",
        ]
        for r in rows
    )


def export_attendance(
    store: Store,
    out_path: str | Path,
    start: date | None = None,
    end: date | None = None,
    actor: dict | None = None,
) -> int:
    """Write the attendance of the sessions starting from ``start`` to ``end``."""
    count = write_csv(out_path, ATTENDANCE_HEADER, attendance_rows(store, start, end))
    _audit(store, actor, "attendance", out_path, count, start, end)
    return count


# ---------------------------------------------------------------- members

MEMBER_HEADER = [
    "Prénom",
    "Nom",
    "Année de naissance",
    "Tranche d'âge",
    "Genre",
    "Commune",
    "Quartier",
    "Quartier prioritaire (QPV)",
    "Téléphone",
    "E-mail",
    "Accord données",
    "Accord photos",
    "Accord contact",
    "Code carte",
    "Inscrit le",
    "Dernier passage",
]


def member_rows(store: Store, start: date | None = None, end: date | None = None) -> Iterator[list[Any]]:
    """Members (not erased) who joined in the period, by name."""
    condition, params = period.where("created_at", start, end)
    today = store.now().astimezone(period.PARIS).date()
    search.refresh_recency(store.conn)  # "Dernier passage" includes today's check-ins
    rows = _rows(
        store,
        f"SELECT * FROM members WHERE erased_at IS NULL AND {condition} "
        "ORDER BY last_name COLLATE NOCASE, first_name COLLATE NOCASE, id",
        params,
    )
    return (
        [
            r["first_name"] or "",
            r["last_name"] or "",
            r["birth_year"] or "",
            age_band_of(r, today).replace("unknown", "inconnue"),
            GENDERS_FR.get(r["gender"], ""),
            r["commune"] or "",
            r["neighbourhood"] or "",
            yes_no(r["qpv"]),
            r["phone"] or "",
            r["email"] or "",
            yes_no(r["consent_data"]),
            yes_no(r["consent_photos"]),
            yes_no(r["consent_contact"]),
            printable(r["card_code"]) if r["card_code"] else "",
            period.local_text(r["created_at"]),
            period.local_text(r["last_seen_at"]),
        ]
        for r in rows
    )


def export_members(
    store: Store,
    out_path: str | Path,
    start: date | None = None,
    end: date | None = None,
    actor: dict | None = None,
) -> int:
    """Write the member list (those who joined from ``start`` to ``end`` if given)."""
    count = write_csv(out_path, MEMBER_HEADER, member_rows(store, start, end))
    _audit(store, actor, "members", out_path, count, start, end)
    return count


#: What the command line's --what offers, and the function behind each.
EXPORTS = {"visits": export_visits, "attendance": export_attendance, "members": export_members}
