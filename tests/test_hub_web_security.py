"""Who may see the dashboard, against a real `federation serve` process:
sign-in, sessions, CSRF on every form, cookie flags, rate limiting."""

from __future__ import annotations

import html

import httpx
import pytest
import sqlalchemy as sa

from federation import store, users
from tests import hub_sample as sample
from tests.conftest_hub import sample_hub
from tests.hub_sample import EMAIL, PASSWORD, hidden_csrf, sign_in

LOCKED_EMAIL = "paul@federation.example"


@pytest.fixture(scope="module")
def proxied_hub(tmp_path_factory):
    """The sample hub behind a proxy it names; the account the tests sign in
    with comes from the real `federation add-user`."""
    # the proxy in front of a real hub is on the same machine, and named
    with sample_hub(
        tmp_path_factory.mktemp("hub-web"),
        accounts={LOCKED_EMAIL: PASSWORD},
        add_user_commands={EMAIL: PASSWORD},
        trusted_proxy="127.0.0.1",
    ) as server:
        yield server


@pytest.fixture
def client(proxied_hub):
    with httpx.Client(base_url=proxied_hub.url, follow_redirects=False, timeout=30) as client:
        yield client


def test_pages_and_exports_need_sign_in(client):
    for path in (
        "/",
        "/devices",
        "/conflicts",
        f"/centres/{sample.A}",
        "/exports/indicators.csv",
        "/exports/report.pdf",
    ):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")


def test_sign_in_opens_a_session_with_safe_cookie_flags(client):
    answer = sign_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("accueil_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would never come back
    page = client.get("/")
    assert page.status_code == 200 and "Vue d'ensemble" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_cookies_are_secure_behind_https(client):
    # the proxy in front says the browser used HTTPS (trusted: --trusted-proxy 127.0.0.1)
    client.headers["X-Forwarded-Proto"] = "https"
    form = client.get("/login")
    assert "Secure" in form.headers["set-cookie"]
    # a Secure cookie never travels over this test's plain http: send it by hand
    token = hidden_csrf(form.text)
    answer = client.post(
        "/login",
        headers={"Cookie": f"accueil_login_csrf={token}"},
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
    )
    assert answer.status_code == 303
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("accueil_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_wrong_password_is_refused_without_a_session(client):
    answer = sign_in(client, password="pas le bon mot de passe")
    assert answer.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in answer.text
    assert "accueil_session" not in client.cookies
    assert client.get("/").status_code == 303


def test_unknown_account_reads_like_a_wrong_password(client):
    answer = sign_in(client, email="personne@federation.example")
    assert answer.status_code == 401 and "mot de passe incorrect" in answer.text


def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused(client):
    client.get("/login")  # sets the login form's token cookie
    form = {"email": EMAIL, "password": PASSWORD, "next": "/"}
    assert client.post("/login", data=form).status_code == 403
    assert client.post("/login", data=form | {"csrf_token": "forged"}).status_code == 403
    assert "accueil_session" not in client.cookies


def test_forged_session_cookie_is_refused(client):
    client.cookies.set("accueil_session", "forged-" + "x" * 36)
    answer = client.get("/")
    assert answer.status_code == 403
    assert "Session non reconnue" in answer.text
    assert 'accueil_session=""' in answer.headers["set-cookie"]  # and the cookie is dropped
    assert client.get("/exports/indicators.csv").status_code in (303, 403)


def test_logout_without_csrf_token_is_refused_and_keeps_the_session(client):
    sign_in(client)
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/").status_code == 200


def test_logout_ends_the_session_for_good(client):
    sign_in(client)
    token = client.cookies["accueil_session"]
    answer = client.post("/logout", data={"csrf_token": hidden_csrf(client.get("/").text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    # the old cookie, replayed, no longer opens anything
    client.cookies.set("accueil_session", token)
    assert client.get("/").status_code == 403


def test_repeated_failures_lock_the_account_for_a_while(client):
    for _ in range(users.MAX_FAILURES_PER_EMAIL):
        assert sign_in(client, LOCKED_EMAIL, "mauvais essai").status_code == 401
    answer = sign_in(client, LOCKED_EMAIL, PASSWORD)  # even the right password, now
    assert answer.status_code == 429
    assert "Trop de tentatives" in answer.text and int(answer.headers["retry-after"]) > 0
    assert "accueil_session" not in client.cookies


def test_sign_in_never_redirects_off_site(client):
    token = hidden_csrf(client.get("/login").text)
    answer = client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_bad_period_names_the_field(client):
    sign_in(client)
    page = client.get("/?from=31/02/2026")
    assert page.status_code == 400
    assert "date de début « 31/02/2026 » n'est pas une date valide" in html.unescape(page.text)
    assert 'aria-invalid="true"' in page.text
    assert client.get("/exports/indicators.csv?to=hier").status_code == 400


def test_passwords_are_stored_as_scrypt_hashes(proxied_hub):
    engine = store.create_engine(proxied_hub.db_url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(users.users.c.password_hash).where(users.users.c.email == EMAIL)
        ).scalar_one()
    engine.dispose()
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert users.verify_password(PASSWORD, stored) and not users.verify_password("autre", stored)


def test_expired_session_goes_back_to_sign_in(client, proxied_hub):
    sign_in(client)
    engine = store.create_engine(proxied_hub.db_url)
    with engine.begin() as conn:  # twelve hours later
        conn.execute(users.web_sessions.update().values(expires_at="2000-01-01T00:00:00.000000Z"))
    engine.dispose()
    answer = client.get("/devices")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/devices"


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-01&to=9999-12-31",
        "from=0001-01-01&to=0001-01-31",
        "to=0001-01-01",
        "from=31/12/9999",
        "to=9999-12-31",
    ],
)
def test_periods_out_of_range_get_a_french_400_never_a_500(client, query):
    sign_in(client)
    for path in (
        "/",
        f"/centres/{sample.A}",
        "/exports/indicators.csv",
        "/exports/visits-per-week.csv",
        "/exports/report.pdf",
    ):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.status_code)
        assert "doit être entre le 01/01/2000 et le 31/12/2099" in html.unescape(answer.text), path


def test_api_schema_and_docs_are_not_public(client):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    answer = client.get("/openapi.json")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/openapi.json"
    sign_in(client)
    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "/api/v1/batches" in schema.json()["paths"]


def test_behind_the_trusted_proxy_each_forwarded_address_counts_apart(client):
    # this hub names 127.0.0.1 as its proxy: the address it forwards is the client's
    client.headers["X-Forwarded-For"] = "198.51.100.1"
    for _ in range(users.MAX_FAILURES_PER_EMAIL):
        assert sign_in(client, password="mauvais essai").status_code == 401
    assert sign_in(client).status_code == 429
    client.headers["X-Forwarded-For"] = "198.51.100.2"
    assert sign_in(client).status_code == 303
