"""The centre's own commands: export, report, backup, restore, cards, staff.

Their help is in plain French: the people who run them are the centre's
staff, not developers. Each command is a thin layer over kiosk.core (same
names as the library); a refused input (a DomainError, or an unknown choice)
prints what is wrong, naming it, and exits with code 2. ``add_commands`` is
called by kiosk/cli.py's ``build_parser``.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
import textwrap
from pathlib import Path
from typing import Callable

from kiosk.core.errors import DomainError

EXIT_REFUSED = 2
ROLES_FR = {"volunteer": "bénévole", "staff": "salarié"}
WHAT_FR = {"visits": "passages", "attendance": "présences aux ateliers", "members": "adhérents"}


class Refused(Exception):
    """A command-line input that the library does not check (a missing file…)."""


def refusing(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a refusal into a clear message on stderr and exit code 2."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DomainError as error:
            print(f"Erreur ({error.field}) : {error.message_fr}", file=sys.stderr)
            print(f"({error.message_en})", file=sys.stderr)
            return EXIT_REFUSED
        except Refused as error:
            print(f"Erreur : {error}", file=sys.stderr)
            return EXIT_REFUSED
    return run


def _existing_db(path: str) -> str:
    if not Path(path).is_file():
        raise Refused(f"la base de données « {path} » n'existe pas. Vérifiez le chemin donné à --db.")
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
            raise argparse.ArgumentTypeError(error.message_fr) from None
    return parse


def _what(text: str) -> str:
    if text not in WHAT_FR:
        raise argparse.ArgumentTypeError(
            f"« {text} » n'est pas une exportation connue ; choisissez visits, attendance ou members")
    return text


class FrenchHelp(argparse.RawDescriptionHelpFormatter):
    """« utilisation : » instead of "usage:"; descriptions are wrapped by ``_parser``
    so that examples keep their own lines."""

    def add_usage(self, usage, actions, groups, prefix=None):
        # argparse passes prefix="" when it builds a sub-command's name: keep that
        super().add_usage(usage, actions, groups, "utilisation : " if prefix is None else prefix)


def _parser(commands, name: str, help: str, description: str, examples: tuple[str, ...] = ()):
    """A sub-command whose help a centre's staff can read."""
    epilog = ("Exemples :\n" if len(examples) > 1 else "Exemple :\n") + "\n".join(
        f"  {line}" for line in examples) if examples else None
    return _french_help(commands.add_parser(
        name, help=help, description=textwrap.fill(description, 78), epilog=epilog,
        formatter_class=FrenchHelp))


def _french_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser._optionals.title = "options"
    parser._positionals.title = "à indiquer"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = "afficher cette aide et quitter"
    return parser


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, metavar="FICHIER",
                        help="le fichier de la base de données du centre (par exemple accueil.db)")


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
        commands, "export", "exporter passages, présences ou adhérents en CSV (tableur)",
        "Écrire un fichier CSV qui s'ouvre directement dans Excel ou LibreOffice (séparateur "
        "point-virgule, accents corrects, dates JJ/MM/AAAA, heure de Paris).",
        ("kiosk export --db accueil.db --what visits --out passages.csv --from 01/12/2026 --to 31/12/2026",
         "kiosk export --db accueil.db --what members --out adherents.csv"))
    _db(export)
    export.add_argument("--what", required=True, type=_what, metavar="QUOI",
                        help="quoi exporter : visits (les passages), attendance (les présences aux "
                        "ateliers) ou members (la liste des adhérents)")
    export.add_argument("--out", required=True, metavar="FICHIER.csv", help="le fichier CSV à écrire")
    export.add_argument("--from", dest="start", type=_date("--from"), metavar="DATE",
                        help="premier jour inclus, JJ/MM/AAAA (sans : depuis le début)")
    export.add_argument("--to", dest="end", type=_date("--to"), metavar="DATE",
                        help="dernier jour inclus, JJ/MM/AAAA (sans : jusqu'à aujourd'hui)")
    export.set_defaults(func=cmd_export)


def _add_report(commands) -> None:
    report = _parser(
        commands, "report", "faire le bilan d'une période en PDF (une page)",
        "Écrire le bilan d'activité d'une période sur une page PDF : passages par motif et par "
        "semaine, adhérents nouveaux et actifs, part des quartiers prioritaires, âges, genres, "
        "ateliers et présences.",
        ("kiosk report --db accueil.db --out bilan.pdf --from 01/12/2026 --to 31/12/2026",))
    _db(report)
    report.add_argument("--out", required=True, metavar="FICHIER.pdf", help="le fichier PDF à écrire")
    report.add_argument("--from", dest="start", required=True, type=_date("--from"), metavar="DATE",
                        help="premier jour inclus, JJ/MM/AAAA")
    report.add_argument("--to", dest="end", required=True, type=_date("--to"), metavar="DATE",
                        help="dernier jour inclus, JJ/MM/AAAA")
    report.set_defaults(func=cmd_report)


def _add_backup(commands) -> None:
    backup = _parser(
        commands, "backup", "sauvegarder la base dans un dossier (une clé USB)",
        "Copier la base de données dans un dossier, par exemple une clé USB, même pendant que la "
        "borne fonctionne. La copie est vérifiée ; seules les 14 dernières sauvegardes du dossier "
        "sont gardées (les autres fichiers du dossier ne sont pas touchés).",
        ("kiosk backup --db accueil.db --to /media/cle-usb/sauvegardes",))
    _db(backup)
    backup.add_argument("--to", required=True, metavar="DOSSIER", help="le dossier où écrire la sauvegarde")
    backup.add_argument("--keep", type=int, default=14, metavar="N",
                        help="combien de sauvegardes garder dans le dossier (14 par défaut)")
    backup.set_defaults(func=cmd_backup)


def _add_restore(commands) -> None:
    restore = _parser(
        commands, "restore", "remettre une sauvegarde à la place de la base",
        "Remplacer la base de données par une sauvegarde. Fermez d'abord la borne. Le fichier est "
        "vérifié avant : il doit avoir exactement la structure qu'Accueil crée, sinon il est refusé. "
        "La base actuelle est gardée à côté (nom.avant-restauration-DATE.db) au cas où. Ce qui a été "
        "saisi depuis la sauvegarde est perdu. La borne garde son inscription au hub (adresse du "
        "hub, jeton, centre) : celle de la sauvegarde n'est reprise que si vous le demandez.",
        ("kiosk restore --db accueil.db --from /media/cle-usb/sauvegardes/accueil-20261201-090000.db",))
    _db(restore)
    restore.add_argument("--from", dest="from_file", required=True, metavar="FICHIER",
                         help="la sauvegarde à remettre (un fichier accueil-AAAAMMJJ-HHMMSS.db)")
    restore.add_argument("--oui", action="store_true",
                         help="ne pas demander de confirmation (pour les scripts)")
    restore.add_argument("--inscription-de-la-sauvegarde", dest="enrolment_from_backup", action="store_true",
                         help="reprendre l'inscription au hub enregistrée dans la sauvegarde (adresse du "
                         "hub, jeton, centre) au lieu de garder celle de la borne")
    restore.set_defaults(func=cmd_restore)


def _add_cards(commands) -> None:
    cards = _parser(
        commands, "cards", "imprimer des cartes d'adhérent (PDF)",
        "Écrire les cartes d'adhérent en PDF : une carte au format carte bancaire pour un "
        "adhérent, ou des planches A4 de 10 cartes avec des traits de coupe pour plusieurs. "
        "La carte porte le QR code, le prénom, le nom du centre et le code en clair.",
        ("kiosk cards --db accueil.db --out cartes.pdf              (tous les adhérents)",
         "kiosk cards --db accueil.db --out carte.pdf --member K7QM-3XPD"))
    _db(cards)
    cards.add_argument("--out", required=True, metavar="FICHIER.pdf", help="le fichier PDF à écrire")
    cards.add_argument("--member", nargs="+", metavar="ADHÉRENT",
                       help="le code de carte (ou l'identifiant) de chaque adhérent ; sans : tous")
    cards.set_defaults(func=cmd_cards)


def _add_staff(commands) -> None:
    staff = _parser(
        commands, "staff", "gérer les salariés et bénévoles et leur code",
        "Ajouter un salarié ou un bénévole, voir la liste, changer un code. Le code (4 à 8 "
        "chiffres) ouvre le mode bénévole ou salarié de la borne ; deux personnes ne peuvent pas "
        "avoir le même.",
        ("kiosk staff add --db accueil.db \"Nadia Ferhat\" --role staff",
         "kiosk staff list --db accueil.db",
         "kiosk staff reset-pin --db accueil.db \"Nadia Ferhat\""))
    actions = staff.add_subparsers(dest="staff_action", metavar="ACTION", required=True)
    add = _parser(actions, "add", "ajouter une personne",
                  "Ajouter un salarié ou un bénévole. Le code est demandé deux fois, sans s'afficher.",
                  ("kiosk staff add --db accueil.db \"Nadia Ferhat\" --role staff",
                   "echo 4821 | kiosk staff add --db accueil.db \"Paul Martin\" --role volunteer --pin-stdin"))
    _db(add)
    add.add_argument("name", metavar="NOM", help="prénom et nom, tels qu'affichés sur la borne")
    add.add_argument("--role", required=True, choices=("volunteer", "staff"),
                     help="volunteer (bénévole) ou staff (salarié : a aussi accès aux réglages)")
    add.add_argument("--pin-stdin", action="store_true",
                     help="lire le code sur l'entrée standard (pour les scripts)")
    add.set_defaults(func=cmd_staff_add)
    listing = _parser(actions, "list", "voir la liste", "Voir les salariés et bénévoles.")
    _db(listing)
    listing.set_defaults(func=cmd_staff_list)
    reset = _parser(actions, "reset-pin", "changer le code d'une personne",
                    "Donner un nouveau code à une personne (code oublié).",
                    ("kiosk staff reset-pin --db accueil.db \"Nadia Ferhat\"",))
    _db(reset)
    reset.add_argument("who", metavar="PERSONNE", help="le nom exact (ou l'identifiant) de la personne")
    reset.add_argument("--pin-stdin", action="store_true",
                       help="lire le code sur l'entrée standard (pour les scripts)")
    reset.set_defaults(func=cmd_staff_reset_pin)


# ---------------------------------------------------------------- the commands

@refusing
def cmd_export(args: argparse.Namespace) -> int:
    from kiosk.core import exports

    with _open(args.db) as store:
        count = exports.EXPORTS[args.what](store, args.out, start=args.start, end=args.end)
    print(f"{count} lignes ({WHAT_FR[args.what]}) écrites dans {args.out}")
    return 0


@refusing
def cmd_report(args: argparse.Namespace) -> int:
    from kiosk.core import report_pdf

    with _open(args.db) as store:
        figures = report_pdf.summary_pdf(store, args.out, args.start, args.end)
    print(f"Bilan écrit dans {args.out} : {figures['visits']} passages, "
          f"{figures['active_members']} adhérents actifs, {figures['new_members']} nouveaux.")
    return 0


@refusing
def cmd_backup(args: argparse.Namespace) -> int:
    from kiosk.core import backup

    if args.keep < 1:
        raise Refused("--keep doit être au moins 1.")
    made = backup.backup(_existing_db(args.db), args.to, keep=args.keep)
    print(f"Sauvegarde écrite et vérifiée : {made}")
    return 0


@refusing
def cmd_restore(args: argparse.Namespace) -> int:
    from kiosk.core import backup

    backup.check_backup_file(args.from_file)
    if not args.oui:
        try:
            answer = input(f"Remplacer {args.db} par {args.from_file} ? Tapez OUI pour confirmer : ")
        except EOFError:
            answer = ""
        if answer.strip().upper() != "OUI":
            print("Rien n'a été changé.")
            return 1
    safety = backup.restore(args.db, args.from_file, enrolment_from_backup=args.enrolment_from_backup)
    print(f"Sauvegarde {args.from_file} remise en place dans {args.db}.")
    if args.enrolment_from_backup:
        print("L'inscription au hub est celle de la sauvegarde.")
    else:
        print("La borne garde son inscription au hub (celle de la sauvegarde n'est pas reprise).")
    if safety:
        print(f"L'ancienne base est gardée dans {safety}")
    return 0


@refusing
def cmd_cards(args: argparse.Namespace) -> int:
    from kiosk.core import card_print

    with _open(args.db) as store:
        count = card_print.cards_pdf(store, args.out, args.member)
    print(f"{count} carte(s) écrite(s) dans {args.out}")
    return 0


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    first = getpass.getpass("Code (4 à 8 chiffres, ne s'affiche pas) : ")
    if getpass.getpass("Le même code encore une fois : ") != first:
        raise Refused("les deux codes tapés sont différents. Rien n'a été changé.")
    return first


@refusing
def cmd_staff_add(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff
    from kiosk.core.store import Store

    pin = _read_pin(args.pin_stdin)
    if not Path(args.db).exists():  # the first person may be added to a new database
        print(f"Nouvelle base de données créée : {args.db}")
    with Store.open(args.db) as store:
        person = Staff(store).add(args.name, args.role, pin)
    print(f"{person['name']} ajouté(e) comme {ROLES_FR[person['role']]} (identifiant {person['id']}).")
    return 0


@refusing
def cmd_staff_list(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff

    with _open(args.db) as store:
        people = Staff(store).list()
    if not people:
        print("Personne pour l'instant. Ajoutez quelqu'un avec : kiosk staff add")
    for person in people:
        state = "" if person["active"] else "  (désactivé)"
        print(f"{person['name']:<30} {ROLES_FR[person['role']]:<9} {person['id']}{state}")
    return 0


@refusing
def cmd_staff_reset_pin(args: argparse.Namespace) -> int:
    from kiosk.core.staff import Staff

    with _open(args.db) as store:
        staff = Staff(store)
        person = _find_person(staff.list(), args.who)
        staff.reset_pin(person["id"], _read_pin(args.pin_stdin), actor=None)
    print(f"Nouveau code enregistré pour {person['name']}.")
    return 0


def _find_person(people: list[dict], who: str) -> dict:
    matches = [p for p in people if p["active"] and (p["id"] == who or p["name"].casefold() == who.casefold())]
    if not matches:
        raise Refused(f"personne d'active ne s'appelle « {who} ». Voyez la liste : kiosk staff list")
    if len(matches) > 1:
        raise Refused(f"plusieurs personnes s'appellent « {who} » : donnez l'identifiant (kiosk staff list).")
    return matches[0]
