"""What the hub publishes to the kiosks, signed with its own key.

The contract is ``sync.publications``'s (read its docstring first). Here:

- ``publish(conn, kind, key, body, audience=None)`` and ``withdraw(conn,
  kind, key)``: the federation's side, run in the caller's write
  transaction. The body is checked by its kind (``sync.publications.KINDS``);
  ``audience`` is None for every centre or a list of centre ids. Each change
  takes the next value of the hub-wide counter, which is what kiosks page by.
  Only the dashboard's signed-in staff and the hub's command line call them:
  no device endpoint publishes.
- ``signing_key(conn)``: the hub's Ed25519 key (federation.hub_key: made
  by schema step 25 and kept in the database, so the hub's backup carries it).
- ``page(conn, centre_id, since, nonce)``: a device's page of what changed
  since its cursor, signed as a whole, which ``GET
  /api/v1/publications?since=N&nonce=X`` answers
  (federation.publications_api). A publication that no longer reaches its
  centre (withdrawn, or its audience changed) comes as a withdrawal; a first
  pull (``since=0``) leaves withdrawals out.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import centres, hub_key
from federation import store as db
from sync import protocol
from sync import publications as wire


class Unpublishable(ValueError):
    """A publication the hub refuses: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# ---------------------------------------------------------------- the key

#: the hub's key (federation.hub_key), named here for the callers of this module
signing_key = hub_key.signing_key
verify_key_text = hub_key.verify_key_text
KEY_NAME = hub_key.KEY_NAME


# ---------------------------------------------------------------- publishing


def _next_seq(conn: Connection) -> int:
    """The next value of the counter: one more than the last, and never less
    than the time in microseconds, so that after a hub is restored from an
    older backup what it publishes next still comes after every cursor its
    kiosks hold. The row's update makes concurrent publishers queue."""
    c = db.publication_counter.c
    now_us = int(time.time() * 1_000_000)
    following = sa.case((c.seq + 1 > now_us, c.seq + 1), else_=now_us)
    conn.execute(db.publication_counter.update().where(c.id == 1).values(seq=following))
    return int(conn.execute(sa.select(c.seq).where(c.id == 1)).scalar_one())


def _audience(conn: Connection, audience: list[str] | None) -> str | None:
    if audience is None:
        return None
    if not isinstance(audience, list) or not audience or len(audience) > 10_000:
        raise Unpublishable("audience", "must be None (every centre) or a non-empty list of centre ids")
    wanted = sorted(set(audience))
    if not all(protocol.is_id(centre) for centre in wanted):
        raise Unpublishable("audience", "must list centre ids (UUIDs)")
    known = set(conn.execute(sa.select(db.centres.c.id).where(db.centres.c.id.in_(wanted))).scalars())
    unknown = [centre for centre in wanted if centre not in known]
    if unknown:
        raise Unpublishable("audience", f"unknown centre {unknown[0]}")
    return orjson.dumps(wanted).decode()


def publish(
    conn: Connection,
    kind: str,
    key: str,
    body: Any,
    audience: list[str] | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Publish (or replace) ``(kind, key)`` for ``audience`` (None: every
    centre). Returns ``{"kind", "key", "seq"}``. Unpublishable when the body,
    key or audience is not allowed; nothing is stored then."""
    try:
        wire.check_key(key)
        kept = wire.check_body(kind, body)
    except wire.InvalidBody as error:
        raise Unpublishable(error.field, error.message) from None
    values = {
        "body": protocol.canonical_json(kept),
        "audience": _audience(conn, audience),
        "seq": _next_seq(conn),
        "withdrawn": False,
        "updated_at": centres.now_iso(now),
        "updated_by": by,
    }
    p = db.publications.c
    if conn.execute(db.publications.update().where(p.kind == kind, p.key == key).values(**values)).rowcount:
        return {"kind": kind, "key": key, "seq": values["seq"]}
    conn.execute(db.publications.insert().values(kind=kind, key=key, **values))
    return {"kind": kind, "key": key, "seq": values["seq"]}


def withdraw(
    conn: Connection, kind: str, key: str, by: str | None = None, now: datetime | None = None
) -> bool:
    """Withdraw ``(kind, key)``: the kiosks drop it at their next sync.
    False when no such publication is held, or it is withdrawn already."""
    p = db.publications.c
    return bool(
        conn.execute(
            db.publications.update()
            .where(p.kind == kind, p.key == key, p.withdrawn.is_(False))
            .values(withdrawn=True, seq=_next_seq(conn), updated_at=centres.now_iso(now), updated_by=by)
        ).rowcount
    )


def held(conn: Connection, kind: str, include_withdrawn: bool = False) -> list[dict]:
    """The publications of ``kind``, newest change first, bodies parsed:
    what the dashboard lists."""
    p = db.publications.c
    query = sa.select(db.publications).where(p.kind == kind).order_by(p.seq.desc())
    if not include_withdrawn:
        query = query.where(p.withdrawn.is_(False))
    return [
        {
            "kind": row.kind,
            "key": row.key,
            "body": orjson.loads(row.body),
            "audience": orjson.loads(row.audience) if row.audience else None,
            "seq": int(row.seq),
            "withdrawn": bool(row.withdrawn),
            "updated_at": row.updated_at,
            "updated_by": row.updated_by,
        }
        for row in conn.execute(query)
    ]


def get(conn: Connection, kind: str, key: str) -> dict | None:
    return next((item for item in held(conn, kind, True) if item["key"] == key), None)


# ---------------------------------------------------------------- the reasons list

#: the reasons list's key within its kind: there is one list
REASONS_KEY = "list"


def read_reasons(text: str) -> list[dict]:
    """A reasons file's list: JSON, a list of reasons (each ``{"code",
    "label", "icon"}`` and optionally ``cra_theme``, ``domain``,
    ``asks_body``, the kiosk's « reasons » setting's shape) or ``{"reasons":
    [...]}``. Unpublishable names the reason and field at fault."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise Unpublishable("file", f"not JSON: {error}") from None
    reasons = data.get("reasons") if isinstance(data, dict) else data
    try:
        return wire.check_body("reasons", {"reasons": reasons})["reasons"]
    except wire.InvalidBody as error:
        raise Unpublishable(error.field, error.message) from None


def publish_reasons(conn: Connection, reasons: list[dict], by: str | None = None) -> dict:
    """Publish the federation's reasons list to every kiosk (see
    kiosk.core.federation_feed for how a centre's own list takes it)."""
    return publish(conn, "reasons", REASONS_KEY, {"reasons": reasons}, by=by)


# ---------------------------------------------------------------- a device's page


def page(
    conn: Connection,
    centre_id: str,
    since: int,
    nonce: str,
    limit: int = wire.PAGE_ITEMS,
    now: datetime | None = None,
) -> dict[str, str]:
    """The signed page of what changed for ``centre_id`` after ``since``."""
    p = db.publications.c
    counter = int(conn.execute(sa.select(db.publication_counter.c.seq)).scalar_one())
    # a cursor past the hub's counter: the hub was restored from an older
    # backup, and what it publishes now takes numbers the kiosk has passed.
    # The kiosk starts again from everything held (``reset``).
    reset = since > counter
    after = 0 if reset else since
    rows = conn.execute(
        sa.select(p.kind, p.key, p.body, p.audience, p.seq, p.withdrawn, p.updated_at)
        .where(p.seq > after)
        .order_by(p.seq)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items: list[dict[str, Any]] = []
    for row in rows:
        reaches = not row.withdrawn and (row.audience is None or centre_id in orjson.loads(row.audience))
        if not reaches and after == 0:
            continue  # a first pull has nothing to drop
        items.append(
            {
                "kind": row.kind,
                "key": row.key,
                "seq": int(row.seq),
                "updated_at": row.updated_at,
                "withdrawn": not reaches,
                "body": orjson.loads(row.body) if reaches else None,
            }
        )
    payload = {
        "centre": centre_id,
        "since": since,
        "nonce": nonce,
        "cursor": int(rows[-1].seq) if rows else after,
        "more": more,
        "reset": reset,
        "issued_at": centres.now_iso(now),
        "items": items,
    }
    return wire.sign_page(signing_key(conn), payload)
