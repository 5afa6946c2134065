"""Member card codes: 8 characters printed as a QR code and as text.

Seven random characters (35 bits from ``secrets``, nothing derived from the
member) and one check character (Luhn mod 32), so a code typed with one wrong
character or two swapped neighbours is caught before any lookup. The alphabet
leaves out 0/O and 1/I, which people confuse when reading a card aloud.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8
_INDEX = {char: i for i, char in enumerate(ALPHABET)}
_N = len(ALPHABET)
_SEPARATORS = re.compile(r"[\s\-]+")


def _luhn_sum(code: str, double_first: bool) -> int:
    total = 0
    double = double_first
    for char in reversed(code):
        addend = _INDEX[char] * (2 if double else 1)
        total += addend // _N + addend % _N
        double = not double
    return total


def check_char(payload: str) -> str:
    """The check character of the seven random ones."""
    return ALPHABET[(-_luhn_sum(payload, double_first=True)) % _N]


def new_code() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH - 1))
    return payload + check_char(payload)


def normalise(text: str) -> str:
    """What was typed or scanned, upper case, without spaces or hyphens."""
    return _SEPARATORS.sub("", text).upper() if isinstance(text, str) else ""


def is_valid(code: str) -> bool:
    """True for a well-formed code whose check character matches (normalised input)."""
    if len(code) != LENGTH or any(char not in _INDEX for char in code):
        return False
    return _luhn_sum(code, double_first=False) % _N == 0


def printable(code: str) -> str:
    """The code as printed on the card, in two groups: 'K7QM-3XPD'."""
    return f"{code[:4]}-{code[4:]}"
