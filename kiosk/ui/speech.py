"""Reading a screen aloud (« Écouter »), where a speech engine exists.

If ``espeak-ng`` is installed (Debian: ``apt install espeak-ng``; the set-up
and the Pi installer add it), the header shows « Écouter » on every resident
screen: it reads the screen's ``speech_parts()`` (the question, then the
choices, in order) in the resident's language, and the confirmation reads its
title by itself. Without the engine the button is not shown and nothing else
changes.

Contracts:
- The UI thread never waits for the engine: ``say`` and ``stop`` only put a
  request on a queue; one worker thread starts and stops the ``espeak-ng``
  process. A new request stops what is being said.
- The engine gets the logical (reading-order) text, never the reshaped visual
  string a label shows (``i18n.spoken``): Arabic is read from its letters.
- The volume is capped (``AMPLITUDE``): a kiosk in a waiting room, not a PA.
- What is read is bounded (``MAX_CHARS``): a screen, never a document.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable

from kiosk.ui.i18n import spoken

log = logging.getLogger(__name__)

#: espeak-ng's voice for each language of the kiosk.
VOICES = {"fr": "fr", "en": "en-gb", "ar": "ar"}
#: espeak-ng's amplitude (0–200, its default 100): heard at arm's length,
#: not across the room.
AMPLITUDE = 70
#: Words a minute (espeak-ng's default is 175): slower, for people who hear
#: the language less well.
RATE = 140
#: The longest text sent at once.
MAX_CHARS = 2000
_END = re.compile(r"[.!?…:;؟،]\s*$")


def script(parts: Iterable[str]) -> str:
    """The parts a screen reads, in order, as one text: each in reading order,
    ending with a stop so the engine pauses between them."""
    sentences = []
    for part in parts:
        text = " ".join(spoken(part).split())
        if text:
            sentences.append(text if _END.search(text) else text + ".")
    return " ".join(sentences)[:MAX_CHARS]


class Speaker:
    """The one speech engine of the kiosk (``KioskApp.speaker``).

    ``program`` is the engine's executable (found on PATH; None: no speech).
    ``on_start``, if given, is called in the worker thread with the command
    and the text each time the engine has been started (tests, benchmark)."""

    def __init__(
        self, program: str | None = "espeak-ng", on_start: Callable[[list[str], str], None] | None = None
    ):
        self.program = shutil.which(program) if program else None
        self.on_start = on_start
        self._requests: queue.Queue = queue.Queue()
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.program is not None

    def command(self, lang: str) -> list[str]:
        return [
            self.program or "espeak-ng",
            "-v",
            VOICES[lang],
            "-s",
            str(RATE),
            "-a",
            str(AMPLITUDE),
            "--stdin",
        ]

    def say(self, parts: Iterable[str] | str, lang: str) -> bool:
        """Start reading ``parts`` (a text or the screen's parts) in ``lang``;
        False when there is no engine, no voice or nothing to read. Returns at
        once: the engine starts in the worker thread."""
        text = script([parts] if isinstance(parts, str) else parts)
        if not self.available or lang not in VOICES or not text:
            return False
        self._start_worker()
        self._requests.put((self.command(lang), text))
        return True

    def stop(self) -> None:
        """Stop reading (a tap elsewhere, the screen changing)."""
        if self._thread is not None:
            self._requests.put(None)

    def close(self) -> None:
        """Stop reading and end the worker (the app stopping)."""
        if self._thread is not None:
            self._requests.put(False)
            self._thread.join(timeout=2)
            self._thread = None

    # ------------------------------------------------------------ worker thread

    def _start_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="accueil-speech", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            request = self._requests.get()
            self._silence()
            if request is False:
                return
            if request is None:
                continue
            command, text = request
            try:
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                self._process = process
                if self.on_start is not None:
                    self.on_start(command, text)
                stdin = process.stdin
                assert stdin is not None  # stdin=PIPE
                stdin.write(text.encode("utf-8"))
                stdin.close()
            except OSError:  # the engine went away or its pipe broke: stay silent
                log.exception("could not start the speech engine")

    def _silence(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                process.kill()
