"""Telling a USB card scanner from a person typing.

A scanner is a keyboard that types the card's code very fast and ends with
Enter. ``ScanBurst`` is fed every key event that reaches the Window, with its
time; it returns the code when Enter closes a burst of at least
``min_length`` characters typed with at most ``max_gap`` seconds between keys.
Anything slower (a person on a real keyboard) is dropped. No Kivy here, so it
is tested with plain numbers.
"""

from __future__ import annotations

MIN_LENGTH = 6
MAX_GAP_S = 0.05


class ScanBurst:
    def __init__(self, min_length: int = MIN_LENGTH, max_gap: float = MAX_GAP_S):
        self.min_length = min_length
        self.max_gap = max_gap
        self._chars: list[str] = []
        self._last: float | None = None

    def key(self, char: str, at: float) -> None:
        """A printable character arrived at monotonic time ``at``."""
        if self._last is not None and at - self._last > self.max_gap:
            self._chars.clear()
        self._chars.append(char)
        self._last = at

    def enter(self, at: float) -> str | None:
        """Enter arrived: the scanned code, or None if this was no burst."""
        fast = self._last is not None and at - self._last <= self.max_gap
        code = "".join(self._chars) if fast and len(self._chars) >= self.min_length else None
        self._chars.clear()
        self._last = None
        return code.strip() if code else None
