"""The fonts of the hub's PDF report, found on the system.

Noto Sans for the text (fonts-noto-core, which scripts/system-deps.sh
installs; DejaVu Sans if it is missing), then fallbacks for what it lacks: a
centre's name or a reason may be written in Arabic, Hebrew, Chinese, or carry
an emoji. Text is
shaped with harfbuzz (uharfbuzz), so Arabic prints joined and right to left.
The hub does not import the kiosk: this is only the lookup of font files,
which kiosk.core.pdf_fonts does for the kiosk's own PDFs.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

FAMILY = "HubSans"
_SYSTEM = Path("/usr/share/fonts/truetype")

#: (regular, bold) candidates for the text, best first
MAIN = [
    (_SYSTEM / "noto" / "NotoSans-Regular.ttf", _SYSTEM / "noto" / "NotoSans-Bold.ttf"),
    (_SYSTEM / "dejavu" / "DejaVuSans.ttf", _SYSTEM / "dejavu" / "DejaVuSans-Bold.ttf"),
]
#: (family, regular, bold or None) for the glyphs the main font lacks, in the
#: order they are tried; those not installed are skipped
FALLBACKS = [
    (
        "HubArabic",
        _SYSTEM / "noto" / "NotoSansArabic-Regular.ttf",
        _SYSTEM / "noto" / "NotoSansArabic-Bold.ttf",
    ),
    (
        "HubHebrew",
        _SYSTEM / "noto" / "NotoSansHebrew-Regular.ttf",
        _SYSTEM / "noto" / "NotoSansHebrew-Bold.ttf",
    ),
    ("HubDejaVu", _SYSTEM / "dejavu" / "DejaVuSans.ttf", _SYSTEM / "dejavu" / "DejaVuSans-Bold.ttf"),
    ("HubSymbols", _SYSTEM / "noto" / "NotoSansSymbols2-Regular.ttf", None),
    ("HubEmoji", _SYSTEM / "noto" / "NotoColorEmoji.ttf", None),  # fonts-noto-color-emoji
    # Chinese, Japanese, Korean and more (fonts-droid-fallback)
    ("HubWide", _SYSTEM / "droid" / "DroidSansFallbackFull.ttf", None),
]


def main_font_files() -> tuple[Path, Path]:
    for regular, bold in MAIN:
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FileNotFoundError(
        "no Unicode font found for the PDF report: install fonts-noto-core (scripts/system-deps.sh)"
    )


def add_fonts(pdf: FPDF, text: str = "") -> str:
    """Register the text font (regular and bold) on ``pdf``, and the fallbacks
    that ``text`` (everything the document will print) needs: each is read
    only when a character of ``text`` is still missing, as the widest one
    takes a good part of a second to load. Returns the text font's family."""
    regular, bold = main_font_files()
    pdf.add_font(FAMILY, "", str(regular))
    pdf.add_font(FAMILY, "B", str(bold))
    missing = {char for char in set(text) if char.isprintable() and not char.isspace()}
    missing = {char for char in missing if ord(char) not in _cmap(pdf, FAMILY)}
    fallbacks = []
    for family, fallback_regular, fallback_bold in FALLBACKS:
        if not missing:
            break
        if not fallback_regular.is_file():
            continue
        pdf.add_font(family, "", str(fallback_regular))
        if fallback_bold is not None and fallback_bold.is_file():
            pdf.add_font(family, "B", str(fallback_bold))
        fallbacks.append(family)
        covered = _cmap(pdf, family)
        missing = {char for char in missing if ord(char) not in covered}
    if fallbacks:
        # exact_match=False: a bold heading may take a glyph from a regular-only fallback
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    # harfbuzz joins Arabic letters and lays right-to-left text out right
    pdf.set_text_shaping(True)
    return FAMILY


def _cmap(pdf: FPDF, family: str) -> dict[int, str]:
    """The code points the family's regular face has glyphs for (fonts added
    from files are TrueType, never one of the PDF's core fonts)."""
    font = pdf.fonts[family.lower()]
    assert isinstance(font, TTFFont)
    return font.cmap
