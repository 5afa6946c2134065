"""Members and staff for the workshop, registration and attendance tests.

Members are written straight into the members table until the members
service (kiosk/core/members.py) lands; these tests are about what the
workshop services do with a member, not about registering one.
"""

from __future__ import annotations

import json
import uuid

from kiosk.core.staff import Staff
from kiosk.core.store import Store


def add_member(store: Store, first: str = "Aïcha", last: str = "Benali",
               phone: str | None = "06 12 34 56 78") -> str:
    member_id = str(uuid.uuid4())
    now = store.now_iso()
    with store.transaction():
        store.conn.execute(
            "INSERT INTO members (id, first_name, last_name, birth_year, commune, qpv, phone, "
            "consent_data, consent_data_at, created_at, updated_at) "
            "VALUES (?, ?, ?, 1970, 'Boulogne-sur-Mer', 0, ?, 1, ?, ?, ?)",
            (member_id, first, last, phone, now, now, now),
        )
    return member_id


def erase_member(store: Store, member_id: str) -> None:
    with store.transaction():
        store.conn.execute(
            "UPDATE members SET first_name = NULL, last_name = NULL, phone = NULL, "
            "erased_at = ? WHERE id = ?", (store.now_iso(), member_id))


def add_staff(store: Store, name: str = "Nadia Ferhat", role: str = "staff",
              pin: str = "2468") -> dict:
    return Staff(store).add(name, role, pin)


def event_counts(store: Store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT type, count(*) FROM outbox GROUP BY type").fetchall())


def events(store: Store, kind: str) -> list[dict]:
    return [json.loads(body)["data"] for (body,) in store.conn.execute(
        "SELECT body FROM outbox WHERE type = ? ORDER BY seq", (kind,))]


def snapshot(store: Store) -> dict[str, list]:
    """Every row of every table: a refused operation must leave it identical."""
    tables = [name for (name,) in store.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {table: sorted(store.conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables}
