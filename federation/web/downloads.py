"""The funders' files, behind sign-in: indicators and visits per week as CSV,
the activity report as PDF, for a period and one centre or all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from federation import exports, funders, period_figures, reports, users
from federation.web import security
from federation.web.pages import PeriodQuery, asked_period, funder_title
from federation.web.security import PageRoute, Refused

log = logging.getLogger("federation")
router = APIRouter(route_class=PageRoute, include_in_schema=False, prefix="/exports")


def _view(request: Request, asked: PeriodQuery):
    names, period, error = asked_period(request, asked)
    if error:
        raise Refused(400, "Période invalide", error.message_fr)
    view = period_figures.overview_from(security.report_engine(request), period, datetime.now(UTC))
    return view, names.get(period.centre_id) if period.centre_id else None


def _file(content: bytes, media_type: str, stem: str, view: reports.Overview, extension: str) -> Response:
    scope = view.period.centre_id[:8] if view.period.centre_id else "tous-centres"
    name = f"{stem}_{scope}_{view.period.first_day}_{view.period.last_day}.{extension}"
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _pdf(make: Callable[[], bytes], what: str, title: str, text: str) -> bytes:
    """The PDF ``make`` writes, or ``title`` and ``text`` (503) where this server has no font for it."""
    try:
        return make()
    except FileNotFoundError:  # no font on this server: its operator must install one
        log.error("PDF %s: no font, install fonts-noto-core (scripts/system-deps.sh)", what)
        raise Refused(503, title, text) from None


@router.get("/indicators.csv")
def indicators(
    request: Request,
    asked: Annotated[PeriodQuery, Query()],
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, asked)
    return _file(exports.indicators_csv(view, name), "text/csv; charset=utf-8", "indicateurs", view, "csv")


@router.get("/visits-per-week.csv")
def visits_per_week(
    request: Request,
    asked: Annotated[PeriodQuery, Query()],
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, asked)
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
    asked: Annotated[PeriodQuery, Query()],
    _session: users.WebSession = Depends(security.current_session),
):
    title = funder_title(what)
    view, name = _view(request, asked)
    content = exports.funder_csv(view, title, funders.rows(view, what), name)
    return _file(content, "text/csv; charset=utf-8", what, view, "csv")


@router.get("/funders/{what}.pdf")
def funder_pdf(
    request: Request,
    what: str,
    asked: Annotated[PeriodQuery, Query()],
    _session: users.WebSession = Depends(security.current_session),
):
    title = funder_title(what)
    view, name = _view(request, asked)
    content = _pdf(
        lambda: exports.funder_pdf(view, title, funders.rows(view, what), name),
        "export",
        "Export indisponible",
        "Le serveur n'a pas de police pour écrire le PDF. Prévenez son administrateur.",
    )
    return _file(content, "application/pdf", what, view, "pdf")


@router.get("/report.pdf")
def report(
    request: Request,
    asked: Annotated[PeriodQuery, Query()],
    _session: users.WebSession = Depends(security.current_session),
):
    view, name = _view(request, asked)
    content = _pdf(
        lambda: exports.report_pdf(view, name),
        "report",
        "Rapport indisponible",
        "Le rapport PDF ne peut pas être fabriqué sur ce serveur (police de caractères "
        "manquante). Prévenez la personne qui administre le hub.",
    )
    return _file(content, "application/pdf", "rapport", view, "pdf")
