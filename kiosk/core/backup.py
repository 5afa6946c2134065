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
import os
import re
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kiosk.core import migrations, period
from kiosk.core.errors import DomainError, N_
from kiosk.core.settings import Settings
from kiosk.core.store import Store

KEEP = 14
PREFIX = "accueil-"
NAME_RE = re.compile(r"^accueil-(\d{8})-(\d{6})\.db$")
#: Tables without which a file is not an Accueil kiosk database.
REQUIRED_TABLES = {"settings", "members", "visits", "workshops", "sessions", "registrations",
                   "attendance", "staff", "audit_log", "outbox"}


class BackupError(DomainError):
    """A backup or a restore could not be done; nothing was changed."""


def backup(store_or_path: Store | str | Path, to_dir: str | Path, keep: int = KEEP,
           actor: dict | None = None) -> Path:
    """Copy the database into ``to_dir``; returns the new file's path."""
    to_dir = Path(to_dir)
    if not to_dir.is_dir():
        raise BackupError("backup_dir", N_("Le dossier de sauvegarde est introuvable : %(folder)s. "
                                           "La clé USB est-elle branchée ?"),
                          f"backup folder {to_dir} does not exist", value=str(to_dir), folder=str(to_dir))
    store = store_or_path if isinstance(store_or_path, Store) else None
    now = store.now() if store else datetime.now(timezone.utc)
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
                raise BackupError("backup_dir", N_("La sauvegarde n'a pas pu être écrite dans %(folder)s "
                                                   "(clé pleine, protégée ou retirée ?)."),
                                  f"could not write the backup in {to_dir}: {exc}",
                                  value=str(to_dir), folder=str(to_dir)) from exc
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
        raise BackupError("db", N_("La base de données %(path)s n'existe pas."),
                          f"database {path} does not exist", value=str(path), path=str(path))
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
    day, clock = NAME_RE.match(found[-1].name).groups()
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
    return backup(store, Settings(store).get("backup_dir"), actor={"id": None, "name": "sauvegarde automatique"})


# ---------------------------------------------------------------- restore

def check_backup_file(path: str | Path) -> int:
    """Refuse a file that is not a sound Accueil database; returns its schema version."""
    path = Path(path)
    if not path.is_file():
        raise _refused(path, N_("Le fichier %(path)s n'existe pas."), "file does not exist")
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise _refused(path, N_("%(path)s n'est pas une sauvegarde Accueil (ce n'est pas une base SQLite)."),
                           "not an SQLite database")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refused(path, N_("%(path)s est abîmé et ne peut pas être restauré."), f"unreadable: {exc}")
    if problems != ["ok"]:
        raise _refused(path, N_("%(path)s est abîmé et ne peut pas être restauré."),
                       f"integrity check failed: {problems[:3]}")
    if not 1 <= version <= migrations.SCHEMA_VERSION or not REQUIRED_TABLES <= tables:
        raise _refused(path, N_("%(path)s n'est pas une sauvegarde Accueil."),
                       f"schema version {version}, tables missing: {sorted(REQUIRED_TABLES - tables)}")
    return version


def _refused(path: Path, template: str, reason: str) -> BackupError:
    return BackupError("from_file", template, f"cannot restore {path}: {reason}", value=str(path), path=str(path))


def _check_integrity(path: Path, field: str) -> None:
    conn = sqlite3.connect(path)
    try:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if result != ["ok"]:
        raise BackupError(field, N_("La copie de sauvegarde est abîmée ; recommencez."),
                          f"integrity check of {path} failed: {result[:3]}", value=str(path))


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


def restore(db_path: str | Path, from_file: str | Path) -> Path | None:
    """Replace the database at ``db_path`` by the backup ``from_file``.

    The backup is checked first; the current database, if any, is first
    copied beside it as ``<name>.avant-restauration-YYYYMMDD-HHMMSS.db``
    (returned). The copy into place goes through the backup API, so the live
    file and its WAL stay consistent. Close the kiosk before restoring.
    """
    db_path = Path(db_path)
    check_backup_file(from_file)
    safety = None
    if db_path.exists():
        stamp = datetime.now(timezone.utc).astimezone(period.PARIS).strftime("%Y%m%d-%H%M%S")
        safety = db_path.with_name(f"{db_path.stem}.avant-restauration-{stamp}.db")
        _safety_copy(db_path, safety)
    source = sqlite3.connect(f"file:{Path(from_file)}?mode=ro", uri=True)
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
    Store.open(db_path).close()
    return safety
