"""Helpers for the core tests: the whole content of a database, to show that
a refused operation changed nothing, and the outbox's events as dicts."""

from __future__ import annotations

import json

from kiosk.core.store import Store
from sync.protocol import new_id


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, keyed by table name."""
    tables = [
        row[0]
        for row in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {
        table: sorted(store.conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables
    }


def events(store: Store, kind: str | None = None) -> list[dict]:
    """The outbox's events, oldest first (only those of type ``kind`` if given)."""
    rows = store.conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()
    found = [json.loads(row[0]) for row in rows]
    return [event for event in found if kind is None or event["type"] == kind]


def add_staff(store: Store, name: str = "Claire Martin", role: str = "staff") -> dict:
    """A volunteer or staff row, written straight in (no PIN hashing: these
    tests are about what members and visits do with an actor)."""
    person = {"id": new_id(), "name": name, "role": role}
    now = store.now_iso()
    with store.transaction():
        store.conn.execute(
            "INSERT INTO staff (id, name, role, pin_salt, pin_hash, pin_params, created_at, updated_at) "
            "VALUES (?, ?, ?, x'00', x'00', 'none', ?, ?)",
            (person["id"], name, role, now, now),
        )
    return person
