"""The centre's own commands: export, report, backup, restore, cards, staff.

As every ``kiosk`` command (and Debian's tools): the commands, options and
``--help`` are in English; what a person reads when a command runs (results,
refusals, prompts) is French through gettext, English under an English
locale (kiosk/catalogues.py). Each command is a thin layer over kiosk.core
(same names as the library); a refused input (a DomainError, or an unknown
choice) prints what is wrong, naming it, and exits with code 2.
``add_commands`` is called by kiosk/cli.py's ``build_parser``.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from kiosk.catalogues import command_words as _
from kiosk.core.errors import N_, DomainError

EXIT_REFUSED = 2
ROLES_FR = {"volunteer": N_("bénévole"), "staff": N_("salarié")}
WHAT_FR = {"visits": N_("passages"), "attendance": N_("présences aux ateliers"), "members": N_("adhérents")}


class Refused(Exception):
    """A command-line input that the library does not check (a missing file…);
    its message is already in the reader's language."""


def refusing(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a refusal into a clear message on stderr and exit code 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DomainError as error:
            print(
                _("Erreur (%(field)s) : %(message)s", field=error.field, message=error.translated(_.gettext)),
                file=sys.stderr,
            )
            print(f"({error.message_en})", file=sys.stderr)
            return EXIT_REFUSED
        except Refused as error:
            print(_("Erreur : %(message)s", message=str(error)), file=sys.stderr)
            return EXIT_REFUSED

    return run


def _existing_db(path: str) -> str:
    if not Path(path).is_file():
        raise Refused(
            _("la base de données « %(path)s » n'existe pas. Vérifiez le chemin donné à --db.", path=path)
        )
    return path


def _open(path: str):
    from kiosk.core.store import Store

    return Store.open(_existing_db(path))


def _date(field: str) -> Callable[[str], object]:
    def parse(text: str):
        from kiosk.core.period import parse_date

        try:
            return parse_date(text, field)
        except DomainError as error:
            raise argparse.ArgumentTypeError(error.translated(_.gettext)) from None

    return parse


def _what(text: str) -> str:
    if text not in WHAT_FR:
        raise argparse.ArgumentTypeError(
            _(
                "« %(what)s » n'est pas une exportation connue ; choisissez visits, attendance ou members",
                what=text,
            )
        )
    return text


def _parser(commands, name: str, help: str, description: str, examples: tuple[str, ...] = ()):
    """A sub-command with plain help and its examples (descriptions are
    wrapped here, so that examples keep their own lines)."""
    epilog = (
        ("Examples:\n" if len(examples) > 1 else "Example:\n") + "\n".join(f"  {line}" for line in examples)
        if examples
        else None
    )
    return commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 78),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", required=True, metavar="FILE", help="the centre's database file (e.g. accueil.db)"
    )


def _flag(parser: argparse.ArgumentParser, names: tuple[str, ...], old: str, dest: str, help: str) -> None:
    """A flag, and its former French spelling ``old`` still accepted by
    scripts written for it, hidden from --help."""
    parser.add_argument(*names, dest=dest, action="store_true", help=help)
    parser.add_argument(old, dest=dest, action="store_true", help=argparse.SUPPRESS)


# ---------------------------------------------------------------- the parsers


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Declare export, report, backup, restore, cards and staff."""
    _add_export(commands)
    _add_report(commands)
    _add_backup(commands)
    _add_restore(commands)
    _add_cards(commands)
    _add_staff(commands)


def _add_export(commands) -> None:
    export = _parser(
        commands,
        "export",
        "export visits, workshop attendance or members as CSV (spreadsheet)",
        "Write a CSV file that opens as it is in Excel or LibreOffice (semicolon separated, "
        "accents kept, dates DD/MM/YYYY, Paris time).",
        (
            "kiosk export --db accueil.db --what visits --out passages.csv --from 01/12/2026 --to 31/12/2026",
            "kiosk export --db accueil.db --what members --out adherents.csv",
        ),
    )
    _db(export)
    export.add_argument(
        "--what",
        required=True,
        type=_what,
        metavar="WHAT",
        help="what to export: visits, attendance (at workshops) or members",
    )
    export.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV file to write")
    export.add_argument(
        "--from",
        dest="start",
        type=_date("--from"),
        metavar="DATE",
        help="first day included, DD/MM/YYYY (default: from the start)",
    )
    export.add_argument(
        "--to",
        dest="end",
        type=_date("--to"),
        metavar="DATE",
        help="last day included, DD/MM/YYYY (default: up to today)",
    )
    export.set_defaults(func=cmd_export)


def _add_report(commands) -> None:
    report = _parser(
        commands,
        "report",
        "write a period's activity report as a one-page PDF",
        "Write the activity report of a period on one PDF page: visits by reason and by week, "
        "new and active members, the share from priority neighbourhoods (QPV), ages, genders, "
        "workshops and attendance.",
        ("kiosk report --db accueil.db --out bilan.pdf --from 01/12/2026 --to 31/12/2026",),
    )
    _db(report)
    report.add_argument("--out", required=True, metavar="FILE.pdf", help="the PDF file to write")
    report.add_argument(
        "--from",
        dest="start",
        required=True,
        type=_date("--from"),
        metavar="DATE",
        help="first day included, DD/MM/YYYY",
    )
    report.add_argument(
        "--to",
        dest="end",
        required=True,
        type=_date("--to"),
        metavar="DATE",
        help="last day included, DD/MM/YYYY",
    )
    report.set_defaults(func=cmd_report)


def _add_backup(commands) -> None:
    backup = _parser(
        commands,
        "backup",
        "back the database up into a folder (a USB stick)",
        "Copy the database into a folder, a USB stick for instance, even while the kiosk runs. "
        "The copy is checked; only the folder's 14 newest backups are kept (the folder's other "
        "files are never touched).",
        ("kiosk backup --db accueil.db --to /media/cle-usb/sauvegardes",),
    )
    _db(backup)
    backup.add_argument("--to", required=True, metavar="FOLDER", help="the folder to write the backup into")
    backup.add_argument(
        "--keep",
        type=int,
        default=14,
        metavar="N",
        help="how many backups to keep in the folder (default 14)",
    )
    backup.set_defaults(func=cmd_backup)


def _add_restore(commands) -> None:
    restore = _parser(
        commands,
        "restore",
        "put a backup in the database's place",
        "Replace the database with a backup. Close the kiosk first. The file is checked before: "
        "it must have exactly the structure Accueil makes, or it is refused. The current database "
        "is kept beside it (NAME.avant-restauration-DATE.db) just in case. What was entered since "
        "the backup is lost. The kiosk keeps its own enrolment with the hub (the hub's address, "
        "token, centre): the backup's is taken only when asked (--backup-enrolment).",
        ("kiosk restore --db accueil.db --from /media/cle-usb/sauvegardes/accueil-20261201-090000.db",),
    )
    _db(restore)
    restore.add_argument(
        "--from",
        dest="from_file",
        required=True,
        metavar="FILE",
        help="the backup to restore (a file accueil-YYYYMMDD-HHMMSS.db)",
    )
    _flag(restore, ("--yes", "-y"), "--oui", "yes", "do not ask for confirmation (for scripts)")
    _flag(
        restore,
        ("--backup-enrolment",),
        "--inscription-de-la-sauvegarde",
        "enrolment_from_backup",
        "take the hub enrolment stored in the backup (the hub's address, token, centre) "
        "instead of keeping the kiosk's own",
    )
    restore.set_defaults(func=cmd_restore)


def _add_cards(commands) -> None:
    cards = _parser(
        commands,
        "cards",
        "print member cards (PDF)",
        "Write member cards as a PDF: one credit-card sized card for one member, or A4 sheets "
        "of 10 cards with cutting marks for several. A card shows the QR code, the first name, "
        "the centre's name and the code in letters.",
        (
            "kiosk cards --db accueil.db --out cartes.pdf              (every member)",
            "kiosk cards --db accueil.db --out carte.pdf --member K7QM-3XPD",
        ),
    )
    _db(cards)
    cards.add_argument("--out", required=True, metavar="FILE.pdf", help="the PDF file to write")
    cards.add_argument(
        "--member", nargs="+", metavar="MEMBER", help="each member's card code (or id); default: every member"
    )
    cards.set_defaults(func=cmd_cards)


def _add_staff(commands) -> None:
    staff = _parser(
        commands,
        "staff",
        "manage staff and volunteers and their PIN",
        "Add a staff member or a volunteer, list them, change a PIN. The PIN (4 to 8 digits) "
        "opens the kiosk's volunteer or staff mode; no two people may have the same.",
        (
            'kiosk staff add --db accueil.db "Nadia Ferhat" --role staff',
            "kiosk staff list --db accueil.db",
            'kiosk staff reset-pin --db accueil.db "Nadia Ferhat"',
        ),
    )
    actions = staff.add_subparsers(dest="staff_action", metavar="ACTION", required=True)
    add = _parser(
        actions,
        "add",
        "add a person",
        "Add a staff member or a volunteer. The PIN is asked twice, not shown.",
        (
            'kiosk staff add --db accueil.db "Nadia Ferhat" --role staff',
            'echo 4821 | kiosk staff add --db accueil.db "Paul Martin" --role volunteer --pin-stdin',
        ),
    )
    _db(add)
    add.add_argument("name", metavar="NAME", help="first and last name, as the kiosk shows them")
    add.add_argument(
        "--role",
        required=True,
        choices=("volunteer", "staff"),
        help="volunteer, or staff (who also reach the settings)",
    )
    add.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN from standard input (for scripts)"
    )
    add.set_defaults(func=cmd_staff_add)
    listing = _parser(actions, "list", "list them", "List the staff and volunteers.")
    _db(listing)
    listing.set_defaults(func=cmd_staff_list)
    reset = _parser(
        actions,
        "reset-pin",
        "change a person's PIN",
        "Give a person a new PIN (a forgotten one).",
        ('kiosk staff reset-pin --db accueil.db "Nadia Ferhat"',),
    )
    _db(reset)
    reset.add_argument("who", metavar="PERSON", help="the person's exact name (or id)")
    reset.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN from standard input (for scripts)"
    )
    reset.set_defaults(func=cmd_staff_reset_pin)


# ---------------------------------------------------------------- the commands


@refusing
def cmd_export(args: argparse.Namespace) -> int:
    from kiosk.core import exports

    with _open(args.db) as store:
        count = exports.EXPORTS[args.what](store, args.out, start=args.start, end=args.end)
    print(
        _.ngettext(
            "%(count)d ligne (%(what)s) écrite dans %(path)s",
            "%(count)d lignes (%(what)s) écrites dans %(path)s",
            count,
            count=count,
            what=_.gettext(WHAT_FR[args.what]),
            path=args.out,
        )
    )
    return 0


@refusing
def cmd_report(args: argparse.Namespace) -> int:
    from kiosk.core import report_pdf

    with _open(args.db) as store:
        figures = report_pdf.summary_pdf(store, args.out, args.start, args.end)
    print(
        _(
            "Bilan écrit dans %(path)s : %(visits)d passages, %(active)d adhérents actifs, %(new)d nouveaux.",
            path=args.out,
            visits=figures["visits"],
            active=figures["active_members"],
            new=figures["new_members"],
        )
    )
    return 0


@refusing
def cmd_backup(args: argparse.Namespace) -> int:
    from kiosk.core import backup

    if args.keep < 1:
        raise Refused(_("--keep doit être au moins 1."))
    made = backup.backup(_existing_db(args.db), args.to, keep=args.keep)
    print(_("Sauvegarde écrite et vérifiée : %(path)s", path=str(made)))
    return 0


@refusing
def cmd_restore(args: argparse.Namespace) -> int:
    from kiosk.core import backup

    backup.check_backup_file(args.from_file)
    if not args.yes:
        word = _("OUI")  # what to type, in the reader's language (French's always works)
        try:
            answer = input(
                _(
                    "Remplacer %(db)s par %(file)s ? Tapez %(word)s pour confirmer : ",
                    db=args.db,
                    file=args.from_file,
                    word=word,
                )
            )
        except EOFError:
            answer = ""
        if answer.strip().upper() not in (word.upper(), "OUI"):
            print(_("Rien n'a été changé."))
            return 1
    safety = backup.restore(args.db, args.from_file, enrolment_from_backup=args.enrolment_from_backup)
    print(_("Sauvegarde %(file)s restaurée dans %(db)s.", file=args.from_file, db=args.db))
    if args.enrolment_from_backup:
        print(_("L'inscription au hub est celle de la sauvegarde."))
    else:
        print(_("La borne garde son inscription au hub (celle de la sauvegarde n'est pas reprise)."))
    if safety:
        print(_("L'ancienne base est gardée dans %(path)s", path=str(safety)))
    return 0


@refusing
def cmd_cards(args: argparse.Namespace) -> int:
    from kiosk.core import card_print

    with _open(args.db) as store:
        count = card_print.cards_pdf(store, args.out, args.member)
    print(_("%(count)d carte(s) écrite(s) dans %(path)s", count=count, path=args.out))
    return 0


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    first = getpass.getpass(_("Code (4 à 8 chiffres, ne s'affiche pas) : "))
    if getpass.getpass(_("Le même code encore une fois : ")) != first:
        raise Refused(_("les deux codes tapés sont différents. Rien n'a été changé."))
    return first


@refusing
def cmd_staff_add(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff
    from kiosk.core.store import Store

    pin = _read_pin(args.pin_stdin)
    if not Path(args.db).exists():  # the first person may be added to a new database
        print(_("Nouvelle base de données créée : %(path)s", path=args.db))
    with Store.open(args.db) as store:
        person = Staff(store).add(args.name, args.role, pin)
    print(
        _(
            "%(name)s ajouté(e) comme %(role)s (identifiant %(id)s).",
            name=person["name"],
            role=_.gettext(ROLES_FR[person["role"]]),
            id=person["id"],
        )
    )
    return 0


@refusing
def cmd_staff_list(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff

    with _open(args.db) as store:
        people = Staff(store).list()
    if not people:
        print(_("Personne pour l'instant. Ajoutez quelqu'un avec : kiosk staff add"))
    for person in people:
        state = "" if person["active"] else "  " + _("(désactivé)")
        print(f"{person['name']:<30} {_.gettext(ROLES_FR[person['role']]):<9} {person['id']}{state}")
    return 0


@refusing
def cmd_staff_reset_pin(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff

    with _open(args.db) as store:
        staff = Staff(store)
        person = _find_person(staff.list(), args.who)
        staff.reset_pin(person["id"], _read_pin(args.pin_stdin), actor=None)
    print(_("Nouveau code enregistré pour %(name)s.", name=person["name"]))
    return 0


def _find_person(people: list[dict], who: str) -> dict:
    matches = [
        p for p in people if p["active"] and (p["id"] == who or p["name"].casefold() == who.casefold())
    ]
    if not matches:
        raise Refused(
            _("personne d'active ne s'appelle « %(who)s ». Voyez la liste : kiosk staff list", who=who)
        )
    if len(matches) > 1:
        raise Refused(
            _(
                "plusieurs personnes s'appellent « %(who)s » : donnez l'identifiant (kiosk staff list).",
                who=who,
            )
        )
    return matches[0]
