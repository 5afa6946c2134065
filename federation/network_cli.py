"""The `federation` commands of the hub-to-hub roll-up.

On the parent: ``add-child NAME`` (prints a one-time link code),
``new-child-code ID``, ``revoke-child ID``, ``list-children``. On the child:
``link-parent --parent URL --code CODE`` and ``sync-parent`` (sends now; a
timer may call it). federation.cli adds them to its parser.
"""

from __future__ import annotations

import argparse
import json
import sys

from federation import store as db
from federation import subcommands

#: sync-parent's exit codes, for a timer or a monitoring check
EXIT_OK, EXIT_FAILED, EXIT_NOT_LINKED, EXIT_REVOKED, EXIT_BUSY = 0, 1, 2, 3, 4


def add_commands(commands) -> None:
    child = subcommands.add(
        commands,
        "add-child",
        cmd_add_child,
        json='print only {"child_id", "link_code"}',
        help="on a parent hub: record a child federation's hub and print its link code",
        description="Record a child hub (a departmental federation under a regional one, say). "
        "Prints a one-time link code (valid 7 days) to give to the child's administrator, "
        "who runs `federation link-parent` with it.",
    )
    child.add_argument("name", help='the child federation\'s name, e.g. "Fédération du Rhône"')

    code = subcommands.add(
        commands,
        "new-child-code",
        cmd_new_child_code,
        json='print only {"child_id", "link_code"}',
        help="on a parent hub: a new link code for a child hub",
        description="Make another one-time link code for a child hub, e.g. after it was reinstalled.",
    )
    code.add_argument("child_id", help="the child's id (see list-children)")

    revoke = subcommands.add(
        commands,
        "revoke-child",
        cmd_revoke_child,
        help="on a parent hub: refuse a child hub's figures from now on",
        description="Revoke a child hub's token: the parent refuses it (401) and the child stops sending. "
        "The figures already received stay.",
    )
    revoke.add_argument("child_id", help="the child's id (see list-children)")

    subcommands.add(
        commands,
        "list-children",
        cmd_list_children,
        json="print JSON",
        help="on a parent hub: its child hubs",
    )

    linking = subcommands.add(
        commands,
        "link-parent",
        cmd_link_parent,
        help="on a child hub: link this hub to its parent hub",
        description="Link this hub to a parent hub with the code the parent's `federation add-child` "
        "printed. From then on `federation serve` sends the parent this hub's aggregate figures "
        "by itself, and `federation sync-parent` sends them at once.",
        epilog="example: federation link-parent --db sqlite:///federation.db "
        "--parent https://region.example.org --code ABCD-EFGH-JKMN",
    )
    linking.add_argument("--parent", required=True, metavar="URL", help="the parent hub's address")
    linking.add_argument("--code", required=True, help="the one-time link code")

    sending = subcommands.add(
        commands,
        "sync-parent",
        cmd_sync_parent,
        json="print the result as JSON",
        help="on a child hub: send the parent hub the figures that changed, now",
        description="Send the parent hub every figure that changed since it last acknowledged them. "
        "Exit codes: 0 sent (or nothing to send), 1 failed (try again later), 2 no parent linked, "
        "3 the parent revoked this hub, 4 another process is sending.",
    )
    sending.add_argument(
        "--resend-all",
        action="store_true",
        help="send every figure again, not only those that changed (after the parent hub was "
        "restored from an older backup)",
    )


def cmd_add_child(args: argparse.Namespace) -> int:
    from federation import network

    try:
        with db.writer(db.open_engine(args.db)) as conn, conn.begin():
            child_id, code = network.add_child(conn, args.name)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_code(args, child_id, code, args.name.strip())
    return 0


def cmd_new_child_code(args: argparse.Namespace) -> int:
    from federation import network

    try:
        with db.writer(db.open_engine(args.db)) as conn, conn.begin():
            code = network.new_code(conn, args.child_id)
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _print_code(args, args.child_id, code, None)
    return 0


def _print_code(args: argparse.Namespace, child_id: str, code: str, name: str | None) -> None:
    if args.json:
        print(json.dumps({"child_id": child_id, "link_code": code}))
        return
    if name:
        print(f"Child federation: {name}")
    print(f"Child id: {child_id}")
    print(f"Link code (one use, valid 7 days): {code}")
    print("On the child hub: federation link-parent --parent <this hub's address> --code " + code)


def cmd_revoke_child(args: argparse.Namespace) -> int:
    from federation import network

    with db.writer(db.open_engine(args.db)) as conn, conn.begin():
        revoked = network.revoke(conn, args.child_id)
    if not revoked:
        print(f"error: child_id: no active child hub with id {args.child_id}", file=sys.stderr)
        return 1
    print(f"Child hub {args.child_id} revoked: its figures are refused from now on.")
    return 0


def cmd_list_children(args: argparse.Namespace) -> int:
    from federation import network, reports

    year = reports.paris_today().year
    with db.open_engine(args.db).connect() as conn:
        listing = network.children_stats(conn, year)
    if args.json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return 0
    if not listing:
        print("No child hub yet: add one with `federation add-child NAME`.")
    for child in listing:
        state = (
            f"revoked {child['revoked_at']}"
            if child["revoked_at"]
            else f"last figures {child['last_received_at'] or 'never'}"
            if child["linked_at"]
            else "not linked yet"
        )
        print(
            f"{child['name']}  ({child['id']})  {state}; {len(child['centres'])} centres, "
            f"{year}: {child['visits']} visits, {child['participants']} participants"
        )
    return 0


def cmd_link_parent(args: argparse.Namespace) -> int:
    from federation import parent_sync
    from sync import client

    engine = db.open_engine(args.db)
    try:
        answer = parent_sync.link_parent(engine, args.parent, args.code)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except client.SyncError as error:
        print(f"error: not linked: {error}", file=sys.stderr)
        return 1
    print(
        f"Linked to the parent hub {args.parent.strip().rstrip('/')} as « {answer.get('name', '')} » "
        f"(child id {answer['child_id']}). `federation serve` now sends it this hub's figures; "
        "`federation sync-parent` sends them now."
    )
    return 0


def cmd_sync_parent(args: argparse.Namespace) -> int:
    from federation import parent_sync
    from sync import client

    result = parent_sync.sync_parent(db.open_engine(args.db), resend_all=args.resend_all)
    if args.json:
        print(json.dumps(result.__dict__ | {"summary": result.summary()}, ensure_ascii=False))
    else:
        print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return {
        parent_sync.OK: EXIT_OK,
        parent_sync.NOT_LINKED: EXIT_NOT_LINKED,
        parent_sync.REVOKED: EXIT_REVOKED,
        client.BUSY: EXIT_BUSY,
    }.get(result.code, EXIT_FAILED)
