"""How a `federation` sub-command is declared: its parser, the function it
runs, the ``--db`` every one takes and, for those that print a result,
``--json`` (federation.cli, federation.network_cli)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

DB_HELP = (
    "database URL: sqlite:///file.db or postgresql://user@host/name "
    "(default: $FEDERATION_DB or sqlite:///federation.db)"
)


def add(
    commands: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    json: str | None = None,
    **how: Any,
) -> argparse.ArgumentParser:
    """The sub-command ``name`` of ``commands`` (add_subparsers' result),
    running ``func``, with ``--db``, and ``--json`` where ``json`` says what it
    prints; ``how`` goes to add_parser (help, description, epilog)."""
    parser: argparse.ArgumentParser = commands.add_parser(name, **how)
    parser.add_argument("--db", help=DB_HELP)
    if json is not None:
        parser.add_argument("--json", action="store_true", help=json)
    parser.set_defaults(func=func)
    return parser
