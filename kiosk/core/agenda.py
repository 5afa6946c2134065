"""« Dans les autres centres »: the week's sessions of the federation's other
centres, as this kiosk last received them.

The hub derives each centre's upcoming open sessions from what the centres
already send (federation/agenda.py) and publishes each session, signed
(kind « agenda »). The sync keeps the last good copy
(``kiosk.core.federation_feed``); this module reads it for the residents'
screen: the other centres' sessions starting within the next seven days, in
time order, each with whether a resident already asked for a seat in it
here. Offline, the screen shows the same copy with its age (``received_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kiosk.core import federation_feed
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol

KIND = "agenda"
#: how far ahead the screen shows
WEEK = timedelta(days=7)


def week(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """The other centres' sessions starting after ``now`` and within a week:
    each the publication's fields (``centre_id``, ``centre_name``,
    ``title``, ``theme``, ``place``, ``commune``, ``starts_at``, ``ends_at``,
    ``seats_left``) plus ``session_id`` and ``asked`` (a request made here
    for it and not yet told: its outcome, "waiting" before the answer, or
    None)."""
    moment = now or store.now()
    start, end = protocol.utc_iso(moment), protocol.utc_iso(moment + WEEK)
    own = Settings(store).get("centre_id")
    asked = {
        row["session_id"]: row["outcome"] or "waiting"
        for row in store.query("SELECT session_id, outcome FROM seat_requests_out WHERE told_at IS NULL")
    }
    shown = [
        {**item, "session_id": item["key"], "asked": asked.get(item["key"])}
        for item in federation_feed.items(store, KIND)
        if item.get("centre_id") != own and start < item["starts_at"] <= end
    ]
    shown.sort(key=lambda item: (item["starts_at"], item["centre_name"], item["title"]))
    return shown


def received_at(store: Store) -> datetime | None:
    """When this kiosk last received what the federation published (the
    agenda's age on screen), None if never."""
    text = federation_feed.updated_at(store)
    return protocol.parse_utc(text) if text else None


def entry(store: Store, session_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """One session of ``week`` by its id, None when it is no longer there."""
    return next((item for item in week(store, now) if item["session_id"] == session_id), None)
