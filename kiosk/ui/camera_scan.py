"""Reading a member card's QR code from a camera frame, with zxing-cpp.

The camera is optional: ``camera_available()`` says whether Kivy can open one;
the check-in screen shows its camera button only then. Decoding runs off the
UI thread (a frame takes a few milliseconds to tens of milliseconds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import zxingcpp
from PIL import Image


def decode(image: Image.Image) -> str | None:
    """The text of the first QR code (or other barcode) in ``image``, if any."""
    results = zxingcpp.read_barcodes(image.convert("L"))
    for result in results:
        if result.valid and result.text:
            return result.text.strip()
    return None


def decode_rgba(pixels: bytes, size: tuple[int, int]) -> str | None:
    """Decode a Kivy texture's RGBA pixels (bottom-up rows, as Kivy gives them)."""
    image = Image.frombytes("RGBA", size, pixels).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return decode(image)


def decode_in_background(pixels: bytes, size: tuple[int, int], done: Callable[[str | None], None]) -> None:
    """Decode in a thread; ``done`` is called there (the caller hops back to
    the UI thread with Clock.schedule_once)."""
    threading.Thread(target=lambda: done(decode_rgba(pixels, size)), daemon=True).start()


def camera_available() -> bool:
    """Whether a camera device exists (Linux: /dev/video*). Cheap: no opening."""
    import glob

    return bool(glob.glob("/dev/video*"))
