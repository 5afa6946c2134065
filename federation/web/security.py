"""Who may see the dashboard: session cookies, CSRF tokens, refusals as pages.

A page route is a ``PageRoute``: a refusal raised anywhere in it (or in its
dependencies) becomes a French HTML page with the right status, and every
answer gets the security headers. The session itself is in the database
(federation.users), so any hub process can serve any request.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from federation import users
from federation.web.templating import render

SESSION_COOKIE = "accueil_session"
LOGIN_CSRF_COOKIE = "accueil_login_csrf"

#: no inline script or style, nothing from elsewhere: what a page may load
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; script-src 'self'; "
    "style-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """Stop here and show the user why, with ``status``."""

    def __init__(
        self, status: int, title: str, message: str, clear_session: bool = False, headers: dict | None = None
    ):
        super().__init__(f"{status} {title}")
        self.status, self.title, self.message = status, title, message
        self.clear_session = clear_session
        self.headers = headers or {}


class SignInRequired(Exception):
    def __init__(self, clear_session: bool = False):
        super().__init__("sign-in required")
        self.clear_session = clear_session


class PageRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as needed:
                response = RedirectResponse(
                    f"/login?next={quote(_local_path(request), safe='/')}", status_code=303
                )
                if needed.clear_session:
                    clear_session_cookie(response)
            except Refused as refusal:
                response = render(request, "refused.html", refusal.status, refusal=refusal)
                response.headers.update(refusal.headers)
                if refusal.clear_session:
                    clear_session_cookie(response)
            for name, value in _HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page_handler


def _local_path(request: Request) -> str:
    if request.method != "GET":
        return "/"  # a form sent without a session is not replayed after sign-in
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never '//evil.example' or 'https://…' (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def engine(request: Request) -> Engine:
    return request.app.state.engine


def report_engine(request: Request) -> Engine:
    """Where the dashboard's figures are read: a read replica when the hub has
    one (`federation serve --read-db`), else the database itself."""
    return getattr(request.app.state, "read_engine", None) or request.app.state.engine


# ---------------------------------------------------------------- cookies


def _secure(request: Request) -> bool:
    # behind an HTTPS proxy uvicorn's --proxy-headers makes the scheme https
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(users.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def login_csrf_token(request: Request) -> str:
    """Before sign-in there is no session: the login form's token is a
    double-submit cookie (a cross-site page can neither read nor set it)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def check_login_csrf(request: Request, submitted: str) -> None:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise Refused(
            403,
            "Formulaire expiré",
            "Ce formulaire n'est plus valable. Rechargez la page de connexion et réessayez.",
        )


# ---------------------------------------------------------------- dependencies


def current_session(request: Request) -> users.WebSession:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired()
    session = users.load_session(engine(request), token)
    if session is None:
        # not a session this hub ever opened (forged, or purged long ago)
        raise Refused(
            403,
            "Session non reconnue",
            "Votre session n'est pas reconnue. Connectez-vous à nouveau.",
            clear_session=True,
        )
    if session.expired:
        raise SignInRequired(clear_session=True)
    return session


def posted_session(
    request: Request, csrf_token: str = Form(""), session: users.WebSession = Depends(current_session)
) -> users.WebSession:
    """The session of a form POST, whose CSRF token must be the session's."""
    if not users.csrf_matches(session, csrf_token):
        raise Refused(
            403,
            "Formulaire refusé",
            "Ce formulaire n'a pas été envoyé depuis le tableau de bord. Rechargez la page et réessayez.",
        )
    return session
