"""The dashboard's workshop sheets (« Fiches atelier »): the list, a form to
write or edit one with its preview, publish and withdraw, the JSON export
that ``federation publish --sheets`` reads back, and the « Diffusion » page
with its CSV. Signed-in federation staff only: a centre's device has a token
for the API, never a dashboard session, so it cannot reach these forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from federation import reports, sheet_figures, sheets, users
from federation import store as db
from federation.web import security
from federation.web.security import PageRoute, Refused
from federation.web.templating import render
from sync import protocol
from sync.sheets import FIELDS, PICTOGRAMS, SheetError

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: the pictograms in words, for the form's list (the kiosk draws them)
PICTOGRAM_LABELS = {
    "info": "Information",
    "school": "École, apprendre",
    "family_restroom": "Famille",
    "account_balance": "Administration",
    "devices": "Écrans, numérique",
    "campaign": "Prendre la parole",
    "computer": "Ordinateur",
    "menu_book": "Livre, lecture",
    "palette": "Arts, peinture",
    "groups": "Groupe",
    "celebration": "Fête",
    "directions_bus": "Sortie, transport",
    "park": "Nature, jardin",
    "local_hospital": "Santé",
    "work": "Emploi",
    "lightbulb": "Idée",
    "volunteer_activism": "Entraide",
    "more_horiz": "Autre",
}
assert set(PICTOGRAM_LABELS) == set(PICTOGRAMS)
#: each field's name on the form, for the error messages
FIELD_LABELS = {
    "title": "Titre",
    "theme": "Thème",
    "pictogram": "Pictogramme",
    "description": "Description",
    "duration_minutes": "Durée habituelle",
    "capacity": "Places",
    "bring": "À apporter",
    "animator_needs": "Ce qu'il faut à l'animateur",
    "status": "État",
    "id": "Fiche",
}


def _sheet(conn, sheet_id: str) -> dict:
    sheet = sheets.get(conn, sheet_id) if protocol.is_id(sheet_id) else None
    if sheet is None:
        raise Refused(404, "Fiche introuvable", "Cette fiche n'existe pas sur ce hub.")
    return sheet


def _form_page(
    request: Request,
    session: users.WebSession,
    form: dict,
    sheet: dict | None = None,
    error: SheetError | None = None,
    preview: dict | None = None,
    status_code: int = 200,
    saved: bool = False,
):
    centre = None
    if sheet and sheet["offered_by"]:
        with security.engine(request).connect() as conn:
            centre = reports.centre_names(conn).get(sheet["offered_by"], sheet["offered_by"])
    return render(
        request,
        "sheet.html",
        status_code,
        session=session,
        form=form,
        sheet=sheet,
        error=error,
        error_label=FIELD_LABELS.get(error.field, error.field) if error else "",
        preview=preview,
        saved=saved,
        offered_by=centre,
        themes=protocol.THEMES,
        pictograms=PICTOGRAM_LABELS,
        nav="sheets",
    )


@router.get("/fiches")
def sheets_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    with security.engine(request).connect() as conn:
        rows = sheets.listing(conn)
    return render(
        request,
        "sheets.html",
        session=session,
        sheets=rows,
        statuses=sheet_figures.STATUS_LABELS,
        pictograms=PICTOGRAM_LABELS,
        nav="sheets",
    )


@router.get("/fiches/nouvelle")
def new_sheet_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    blank = {field: "" for field in FIELDS}
    blank.update(theme="autre", pictogram="more_horiz", duration_minutes="120", capacity="12")
    return _form_page(request, session, blank)


class SheetForm(BaseModel):
    """The sheet form as posted, each field as typed (empty when not sent)."""

    title: str = ""
    theme: str = ""
    pictogram: str = ""
    description: str = ""
    duration_minutes: str = ""
    capacity: str = ""
    bring: str = ""
    animator_needs: str = ""


def _save(request: Request, session, form: dict, action: str, sheet_id: str | None):
    """Check the form; show its preview, or store it and go to the sheet."""
    sheet = None
    if sheet_id:
        with security.engine(request).connect() as conn:
            sheet = _sheet(conn, sheet_id)
    try:
        cleaned = sheets.check_sheet(form)
        if action == "preview":
            return _form_page(request, session, form, sheet, preview=cleaned)
        with db.writer(security.engine(request)) as conn, conn.begin():
            if sheet_id:
                sheets.update(conn, sheet_id, cleaned, by=session.email)
            else:
                sheet_id = sheets.create(conn, cleaned)
    except SheetError as error:
        return _form_page(request, session, form, sheet, error=error, status_code=400)
    return RedirectResponse(f"/fiches/{sheet_id}?enregistree=1", status_code=303)


@router.post("/fiches/nouvelle")
def create_sheet(
    request: Request,
    posted: Annotated[SheetForm, Form()],
    action: str = Form("save"),
    session: users.WebSession = Depends(security.posted_session),
):
    return _save(request, session, posted.model_dump(), action, None)


@router.get("/fiches/{sheet_id}")
def sheet_page(
    request: Request,
    sheet_id: str,
    enregistree: str = "",
    session: users.WebSession = Depends(security.current_session),
):
    with security.engine(request).connect() as conn:
        sheet = _sheet(conn, sheet_id)
    form = {field: sheet[field] for field in FIELDS}
    return _form_page(
        request, session, form, sheet, preview=form if enregistree else None, saved=bool(enregistree)
    )


@router.post("/fiches/{sheet_id}")
def edit_sheet(
    request: Request,
    sheet_id: str,
    posted: Annotated[SheetForm, Form()],
    action: str = Form("save"),
    session: users.WebSession = Depends(security.posted_session),
):
    return _save(request, session, posted.model_dump(), action, sheet_id)


def _change(request: Request, session, sheet_id: str, change) -> Response:
    with security.engine(request).connect() as conn:
        sheet = _sheet(conn, sheet_id)
    try:
        with db.writer(security.engine(request)) as conn, conn.begin():
            change(conn, sheet_id, by=session.email)
    except SheetError as error:
        form = {field: sheet[field] for field in FIELDS}
        return _form_page(request, session, form, sheet, error=error, status_code=400)
    return RedirectResponse(f"/fiches/{sheet_id}", status_code=303)


@router.post("/fiches/{sheet_id}/publier")
def publish_sheet(
    request: Request, sheet_id: str, session: users.WebSession = Depends(security.posted_session)
):
    return _change(request, session, sheet_id, sheets.publish)


@router.post("/fiches/{sheet_id}/retirer")
def withdraw_sheet(
    request: Request, sheet_id: str, session: users.WebSession = Depends(security.posted_session)
):
    return _change(request, session, sheet_id, sheets.withdraw)


@router.get("/exports/fiches.json")
def sheets_file(request: Request, _session: users.WebSession = Depends(security.current_session)):
    with security.engine(request).connect() as conn:
        text = sheets.export(conn)
    return Response(
        text.encode("utf-8"),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="fiches-atelier.json"'},
    )


@router.get("/diffusion")
def diffusion_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    with security.report_engine(request).connect() as conn:
        rows = sheet_figures.diffusion(conn)
    return render(
        request,
        "diffusion.html",
        session=session,
        rows=rows,
        statuses=sheet_figures.STATUS_LABELS,
        nav="sheets",
    )


@router.get("/exports/diffusion.csv")
def diffusion_file(request: Request, _session: users.WebSession = Depends(security.current_session)):
    with security.report_engine(request).connect() as conn:
        content = sheet_figures.diffusion_csv(conn)
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="diffusion-fiches.csv"'},
    )
