"""Is there a screen to open the kiosk on? Asked by `kiosk run` before Kivy
creates its window: with no display server, SDL falls back to its offscreen
driver and the kiosk would run where nobody can see it.

No Kivy window here; only the translator, for the message.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

#: Variables that name a display server: X11 and Wayland. Under the installed
#: kiosk, cage gives its child WAYLAND_DISPLAY (and DISPLAY with Xwayland).
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")
#: Variables by which someone chose the video driver themselves (SDL's kmsdrm
#: on a bare console, Kivy's egl_rpi, offscreen on purpose): trust the choice.
CHOSEN_DRIVER_VARIABLES = ("SDL_VIDEODRIVER", "KIVY_WINDOW")


def screen_missing(environ: Mapping[str, str], platform: str) -> bool:
    """True on a Linux machine with no display server and no video driver
    chosen by hand. ``platform`` is ``kivy.utils.platform``: Android, macOS
    and Windows always have their own screen."""
    if platform != "linux":
        return False
    return not any(environ.get(name) for name in DISPLAY_VARIABLES + CHOSEN_DRIVER_VARIABLES)


def no_screen_message(db: str) -> str:
    """What `kiosk run` prints when ``screen_missing``: French, or English
    under an English locale, as every message of the ``kiosk`` command."""
    from kiosk.catalogues import command_words as _

    return _(
        "Aucun écran trouvé : la borne ne peut pas s'ouvrir ici (ni DISPLAY ni "
        "WAYLAND_DISPLAY ne sont définis). Lancez-la depuis une session graphique, "
        "ou voyez ses écrans en images :\n"
        "  kiosk screenshot --db %(db)s --screen home --out accueil.png\n"
        "(--screen : home, checkin, workshops… ; kiosk screenshot --help donne la liste.)",
        db=shlex.quote(str(db)),
    )
