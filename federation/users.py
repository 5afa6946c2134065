"""Federation staff accounts, their web sessions and the sign-in limits.

Everything lives in the hub's database (tables registered on the store's
MetaData, so the store's create/migrate covers them): a hub process keeps no
state of its own, and several processes can serve one PostgreSQL.

Passwords are hashed with scrypt (hashlib, no extra dependency). A session
cookie carries a random token; only its SHA-256 is stored, so a copy of the
database does not let anyone sign in. Each session has its own CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from federation.store import login_failures, users, web_sessions, writer

SESSION_LIFETIME = timedelta(hours=12)
#: failed sign-ins allowed for one e-mail address from one client address, and
#: from one client address whatever the e-mail, in the window (see sign_in)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10

# scrypt cost: n=2**14, r=8 (16 MiB a hash), as OWASP suggests for scrypt
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class UserError(ValueError):
    """A bad account field; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class WebSession:
    user_id: int
    email: str
    csrf_token: str
    expired: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


# ---------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# a hash checked when the e-mail is unknown, so a wrong address takes as long as
# a wrong password and does not reveal which accounts exist
_DUMMY_HASH = hash_password(secrets.token_hex(16))


# ---------------------------------------------------------------- accounts


def add_user(engine: Engine, email: str, password: str) -> int:
    """Create a staff account; returns its id. Raises UserError naming the field."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise UserError("email", f"{email!r} is not an e-mail address")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    with engine.begin() as conn:
        exists = conn.execute(sa.select(users.c.id).where(users.c.email == email)).first()
        if exists:
            raise UserError("email", f"an account already exists for {email}")
        result = conn.execute(
            users.insert().values(email=email, password_hash=hash_password(password), created_at=_iso(_now()))
        )
        key = result.inserted_primary_key
        assert key is not None  # always set after an INSERT
        return key[0]


def authenticate(engine: Engine, email: str, password: str) -> int | None:
    """The user's id if the e-mail and password match an active account."""
    email = normalise_email(email)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(users.c.id, users.c.password_hash).where(
                users.c.email == email, users.c.disabled_at.is_(None)
            )
        ).first()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return row.id if verify_password(password, row.password_hash) else None


# ---------------------------------------------------------------- sign-in limits


class TooManyAttempts(Exception):
    """Sign-in refused before the password was checked: too many attempts
    for this person from this client address, or from this address at all."""


def sign_in(
    engine: Engine, email: str, password: str, client: str, now: datetime | None = None
) -> int | None:
    """The user's id if the password is right, None if not; raises
    TooManyAttempts without checking it past the limits.

    The attempt is written (and committed) before it is counted, and counted
    before the password is checked: of any number of simultaneous attempts,
    the k-th to commit sees at least k rows, so at most MAX_FAILURES_PER_EMAIL
    passwords are ever tested for one person from one address in the window,
    and MAX_FAILURES_PER_CLIENT from one address. A failure stays as the
    attempt's row, and so does an attempt refused for the limits (a crowd of
    simultaneous attempts locks, whichever of them comes first); a success
    removes that person's rows from that address.

    The limits are per address: a stranger elsewhere cannot lock a member of
    staff out (the pre-authentication rate limit, federation.ratelimit, bounds
    how fast any one address may try).
    """
    now = now or _now()
    email, client = normalise_email(email)[:254], (client or "unknown")[:64]
    if not _count_attempt(engine, email, client, now):
        raise TooManyAttempts(email)
    user_id = authenticate(engine, email, password)
    if user_id is not None:
        with writer(engine) as conn, conn.begin():
            conn.execute(
                login_failures.delete().where(
                    login_failures.c.email == email, login_failures.c.client == client
                )
            )
    return user_id


def _count_attempt(engine: Engine, email: str, client: str, now: datetime) -> bool:
    """Record the attempt; whether it is within the limits."""
    since = _iso(now - FAILURE_WINDOW)
    with writer(engine) as conn, conn.begin():
        conn.execute(login_failures.insert().values(email=email, client=client, failed_at=_iso(now)))
        # keep the table small: nothing older than the window matters
        conn.execute(login_failures.delete().where(login_failures.c.failed_at < since))
    # counted in a new statement, after the commit: it sees every attempt
    # committed before it, its own included
    recent = (
        sa.select(sa.func.count())
        .select_from(login_failures)
        .where(login_failures.c.client == client, login_failures.c.failed_at >= since)
    )
    with engine.connect() as conn:
        by_person = conn.execute(recent.where(login_failures.c.email == email)).scalar_one()
        by_client = conn.execute(recent).scalar_one()
    return by_person <= MAX_FAILURES_PER_EMAIL and by_client <= MAX_FAILURES_PER_CLIENT


# ---------------------------------------------------------------- sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(engine: Engine, user_id: int, now: datetime | None = None) -> str:
    """Open a session for the user; returns the cookie's token (shown only once)."""
    now = now or _now()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            web_sessions.insert().values(
                token_hash=_token_hash(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=_iso(now),
                expires_at=_iso(now + SESSION_LIFETIME),
            )
        )
        # expired sessions are useless: sweep them while we are writing anyway
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < _iso(now - timedelta(days=7))))
    return token


def load_session(engine: Engine, token: str, now: datetime | None = None) -> WebSession | None:
    """The session for a cookie token, or None when no such session exists
    (a forged or long-purged cookie). An expired one comes back with expired=True."""
    if not token or len(token) > 128:
        return None
    query = (
        sa.select(
            web_sessions.c.user_id,
            web_sessions.c.csrf_token,
            web_sessions.c.expires_at,
            users.c.email,
            users.c.disabled_at,
        )
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.token_hash == _token_hash(token))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    expired = row.expires_at <= _iso(now or _now()) or row.disabled_at is not None
    return WebSession(row.user_id, row.email, row.csrf_token, expired)


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == _token_hash(token)))


def csrf_matches(session: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), str(submitted).encode())
