"""Periods the staff choose (« du 1er au 31 décembre ») and Paris local time.

Times are stored in UTC; a centre thinks in days of its own calendar. A period
is two dates, both included, turned into the UTC bounds [start 00:00 Paris,
day after end 00:00 Paris) that queries compare stored timestamps with.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import overload

from kiosk.core.errors import N_, InvalidInput
from sync import protocol
from sync.clock import PARIS

#: Accepted spellings of a date typed by staff: French first, ISO second.
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")


def parse_date(text: str, field: str) -> date:
    """A date typed as 31/12/2026 or 2026-12-31; a clear error naming ``field``."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except (ValueError, AttributeError):
            continue
    raise _bad_date(field, text)


def _bad_date(field: str, text: str) -> InvalidInput:
    return InvalidInput(
        field,
        N_("Date non reconnue pour %(name)s : « %(text)s ». Écrivez-la JJ/MM/AAAA."),
        f"{field}: {text!r} is not a date (expected DD/MM/YYYY or YYYY-MM-DD)",
        value=text,
        name=field,
        text=text,
    )


@overload
def bounds(start: date, end: date) -> tuple[str, str]: ...
@overload
def bounds(start: date | None, end: date | None) -> tuple[str | None, str | None]: ...
def bounds(start: date | None, end: date | None) -> tuple[str | None, str | None]:
    """UTC ISO bounds of the days ``start``..``end`` (both included) in Paris;
    None leaves that side open. Refuses a start after the end."""
    if start and end and start > end:
        raise InvalidInput(
            "start",
            N_("La date de début (%(start)s) est après la date de fin (%(end)s)."),
            f"start {start.isoformat()} is after end {end.isoformat()}",
            value=start,
            start=start.strftime("%d/%m/%Y"),
            end=end.strftime("%d/%m/%Y"),
        )
    low = _midnight_utc(start) if start else None
    high = _midnight_utc(end + timedelta(days=1)) if end else None
    return low, high


def _midnight_utc(day: date) -> str:
    return protocol.utc_iso(datetime.combine(day, time(0, 0), tzinfo=PARIS))


def where(column: str, start: date | None, end: date | None) -> tuple[str, list[str]]:
    """An SQL condition on ``column`` (a stored UTC ISO text) and its params."""
    low, high = bounds(start, end)
    clauses, params = ["1 = 1"], []
    if low:
        clauses.append(f"{column} >= ?")
        params.append(low)
    if high:
        clauses.append(f"{column} < ?")
        params.append(high)
    return " AND ".join(clauses), params


def local(stored: str | None) -> datetime | None:
    """A stored UTC timestamp as an aware Paris datetime."""
    if not stored:
        return None
    return protocol.parse_utc(stored).astimezone(PARIS)


def local_text(stored: str | None) -> str:
    """dd/mm/yyyy HH:MM in Paris, as a French spreadsheet expects; '' if none."""
    if not stored:
        return ""
    if stored.endswith("Z") and len(stored) >= 16 and stored[13] == ":":
        # Paris is a whole number of hours off UTC, so only the hour needs
        # converting, once per hour seen: exports of years of visits stay quick
        return f"{_local_hour(stored[:13])}:{stored[14:16]}"
    return protocol.parse_utc(stored).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


@functools.lru_cache(maxsize=4096)
def _local_hour(utc_hour: str) -> str:
    moment = datetime.fromisoformat(utc_hour + ":00+00:00").astimezone(PARIS)
    return moment.strftime("%d/%m/%Y %H")
