"""Reading a confirmation aloud, where a speech engine exists (optional).

If ``espeak-ng`` is installed (Debian: ``apt install espeak-ng``), the kiosk
(in kiosk mode; ``KioskApp.speak``) speaks the confirmation's title in French
or English. Arabic is not spoken: the text on screen is already in visual order.
Nothing happens on a kiosk without the engine. It runs as a separate process,
so the UI never waits for it.
"""

from __future__ import annotations

import shutil
import subprocess

VOICES = {"fr": "fr", "en": "en"}


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def say(text: str, lang: str) -> bool:
    """Start speaking ``text``; False when there is no engine or no voice."""
    if lang not in VOICES or not text or not available():
        return False
    subprocess.Popen(["espeak-ng", "-v", VOICES[lang], "-s", "140", text],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return True
