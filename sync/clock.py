"""The centre's time zone and the clock, defined once for every layer.

Times are stored and sent in UTC (``protocol.utc_iso``) and shown, grouped
by day and reported in the centre's own zone. Every module that needs either
imports it from here: the kiosk, its screens and the hub agree on the zone
because there is only one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: The centres' time zone (French centres sociaux; overseas centres would need a setting).
PARIS = ZoneInfo("Europe/Paris")


def utc_now() -> datetime:
    """Now, as an aware UTC datetime: the default clock (tests pass their own)."""
    return datetime.now(UTC)
