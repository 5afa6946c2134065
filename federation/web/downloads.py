"""The funders' files, behind sign-in: indicators and visits per week as CSV,
the activity report as PDF, for a period and one centre or all."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request, Response

from federation import exports, funders, reports, users
from federation.web import security
from federation.web.pages import read_period
from federation.web.security import PageRoute, Refused

log = logging.getLogger("federation")
router = APIRouter(route_class=PageRoute, include_in_schema=False, prefix="/exports")


def _view(request: Request, start: str, end: str, centre: str):
    with security.engine(request).connect() as conn:
        names = reports.centre_names(conn)
        period, error = read_period(request, start, end, centre, names)
        if error:
            raise Refused(400, "Période invalide", error.message_fr)
    view = reports.overview_from(security.report_engine(request), period, datetime.now(UTC))
    return view, names.get(period.centre_id) if period.centre_id else None


def _file(content: bytes, media_type: str, stem: str, view: reports.Overview, extension: str) -> Response:
    scope = view.period.centre_id[:8] if view.period.centre_id else "tous-centres"
    name = f"{stem}_{scope}_{view.period.first_day}_{view.period.last_day}.{extension}"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/indicators.csv")
def indicators(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    centre: str = "",
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, start, end, centre)
    return _file(exports.indicators_csv(view, name), "text/csv; charset=utf-8", "indicateurs", view, "csv")


@router.get("/visits-per-week.csv")
def visits_per_week(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    centre: str = "",
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, start, end, centre)
    return _file(
        exports.visits_per_week_csv(view, name),
        "text/csv; charset=utf-8",
        "passages-par-semaine",
        view,
        "csv",
    )


@router.get("/funders/{what}.csv")
def funder_csv(
    request: Request,
    what: str,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    centre: str = "",
    _session: users.WebSession = Depends(security.current_session),
):
    if what not in funders.FUNDERS:
        raise Refused(404, "Export introuvable", "Ce financeur n'a pas d'export sur ce hub.")
    view, name = _view(request, start, end, centre)
    content = exports.funder_csv(view, funders.FUNDERS[what], funders.rows(view, what), name)
    return _file(content, "text/csv; charset=utf-8", what, view, "csv")


@router.get("/funders/{what}.pdf")
def funder_pdf(
    request: Request,
    what: str,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    centre: str = "",
    _session: users.WebSession = Depends(security.current_session),
):
    if what not in funders.FUNDERS:
        raise Refused(404, "Export introuvable", "Ce financeur n'a pas d'export sur ce hub.")
    view, name = _view(request, start, end, centre)
    try:
        content = exports.funder_pdf(view, funders.FUNDERS[what], funders.rows(view, what), name)
    except FileNotFoundError:  # no font on this server: its operator must install one
        log.error("PDF export: no font, install fonts-noto-core (scripts/system-deps.sh)")
        raise Refused(
            503,
            "Export indisponible",
            "Le serveur n'a pas de police pour écrire le PDF. Prévenez son administrateur.",
        ) from None
    return _file(content, "application/pdf", what, view, "pdf")


@router.get("/report.pdf")
def report(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    centre: str = "",
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, start, end, centre)
    try:
        content = exports.report_pdf(view, name)
    except FileNotFoundError:  # no font on this server: its operator must install one
        log.error("PDF report: no font, install fonts-noto-core (scripts/system-deps.sh)")
        raise Refused(
            503,
            "Rapport indisponible",
            "Le rapport PDF ne peut pas être fabriqué sur ce serveur (police de caractères "
            "manquante). Prévenez la personne qui administre le hub.",
        ) from None
    return _file(content, "application/pdf", "rapport", view, "pdf")
