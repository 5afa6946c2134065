"""The `federation` command: run the hub and look after its centres.

A thin layer over federation.centres, federation.users and the app: each
sub-command is a small ``cmd_*`` function. The database comes from ``--db``,
else the FEDERATION_DB environment variable, else sqlite:///federation.db.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from federation import network_cli, subcommands
from federation import store as db
from federation.funders import FUNDERS as _FUNDERS

#: serve's option -> the environment variable the app factory reads
SERVE_LIMITS = {
    "max_body_bytes": "FEDERATION_MAX_BODY_BYTES",
    "max_events": "FEDERATION_MAX_EVENTS",
    "rate_limit": "FEDERATION_RATE_LIMIT",
    "window_past_years": "FEDERATION_WINDOW_PAST_YEARS",
    "window_future_days": "FEDERATION_WINDOW_FUTURE_DAYS",
    "pre_auth_rate_limit": "FEDERATION_PRE_AUTH_RATE_LIMIT",
    "read_db": "FEDERATION_READ_DB",
    # read by federation.serving, uvicorn's protocol in each worker
    "header_timeout": "FEDERATION_HEADER_TIMEOUT",
    "body_timeout": "FEDERATION_BODY_TIMEOUT",
    # read by federation.app: how often a child hub sends to its parent
    "parent_interval": "FEDERATION_PARENT_INTERVAL",
    # read by federation.app: the events' retention, applied daily (federation.retention)
    "retention_months": "FEDERATION_RETENTION_MONTHS",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="federation",
        description="Accueil's federation hub: receives the centres' data, shows it and exports it.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = subcommands.add(
        commands,
        "serve",
        cmd_serve,
        help="run the hub (API and dashboard)",
        description="Serve the hub with uvicorn. It keeps no state of its own: "
        "several processes can share one PostgreSQL database.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--max-body-bytes", type=int, help="largest request body accepted, as sent (default 8 MiB)"
    )
    serve.add_argument("--max-events", type=int, help="most events in one batch (default 5000)")
    serve.add_argument(
        "--rate-limit", type=int, help="requests a minute allowed per device, 0 for none (default 1200)"
    )
    serve.add_argument(
        "--window-past-years",
        type=int,
        help="events that occurred more than this many years before they reach the hub are "
        "parked, not stored (default 10)",
    )
    serve.add_argument(
        "--window-future-days",
        type=int,
        help="events dated more than this many days after they reach the hub are parked, "
        "not stored (default 1)",
    )
    serve.add_argument(
        "--pre-auth-rate-limit",
        type=int,
        help="refused sign-ins, enrolment codes and device tokens allowed a minute per "
        "client address before it gets 429 at once, 0 for no limit (default 30)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_seconds,
        help="seconds a client has to send a request's headers (default 10)",
    )
    serve.add_argument(
        "--body-timeout",
        type=_seconds,
        help="seconds a client has to send a request's body once its headers are in (default 60)",
    )
    serve.add_argument(
        "--trusted-proxy",
        metavar="ADDRESSES",
        help="comma-separated addresses of the reverse proxy in front, whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (e.g. 127.0.0.1); by default none is",
    )
    serve.add_argument(
        "--read-db",
        metavar="URL",
        help="a read replica of the database (postgresql://…) for the dashboard's figures "
        "and exports; the kiosks' batches and sign-in still use --db (default: $FEDERATION_READ_DB, "
        "else none)",
    )
    serve.add_argument(
        "--parent-interval",
        type=float,
        metavar="SECONDS",
        help="on a hub linked to a parent hub (link-parent): seconds between two sends of its "
        "figures, 0 for none but `federation sync-parent` (default 300)",
    )
    serve.add_argument(
        "--retention-months",
        type=int,
        metavar="MONTHS",
        help="keep the pseudonymised events of the last MONTHS months; older ones are removed "
        "once a day (the dashboard's figures stay). At least 12 times --window-past-years "
        "(default: $FEDERATION_RETENTION_MONTHS, else kept for ever)",
    )

    keep = subcommands.add(
        commands,
        "retention",
        cmd_retention,
        json="print JSON",
        help="remove the events older than the retention (see what would go without --apply)",
        description="Remove the pseudonymised events that occurred before the last MONTHS months. "
        "On PostgreSQL whole months are dropped; on SQLite old rows are deleted in chunks. The "
        "dashboard's figures for those months stay. Without --apply, only says what would go. "
        "A hub served with --retention-months does this by itself once a day.",
        epilog="example: federation retention --db postgresql://hub@/hub --months 36 "
        "--window-past-years 3 --apply",
    )
    keep.add_argument(
        "--months",
        type=int,
        help="months kept before the current one (default: $FEDERATION_RETENTION_MONTHS)",
    )
    keep.add_argument(
        "--window-past-years",
        type=int,
        help="the hub's window, as served (default: $FEDERATION_WINDOW_PAST_YEARS, else 10): "
        "the retention may not be shorter",
    )
    keep.add_argument("--apply", action="store_true", help="remove them (without it: only say what would go)")

    add = subcommands.add(
        commands,
        "add-centre",
        cmd_add_centre,
        json='print only {"centre_id", "enrolment_code"}',
        help="create a centre and its first enrolment code",
        description="Create a centre. Prints its id and a one-time enrolment code "
        "(valid 7 days) as text and as a QR code, to type or scan on the kiosk.",
    )
    add.add_argument("name", help='the centre\'s name, e.g. "Centre social Les Tilleuls"')
    add.add_argument("--qr-png", help="where to write the QR code image (default enrolment-<id>.png)")
    add.add_argument("--commune", help="the town the centre is in, shown in the federation's agenda")

    commune = subcommands.add(
        commands,
        "set-commune",
        cmd_set_commune,
        help="say which town a centre is in",
        description="Set the town shown beside the centre's name in the federation's agenda "
        '(an empty COMMUNE "" clears it). The kiosks get it at their next sync.',
    )
    commune.add_argument("centre_id", help="the centre's id (federation list-centres)")
    commune.add_argument("commune", help='e.g. "Outreau"')

    code = subcommands.add(
        commands,
        "new-code",
        cmd_new_code,
        json='print only {"centre_id", "enrolment_code"}',
        help="a new enrolment code for an existing centre",
        description="Make another one-time enrolment code, e.g. for a second kiosk.",
    )
    code.add_argument("centre_id", help="the centre's id (see list-centres)")
    code.add_argument("--qr-png", help="where to write the QR code image")

    revoke = subcommands.add(
        commands,
        "revoke-device",
        cmd_revoke_device,
        help="withdraw a device's access",
        description="Revoke a device's token: the hub refuses it from now on.",
    )
    revoke.add_argument("device_id", help="the device's id (see list-centres)")

    subcommands.add(
        commands,
        "list-centres",
        cmd_list_centres,
        json="print JSON",
        help="centres, their devices and last sync",
    )

    subcommands.add(
        commands,
        "stats",
        cmd_stats,
        json="print JSON",
        help="events held, per centre and type (for monitoring)",
    )

    export = subcommands.add(
        commands,
        "export",
        cmd_export,
        help="a funder's figures for a period, as CSV or PDF",
        description="Write one funder's figures for a period: senacs (the centres sociaux' observatory), "
        "fse (the FSE+ participant table), cra (the conseillers numériques' activity report) or caf. "
        "The same figures as the dashboard's page; docs/funder-figures.md says what each counts.",
        epilog="example: federation export --what senacs --from 2026-01-01 --to 2026-12-31 "
        "--out senacs-2026.csv",
    )
    export.add_argument("--what", required=True, choices=sorted(_FUNDERS), help="which funder's figures")
    export.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="DATE",
        help="first day of the period (YYYY-MM-DD or DD/MM/YYYY)",
    )
    export.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="last day of the period, included"
    )
    export.add_argument("--centre", metavar="ID", help="one centre's figures (default: every centre)")
    export.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="where to write: a .pdf file gets a PDF, any other a CSV for a French Excel",
    )
    export.add_argument("--format", choices=("csv", "pdf"), help="CSV or PDF whatever --out's name says")

    user = subcommands.add(
        commands,
        "add-user",
        cmd_add_user,
        help="create a dashboard account for federation staff",
        description="Create a staff account. The password is asked twice, "
        "or read from standard input when it is not a terminal.",
    )
    user.add_argument("email", help="the person's e-mail address, used to sign in")
    publish = subcommands.add(
        commands,
        "publish",
        cmd_publish,
        help="publish workshop sheets to every kiosk from a JSON file",
        description="Import workshop sheets (« fiches atelier ») from a JSON list, the shape the "
        "dashboard's « Exporter les fiches » gives, and publish them to every kiosk. An entry with the "
        "id of a sheet already here updates it. Every entry is checked first: one bad entry and "
        "nothing is imported (the error names the entry and its field).",
        epilog="example: federation publish --db sqlite:///federation.db --sheets fiches.json",
    )
    publish.add_argument("--sheets", required=True, metavar="FILE", help="the JSON file of sheets")
    reasons = subcommands.add(
        commands,
        "reasons",
        cmd_reasons,
        help="publish the federation's list of visit reasons to every kiosk",
        description="Publish the reasons a resident picks from at the kiosk, with their national "
        "categories (CRA theme, administrative domain), from a JSON file: a list of "
        '{"code", "label", "icon", "cra_theme", "domain", "asks_body"}. A centre that kept the '
        "default list or the federation's takes the new one at its next sync; a centre whose staff "
        "edited its list keeps its own words and reasons and takes the federation's categories for "
        "the codes both lists hold. Without --publish or --withdraw: print the list published.",
        epilog="example: federation reasons --db sqlite:///federation.db --publish motifs.json",
    )
    reasons.add_argument("--publish", metavar="FILE", help="the JSON file of the reasons")
    reasons.add_argument("--withdraw", action="store_true", help="stop publishing a list")
    network_cli.add_commands(commands)
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 and at most 3600 seconds")
    return value


def _engine(args: argparse.Namespace):
    return db.open_engine(args.db)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # the app factory reads these, in each worker process
    os.environ["FEDERATION_DB"] = db.database_url(args.db)
    for option, variable in SERVE_LIMITS.items():
        if getattr(args, option) is not None:
            os.environ[variable] = str(getattr(args, option))
    if os.environ.get("FEDERATION_RETENTION_MONTHS"):  # refused here, in words, not in each worker
        from federation import retention
        from federation.ingest import Window

        past_years, months = (
            os.environ.get("FEDERATION_WINDOW_PAST_YEARS"),
            os.environ["FEDERATION_RETENTION_MONTHS"],
        )
        try:
            if not months.isdigit():
                raise ValueError(f"must be a whole number of months, got {months!r}")
            retention.Policy(int(months), Window(int(past_years)) if past_years else Window())
        except ValueError as error:
            print(f"error: --retention-months ($FEDERATION_RETENTION_MONTHS): {error}", file=sys.stderr)
            return 2
    db.open_engine(os.environ["FEDERATION_DB"]).dispose()  # migrate once, before the workers
    shown = make_url(db.normalise_url(os.environ["FEDERATION_DB"])).render_as_string(hide_password=True)
    print(
        f"Federation hub on http://{args.host}:{args.port} (database {shown}); Ctrl+C stops it.", flush=True
    )
    from federation import serving  # after the environment: its protocol reads it at import

    # a client names its own address in X-Forwarded-For: only a proxy the
    # operator named is believed (the sign-in and rate limits count addresses)
    proxies = [address.strip() for address in (args.trusted_proxy or "").split(",") if address.strip()]
    from federation import metrics

    with metrics.multiprocess_dir(args.workers):  # each worker's /metrics sums them all
        uvicorn.run(
            "federation.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
            http="federation.serving:DeadlineProtocol",
            timeout_keep_alive=serving.KEEP_ALIVE_S,
            h11_max_incomplete_event_size=serving.MAX_HEADER_BYTES,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
        )
    return 0


def _print_code(args: argparse.Namespace, centre_id: str, code: str, name: str | None) -> None:
    import qrcode

    if args.json:
        print(json.dumps({"centre_id": centre_id, "enrolment_code": code}))
        return
    png = Path(args.qr_png or f"enrolment-{centre_id}.png")
    with png.open("wb") as out:  # a file, which every qrcode image factory writes to
        qrcode.make(code).save(out)
    if name:
        print(f"Centre: {name}")
    print(f"Centre id: {centre_id}")
    print(f"Enrolment code (one use, valid 7 days): {code}")
    print(f"QR code image: {png.resolve()}")
    qr = qrcode.QRCode(border=1)
    qr.add_data(code)
    qr.print_ascii(out=sys.stdout, invert=True)


def cmd_add_centre(args: argparse.Namespace) -> int:
    from federation import centres

    try:
        with db.writer(_engine(args)) as conn, conn.begin():
            centre_id, code = centres.add_centre(conn, args.name, commune=args.commune)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_code(args, centre_id, code, args.name.strip())
    return 0


def cmd_set_commune(args: argparse.Namespace) -> int:
    from federation import agenda, centres

    try:
        with db.writer(_engine(args)) as conn, conn.begin():
            centres.set_commune(conn, args.centre_id, args.commune)
            agenda.refresh(conn, [args.centre_id])  # its sessions published again with the town
    except (ValueError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.centre_id}: {args.commune.strip() or '(no commune)'}")
    return 0


def cmd_new_code(args: argparse.Namespace) -> int:
    from federation import centres

    try:
        with db.writer(_engine(args)) as conn, conn.begin():
            code = centres.new_code(conn, args.centre_id)
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _print_code(args, args.centre_id, code, None)
    return 0


def cmd_revoke_device(args: argparse.Namespace) -> int:
    from federation import centres

    with db.writer(_engine(args)) as conn, conn.begin():
        revoked = centres.revoke_device(conn, args.device_id)
    if not revoked:
        print(f"error: device_id: no active device with id {args.device_id}", file=sys.stderr)
        return 1
    print(f"Device {args.device_id} revoked: its token is refused from now on.")
    return 0


def cmd_list_centres(args: argparse.Namespace) -> int:
    from federation import centres

    with _engine(args).connect() as conn:
        listing = centres.list_centres(conn)
    if args.json:
        for centre in listing:
            for device in centre["devices"]:
                device.pop("token_hash", None)
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return 0
    if not listing:
        print("No centre yet: add one with `federation add-centre NAME`.")
    for centre in listing:
        print(f"{centre['name']}  ({centre['id']})  last sync: {centre['last_sync'] or 'never'}")
        for device in centre["devices"]:
            state = (
                f"revoked {device['revoked_at']}"
                if device["revoked_at"]
                else f"last sync {device['last_sync_at'] or 'never'}"
            )
            print(f"    {device['label']}  ({device['id']})  {state}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from federation import centres, network, reports

    with _engine(args).connect() as conn:
        figures = centres.stats(conn)
        # child hubs' figures as last received, for the current year
        figures["children"] = network.children_stats(conn, reports.paris_today().year)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    for centre in figures["centres"]:
        print(
            f"{centre['name']}: {centre['events_total']} events, last sync {centre['last_sync'] or 'never'}"
        )
    print(f"Total: {figures['events_total']} events")
    for child in figures["children"]:
        print(
            f"Child hub {child['name']}: {len(child['centres'])} centres, {child['year']}: "
            f"{child['visits']} visits, {child['participants']} participants "
            f"(last received {child['last_received_at'] or 'never'})"
        )
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from federation import retention
    from federation.ingest import Window

    months = args.months if args.months is not None else os.environ.get(retention.MONTHS_VARIABLE)
    if months in (None, ""):
        print(f"error: --months: how many months to keep (or ${retention.MONTHS_VARIABLE})", file=sys.stderr)
        return 2
    past_years = args.window_past_years or os.environ.get("FEDERATION_WINDOW_PAST_YEARS")
    try:
        window = Window(int(past_years)) if past_years else Window()
        policy = retention.Policy(int(months), window)
    except ValueError as error:
        print(f"error: --months: {error}", file=sys.stderr)
        return 2
    engine = _engine(args)
    try:
        outcome = (retention.upkeep if args.apply else retention.plan)(engine, policy)
    except OperationalError as error:  # the events table stayed locked past LOCK_TIMEOUT
        print(
            f"error: the events are busy, nothing more was removed ({error.orig}); try again", file=sys.stderr
        )
        return 1
    if outcome is None:
        print("error: another hub process is doing the upkeep now; try again in a minute", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(outcome.as_json() | {"applied": args.apply}))
        return 0
    verb = "Removed" if args.apply else "Would remove"
    print(f"{verb} {outcome.events} events that occurred before {outcome.first_kept}", end="")
    months_gone = ", ".join(outcome.partitions)
    print(f" (whole months: {months_gone})." if months_gone else ".")
    if not args.apply and outcome.events:
        print("Run again with --apply to remove them. The dashboard's figures stay.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from federation import exports, funders, period_figures, reports

    engine = _engine(args)
    with engine.connect() as conn:
        names = reports.centre_names(conn)
    try:
        period = reports.parse_period(args.start, args.end, args.centre)
    except reports.PeriodError as error:
        print(f"error: --{error.field}: {error}", file=sys.stderr)
        return 2
    if period.centre_id and period.centre_id not in names:
        print(
            f"error: --centre: no centre {period.centre_id!r} on this hub (see list-centres)", file=sys.stderr
        )
        return 2
    view = period_figures.overview_from(engine, period)
    rows = funders.rows(view, args.what)
    title, centre_name = funders.FUNDERS[args.what], names.get(period.centre_id) if period.centre_id else None
    kind = args.format or ("pdf" if args.out.lower().endswith(".pdf") else "csv")
    content = (exports.funder_pdf if kind == "pdf" else exports.funder_csv)(view, title, rows, centre_name)
    try:
        _write_whole(args.out, content)
    except OSError as error:
        print(f"error: --out: cannot write {args.out}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"{title}: {len(rows)} figures from {period.first_day} to {period.last_day} written to {args.out}")
    return 0


def _write_whole(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (a temporary file beside it, renamed)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".export-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise ValueError("password: the two entries differ")
    return first


def cmd_publish(args: argparse.Namespace) -> int:
    from federation import sheets

    try:
        text = Path(args.sheets).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: --sheets: cannot read {args.sheets}: {error}", file=sys.stderr)
        return 2
    try:
        entries = sheets.read_file(text)
        with db.writer(_engine(args)) as conn, conn.begin():
            created, updated = sheets.import_sheets(conn, entries)
    except sheets.SheetFileError as error:
        print(f"error: {args.sheets}: {error}", file=sys.stderr)
        return 2
    print(f"{created} sheet(s) created and {updated} updated, all published.")
    return 0


def cmd_reasons(args: argparse.Namespace) -> int:
    from federation import publications

    engine = _engine(args)
    if args.publish:
        try:
            text = Path(args.publish).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"error: --publish: cannot read {args.publish}: {error}", file=sys.stderr)
            return 2
        try:
            reasons = publications.read_reasons(text)
        except publications.Unpublishable as error:
            print(f"error: {args.publish}: {error}", file=sys.stderr)
            return 2
        with db.writer(engine) as conn, conn.begin():
            publications.publish_reasons(conn, reasons, by="federation reasons")
        print(f"{len(reasons)} reason(s) published: every kiosk takes them at its next sync.")
        return 0
    if args.withdraw:
        with db.writer(engine) as conn, conn.begin():
            withdrawn = publications.withdraw(
                conn, "reasons", publications.REASONS_KEY, by="federation reasons"
            )
        print("The reasons list is no longer published." if withdrawn else "No reasons list was published.")
        return 0
    with engine.connect() as conn:
        held = publications.get(conn, "reasons", publications.REASONS_KEY)
    if held is None or held["withdrawn"]:
        print("No reasons list is published.")
        return 0
    print(json.dumps(held["body"]["reasons"], ensure_ascii=False, indent=2))
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    from federation import users

    try:
        user_id = users.add_user(_engine(args), args.email, _read_password())
    except (ValueError, users.UserError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Account {user_id} created for {args.email}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except db.UnsupportedDatabase as error:
        print(f"error: --db: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
