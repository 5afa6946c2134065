"""Writing an output file (export, PDF) whole or not at all, and only where
a file belongs.

The file is written under a temporary name in the target folder, synced,
then renamed over the target: a USB stick pulled out half-way, or an error
while writing, never leaves a half-file that looks complete. The target must
be a new path or a regular file: a folder, a device (/dev/sda), a fifo or a
symbolic link is refused before anything is written, and checked again just
before the rename. A full, write-protected or pulled-out disk is a French
message naming the file, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kiosk.core.errors import N_, InvalidInput


def _not_a_file(out_path: Path) -> InvalidInput:
    return InvalidInput(
        "out_path",
        N_(
            "%(path)s n'est pas un fichier ordinaire (dossier, périphérique ou lien) : "
            "rien n'y a été écrit. Choisissez un nom de fichier."
        ),
        f"{out_path} exists and is not a regular file",
        value=str(out_path),
        path=str(out_path),
    )


def _check_target(out_path: Path) -> None:
    """Refuse a target that exists and is not a regular file (a symbolic link
    counts as not one: it may point anywhere)."""
    try:
        mode = os.lstat(out_path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(out_path, exc) from exc
    if not stat.S_ISREG(mode):
        raise _not_a_file(out_path)


def write_error(out_path: str | Path, exc: OSError) -> InvalidInput:
    """The French message for a file that could not be written."""
    return InvalidInput(
        "out_path",
        N_(
            "Le fichier %(path)s n'a pas pu être écrit (disque ou clé pleine, protégée en "
            "écriture ou retirée ?). Rien n'a été écrit."
        ),
        f"could not write {out_path}: {exc}",
        value=str(out_path),
        path=str(out_path),
    )


@contextlib.contextmanager
def atomic_output(out_path: str | Path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """``with atomic_output(path, "w", encoding=...) as handle: ...``"""
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise InvalidInput(
            "out_path",
            N_("Le dossier %(folder)s n'existe pas."),
            f"folder {out_path.parent} does not exist",
            value=str(out_path),
            folder=str(out_path.parent),
        )
    _check_target(out_path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    except OSError as exc:
        raise write_error(out_path, exc) from exc
    try:
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _check_target(out_path)
        os.replace(tmp, out_path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(out_path, exc) from exc
        raise
