"""Members and staff for the workshop, registration and attendance tests,
made through the real services (members.py, privacy.py, staff.py)."""

from __future__ import annotations

import json

from kiosk.core.members import Members
from kiosk.core.privacy import Privacy
from kiosk.core.settings import Settings
from kiosk.core.staff import Staff
from kiosk.core.store import Store


def add_member(
    store: Store, first: str = "Aïcha", last: str = "Benali", phone: str | None = "06 12 34 56 78"
) -> str:
    member = Members(store, Settings(store)).register(
        first, last, birth_year=1970, commune="Boulogne-sur-Mer", phone=phone, consent_data=True
    )
    return member["id"]


def erase_member(store: Store, member_id: str) -> None:
    Privacy(store, Settings(store)).erase(member_id, None)


def add_staff(store: Store, name: str = "Nadia Ferhat", role: str = "staff", pin: str = "2468") -> dict:
    return Staff(store).add(name, role, pin)


def event_counts(store: Store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT type, count(*) FROM outbox GROUP BY type").fetchall())


def events(store: Store, kind: str) -> list[dict]:
    return [
        json.loads(body)["data"]
        for (body,) in store.conn.execute("SELECT body FROM outbox WHERE type = ? ORDER BY seq", (kind,))
    ]


def snapshot(store: Store) -> dict[str, list]:
    """Every row of every table: a refused operation must leave it identical."""
    tables = [
        name
        for (name,) in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        table: sorted(store.conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables
    }
