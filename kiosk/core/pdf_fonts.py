"""A Unicode TrueType font for the PDFs (summary, member cards).

fpdf2's built-in fonts are Latin-1 only: « Aïcha », « œ » or « € » need a TTF.
The font bundled with the kiosk comes first, then the Debian packages that
scripts/system-deps.sh installs (fonts-noto-core), then DejaVu. Text is shaped
with harfbuzz (uharfbuzz), so a first name written in Arabic prints joined and
right to left, as its owner writes it.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

FAMILY = "AccueilSans"
_ASSETS = Path(__file__).resolve().parent.parent / "assets" / "fonts"
_SYSTEM = Path("/usr/share/fonts/truetype")

#: (regular, bold) candidates, best first.
CANDIDATES = [
    (_ASSETS / "DejaVuSans.ttf", _ASSETS / "DejaVuSans-Bold.ttf"),
    (_SYSTEM / "noto" / "NotoSans-Regular.ttf", _SYSTEM / "noto" / "NotoSans-Bold.ttf"),
    (_SYSTEM / "dejavu" / "DejaVuSans.ttf", _SYSTEM / "dejavu" / "DejaVuSans-Bold.ttf"),
]
#: Scripts the main font lacks (first names written in Arabic), used when present.
FALLBACKS = [("AccueilArabic", _SYSTEM / "noto" / "NotoSansArabic-Regular.ttf")]


def font_files() -> tuple[Path, Path]:
    for regular, bold in CANDIDATES:
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise RuntimeError(
        "no Unicode TrueType font found for PDFs: install fonts-noto-core "
        "(scripts/system-deps.sh) or put DejaVuSans.ttf in kiosk/assets/fonts"
    )


def add_fonts(pdf: FPDF) -> str:
    """Register the family (regular and bold) on ``pdf``; returns its name."""
    regular, bold = font_files()
    pdf.add_font(FAMILY, "", str(regular))
    pdf.add_font(FAMILY, "B", str(bold))
    fallbacks = []
    for name, path in FALLBACKS:
        if path.is_file():
            pdf.add_font(name, "", str(path))
            fallbacks.append(name)
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks)
    # harfbuzz joins Arabic letters and lays right-to-left names out right
    pdf.set_text_shaping(True)
    return FAMILY


def fit_text(pdf: FPDF, text: str, width: float, smallest: float = 6) -> str:
    """Shrink the current font until ``text`` fits ``width`` mm; past
    ``smallest`` pt, cut the text with an ellipsis."""
    size = pdf.font_size_pt
    while size > smallest and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font_size(size)
    while text and pdf.get_string_width(text) > width:
        text = text[:-2] + "…"
    return text
