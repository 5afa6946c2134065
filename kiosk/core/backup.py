"""Backups of the kiosk database to a folder (a USB stick), and restoring one.

SQLite's online backup API copies a consistent snapshot while the kiosk keeps
running (WAL readers and writers are not stopped). A copy is written under a
temporary name, checked with ``PRAGMA integrity_check`` and synced, and only
then renamed to ``accueil-YYYYMMDD-HHMMSS.db``: a stick pulled out half-way
leaves no file that looks like a backup. Only the newest ``keep`` files of
that pattern are kept; other files in the folder are never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import pathname2url

from kiosk.core import migrations, period, replication
from kiosk.core.errors import N_, DomainError
from kiosk.core.settings import CHECKS, Settings
from kiosk.core.store import Store

log = logging.getLogger(__name__)

KEEP = 14
PREFIX = "accueil-"
NAME_RE = re.compile(r"^accueil-(\d{8})-(\d{6})\.db$")
#: Tables without which a file is not an Accueil kiosk database.
REQUIRED_TABLES = {
    "settings",
    "members",
    "visits",
    "workshops",
    "sessions",
    "registrations",
    "attendance",
    "staff",
    "audit_log",
    "outbox",
}


class BackupError(DomainError):
    """A backup or a restore could not be done; nothing was changed."""


def backup(
    store_or_path: Store | str | Path, to_dir: str | Path, keep: int = KEEP, actor: dict | None = None
) -> Path:
    """Copy the database into ``to_dir``; returns the new file's path."""
    to_dir = Path(to_dir)
    if not to_dir.is_dir():
        raise BackupError(
            "backup_dir",
            N_("Le dossier de sauvegarde est introuvable : %(folder)s. La clé USB est-elle branchée ?"),
            f"backup folder {to_dir} does not exist",
            value=str(to_dir),
            folder=str(to_dir),
        )
    store = store_or_path if isinstance(store_or_path, Store) else None
    now = store.now() if store else datetime.now(UTC)
    target = _free_name(to_dir, now)
    partial = target.with_name(target.name + ".partial")
    with _source(store_or_path) as source:
        try:
            _copy(source, partial)
            _check_integrity(partial, "backup_dir")
            os.replace(partial, target)
            _fsync_dir(to_dir)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise BackupError(
                    "backup_dir",
                    N_(
                        "La sauvegarde n'a pas pu être écrite dans %(folder)s "
                        "(clé pleine, protégée ou retirée ?)."
                    ),
                    f"could not write the backup in {to_dir}: {exc}",
                    value=str(to_dir),
                    folder=str(to_dir),
                ) from exc
            raise
    rotate(to_dir, keep)
    if store and actor is not None:
        with store.transaction():
            store.audit(actor, "backup.made", file=str(target))
    return target


def _free_name(to_dir: Path, now: datetime) -> Path:
    """The backup's name from the Paris time, one second later if taken."""
    local = now.astimezone(period.PARIS)
    while True:
        target = to_dir / f"{PREFIX}{local:%Y%m%d-%H%M%S}.db"
        if not target.exists():
            return target
        local = local.replace(microsecond=0) + timedelta(seconds=1)


@contextlib.contextmanager
def _source(store_or_path: Store | str | Path):
    if isinstance(store_or_path, Store):
        yield store_or_path.conn
        return
    path = Path(store_or_path)
    if not path.is_file():
        raise BackupError(
            "db",
            N_("La base de données %(path)s n'existe pas."),
            f"database {path} does not exist",
            value=str(path),
            path=str(path),
        )
    # read-write on purpose: a read-only connection cannot open a WAL
    # database whose -shm file is gone; nothing is written through it
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def _copy(source: sqlite3.Connection, dest_path: Path) -> None:
    dest = sqlite3.connect(dest_path)
    try:
        source.backup(dest)
        # a backup is one self-contained file: no -wal beside it on the stick
        dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        dest.close()
    with open(dest_path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backups(to_dir: str | Path) -> list[Path]:
    """The backups in ``to_dir``, oldest first (the name sorts by time)."""
    to_dir = Path(to_dir)
    if not to_dir.is_dir():
        return []
    return sorted(p for p in to_dir.iterdir() if NAME_RE.match(p.name) and p.is_file())


def rotate(to_dir: str | Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` backups; returns the deleted ones."""
    old = backups(to_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old


# ---------------------------------------------------------------- daily


def last_backup_time(to_dir: str | Path) -> datetime | None:
    """When the newest backup in ``to_dir`` was made (Paris time), from its name."""
    found = backups(to_dir)
    if not found:
        return None
    named = NAME_RE.match(found[-1].name)
    assert named is not None  # backups() lists only the names it matches
    day, clock = named.groups()
    return datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=period.PARIS)


def due(store: Store) -> bool:
    """Whether the daily backup should run: a folder is set and it holds no
    backup made today (Paris day). The folder's files are the truth, so a new
    stick gets a backup at once."""
    folder = Settings(store).get("backup_dir")
    if not folder:
        return False
    last = last_backup_time(folder)
    today = store.now().astimezone(period.PARIS).date()
    return last is None or last.date() < today


def run_daily(store: Store) -> Path | None:
    """Make today's backup if it is due; returns its path, or None if not due.
    Raises BackupError (the UI shows it) if the folder is missing."""
    if not due(store):
        return None
    return backup(
        store, Settings(store).get("backup_dir"), actor={"id": None, "name": "sauvegarde automatique"}
    )


def daily_backup(store: Store) -> Path | None:
    """What the app runs each hour: ``run_daily``, with a refusal (a missing
    stick, a full disk) logged, never raised: the kiosk goes on."""
    try:
        made = run_daily(store)
    except DomainError as error:
        log.warning("daily backup not made: %s", error)
        return None
    if made:
        log.info("daily backup written to %s", made)
    return made


# ---------------------------------------------------------------- restore
#
# A backup is a file from a stick: it may have been doctored. SQLite files
# carry code as well as data (triggers, views, the CHECKs and defaults of
# tables), so a file is restored only if its schema is exactly the one this
# program builds for the file's version, object by object. It is read with
# the schema distrusted while it is checked, and restored from a private
# copy, so the file checked is the file restored.

#: The settings that bind the kiosk to its hub. A restore keeps the kiosk's
#: own unless staff choose the backup's: a file must not bring a hub address
#: and a device token of its own.
ENROLMENT_KEYS = ("hub_url", "device_token", "centre_id")
#: The settings that name this machine's own things, always kept: a file must
#: not bring a network printer of its own (the cards' first names would go
#: there) nor a backup folder.
DEVICE_KEYS = ("printer", "backup_dir", "display_dpi")
#: Tables SQLite makes itself (ANALYZE): allowed, with SQLite's own definition.
OPTIONAL_INTERNAL = ("sqlite_stat1", "sqlite_stat4")
KIND_FR = {"table": "table", "index": "index", "trigger": "déclencheur", "view": "vue"}
SHOWN_DIFFERENCES = 5

_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`)
  | (?P<word>[A-Za-z_0-9.$]+)
  | (?P<space>\s+)
  | (?P<other>.)
""",
    re.VERBOSE | re.DOTALL,
)


def normal_sql(sql: str | None) -> str | None:
    """The schema text as tokens: comments and layout dropped, identifiers and
    keywords in one case, every identifier quote written one way; string
    literals kept exactly. Two texts equal here define the same object."""
    if sql is None:
        return None
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind in ("comment", "space"):
            continue
        if kind == "quoted":
            # one spelling for "x", [x] and `x`; still told apart from a bare
            # word: "NOT" is a type name's word where NOT is a keyword
            inner = text[1:-1]
            inner = inner.replace('""', '"') if text[0] == '"' else inner.replace("``", "`")
            text = '"' + inner.lower().replace('"', '""') + '"'
        elif kind == "word":
            text = text.lower()
        tokens.append(text)
    return " ".join(tokens)


def _schema(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {
        (kind, name): (table, normal_sql(sql))
        for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
    }


def expected_schema(
    version: int,
) -> tuple[dict[tuple[str, str], tuple[str, str | None]], dict[str, list[tuple]]]:
    """What this program's migrations build up to ``version``, in memory: the
    schema (SQLite's own statistics tables included: they may or may not be
    there) and each table's columns."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrations.migrate(conn, target=version)
        conn.execute("ANALYZE")
        schema = _schema(conn)
        return schema, {name: _columns(conn, name) for kind, name in schema if kind == "table"}
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple]:
    return [tuple(r[1:]) for r in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (table,))]


def _shown(name: str) -> str:
    """A name read from the file, made safe to print (it may be anything)."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 40 else clean[:39] + "…"


def schema_differences(conn: sqlite3.Connection, version: int) -> list[str]:
    """How the schema of ``conn`` differs from the kiosk's at ``version``,
    in French, one item a difference (empty: the same)."""
    expected, expected_columns = expected_schema(version)
    found = _schema(conn)
    differences = []
    for key in sorted(found.keys() - expected.keys()):
        kind, name = key
        differences.append(f"{KIND_FR.get(kind, kind)} en trop « {_shown(name)} »")
    for key in sorted(expected.keys() - found.keys()):
        kind, name = key
        if name not in OPTIONAL_INTERNAL:
            differences.append(f"{KIND_FR.get(kind, kind)} manquant(e) « {name} »")
    for key in sorted(found.keys() & expected.keys()):
        kind, name = key
        if kind == "table":
            # the columns as SQLite reads them, compared even when the texts
            # match: the parser is the judge of what a text means
            have = {c[0]: c for c in _columns(conn, name)}
            want = {c[0]: c for c in expected_columns.get(name, [])}
            changed = sorted(n for n in have.keys() | want.keys() if have.get(n) != want.get(n))
            if changed:
                columns = ", ".join(_shown(n) for n in changed)
                differences.append(f"table « {name} » modifiée (colonnes : {columns})")
                continue
        if found[key] != expected[key]:
            differences.append(f"{KIND_FR.get(kind, kind)} « {name} » modifié(e)")
    return differences


def _uri(path: Path) -> str:
    return "file:" + pathname2url(str(path.resolve()))


def _open_untrusted(path: Path) -> sqlite3.Connection:
    """Read a file that may be hostile: read-only, no code from its schema
    run (trusted_schema=OFF: its triggers, views and functions are not
    trusted), every cell's size checked, no memory map, no extension.
    SQLite's DEFENSIVE flag needs Connection.setconfig (Python 3.12); on 3.11
    it is not set, and nothing here turns writable_schema on."""
    conn = sqlite3.connect(f"{_uri(path)}?mode=ro", uri=True, isolation_level=None)
    try:
        if sys.version_info >= (3, 12):
            conn.setconfig(sqlite3.SQLITE_DBCONFIG_DEFENSIVE, True)
            conn.setconfig(sqlite3.SQLITE_DBCONFIG_TRUSTED_SCHEMA, False)
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA cell_size_check = ON")
        conn.execute("PRAGMA mmap_size = 0")
        conn.execute("PRAGMA query_only = ON")
        with contextlib.suppress(AttributeError):
            conn.enable_load_extension(False)
    except BaseException:
        conn.close()
        raise
    return conn


def check_backup_file(path: str | Path, shown_as: str | Path | None = None) -> int:
    """Refuse a file that is not a sound, unaltered Accueil database; returns
    its schema version. ``shown_as`` is the name its messages give it."""
    path = Path(path)
    shown = Path(shown_as) if shown_as is not None else path
    if not path.is_file():
        raise _refused(shown, N_("Le fichier %(path)s n'existe pas."), "file does not exist")
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise _refused(
                shown,
                N_("%(path)s n'est pas une sauvegarde Accueil (ce n'est pas une base SQLite)."),
                "not an SQLite database",
            )
    differences: list[str] = []
    bad_settings: list[str] = []
    try:
        conn = _open_untrusted(path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            encoding = conn.execute("PRAGMA encoding").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            known = 1 <= version <= migrations.SCHEMA_VERSION and REQUIRED_TABLES <= tables
            if problems == ["ok"] and known:
                differences = schema_differences(conn, version)
                bad_settings = [] if differences else _bad_settings(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refused(
            shown, N_("%(path)s est abîmé et ne peut pas être restauré."), f"unreadable: {exc}"
        ) from exc
    if problems != ["ok"]:
        raise _refused(
            shown,
            N_("%(path)s est abîmé et ne peut pas être restauré."),
            f"integrity check failed: {problems[:3]}",
        )
    if not known or encoding != "UTF-8":
        raise _refused(
            shown,
            N_("%(path)s n'est pas une sauvegarde Accueil."),
            f"schema version {version}, encoding {encoding}, "
            f"tables missing: {sorted(REQUIRED_TABLES - tables)}",
        )
    if differences:
        listed = " ; ".join(differences[:SHOWN_DIFFERENCES])
        if len(differences) > SHOWN_DIFFERENCES:
            listed += f" ; et {len(differences) - SHOWN_DIFFERENCES} autre(s)"
        raise _refused(
            shown,
            N_(
                "%(path)s n'est pas restauré : sa structure n'est pas celle qu'Accueil "
                "crée (%(differences)s). Ce fichier a pu être modifié ; utilisez une "
                "autre sauvegarde."
            ),
            f"schema differs from version {version}'s: {differences}",
            differences=listed,
        )
    if bad_settings:
        raise _refused(
            shown,
            N_(
                "%(path)s n'est pas restauré : ces réglages n'ont pas une valeur possible "
                "(%(settings)s). Ce fichier a pu être modifié ; utilisez une autre "
                "sauvegarde."
            ),
            f"settings with impossible values: {bad_settings}",
            settings=", ".join(_shown(k) for k in bad_settings[:SHOWN_DIFFERENCES]),
        )
    return version


def _bad_settings(conn: sqlite3.Connection) -> list[str]:
    """The settings whose stored value the kiosk would refuse to set."""
    bad = []
    for key, text in conn.execute("SELECT key, value FROM settings ORDER BY key"):
        check = CHECKS.get(key)
        if check is None:
            continue  # a setting this version does not read
        try:
            check(key, json.loads(text))
        except (DomainError, ValueError, TypeError):
            bad.append(key)
    return bad


def _refused(path: Path, template: str, reason: str, **params: str) -> BackupError:
    return BackupError(
        "from_file", template, f"cannot restore {path}: {reason}", value=str(path), path=str(path), **params
    )


def _check_integrity(path: Path, field: str) -> None:
    conn = sqlite3.connect(path)
    try:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if result != ["ok"]:
        raise BackupError(
            field,
            N_("La copie de sauvegarde est abîmée ; recommencez."),
            f"integrity check of {path} failed: {result[:3]}",
            value=str(path),
        )


def _safety_copy(db_path: Path, safety: Path) -> None:
    """Keep the current database, even a damaged one (then byte for byte:
    that is what someone may want to rescue)."""
    try:
        with _source(db_path) as current:
            _copy(current, safety)
    except sqlite3.DatabaseError:
        with contextlib.suppress(FileNotFoundError):
            safety.unlink()
        shutil.copyfile(db_path, safety)


def _copy_into(source: sqlite3.Connection, db_path: Path) -> None:
    dest = sqlite3.connect(db_path)
    try:
        source.backup(dest)
    finally:
        dest.close()


def _replace_file(source: sqlite3.Connection, db_path: Path) -> None:
    fresh = db_path.with_name(db_path.name + ".restoring")
    with contextlib.suppress(FileNotFoundError):
        fresh.unlink()
    _copy(source, fresh)
    for stale in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    os.replace(fresh, db_path)


def restore(db_path: str | Path, from_file: str | Path, enrolment_from_backup: bool = False) -> Path | None:
    """Replace the database at ``db_path`` by the backup ``from_file``.

    The backup is copied to a private file beside the database and that copy
    is checked (``check_backup_file``) and restored: the file checked is the
    file restored. The current database, if any, is first copied beside it
    as ``<name>.avant-restauration-YYYYMMDD-HHMMSS.db`` (returned). The copy
    into place goes through the backup API, so the live file and its WAL
    stay consistent. Close the kiosk before restoring.

    The kiosk keeps its own enrolment (hub address, device token, centre):
    the backup's is replaced by it, or removed when the kiosk had none,
    unless ``enrolment_from_backup`` (staff chose the backup's). It always
    keeps its own printer, backup folder and display density (DEVICE_KEYS).
    A device that replicated with its centre's others forgets its
    replication identity and keeps its data: staff add it to the centre
    again (« Borne à ajouter de nouveau au centre » in « À vérifier »).
    """
    db_path = Path(db_path)
    from_file = Path(from_file)
    with _private_copy(from_file, db_path) as candidate:
        check_backup_file(candidate, shown_as=from_file)
        kept = DEVICE_KEYS + (() if enrolment_from_backup else ENROLMENT_KEYS)
        current = _settings_of(db_path, kept)
        safety = None
        if db_path.exists():
            stamp = datetime.now(UTC).astimezone(period.PARIS).strftime("%Y%m%d-%H%M%S")
            safety = db_path.with_name(f"{db_path.stem}.avant-restauration-{stamp}.db")
            _safety_copy(db_path, safety)
        source = _open_untrusted(candidate)
        try:
            try:
                _copy_into(source, db_path)
            except sqlite3.DatabaseError:
                # the current file is too damaged to be written into: it is safe in
                # the safety copy, so put a fresh file in its place
                _replace_file(source, db_path)
        finally:
            source.close()
    # bring an older backup up to this program's schema now, not at next start
    with Store.open(db_path) as store:
        _put_settings(store, kept, current)
        # the backup's replication identity is the device's as it was: the relay and
        # the centre's other devices hold blobs of counters past the backup's, so its
        # next blobs would be refused as replays. It joins its centre as a new device.
        if replication.enabled(store.conn):
            replication.forget_identity(store, "backup")
    return safety


@contextlib.contextmanager
def _private_copy(from_file: Path, db_path: Path):
    """``from_file`` (and its -wal, if any) copied byte for byte into a
    private folder beside the database, removed afterwards."""
    if not from_file.is_file():
        raise _refused(from_file, N_("Le fichier %(path)s n'existe pas."), "file does not exist")
    folder = db_path.parent if db_path.parent.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".restauration-", dir=folder) as private:
        copy = Path(private) / "candidate.db"
        try:
            shutil.copyfile(from_file, copy)
            if Path(f"{from_file}-wal").is_file():
                shutil.copyfile(f"{from_file}-wal", f"{copy}-wal")
        except OSError as exc:
            raise _refused(
                from_file,
                N_("%(path)s n'a pas pu être lu (clé retirée ou disque plein ?)."),
                f"could not copy it: {exc}",
            ) from exc
        yield copy


def _settings_of(db_path: Path, keys: tuple[str, ...]) -> dict[str, str]:
    """The current database's ``keys`` settings (their stored JSON text); none
    when there is no database or it cannot be read."""
    if not db_path.is_file():
        return {}
    try:
        with _source(db_path) as conn:
            marks = ", ".join("?" for _ in keys)
            return dict(
                conn.execute(f"SELECT key, value FROM settings WHERE key IN ({marks})", keys).fetchall()
            )
    except sqlite3.DatabaseError:
        return {}


def _put_settings(store: Store, keys: tuple[str, ...], values: dict[str, str]) -> None:
    with store.transaction():
        for key in keys:
            if key in values:
                store.conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value",
                    (key, values[key]),
                )
            else:
                store.conn.execute("DELETE FROM settings WHERE key = ?", (key,))
