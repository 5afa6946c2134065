"""The `kiosk` command: a thin layer over kiosk.core, sync and the UI.

Each sub-command is one small function here named after it (`cmd_demo`,
`cmd_run`, …) with its arguments declared in `build_parser`; the work itself
lives in the library. Help texts are written for a centre's staff.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk import __version__

DEFAULT_DB = "accueil.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="Accueil: the reception kiosk of a centre social.",
    )
    parser.add_argument("--version", action="version", version=f"Accueil {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    # ---- demo (kiosk core)
    demo = commands.add_parser(
        "demo",
        help="build a believable demo centre in a database file",
        description="Fill a database with a demo centre: members, a month of visits, "
        "this week's workshops with sign-ups and a waitlist.",
    )
    demo.add_argument("--db", default=DEFAULT_DB, help="database file to create or fill")
    demo.add_argument("--members", type=int, default=300, help="how many members (default 300)")
    demo.add_argument("--visits", type=int, default=2000, help="how many visits (default 2000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed, for the same data each time")
    demo.set_defaults(func=cmd_demo)

    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.core import demo

    summary = demo.build(Path(args.db), members=args.members, visits=args.visits, seed=args.seed)
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
