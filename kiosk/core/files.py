"""Writing an output file (export, PDF) whole or not at all.

The file is written under a temporary name in the target folder, synced,
then renamed over the target: a USB stick pulled out half-way, or an error
while writing, never leaves a half-file that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from kiosk.core.errors import InvalidInput, N_


@contextlib.contextmanager
def atomic_output(out_path: str | Path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """``with atomic_output(path, "w", encoding=...) as handle: ...``"""
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise InvalidInput(
            "out_path", N_("Le dossier %(folder)s n'existe pas."),
            f"folder {out_path.parent} does not exist", value=str(out_path), folder=str(out_path.parent),
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
