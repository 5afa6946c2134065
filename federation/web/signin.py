"""Sign-in and sign-out of federation staff."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from federation import users
from federation.web import security
from federation.web.security import PageRoute
from federation.web.templating import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _client(request: Request) -> str:
    # the peer's address; a proxy's X-Forwarded-For only when `federation
    # serve --trusted-proxy` names that proxy (uvicorn rewrites the peer then)
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    token = request.cookies.get(security.SESSION_COOKIE)
    if token:
        session = users.load_session(security.engine(request), token)
        if session and not session.expired:
            return RedirectResponse(security.safe_next(next), status_code=303)
    return _form(request, next)


def _form(
    request: Request,
    next: str,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    headers: dict | None = None,
):
    token = security.login_csrf_token(request)
    response = render(
        request,
        "login.html",
        status_code,
        next=security.safe_next(next),
        error=error,
        email=email,
        csrf_token=token,
    )
    security.set_login_csrf_cookie(request, response, token)
    response.headers.update(headers or {})
    return response


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
):
    security.check_login_csrf(request, csrf_token)
    engine = security.engine(request)
    try:
        user_id = users.sign_in(engine, email, password, _client(request))
    except users.TooManyAttempts:
        minutes = int(users.FAILURE_WINDOW.total_seconds() // 60)
        return _form(
            request,
            next,
            f"Trop de tentatives de connexion. Réessayez dans {minutes} minutes.",
            email,
            429,
            {"Retry-After": str(minutes * 60)},
        )
    if user_id is None:
        return _form(request, next, "Adresse e-mail ou mot de passe incorrect.", email, 401)
    response = RedirectResponse(security.safe_next(next), status_code=303)
    security.set_session_cookie(request, response, users.start_session(engine, user_id))
    response.delete_cookie(security.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: users.WebSession = Depends(security.posted_session)):
    users.end_session(security.engine(request), request.cookies[security.SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    security.clear_session_cookie(response)
    return response
