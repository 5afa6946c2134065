"""Entry point of the PyInstaller bundle: the `kiosk` command itself.

`accueil-kiosk run` opens the kiosk on the database in the platform's user
data folder (kiosk.paths.default_db); every other sub-command works too
(`accueil-kiosk screenshot --db ... --out ...`, `accueil-kiosk --version`).
"""

import multiprocessing
import sys

from kiosk.cli import main

if __name__ == "__main__":
    # a frozen Windows program must say so before any child process starts
    multiprocessing.freeze_support()
    # a double-click gives no arguments: open the kiosk on its default database
    sys.exit(main(sys.argv[1:] or ["run"]))
