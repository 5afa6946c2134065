"""The hub's PDF report read back as its readers meet it: text through
poppler's pdftotext (every figure and name there, Arabic in reading order,
which only shaped text gives), pages through pdftoppm (no dark fill under the
text), word boxes (a 200-character centre name stays on the page)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from federation import exports, projections, reports, store
from federation.formatting import number
from tests import hub_sample as sample
from tests.hub_sample import NOW, A

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdftoppm"),
    reason="poppler-utils missing: run scripts/system-deps.sh test",
)

ARABIC = "مركز العائلة السعيدة"
#: 200 characters, Arabic and French, as a centre may be named
LONG_NAME = (
    f"Centre social et culturel {ARABIC} des quartiers Bellevue, Les Tilleuls, "
    "Jean-Jaurès et Arc-en-ciel, association loi 1901 agréée par la CAF du Rhône, "
    "maison des habitants"
)[:200]
BIDI_MARKS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u200e\u200f"))


@pytest.fixture
def report(tmp_path):
    """A report of March for centre A, renamed, with a busy day and reasons in other scripts."""
    _url, engine = sample.make_db(tmp_path / "hub.db")
    with engine.begin() as conn:
        conn.execute(store.centres.update().where(store.centres.c.id == A).values(name=LONG_NAME))
        conn.execute(
            store.p_visit_counts.insert(),
            [
                dict(centre_id=A, day="2026-03-20", reason="accueil", recorded_by="resident", visits=12_345),
                dict(centre_id=A, day="2026-03-21", reason="cours_عربي", recorded_by="staff", visits=2),
                dict(centre_id=A, day="2026-03-21", reason="café_😀", recorded_by="staff", visits=1),
            ],
        )
        projections.refresh_rollups(conn)  # as ingest keeps them
    with engine.connect() as conn:
        view = reports.overview(conn, reports.Period(*sample.MARCH, centre_id=A), NOW)
        name = reports.centre_names(conn)[A]
    engine.dispose()
    path = tmp_path / "rapport.pdf"
    path.write_bytes(exports.report_pdf(view, name))
    return path, view


def pdftotext(path, *options: str) -> str:
    return subprocess.run(
        ["pdftotext", *options, str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_every_figure_and_name_is_in_the_text(report):
    path, view = report
    # one space for any run of spaces (the layout's columns), no-break ones
    # (which group the digits) included
    lines = [" ".join(line.translate(BIDI_MARKS).split()) for line in pdftotext(path, "-layout").splitlines()]
    text = "\n".join(lines)
    for section, indicator, value in exports.indicators(view):
        figure = " ".join(exports._pdf_value(value).split())
        assert any(line.endswith(f"{indicator} {figure}") for line in lines), (section, indicator, figure)
    # 10 in the sample, and these days', grouped the French way
    assert number(12_358) == "12\u202f358" and "Total des passages 12 358" in text
    assert "12358" not in text
    assert "Taux de présence des inscrits (%) 66,7" in text
    assert "Rapport d'activité" in text


def test_the_arabic_comes_out_shaped_in_reading_order(report):
    path, _view = report
    text = pdftotext(path).translate(BIDI_MARKS)
    # pdftotext reads shaped, right-to-left glyph runs back in reading order;
    # letters laid out one by one left to right come back reversed
    assert ARABIC in text
    assert ARABIC[::-1] not in text
    assert "عربي" in text and "😀" in text  # a reason's own script, an emoji: nothing dropped


class _Words(HTMLParser):
    def __init__(self):
        super().__init__()
        self.pages: list[tuple[float, list[tuple[float, float]]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "page":
            self.pages.append((float(attrs["width"]), []))
        elif tag == "word":
            self.pages[-1][1].append((float(attrs["xmin"]), float(attrs["xmax"])))


def test_a_long_centre_name_is_wrapped_within_the_page(report):
    path, _view = report
    words = _Words()
    words.feed(pdftotext(path, "-bbox"))
    for width, boxes in words.pages:
        margin = 10 / 25.4 * 72  # fpdf2's default 1 cm, in points
        assert boxes and max(x_max for _x, x_max in boxes) <= width - margin + 1
        assert min(x_min for x_min, _x in boxes) >= margin - 1
    text = " ".join(pdftotext(path).translate(BIDI_MARKS).split())
    for part in LONG_NAME.replace(ARABIC, "|").split("|"):
        assert " ".join(part.split()) in text


def gray_pages(path, tmp_path) -> list[bytes]:
    """Each page as 8-bit grey pixels (pdftoppm's PGM), 30 dots an inch."""
    subprocess.run(
        ["pdftoppm", "-r", "30", "-gray", str(path), str(tmp_path / "page")], check=True, timeout=60
    )
    pages = []
    for image in sorted(tmp_path.glob("page*.pgm")):
        data = image.read_bytes()
        header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        pages.append(data[header.end() :])
    return pages


def test_tables_are_dark_text_on_light_cells(report, tmp_path):
    path, _view = report
    pages = gray_pages(path, tmp_path)
    assert len(pages) >= 2
    for pixels in pages:
        dark = sum(1 for value in pixels if value < 110) / len(pixels)
        # text on white or light grey is a few per cent of a page; a dark
        # fill under the text made half of it dark
        assert dark < 0.12, f"{dark:.0%} of a page is dark"
