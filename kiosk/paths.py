"""Where the kiosk keeps its database and backups when no --db is given.

Data and settings live in the platform's user data folder
(~/.local/share/accueil on Linux, %LOCALAPPDATA%\\accueil on Windows, the
app's private storage on Android), never next to the executable: a bundle
unpacked in Program Files or a read-only /opt must still work, and replacing
the program on upgrade must never replace the data.

The ACCUEIL_DATA_DIR environment variable overrides the folder; the Linux
installer sets it to /var/lib/accueil for the kiosk's systemd units.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "accueil"
DATA_DIR_ENV = "ACCUEIL_DATA_DIR"
DB_NAME = "accueil.db"


def data_dir(create: bool = True) -> Path:
    """The folder holding the database, made (owner-only) if asked."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    # appauthor=False: no "Accueil\Accueil" doubling on Windows
    folder = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        # members' names are in there: readable by the kiosk's user only
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def default_db(create: bool = True) -> Path:
    """The database `kiosk run` (and the other commands) open without --db."""
    return data_dir(create) / DB_NAME


def backups_dir(create: bool = True) -> Path:
    """Where the daily backup goes unless the centre's settings name another."""
    folder = data_dir(create) / "backups"
    if create:
        folder.mkdir(mode=0o700, exist_ok=True)
    return folder
