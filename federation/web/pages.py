"""The dashboard's pages: overview, one centre, devices, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from federation import centres, exports, funders, period_figures, reports, users
from federation import store as db
from federation.web import security
from federation.web.charts import weekly_chart
from federation.web.security import PageRoute, Refused
from federation.web.templating import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


class PeriodQuery(BaseModel):
    """The period in a page's or a file's query string, as typed:
    ``?from=…&to=…&centre=…`` (a centre's own page takes its centre from its path)."""

    start: str = Field("", alias="from")
    end: str = Field("", alias="to")
    centre: str = ""


def read_period(
    request: Request, start: str, end: str, centre: str, names: dict[str, str]
) -> tuple[reports.Period, reports.PeriodError | None]:
    """The period asked for in the query, or the default one and the error to show."""
    try:
        period = reports.parse_period(start, end, centre)
    except reports.PeriodError as error:
        return reports.parse_period(None, None, centre if centre in names else None), error
    if period.centre_id and period.centre_id not in names:
        unknown = reports.PeriodError(
            "centre",
            f"unknown centre {period.centre_id!r}",
            "Ce centre n'existe pas. Choisissez-en un dans la liste.",
        )
        return reports.Period(period.start, period.end), unknown
    return period, None


def query_string(period: reports.Period) -> str:
    """The period as a query string, for export links and the centre pages."""
    fields = {"from": period.first_day, "to": period.last_day}
    if period.centre_id:
        fields["centre"] = period.centre_id
    return urlencode(fields)


def asked_period(
    request: Request, asked: PeriodQuery
) -> tuple[dict[str, str], reports.Period, reports.PeriodError | None]:
    """The centres' names, and the period asked for (or the default one and the error to show)."""
    with security.engine(request).connect() as conn:
        names = reports.centre_names(conn)
    return names, *read_period(request, asked.start, asked.end, asked.centre, names)


def funder_title(what: str) -> str:
    """The funder's title, for one that has figures on this hub: else « Export introuvable »."""
    if what not in funders.FUNDERS:
        raise Refused(404, "Export introuvable", "Ce financeur n'a pas d'export sur ce hub.")
    return funders.FUNDERS[what]


def _figures(
    request: Request, period: reports.Period, names: dict[str, str], error: reports.PeriodError | None
) -> tuple[reports.Overview, dict]:
    """The period's figures, and what each page of them is rendered with: a
    period asked for wrongly answers 400, the default period's figures under
    the error."""
    view = period_figures.overview_from(security.report_engine(request), period, datetime.now(UTC))
    shown = {"view": view, "chart": weekly_chart(view.weeks), "names": names, "error": error}
    return view, shown | {
        "status_code": 400 if error else 200,
        "query": query_string(period),
        "nav": "overview",
    }


@router.get("/")
def overview_page(
    request: Request,
    asked: Annotated[PeriodQuery, Query()],
    session: users.WebSession = Depends(security.current_session),
):
    names, period, error = asked_period(request, asked)
    _view, shown = _figures(request, period, names, error)
    return render(request, "overview.html", session=session, form=asked.model_dump(by_alias=True), **shown)


@router.get("/centres/{centre_id}")
def centre_page(
    request: Request,
    centre_id: str,
    asked: Annotated[PeriodQuery, Query()],
    session: users.WebSession = Depends(security.current_session),
):
    with security.engine(request).connect() as conn:
        names = reports.centre_names(conn)
        if centre_id not in names:
            raise Refused(404, "Centre introuvable", "Ce centre n'existe pas sur ce hub.")
        devices = reports.device_list(conn, centre_id)
        conflict_count, _rows = reports.conflict_list(conn, centre_id, limit=1)
        parked_count = centres.set_aside(conn, db.parked, centre_id)
    period, error = read_period(request, asked.start, asked.end, centre_id, names)
    view, shown = _figures(request, period, names, error)
    return render(
        request,
        "centre.html",
        session=session,
        form={"from": asked.start, "to": asked.end},
        status=view.centres[0],
        devices=devices,
        conflict_count=conflict_count,
        parked_count=parked_count,
        **shown,
    )


@router.get("/funders/{what}")
def funder_page(
    request: Request,
    what: str,
    asked: Annotated[PeriodQuery, Query()],
    session: users.WebSession = Depends(security.current_session),
):
    """One funder's figures as its CSV and PDF carry them (federation.funders)."""
    title = funder_title(what)
    names, period, error = asked_period(request, asked)
    view, shown = _figures(request, period, names, error)
    sections: dict[str, list[tuple[str, str]]] = {}
    for section, indicator, value in funders.rows(view, what):
        sections.setdefault(section, []).append((indicator, exports.pdf_value(value)))
    return render(
        request,
        "funder.html",
        session=session,
        form=asked.model_dump(by_alias=True),
        what=what,
        title=title,
        sections=sections,
        **shown,
    )


@router.get("/devices")
def devices_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    with security.engine(request).connect() as conn:
        devices = reports.device_list(conn)
    return render(request, "devices.html", session=session, devices=devices, nav="devices")


@router.get("/conflicts")
def conflicts_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    with security.engine(request).connect() as conn:
        count, rows = reports.conflict_list(conn)
    return render(request, "conflicts.html", session=session, count=count, conflicts=rows, nav="conflicts")
