"""The Jinja2 environment of the dashboard, with the French formatting filters."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from federation import formatting, funders

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(
    long_date=formatting.long_date,
    paris_datetime=formatting.paris_datetime,
    number=formatting.number,
    percent=formatting.percent,
    reason=formatting.reason_label,
    theme=formatting.theme_label,
    age_band=formatting.age_band_label,
    gender=formatting.gender_label,
    volunteering=formatting.volunteering_label,
    idea_theme=formatting.idea_theme_label,
    face=formatting.face_label,
)
# the shared table macro takes the label function as an argument
TEMPLATES.env.globals.update(
    reason_label=formatting.reason_label,
    theme_label=formatting.theme_label,
    gender_label=formatting.gender_label,
    age_label=formatting.age_band_label,
    # the funders' exports the pages link to
    funders=funders.FUNDERS,
)


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
