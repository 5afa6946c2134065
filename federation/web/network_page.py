"""The dashboard's network page (« Réseau »): the child federations' hubs
and their centres, with the figures they last sent (federation.network),
beside this hub's own centres, for one year."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Query, Request

from federation import ages, formatting, network, period_figures, reports, users
from federation.web import security
from federation.web.security import PageRoute
from federation.web.templating import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _year(text: str, today: date) -> tuple[int, str | None]:
    """The year asked for, or this year and the error to show."""
    text = text.strip()[:10]
    if not text:
        return today.year, None
    if text.isdigit() and reports.FIRST_DAY.year <= int(text) <= reports.LAST_DAY.year:
        return int(text), None
    return today.year, (
        f"L'année « {text} » n'est pas valide : choisissez une année entre "
        f"{reports.FIRST_DAY.year} et {reports.LAST_DAY.year}."
    )


@router.get("/reseau")
def network_page(
    request: Request,
    year_text: str = Query("", alias="annee"),
    session: users.WebSession = Depends(security.current_session),
):
    today = reports.paris_today()
    year, error = _year(year_text, today)
    with security.report_engine(request).connect() as conn:
        children = network.children(conn, year)
    own = period_figures.overview_from(
        security.report_engine(request),
        reports.Period(date(year, 1, 1), date(year, 12, 31)),
        datetime.now(UTC),
    )
    total = network.Figures()
    for child in children:
        total.merge(child.figures)
    own_figures = network.Figures(
        visits=own.visits,
        new_members=own.new_members,
        participants=own.participants.total,
        qpv=own.participants.qpv,
        qpv_known=own.participants.qpv_known,
        sessions=own.workshop_total.sessions,
        present=own.workshop_total.present,
        booked=own.workshop_total.booked,
        walk_ins=own.workshop_total.walk_ins,
        volunteers=own.volunteering.volunteers,
        volunteer_minutes=own.volunteering.total_minutes,
        families=own.families.reached,
        ideas=own.voice.received,
    )
    own_figures.reasons = dict(own.reasons)
    own_figures.genders = {gender or "": n for gender, n in own.participants.by_gender()}
    own_figures.senacs = dict(own.participants.funder_bands("senacs"))
    total.merge(own_figures)
    return render(
        request,
        "network.html",
        400 if error else 200,
        session=session,
        year=year,
        years=list(range(today.year, today.year - 6, -1)),
        error=error,
        children=children,
        own=own_figures,
        own_centres=len(own.centres),
        total_centres=len(own.centres) + sum(len(child.centres) for child in children),
        total=total,
        reasons=sorted(total.reasons.items(), key=lambda item: (-item[1], item[0])),
        senacs=[(code, total.senacs.get(code, 0)) for code in ages.codes("senacs")],
        genders=sorted(total.genders.items(), key=lambda item: -item[1]),
        senacs_label=ages.label,
        network_gender_label=lambda code: formatting.gender_label(code or None),
        nav="network",
    )
