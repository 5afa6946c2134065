"""The dashboard's messages to the kiosks (« Messages aux bornes »), and
the reasons list the federation publishes (« Raisons de venue », read only:
``federation reasons --publish`` writes it). A message is a
short message with its dates and pictogram, in French with optional
English and Arabic, for every centre or some; a preview, then publish or
withdraw (federation.publications, kind « message »). The kiosks show it on
their home screen between its two days. Signed-in federation staff only: a
centre's device has a token for the API, never a dashboard session."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from federation import formatting, publications, reports, taxonomies, users
from federation import store as db
from federation.web import security
from federation.web.security import PageRoute, Refused
from federation.web.templating import render
from sync import publications as wire

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: the pictograms a message may show, in words for the form
PICTOGRAM_LABELS = {
    "info": "Information",
    "warning": "Attention",
    "event_busy": "Fermeture",
    "event": "Date à retenir",
    "celebration": "Fête",
    "campaign": "Annonce",
    "schedule": "Horaires",
    "groups": "Rencontre",
    "directions_bus": "Sortie, transport",
    "park": "Nature, jardin",
    "home": "Le centre",
    "lightbulb": "Idée",
}
assert tuple(PICTOGRAM_LABELS) == wire.MESSAGE_PICTOGRAMS
#: each field's name on the form, for the error messages
FIELD_LABELS = {
    "text": "Message",
    "text.fr": "Message en français",
    "text.en": "Message en anglais",
    "text.ar": "Message en arabe",
    "pictogram": "Pictogramme",
    "starts_on": "Premier jour",
    "ends_on": "Dernier jour",
    "audience": "Centres",
    "key": "Message",
}
#: the body's reasons in French, by what sync.publications says in English
_PLAIN = {
    "must not be empty": "ne doit pas être vide",
    "must be a day YYYY-MM-DD": "doit être une date",
    "must be a real day": "doit être une date qui existe",
    "must not be before starts_on": "ne doit pas être avant le premier jour",
    "must not contain control characters": "contient des caractères non permis",
}


def _plain(message: str) -> str:
    if message.startswith("must be at most"):
        return (
            "est trop long ("
            + message.removeprefix("must be at most ").replace("characters", "caractères")
            + " au plus)"
        )
    if message.startswith("must be one of"):
        return "n'est pas dans la liste"
    if message.startswith("unknown centre") or message.startswith("must list"):
        return "un des centres choisis n'existe pas"
    if message.startswith("must be None"):
        return "choisissez au moins un centre"
    return _PLAIN.get(message, message)


class MessageForm(BaseModel):
    """The message form as posted, each field as typed (empty when not sent)."""

    text_fr: str = ""
    text_en: str = ""
    text_ar: str = ""
    pictogram: str = "info"
    starts_on: str = ""
    ends_on: str = ""
    audience: str = "all"
    centres: list[str] = []


def _body(form: dict) -> dict:
    return {
        "text": {"fr": form["text_fr"], "en": form["text_en"], "ar": form["text_ar"]},
        "pictogram": form["pictogram"],
        "starts_on": form["starts_on"],
        "ends_on": form["ends_on"],
    }


def _dates(body: dict) -> str:
    """« du 3 mars 2026 au 9 mars 2026 »."""
    first, last = (formatting.long_date(date.fromisoformat(body[key])) for key in ("starts_on", "ends_on"))
    return f"du {first} au {last}"


def _audience(form: dict) -> list[str] | None:
    return None if form["audience"] == "all" else list(form["centres"])


def _page(request: Request, session, form: dict, error=None, preview=None, status_code: int = 200):
    with security.engine(request).connect() as conn:
        names = reports.centre_names(conn)
    return render(
        request,
        "message.html",
        status_code,
        session=session,
        form=form,
        error=error,
        error_label=FIELD_LABELS.get(error.field, error.field) if error else "",
        error_text=_plain(error.message) if error else "",
        preview=preview,
        preview_dates=_dates(preview) if preview else "",
        preview_centres=[names.get(c, c) for c in (_audience(form) or [])],
        centres=names,
        pictograms=PICTOGRAM_LABELS,
        max_chars=wire.MESSAGE_MAX_CHARS,
        nav="messages",
    )


@router.get("/messages")
def messages_page(
    request: Request,
    publie: str = "",
    retire: str = "",
    session: users.WebSession = Depends(security.current_session),
):
    with security.engine(request).connect() as conn:
        held = publications.held(conn, "message", include_withdrawn=True)
        names = reports.centre_names(conn)
    today = date.today().isoformat()
    for item in held:
        body = item["body"]
        item["state"] = (
            "withdrawn"
            if item["withdrawn"]
            else "past"
            if body["ends_on"] < today
            else "coming"
            if body["starts_on"] > today
            else "shown"
        )
        item["dates"] = _dates(body)
        item["centres"] = [names.get(c, c) for c in item["audience"]] if item["audience"] else None
    return render(
        request,
        "messages.html",
        session=session,
        messages=held,
        pictograms=PICTOGRAM_LABELS,
        published=bool(publie),
        withdrawn=bool(retire),
        nav="messages",
    )


@router.get("/messages/nouveau")
def new_message_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    today = date.today().isoformat()
    return _page(request, session, MessageForm(starts_on=today, ends_on=today).model_dump())


@router.post("/messages/nouveau")
def post_message(
    request: Request,
    posted: Annotated[MessageForm, Form()],
    action: str = Form("preview"),
    session: users.WebSession = Depends(security.posted_session),
):
    """Show the preview, or publish: nothing is stored before « Publier »."""
    form = posted.model_dump()
    try:
        preview = wire.check_body("message", _body(form))
        if form["audience"] != "all" and not form["centres"]:
            raise publications.Unpublishable("audience", "must be None (every centre) or a non-empty list")
        if action != "publish":
            return _page(request, session, form, preview=preview)
        with db.writer(security.engine(request)) as conn, conn.begin():
            publications.publish(
                conn, "message", uuid.uuid4().hex, _body(form), _audience(form), by=session.email
            )
    except (wire.InvalidBody, publications.Unpublishable) as error:
        return _page(request, session, form, error=error, status_code=400)
    return RedirectResponse("/messages?publie=1", status_code=303)


@router.post("/messages/{key}/retirer")
def withdraw_message(
    request: Request, key: str, session: users.WebSession = Depends(security.posted_session)
):
    if not wire.KEY_RE.fullmatch(key):
        raise Refused(404, "Message introuvable", "Ce message n'existe pas sur ce hub.")
    with db.writer(security.engine(request)) as conn, conn.begin():
        if publications.get(conn, "message", key) is None:
            raise Refused(404, "Message introuvable", "Ce message n'existe pas sur ce hub.")
        publications.withdraw(conn, "message", key, by=session.email)
    return RedirectResponse("/messages?retire=1", status_code=303)


@router.get("/raisons")
def reasons_page(request: Request, session: users.WebSession = Depends(security.current_session)):
    """The reasons list published to the kiosks, with its national categories in words."""
    with security.engine(request).connect() as conn:
        held = publications.get(conn, "reasons", publications.REASONS_KEY)
    reasons = None
    if held is not None and not held["withdrawn"]:
        reasons = [
            reason
            | {
                "cra": taxonomies.cra_label(reason.get("cra_theme") or taxonomies.NONE),
                "domain_words": taxonomies.domain_label(reason.get("domain") or taxonomies.NONE),
            }
            for reason in held["body"]["reasons"]
        ]
    return render(
        request,
        "reasons.html",
        session=session,
        reasons=reasons,
        published=held,
        nav="messages",
    )
