"""The federation's agenda: each centre's upcoming open sessions, published.

Derived on the hub from what it already receives, so a kiosk sends nothing
new: ``workshop.created/updated`` (title, theme, place), ``session.*``
(times, capacity, cancelled) and ``registration.changed`` (booked or not),
in the projections ``p_workshops``, ``p_sessions`` and ``p_registrations``.
Nothing personal is in them, and nothing personal leaves here: an entry is
a session's title, theme, place, times and seats left.

Each session is one publication (kind ``agenda``, key the session's id;
``federation.publications`` signs them and kiosks pull what changed at
every sync). A centre's agenda covers ``HORIZON`` from now, so a daily
refresh always covers the week the kiosks show; it is refreshed after each
batch that touched a workshop, a session or a registration of that centre,
and for every centre in the hub's daily upkeep. A session is published
again only when what it shows changed (its seats left, say), and withdrawn
once it started, was cancelled or left the horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from federation import store as db
from sync import protocol
from sync.clock import utc_now

log = logging.getLogger(__name__)

KIND = "agenda"
#: how far ahead a centre's agenda goes
HORIZON = timedelta(days=14)
#: the most sessions one centre's agenda holds (a busy centre's fortnight)
MAX_SESSIONS = 200
#: the event types whose arrival may change a centre's agenda
TOUCHING = frozenset(
    (
        "workshop.created",
        "workshop.updated",
        "session.created",
        "session.updated",
        "session.cancelled",
        "registration.changed",
    )
)


def sessions(conn: Connection, centre_id: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The centre's sessions not started yet and within ``HORIZON``, not
    cancelled, whose workshop is known: what the agenda shows of each."""
    now = now or utc_now()
    s, w, r = db.p_sessions.c, db.p_workshops.c, db.p_registrations.c
    booked = (
        sa.select(sa.func.count())
        .where(r.centre_id == s.centre_id, r.session_id == s.session_id, r.status == "booked")
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(
            s.session_id,
            w.title,
            w.theme,
            w.place,
            s.starts_at,
            s.ends_at,
            s.capacity,
            booked.label("booked"),
        )
        .join(db.p_workshops, sa.and_(w.centre_id == s.centre_id, w.workshop_id == s.workshop_id))
        .where(
            s.centre_id == centre_id,
            s.cancelled.is_(False),
            s.starts_at > protocol.utc_iso(now),
            s.starts_at <= protocol.utc_iso(now + HORIZON),
        )
        .order_by(s.starts_at, s.session_id)
        .limit(MAX_SESSIONS)
    ).all()
    return [
        {
            "session_id": row.session_id,
            "title": row.title,
            "theme": row.theme,
            "place": row.place,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "capacity": row.capacity or 0,
            "seats_left": max(0, (row.capacity or 0) - row.booked),
        }
        for row in rows
    ]


def _held(conn: Connection, centre_id: str) -> dict[str, str]:
    """The centre's agenda publications held now: session id -> canonical body."""
    p = db.publications.c
    # bodies are canonical JSON (no spaces): the centre's id is found as written
    rows = conn.execute(
        sa.select(p.key, p.body).where(
            p.kind == KIND, p.withdrawn.is_(False), p.body.like(f'%"centre_id":"{centre_id}"%')
        )
    ).all()
    return {row.key: row.body for row in rows}


def refresh(conn: Connection, centre_ids: Iterable[str] | None = None, now: datetime | None = None) -> int:
    """Bring the agenda publications of ``centre_ids`` (every centre: None)
    up to date, in the caller's transaction: a session new or changed is
    published, one that started, was cancelled or left the horizon is
    withdrawn, the others are left as they are (the kiosks pull only what
    changed). Returns how many publications changed."""
    from federation import publications  # signs with the hub's key: loaded only here
    from sync import publications as wire

    if centre_ids is None:
        centre_ids = conn.execute(sa.select(db.centres.c.id)).scalars().all()
    changed = 0
    for centre_id in centre_ids:
        c = db.centres.c
        centre = conn.execute(sa.select(c.name, c.commune).where(c.id == centre_id)).first()
        if centre is None:
            continue
        held = _held(conn, centre_id)
        for session in sessions(conn, centre_id, now):
            body = entry(centre_id, centre.name, session, centre.commune)
            if protocol.canonical_json(wire.check_body(KIND, body)) != held.pop(session["session_id"], None):
                publications.publish(conn, KIND, session["session_id"], body, now=now)
                changed += 1
        for gone in held:
            changed += publications.withdraw(conn, KIND, gone, now=now)
    return changed


def entry(
    centre_id: str, centre_name: str, session: dict[str, Any], commune: str | None = None
) -> dict[str, Any]:
    """One session as the agenda publishes it (``sync.publications``' kind
    « agenda »): no pictogram (the kiosk shows its theme's); the centre's
    commune when the federation gave it (`federation set-commune`)."""
    body = {
        "centre_id": centre_id,
        "centre_name": centre_name[:120],
        "title": session["title"][:120],
        "theme": session["theme"],
        "place": (session["place"] or "")[:120],
        "starts_at": session["starts_at"],
        "ends_at": session["ends_at"],
        "seats_left": min(session["seats_left"], 1000),
    }
    if commune:
        body["commune"] = commune[:80]
    return body


def after_batch(conn: Connection, centre_id: str, events: Iterable[dict[str, Any]]) -> None:
    """In the batch's transaction: refresh the centre's agenda when the
    batch held an event that may change it."""
    if any(event.get("type") in TOUCHING for event in events):
        refresh(conn, [centre_id])


def refresh_all(engine: Engine, now: datetime | None = None) -> int:
    """Every centre's agenda, in the daily upkeep: sessions that passed leave."""
    with db.write_turn(engine), db.writer(engine) as conn, conn.begin():
        published = refresh(conn, None, now)
    if published:
        log.info("agenda: %d sessions published or withdrawn", published)
    return published
