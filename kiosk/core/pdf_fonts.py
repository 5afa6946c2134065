"""A Unicode TrueType font for the PDFs (summary, member cards).

fpdf2's built-in fonts are Latin-1 only: « Aïcha », « œ » or « € » need a TTF.
The font bundled with the kiosk comes first, then the Debian packages that
scripts/system-deps.sh installs (fonts-noto-core), then DejaVu. Text is shaped
with harfbuzz (uharfbuzz), so a first name written in Arabic prints joined and
right to left, as its owner writes it.

Characters the main font lacks are printed from a fallback chain: Noto's
per-script fonts (fonts-noto-core), the scripts most written at the centres
first, then Droid Sans Fallback for Chinese, Japanese and Korean
(fonts-droid-fallback: a few MB, where Noto CJK is about 90 MB installed).
Only the fonts a document's text needs are embedded. ``unprintable`` names
the characters no installed font has, so a caller can say so instead of
printing a blank.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from fontTools.ttLib import TTFont
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
_NOTO = _SYSTEM / "noto"
#: Scripts the main font lacks, tried first: those the centres' members write
#: their names in most. Every other Noto Sans font comes after them.
PREFERRED_SCRIPTS = (
    "Arabic",
    "Hebrew",
    "Armenian",
    "Georgian",
    "Ethiopic",
    "Tifinagh",
    "Devanagari",
    "Bengali",
    "Tamil",
    "Gurmukhi",
    "Thai",
    "Lao",
    "Khmer",
    "Myanmar",
    "Sinhala",
)
#: Chinese, Japanese and Korean.
CJK_FALLBACK = _SYSTEM / "droid" / "DroidSansFallbackFull.ttf"
#: The fallback fonts used when a caller gives no text: first names in Arabic.
FALLBACKS = [("AccueilArabic", _NOTO / "NotoSansArabic-Regular.ttf")]


def font_files() -> tuple[Path, Path]:
    for regular, bold in CANDIDATES:
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise RuntimeError(
        "no Unicode TrueType font found for PDFs: install fonts-noto-core "
        "(scripts/system-deps.sh) or put DejaVuSans.ttf in kiosk/assets/fonts"
    )


@functools.lru_cache(maxsize=1)
def fallback_fonts() -> tuple[tuple[Path, Path | None], ...]:
    """(regular, bold or None) of every fallback font installed, in the order
    tried (looked up once a process: fonts are installed with the program)."""
    chain: list[tuple[Path, Path | None]] = [
        (_NOTO / f"NotoSans{script}-Regular.ttf", _NOTO / f"NotoSans{script}-Bold.ttf")
        for script in PREFERRED_SCRIPTS
    ]
    chain.append((CJK_FALLBACK, None))
    taken = {regular for regular, _bold in chain} | set(font_files())
    for regular in sorted(_NOTO.glob("NotoSans*-Regular.ttf")):
        if regular not in taken:
            chain.append((regular, regular.with_name(regular.name.replace("-Regular", "-Bold"))))
    return tuple(
        (regular, bold if bold is not None and bold.is_file() else None)
        for regular, bold in chain
        if regular.is_file()
    )


@functools.cache
def _cmap(path: Path) -> frozenset[int]:
    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap() or ())
    finally:
        font.close()


def _wanted(texts: Iterable[str]) -> set[int]:
    """The code points that need a glyph: not controls, nor invisible format
    characters (joiners, direction marks), which shaping handles."""
    return {
        ord(char)
        for text in texts
        for char in set(text or "")
        if unicodedata.category(char) not in ("Cc", "Cf")
    }


def plan(texts: Iterable[str]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """For ``texts``: the fallback fonts they need (in chain order) and the
    characters no installed font has."""
    needed = _wanted(texts) - _cmap(font_files()[0])
    chosen = []
    for regular, bold in fallback_fonts() if needed else []:
        found = needed & _cmap(regular)
        if found:
            chosen.append((regular, bold))
            needed -= found
        if not needed:
            break
    return chosen, [chr(point) for point in sorted(needed)]


def single_font(text: str) -> tuple[Path, list[str]]:
    """One font for all of ``text``, for a renderer without fallback (a
    receipt printer's raster line): the main font if it has every character,
    else the fallback that has the most; and the characters it lacks."""
    wanted = _wanted([text])
    best, best_missing = font_files()[0], wanted - _cmap(font_files()[0])
    for regular, _bold in fallback_fonts() if best_missing else ():
        missing = wanted - _cmap(regular)
        if len(missing) < len(best_missing):
            best, best_missing = regular, missing
        if not best_missing:
            break
    return best, [chr(point) for point in sorted(best_missing)]


def unprintable(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no installed font can print."""
    return plan(texts)[1]


def add_fonts(pdf: FPDF, texts: Iterable[str] | None = None) -> str:
    """Register the family (regular and bold) on ``pdf``, and the fallback
    fonts ``texts`` need (without texts: ``FALLBACKS``); returns its name."""
    regular, bold = font_files()
    pdf.add_font(FAMILY, "", str(regular))
    pdf.add_font(FAMILY, "B", str(bold))
    if texts is None:
        chain: list[tuple[Path, Path | None]] = [(path, None) for _name, path in FALLBACKS if path.is_file()]
    else:
        chain = plan(texts)[0]
    fallbacks = []
    for index, (fallback, fallback_bold) in enumerate(chain):
        name = f"AccueilFallback{index}"
        pdf.add_font(name, "", str(fallback))
        if fallback_bold is not None:
            pdf.add_font(name, "B", str(fallback_bold))
        fallbacks.append(name)
    if fallbacks:
        # a script without a bold font prints in its regular one rather than not at all
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
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
