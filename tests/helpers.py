"""Helpers the tests share (the hub's process and fixtures are in
tests/conftest_hub.py): the real ``kiosk`` command, run as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The installed ``kiosk`` console script of the virtualenv running the tests.
KIOSK = str(Path(sys.executable).with_name("kiosk"))


def kiosk_environment(**overrides: str) -> dict[str, str]:
    """The environment a command runs in: this one, with the locale set so the
    messages are French whatever the machine's own (a test that wants another
    language says so, e.g. ``LANG="en_GB.UTF-8"``)."""
    environ = {**os.environ, "LANG": "C.UTF-8"}
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        environ.pop(name, None)
    return {**environ, **overrides}


def kiosk(
    *args: object, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``kiosk ARGS…`` to its end; its output comes back as text."""
    return subprocess.run(
        [KIOSK, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kiosk_environment(**(env or {})),
    )
