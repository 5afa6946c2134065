"""CSV cells that a spreadsheet shows as text, never runs (CSV injection).

The one neutraliser of the kiosk's exports and the hub's: a cell starting
with one of ``FORMULA_STARTS`` is a formula to Excel and LibreOffice
(``=HYPERLINK(…)``, ``+SUM(…)``, ``@…``, ``-2+3``), so such a text gets a
leading apostrophe, which both show as nothing and read as "this is text".
Numbers stay numbers: only text is ever changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Excel runs a cell starting with one of these as a formula: a member typing
#: "=HYPERLINK(…)" as a name, a device sending it as a reason, must stay text.
FORMULA_STARTS = frozenset("=+-@\t\r\n")


def cell(value: Any) -> Any:
    """``value`` as a CSV writer should get it: None as an empty cell, a text
    that would start a formula with an apostrophe before it."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return "" if value is None else value


def row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through ``cell``."""
    return [cell(value) for value in values]
