"""The small parts: scanner bursts, QR decoding, pictograms, contrast."""

from __future__ import annotations

import qrcode
from fontTools.ttLib import TTFont

from kiosk.ui import camera_scan, icons, theme
from kiosk.ui.scanner import ScanBurst
from sync.protocol import THEMES


def burst(detector, text, start=0.0, gap=0.01):
    t = start
    for char in text:
        detector.key(char, t)
        t += gap
    return detector.enter(t)


def test_a_fast_burst_ending_with_enter_is_a_scan():
    assert burst(ScanBurst(), "K7QM3XPD") == "K7QM3XPD"


def test_a_person_typing_is_not_a_scan():
    assert burst(ScanBurst(), "K7QM3XPD", gap=0.2) is None


def test_a_short_burst_is_not_a_scan():
    assert burst(ScanBurst(), "ABC") is None


def test_slow_keys_before_a_burst_are_dropped():
    detector = ScanBurst()
    detector.key("x", 0.0)
    detector.key("y", 1.0)
    assert burst(detector, "K7QM3XPD", start=5.0) == "K7QM3XPD"


def test_a_qr_code_image_decodes_to_its_text():
    image = qrcode.make("K7QM3XPD").get_image()
    assert camera_scan.decode(image) == "K7QM3XPD"


def test_an_image_without_a_code_decodes_to_none():
    from PIL import Image

    assert camera_scan.decode(Image.new("L", (200, 200), 255)) is None


def test_every_pictogram_exists_in_the_shipped_font():
    cmap = TTFont(icons.ICON_FONT).getBestCmap()
    missing = [name for name, code in icons.CODEPOINTS.items() if code not in cmap]
    assert not missing


def test_every_workshop_theme_and_default_reason_has_a_pictogram():
    from kiosk.core.settings import DEFAULT_REASONS

    assert set(icons.THEME_ICONS) == set(THEMES)
    assert all(reason["icon"] in icons.CODEPOINTS for reason in DEFAULT_REASONS)


def test_every_colour_pair_meets_wcag_aa():
    weak = [
        (fg, bg, round(theme.contrast(theme.PALETTE[fg], theme.PALETTE[bg]), 2))
        for fg, bg in theme.CONTRAST_PAIRS
        if theme.contrast(theme.PALETTE[fg], theme.PALETTE[bg]) < 4.5
    ]
    assert not weak


def test_sizes_meet_the_accessibility_floor():
    assert theme.TOUCH >= 96 and theme.TEXT_SMALL >= 24 and theme.TEXT >= 24


def test_the_fonts_cover_french_and_arabic_with_their_licences():
    cmap = TTFont(theme.TEXT_FONT).getBestCmap()
    assert all(ord(c) in cmap for c in "àâçéèêëîïôûùüÿœÀÉ«»€")
    assert all(code in cmap for code in (0xFE8D, 0xFEDF, 0xFEF5))  # Arabic presentation forms
    fonts = theme.ASSETS / "fonts"
    assert (fonts / "LICENSE-DejaVu.txt").exists() and (fonts / "LICENSE-MaterialIcons.txt").exists()
