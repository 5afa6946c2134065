"""The federation's dashboard: sign-in, pages and funders' exports.

``router`` is what federation.app includes. Everything is served from here,
styles included (no CDN): a hub may run on a network that reaches nothing else.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from federation import users
from federation.web import downloads, messages_page, network_page, pages, security, sheets_page, signin
from federation.web.security import PageRoute, Refused

STATIC = Path(__file__).parent / "static"

router = APIRouter(route_class=PageRoute, include_in_schema=False)
router.include_router(signin.router)
router.include_router(pages.router)
router.include_router(downloads.router)
router.include_router(network_page.router)
router.include_router(sheets_page.router)
router.include_router(messages_page.router)


@router.get("/openapi.json")
def openapi_schema(request: Request, _session: users.WebSession = Depends(security.current_session)):
    """The API's schema, for the federation's own staff and tools only."""
    return JSONResponse(request.app.openapi())


@router.get("/static/{name}")
def static_file(name: str):
    # a fixed list of files, so no path from the URL ever reaches the disk
    files = {path.name: path for path in STATIC.iterdir() if path.is_file()}
    if name not in files:
        raise Refused(404, "Page introuvable", "Ce fichier n'existe pas.")
    return FileResponse(files[name], headers={"Cache-Control": "public, max-age=3600"})
