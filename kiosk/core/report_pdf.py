"""A one-page PDF summary of a period, for the centre's board and its funders.

``period_figures`` counts (plain dict, the screens can show it too);
``summary_pdf`` lays those figures out on one A4 page: visits by reason and
by week, new and active members, their QPV share, age bands and genders, the
workshops held and their attendance. A member counts as active when they
came (a visit) or were marked present at a session in the period.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_date
from fpdf import FPDF

from kiosk.core import period
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.exports import GENDERS_FR
from kiosk.core.files import atomic_output
from kiosk.core.members import age_band_of
from kiosk.core.pdf_fonts import add_fonts, fit_text
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol

AGE_BANDS_FR = {
    "0-15": "0 à 15 ans",
    "16-24": "16 à 24 ans",
    "25-54": "25 à 54 ans",
    "55-64": "55 à 64 ans",
    "65+": "65 ans et plus",
    "unknown": "Non renseigné",
}
MAX_WEEKS = 14
MAX_MONTHS = 24
UNITS_FR = {"week": "semaine", "month": "mois", "year": "année"}


# ---------------------------------------------------------------- figures


def period_figures(store: Store, start: date, end: date) -> dict[str, Any]:
    """Everything the summary shows for the Paris days ``start``..``end``."""
    if start is None or end is None:
        raise InvalidInput(
            "start",
            N_("Choisissez le début et la fin de la période."),
            "a summary needs both a start and an end date",
        )
    condition, params = period.where("occurred_at", start, end)
    visits = store.query(f"SELECT occurred_at, member_id, reason FROM visits WHERE {condition}", params)
    return {
        "centre": Settings(store).get("centre_name"),
        "start": start,
        "end": end,
        "visits": len(visits),
        "anonymous_visits": sum(1 for v in visits if v["member_id"] is None),
        "by_reason": _by_reason(store, visits),
        "unit": period_unit(start, end),
        "by_period": _by_period(visits, start, end),
        **_member_figures(store, start, end),
        "workshops": _workshop_figures(store, start, end),
    }


def _by_reason(store: Store, visits: list[dict]) -> list[tuple[str, int]]:
    counts = Counter(v["reason"] for v in visits)
    labels = [(r["code"], r["label"]) for r in Settings(store).get("reasons")]
    known = [(label, counts.pop(code)) for code, label in labels if code in counts]
    retired = [(code, n) for code, n in counts.items()]  # reasons removed from the settings since
    return sorted(known + retired, key=lambda item: -item[1])


def period_unit(start: date, end: date) -> str:
    """Visits are counted by week, by month past MAX_WEEKS weeks, by year past
    MAX_MONTHS months, so the list always fits the page."""
    if (end - start).days < MAX_WEEKS * 7:
        return "week"
    return "month" if (end.year - start.year) * 12 + end.month - start.month < MAX_MONTHS else "year"


def _bucket(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day.replace(month=1, day=1)


def _next(key: date, unit: str) -> date:
    if unit == "week":
        return key + timedelta(weeks=1)
    if unit == "month":
        return (key + timedelta(days=32)).replace(day=1)
    return key.replace(year=key.year + 1)


def _label(key: date, unit: str) -> str:
    if unit == "week":
        return f"Semaine du {format_date(key, 'd MMM y', locale='fr')}"
    if unit == "month":
        return format_date(key, "MMMM y", locale="fr").capitalize()
    return str(key.year)


def _by_period(visits: list[dict], start: date, end: date) -> list[tuple[str, int]]:
    """Visits by week (Monday first), month or year; empty ones are listed
    too: a quiet week is a figure."""
    unit = period_unit(start, end)
    counts = Counter(
        _bucket(protocol.parse_utc(v["occurred_at"]).astimezone(period.PARIS).date(), unit) for v in visits
    )
    rows, key = [], _bucket(start, unit)
    while key <= end:
        rows.append((_label(key, unit), counts[key]))
        key = _next(key, unit)
    return rows


def _member_figures(store: Store, start: date, end: date) -> dict[str, Any]:
    low, high = period.bounds(start, end)
    new = store.query(
        "SELECT count(*) AS n FROM members WHERE created_at >= ? AND created_at < ?", (low, high)
    )[0]["n"]
    active = store.query(
        "SELECT birth_year, age_band, age_band_year, gender, qpv FROM members WHERE id IN ("
        " SELECT member_id FROM visits WHERE occurred_at >= ? AND occurred_at < ? AND member_id IS NOT NULL"
        " UNION SELECT a.member_id FROM attendance a JOIN sessions s ON s.id = a.session_id"
        " WHERE a.present = 1 AND a.member_id IS NOT NULL AND s.starts_at >= ? AND s.starts_at < ?)",
        (low, high, low, high),
    )
    bands = Counter(age_band_of(m, end) for m in active)
    genders = Counter(m["gender"] for m in active)
    return {
        "new_members": new,
        "active_members": len(active),
        "qpv_members": sum(1 for m in active if m["qpv"]),
        "age_bands": [(AGE_BANDS_FR[b], bands[b]) for b in protocol.AGE_BANDS],
        "genders": [(GENDERS_FR[g], genders[g]) for g in protocol.GENDERS]
        + [("Non renseigné", genders[None])],
    }


def _workshop_figures(store: Store, start: date, end: date) -> dict[str, Any]:
    condition, params = period.where("s.starts_at", start, end)
    row = store.query(
        "SELECT count(DISTINCT s.workshop_id) AS workshops, count(*) AS sessions, "
        "coalesce(sum(s.capacity), 0) AS capacity, "
        "coalesce(sum((SELECT count(*) FROM attendance a WHERE a.session_id = s.id AND a.present = 1)), 0) "
        "AS presences, "
        "coalesce(sum((SELECT count(*) FROM attendance a WHERE a.session_id = s.id AND a.present = 1 "
        "AND a.walk_in = 1)), 0) AS walk_ins "
        f"FROM sessions s WHERE s.cancelled_at IS NULL AND {condition}",
        params,
    )[0]
    cancelled = store.query(
        f"SELECT count(*) AS n FROM sessions s WHERE s.cancelled_at IS NOT NULL AND {condition}", params
    )[0]["n"]
    people = store.query(
        "SELECT count(DISTINCT a.member_id) AS n FROM attendance a JOIN sessions s ON s.id = a.session_id "
        f"WHERE a.present = 1 AND s.cancelled_at IS NULL AND {condition}",
        params,
    )[0]["n"]
    fill = round(100 * row["presences"] / row["capacity"]) if row["capacity"] else None
    return {**row, "cancelled": cancelled, "participants": people, "fill_percent": fill}


# ---------------------------------------------------------------- the page


def summary_pdf(
    store: Store, out_path: str | Path, start: date, end: date, actor: dict | None = None
) -> dict[str, Any]:
    """Write the one-page summary of ``start``..``end``; returns its figures."""
    figures = period_figures(store, start, end)
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    family = add_fonts(pdf)
    pdf.set_title(f"Bilan d'activité — {figures['centre']}")
    pdf.add_page()
    _header(pdf, family, figures, store)
    _key_figures(pdf, family, figures)
    # the left column grows with the reasons and the weeks: its rows shrink
    # so that the page stays one page
    lines = len(figures["by_reason"]) + len(figures["by_period"])
    row = min(ROW, (BOTTOM - TOP - 20) / max(lines, 1))
    left = _table(
        pdf, family, 15, TOP, 88, "Passages par motif", figures["by_reason"], figures["visits"], row
    )
    _table(
        pdf,
        family,
        15,
        left + 6,
        88,
        f"Passages par {UNITS_FR[figures['unit']]}",
        figures["by_period"],
        None,
        row,
    )
    active = figures["active_members"]
    right = _table(pdf, family, 110, TOP, 85, "Adhérents actifs par âge", figures["age_bands"], active)
    right = _table(pdf, family, 110, right + 6, 85, "Adhérents actifs par genre", figures["genders"], active)
    right = _table(
        pdf,
        family,
        110,
        right + 6,
        85,
        "Quartiers prioritaires (QPV)",
        [
            ("Habitent un QPV", figures["qpv_members"]),
            ("N'habitent pas un QPV", active - figures["qpv_members"]),
        ],
        active,
    )
    _workshops(pdf, family, 110, right + 6, figures["workshops"])
    _footnote(pdf, family, figures)
    with atomic_output(out_path) as handle:
        handle.write(bytes(pdf.output()))
    if actor is not None:
        with store.transaction():
            store.audit(
                actor, "export.summary", file=str(out_path), start=start.isoformat(), end=end.isoformat()
            )
    return figures


def _header(pdf: FPDF, family: str, figures: dict, store: Store) -> None:
    pdf.set_font(family, "B", 18)
    pdf.set_xy(15, 14)
    pdf.cell(180, 9, "Bilan d'activité")
    pdf.set_font(family, "", 12)
    pdf.set_xy(15, 24)
    pdf.cell(180, 6, figures["centre"])
    pdf.set_xy(15, 31)
    pdf.set_text_color(80)
    pdf.set_font(family, "", 10)
    made = format_date(store.now().astimezone(period.PARIS).date(), "d MMMM y", locale="fr")
    pdf.cell(180, 5, f"Du {_long(figures['start'])} au {_long(figures['end'])} — édité le {made}")
    pdf.set_text_color(0)


def _footnote(pdf: FPDF, family: str, figures: dict) -> None:
    pdf.set_font(family, "", 8)
    pdf.set_text_color(80)
    pdf.set_xy(15, BOTTOM)
    pdf.cell(
        180,
        4,
        f"Dont {figures['anonymous_visits']} passages anonymes. Adhérent actif : venu ou présent "
        f"à un atelier pendant la période ; âge au {_long(figures['end'])}.",
    )
    pdf.set_text_color(0)


def _long(day: date) -> str:
    return format_date(day, "d MMMM y", locale="fr")


def _key_figures(pdf: FPDF, family: str, figures: dict) -> None:
    boxes = [
        ("Passages", figures["visits"]),
        ("Adhérents actifs", figures["active_members"]),
        ("Nouveaux adhérents", figures["new_members"]),
        ("Présences en atelier", figures["workshops"]["presences"]),
    ]
    for index, (label, value) in enumerate(boxes):
        x = 15 + index * 46
        pdf.set_fill_color(230, 240, 246)
        pdf.rect(x, 41, 42, 22, style="F")
        pdf.set_font(family, "B", 20)
        pdf.set_xy(x, 43)
        pdf.cell(42, 10, str(value), align="C")
        pdf.set_font(family, "", 9)
        pdf.set_xy(x, 54)
        pdf.cell(42, 6, label, align="C")


ROW = 5.0  # mm, a table row at most
TOP, BOTTOM = 72.0, 283.0  # where the tables start, and where the footnote goes


def _table(
    pdf: FPDF,
    family: str,
    x: float,
    y: float,
    width: float,
    title: str,
    rows: list[tuple[str, int]],
    total: int | None,
    row: float = ROW,
    bars: bool = True,
) -> float:
    """A titled list of label, bar, count (and share of ``total``); returns the y below it."""
    pdf.set_font(family, "B", 11)
    pdf.set_xy(x, y)
    pdf.cell(width, 6, title)
    y += 7
    biggest = max([n for _, n in rows] + [1])
    pdf.set_fill_color(0, 94, 140)
    for label, count in rows:
        pdf.set_font(family, "", min(9, row * 1.8))
        pdf.set_xy(x, y)
        pdf.cell(width * 0.58, row, fit_text(pdf, label, width * 0.56))
        if bars and count:
            pdf.rect(x + width * 0.58, y + row * 0.2, width * 0.2 * count / biggest, row * 0.6, style="F")
        pdf.set_xy(x + width * 0.78, y)
        share = f"  {round(100 * count / total)} %" if total else ""
        pdf.cell(width * 0.22, row, f"{count}{share}", align="R")
        y += row
    if not rows:
        pdf.set_xy(x, y)
        pdf.cell(width, row, "Aucun")
        y += row
    return y


def _workshops(pdf: FPDF, family: str, x: float, y: float, w: dict) -> float:
    fill = f"{w['fill_percent']} %" if w["fill_percent"] is not None else "—"
    rows = [
        ("Ateliers différents", w["workshops"]),
        ("Séances tenues", w["sessions"]),
        ("Séances annulées", w["cancelled"]),
        ("Présences", w["presences"]),
        ("dont venus sans inscription", w["walk_ins"]),
        ("Participants différents", w["participants"]),
    ]
    y = _table(pdf, family, x, y, 85, "Ateliers", rows, None, bars=False)
    pdf.set_xy(x, y)
    pdf.set_font(family, "", 9)
    pdf.cell(85 * 0.5, ROW, "Taux de remplissage")
    pdf.set_xy(x + 85 * 0.75, y)
    pdf.cell(85 * 0.25, ROW, fill, align="R")
    return y + ROW
