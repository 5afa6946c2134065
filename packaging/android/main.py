"""Android entry point: python-for-android starts main.py from the app folder.

The database goes to the app's private storage (kiosk.paths uses
platformdirs, which knows Android), never to shared storage.
"""

import sys

from kiosk.cli import main

if __name__ == "__main__":
    sys.exit(main(["run"]))
