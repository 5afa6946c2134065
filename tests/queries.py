"""Reads and conveniences that only the tests use, kept out of the
production modules: each takes the service (or connection) it reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime

from kiosk.core import registrations
from kiosk.core.members import Members
from kiosk.core.visits import _iso, day_bounds
from sync import outbox
from sync.clock import PARIS


def check_in_by_card(visits, card_code: str, reason: str, actor: dict | None = None) -> dict:
    """Check in the holder of a scanned or typed card (errors as ``Members.by_card``)."""
    member = Members(visits.store, visits.settings).by_card(card_code)
    return visits.check_in(reason, member_id=member["id"], actor=actor)


def counts_by_reason(visits, start: datetime | str, end: datetime | str) -> dict[str, int]:
    """How many visits for each reason, every configured reason listed (0 if none)."""
    counts = {code: 0 for code in visits.settings.reason_codes()}
    for reason, number in visits.store.conn.execute(
        "SELECT reason, count(*) FROM visits WHERE occurred_at >= ? AND occurred_at < ? GROUP BY reason",
        (_iso(start), _iso(end)),
    ):
        counts[reason] = number
    return counts


def today_count(visits) -> int:
    """Visits since midnight, Paris time."""
    start, end = day_bounds(visits.store.now().astimezone(PARIS).date())
    return visits.store.conn.execute(
        "SELECT count(*) FROM visits WHERE occurred_at >= ? AND occurred_at < ?", (start, end)
    ).fetchone()[0]


def list_workshops(workshops) -> list[dict]:
    """Every workshop, by title, with how many sessions are still to come."""
    return workshops.store.query(
        "SELECT w.*, (SELECT count(*) FROM sessions s WHERE s.workshop_id = w.id "
        "AND s.cancelled_at IS NULL AND s.starts_at > ?) AS upcoming_sessions "
        "FROM workshops w ORDER BY w.title COLLATE NOCASE",
        (workshops.store.now_iso(),),
    )


def member_registrations(workshops, member_id: str, upcoming_only: bool = True) -> list[dict]:
    registrations.live_member(workshops.store, member_id)
    after = workshops.store.now_iso() if upcoming_only else None
    return registrations.of_member(workshops.store, member_id, after)


def iter_pending(conn: sqlite3.Connection, batch_size: int) -> Iterator[list[tuple[int, str, str]]]:
    """Pending events in batches, oldest first, reading one batch at a time."""
    after = 0
    while True:
        rows = outbox.pending(conn, batch_size, after)
        if not rows:
            return
        yield rows
        after = rows[-1][0]
