"""The `kiosk` command: a thin layer over kiosk.core, kiosk.syncing and the UI.

Each sub-command is one small function here named after it (`cmd_demo`,
`cmd_run`, …) with its arguments declared in `build_parser`; the work itself
lives in the library. One convention, Debian's: commands, options and
``--help`` in English, written for a centre's staff; what a person reads
when a command runs is French through gettext, English under an English
locale (kiosk/catalogues.py chooses from LANGUAGE, LC_ALL, LC_MESSAGES, LANG).
Logs and technical details on stderr stay in English.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk import __version__
from kiosk.catalogues import command_words as _

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

    # ---- run, screenshot (kiosk UI)
    run = commands.add_parser(
        "run",
        help="open the kiosk on a database (full screen)",
        description="Open the residents' kiosk, full screen, on a database file. "
        "Escape and closing the window do nothing: leave through the staff mode. "
        "With no screen (no DISPLAY nor WAYLAND_DISPLAY on Linux) it says so and "
        "exits with status 4: `kiosk screenshot` draws the screens into images instead.",
    )
    run.add_argument(
        "--db", default=None, help="database file of the centre (default: accueil.db in the user data folder)"
    )
    run.add_argument(
        "--windowed",
        action="store_true",
        help="a resizable 1280x800 window with a cursor and a « Fermer » button, "
        "for trying it out on a desktop (what `make run` opens)",
    )
    run.add_argument(
        "--dpi",
        type=_dpi,
        default=None,
        help="the screen's real density in dots per inch, for a panel that reports "
        "none or a wrong one (default: the setting display_dpi, else what the "
        "screen reports); sizes on screen follow it in millimetres",
    )
    run.set_defaults(func=cmd_run)

    shot = commands.add_parser(
        "screenshot",
        help="draw screens into PNGs, without a display",
        description="Render kiosk screens (residents', volunteers' and staff's) with no display "
        "(Kivy offscreen) at a window size and density, and write them as PNGs, e.g. for the "
        "documentation. One screen into --out FILE.png, or several (--screen all, or lists "
        "separated by commas) into the folder --out as SCREEN-WxH-LANG.png.",
    )
    shot.add_argument("--db", default=DEFAULT_DB, help="database file of the centre")
    shot.add_argument("--out", required=True, help="PNG file to write, or a folder for several")
    shot.add_argument(
        "--screen",
        default="home",
        help="a screen (home, checkin, reason, workshops, pin, volunteer, staff_home, "
        "…), several separated by commas, or all (default home)",
    )
    shot.add_argument(
        "--lang", default="fr", help="fr, en or ar, or several separated by commas (default fr)"
    )
    shot.add_argument(
        "--size",
        default="1280x800",
        help="window size WIDTHxHEIGHT, or several separated by commas (default 1280x800)",
    )
    shot.add_argument(
        "--dpi", type=_dpi, default=None, help="the display's density in dots per inch (default 96)"
    )
    shot.set_defaults(func=cmd_screenshot)

    # ---- enrol, sync, status (sync with the federation's hub)
    enrol = commands.add_parser(
        "enrol",
        help="pair this kiosk with the federation's hub",
        description="Pair the kiosk with the federation's hub using the one-time code "
        "the federation gave (federation add-centre). Stores the hub's address and "
        "this kiosk's token in the database.",
    )
    enrol.add_argument("--db", help="database file of the centre (default: the one `kiosk run` opens)")
    enrol.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.org")
    enrol.add_argument("--code", required=True, help="the enrolment code from the federation")
    enrol.add_argument("--label", help="what this kiosk is, for the federation (default: Borne accueil)")
    enrol.set_defaults(func=cmd_enrol)

    sync = commands.add_parser(
        "sync",
        help="send the waiting events to the hub now (for a systemd timer)",
        description="Send every waiting event to the hub once, print what was sent, and "
        "exit with 0 when all went, 1 when the hub could not be reached or refused, "
        "3 when the kiosk is not enrolled or its token was revoked.",
    )
    sync.add_argument("--db", help="database file of the centre (default: the one `kiosk run` opens)")
    sync.add_argument(
        "--resend-since",
        metavar="DATE",
        help="first send again the events that occurred since DATE (YYYY-MM-DD), "
        "e.g. after the hub was restored from an older backup",
    )
    sync.add_argument(
        "--retry-parked", action="store_true", help="put the events the hub refused back in the queue first"
    )
    sync.add_argument("--batch-size", type=int, default=1000, help="events a request (default 1000)")
    sync.set_defaults(func=cmd_sync)

    status = commands.add_parser(
        "status",
        help="events recorded, waiting, set aside; last success and error; the hub's count",
        description="Show what the sync has done, and compare with what the hub holds "
        "(when it can be reached) to spot events the hub lost.",
    )
    status.add_argument("--db", help="database file of the centre (default: the one `kiosk run` opens)")
    status.add_argument(
        "--json",
        action="store_true",
        help="print JSON (keys recorded, pending, parked, last_success, last_error, …)",
    )
    status.add_argument("--offline", action="store_true", help="do not ask the hub")
    status.set_defaults(func=cmd_status)

    # ---- invite, join (a centre's devices replicate through the hub)
    invite = commands.add_parser(
        "invite",
        help="invite a new device into this centre (valid 10 minutes)",
        description="Print an invite for a new device of this centre, valid 10 minutes: its "
        "text (what the QR code holds) and a short code to type (« K7P4-QX9M », with the hub's "
        "address). The new device runs `kiosk join` with either and shows a check word of three "
        "words; then hand it the centre's key with `kiosk invite --confirm WORDS`, once the "
        "words match.",
    )
    invite.add_argument("--db", help="database file of the centre (default: the one `kiosk run` opens)")
    invite.add_argument(
        "--json", action="store_true", help='print {"invite": …, "expires_at": …, "short_code": …}'
    )
    invite.add_argument(
        "--confirm",
        metavar="WORDS",
        help="hand the centre's key to the new device that shows WORDS (its check word, "
        "e.g. pomme-lapin-sirop)",
    )
    invite.set_defaults(func=cmd_invite)

    join = commands.add_parser(
        "join",
        help="join a centre with an invite from one of its devices",
        description="Enrol this device with the invite printed by `kiosk invite` on a device "
        "of the centre (its text, or its short code with --hub), show the check word, and "
        "wait until that device confirms it; then take the centre's key and its data. "
        "Example: kiosk join --invite K7P4-QX9M --hub https://hub.example.org --label Tablette",
    )
    join.add_argument("--db", help="database file of this device (default: the one `kiosk run` opens)")
    join.add_argument("--invite", required=True, help="the invite's text, or its short code (K7P4-QX9M)")
    join.add_argument(
        "--hub", help="the hub's address, with a short code (default: the hub this device knows)"
    )
    join.add_argument("--label", help="what this device is, for the centre (default: Borne accueil)")
    join.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for the confirmation (default 600)"
    )
    join.set_defaults(func=cmd_join)

    # ---- purge (retention, for the daily systemd timer)
    purge = commands.add_parser(
        "purge",
        help="erase members unseen for longer than the retention period",
        description="Erase the personal data of members with no visit, registration or "
        "attendance for the centre's retention period (setting retention_months, 24 by "
        "default). Visits stay as anonymous counts; the hub is told to forget them too. "
        "Run daily by accueil-daily.timer, after the backup.",
    )
    purge.add_argument("--db", required=True, help="database file of the centre")
    purge.add_argument("--dry-run", action="store_true", help="only say how many would be erased")
    purge.add_argument("--months", type=int, help="retention period in months (default: the setting)")
    purge.set_defaults(func=cmd_purge)

    # ---- export, report, backup, restore, cards, staff (the centre's side)
    from kiosk import cli_admin

    cli_admin.add_commands(commands)

    return parser


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.core import demo

    summary = demo.build(Path(args.db), members=args.members, visits=args.visits, seed=args.seed)
    print(summary)
    return 0


def _stop_on_sigterm(*_args) -> None:
    """Stop the running app at its next frame, as its own stop does (the
    database closed, the sync stopped). The handler runs between any two
    bytecodes: an exception raised here could land inside a native module
    being imported, which aborts the process instead of ending it."""
    from kivy.app import App
    from kivy.clock import Clock

    app = App.get_running_app()
    if app is None:
        raise SystemExit(0)  # not started yet: nothing to close
    Clock.schedule_once(lambda *_a: app.stop())


def cmd_run(args: argparse.Namespace) -> int:
    import os
    import signal

    os.environ["KIVY_NO_ARGS"] = "1"  # the arguments are ours, not Kivy's
    # SDL turns SIGTERM into a window-close request, which kiosk mode ignores:
    # handle it in Python before SDL starts, so `systemctl stop` ends the kiosk.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    from kivy.config import Config
    from kivy.utils import platform

    from kiosk import paths
    from kiosk.ui.display_check import no_screen_message, screen_missing

    if screen_missing(os.environ, platform):
        # sys.__stderr__: Kivy's logger has wrapped sys.stderr by now
        print(no_screen_message(str(args.db or paths.default_db(create=False))), file=sys.__stderr__)
        return EXIT_NO_SCREEN
    Config.set("graphics", "width", "1280")
    Config.set("graphics", "height", "800")
    if args.windowed:
        Config.set("graphics", "resizable", "1")  # by its edges, whatever KIVY_HOME's config says
        # no smaller than the smallest display the layouts are made for, either way up
        Config.set("graphics", "minimum_width", "720")
        Config.set("graphics", "minimum_height", "480")
    Config.set("kivy", "exit_on_escape", "0")
    from kiosk.ui.window_config import use_touch_keyboard

    use_touch_keyboard()  # before kiosk.app, which creates the window
    from kiosk.app import KioskApp
    from kiosk.core.centre import Centre
    from kiosk.syncing import make_scheduler

    database = args.db or paths.default_db()
    centre = Centre.open(database)
    from kiosk.ui.window_config import display_dpi

    KioskApp(
        centre,
        kiosk_mode=not args.windowed,
        desktop=args.windowed,
        scheduler=make_scheduler(database),
        dpi=args.dpi,
        display_dpi=display_dpi(),
    ).run()
    return 0


def _dpi(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of dots per inch") from None
    if not 50 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: a screen's density is from 50 to 600 dots per inch")
    return value


def cmd_screenshot(args: argparse.Namespace) -> int:
    from kiosk.ui import offscreen
    from kiosk.ui.screenshot import parse_size

    sizes = [parse_size(size) for size in args.size.split(",")]
    # the offscreen surface is made once, at its first size: as large as the largest shot
    offscreen.prepare(size=(max(w for w, _h in sizes), max(h for _w, h in sizes)))
    from kiosk.ui.screenshot import render_many, screen_names

    screens = screen_names() if args.screen == "all" else [s.strip() for s in args.screen.split(",")]
    langs = [lang.strip() for lang in args.lang.split(",")]
    for lang in langs:
        if lang not in ("fr", "en", "ar"):
            raise SystemExit(f"unknown language {lang!r}: choose from fr, en, ar")
    out = Path(args.out)
    if len(screens) * len(langs) * len(sizes) == 1:
        shots = [(screens[0], sizes[0], langs[0], out)]
    else:
        out.mkdir(parents=True, exist_ok=True)
        shots = [
            (screen, size, lang, out / f"{screen}-{size[0]}x{size[1]}-{lang}.png")
            for size in sizes
            for lang in langs
            for screen in screens
        ]
    for path in render_many(args.db, shots, dpi=args.dpi):
        print(path)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from kiosk.core.centre import Centre
    from kiosk.core.errors import DomainError

    if not Path(args.db).exists():
        raise SystemExit(_("Base introuvable : %(path)s", path=args.db))
    with Centre.open(args.db) as centre:
        try:
            if args.dry_run:
                count = len(centre.privacy.retention_candidates(args.months))
                print(_("%(count)d adhérent(s) seraient effacé(s) (simulation).", count=count))
            else:
                count = centre.privacy.retention_purge(actor=None, months=args.months)
                print(_("%(count)d adhérent(s) effacé(s).", count=count))
        except DomainError as error:
            print(f"kiosk purge: {error.translated(_.gettext)} ({error})", file=sys.stderr)
            return 2
    return 0


# ---------------------------------------------------------------- sync with the hub

EXIT_SYNC_FAILED = 1
EXIT_NOT_ENROLLED = 3
EXIT_NO_SCREEN = 4  # kiosk run: nowhere to show the kiosk


def _sync_db(args: argparse.Namespace, create: bool = False) -> str:
    """--db, or the database `kiosk run` opens without it (its folder made
    only when asked: enrolling a new kiosk may come before its first run)."""
    from kiosk import paths

    return str(args.db or paths.default_db(create=create))


def _sync_settings(db: str) -> dict:
    from kiosk.core.settings import Settings
    from kiosk.core.store import Store

    if not Path(db).exists():
        raise SystemExit(_("Base introuvable : %(path)s", path=db))
    with Store.open(db) as store:
        return Settings(store).all()


def cmd_enrol(args: argparse.Namespace) -> int:
    from kiosk import syncing
    from kiosk.core.settings import Settings
    from kiosk.core.store import Store
    from sync import client

    try:
        answer = syncing.enrol(args.hub, args.code, args.label or syncing.KIOSK_LABEL)
    except client.SyncError as error:
        print(
            _("Appairage impossible : %(message)s", message=_.gettext(error.message_fr)) + f"\n({error})",
            file=sys.stderr,
        )
        return EXIT_SYNC_FAILED
    with Store.open(_sync_db(args, create=True)) as store:
        syncing.save_enrolment(Settings(store), args.hub, answer)
    print(
        _(
            "Borne appairée au hub %(hub)s pour « %(centre)s » (appareil %(device)s).",
            hub=args.hub,
            centre=answer.get("centre_name") or "",
            device=answer["device_id"],
        )
    )
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from kiosk import syncing
    from sync import client, status

    database = _sync_db(args)
    _sync_settings(database)  # the database must exist
    if args.resend_since:
        try:
            since = status.parse_since(args.resend_since)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        print(
            _(
                "%(count)d événements envoyés depuis le %(since)s remis en file.",
                count=syncing.requeue_since(database, since),
                since=args.resend_since,
            )
        )
    if args.retry_parked:
        print(_("%(count)d événements mis de côté remis en file.", count=syncing.retry_parked(database)))
    ended = syncing.sync_once(database, batch_size=args.batch_size)
    result = ended.get("last_result")
    print(syncing.describe(ended, _.catalogue))
    if result is None:  # the push itself failed on the kiosk (logged)
        print(f"sync failed on the kiosk: {ended.get('error')}", file=sys.stderr)
        return EXIT_SYNC_FAILED
    print(client.describe_en(result), file=sys.stderr)
    if result["ok"]:
        return 0
    if result["error"] in (client.NOT_ENROLLED, client.UNAUTHORIZED):
        return EXIT_NOT_ENROLLED
    return EXIT_SYNC_FAILED


def _replication_refusal(command: str, error: Exception) -> int:
    """A refused invite or join, in words for staff (stderr), exit 2 or 1."""
    from kiosk.core.errors import DomainError
    from sync import client

    if isinstance(error, DomainError):
        print(f"kiosk {command}: {error.translated(_.gettext)}", file=sys.stderr)
        print(f"({error.message_en})", file=sys.stderr)
        return 2
    if isinstance(error, client.SyncError):
        print(f"kiosk {command}: {_.gettext(error.message_fr)}", file=sys.stderr)
        print(f"({error})", file=sys.stderr)
        return EXIT_NOT_ENROLLED if error.code == client.NOT_ENROLLED else EXIT_SYNC_FAILED
    print(
        _("kiosk %(command)s : la clé reçue n'est pas fiable (%(error)s).", command=command, error=error),
        file=sys.stderr,
    )
    return EXIT_SYNC_FAILED


def cmd_invite(args: argparse.Namespace) -> int:
    import json

    from kiosk import syncing
    from kiosk.core import replication
    from kiosk.core.errors import DomainError
    from sync import client

    database = _sync_db(args)
    _sync_settings(database)  # the database must exist
    try:
        if args.confirm:
            handed = syncing.confirm_invite(database, args.confirm)
            print(_("Clé du centre remise au nouvel appareil (%(device)s).", device=handed["device_id"]))
            return 0
        made = syncing.invite(database)
    except (DomainError, client.SyncError, replication.Refused) as error:
        return _replication_refusal("invite", error)
    if args.json:
        print(json.dumps(made, ensure_ascii=False))
    else:
        print(made["invite"])
        if made.get("short_code"):
            print(_("Code à taper : %(code)s", code=made["short_code"]))
        print(_("Invitation valable jusqu'à %(time)s (dix minutes).", time=made["expires_at"]))
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from kiosk import syncing
    from kiosk.core import replication
    from kiosk.core.errors import DomainError
    from sync import client

    def show(word: str) -> None:
        print(
            _(
                "Mots de contrôle : %(word)s. Vérifiez que l'appareil qui invite montre les mêmes, "
                "puis confirmez-les là-bas (kiosk invite --confirm %(word)s).",
                word=word,
            ),
            flush=True,
        )

    try:
        joined = syncing.join(
            _sync_db(args, create=True),
            args.invite,
            args.label or syncing.KIOSK_LABEL,
            wait_s=args.wait,
            on_check_word=show,
            hub=args.hub,
        )
    except (DomainError, client.SyncError, replication.Refused) as error:
        return _replication_refusal("join", error)
    print(
        _.ngettext(
            "Appareil ajouté au centre (%(device)s) : %(count)d adhérent reçu.",
            "Appareil ajouté au centre (%(device)s) : %(count)d adhérents reçus.",
            joined["members"],
            device=joined["device_id"],
            count=joined["members"],
        )
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from kiosk import syncing
    from sync import status

    database = _sync_db(args)
    settings = _sync_settings(database)
    state = syncing.status(database, settings, ask_hub=not args.offline)
    if args.json:
        print(json.dumps(state, ensure_ascii=False, indent=2))
    else:
        print(status.describe(state, state["hub"], state["hub_error"], _.catalogue))
        if not settings["device_token"]:
            print(_("Borne non appairée au hub : lancez kiosk enrol avec le code de la fédération."))
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
