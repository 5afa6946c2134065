"""Files for funders (FEDER, CAF, SENACS) built from federation.reports.

CSV that a French Excel opens as it should: UTF-8 with a BOM (else accents
break), ';' between cells (',' is the decimal mark in France), decimal commas,
dates as dd/mm/yyyy. A PDF report with fpdf2: Noto fonts with fallbacks for
other scripts (federation.pdf_fonts), numbers grouped the French way, dark
text on light cells, long names wrapped.
"""

from __future__ import annotations

import csv
import io

from fpdf import FPDF
from fpdf.fonts import FontFace

from federation import pdf_fonts, taxonomies
from federation.formatting import (
    age_band_label,
    decimal_comma,
    gender_label,
    long_date,
    number,
    percent,
    reason_label,
    short_date,
    theme_label,
)
from federation.reports import Overview, WorkshopFigures
from sync import csvsafe
from sync.protocol import AGE_BANDS, GENDERS

ALL_CENTRES = "Tous les centres"
INDICATOR_HEADER = ["Début", "Fin", "Centre", "Rubrique", "Indicateur", "Valeur"]


def _csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    # every cell, not only those thought free text: a centre's name and a
    # device's reason code reach here too, and either may start with '='
    writer.writerows(csvsafe.row(row) for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- indicators

#: an indicator's value: a count, or a percentage (one decimal), None if unknown
Value = tuple[float | int | None, int]


def _count(n: int) -> Value:
    return n, 0


def _share(ratio: float | None) -> Value:
    return (None if ratio is None else ratio * 100), 1


def indicators(view: Overview) -> list[tuple[str, str, Value]]:
    """(section, indicator, (value, decimals)) in the order funders' forms ask for them."""
    people = view.participants
    rows = [("Participants", "Participants (adhérents distincts venus)", _count(people.total))]
    rows += [("Participants par sexe", gender_label(g), _count(n)) for g, n in people.by_gender()]
    rows += [
        ("Participants par tranche d'âge", age_band_label(b), _count(n)) for b, n in people.by_age_band()
    ]
    crossed = people.by_gender_and_age()
    for gender in [*GENDERS, None]:
        for band in AGE_BANDS:
            if crossed.get((gender, band)):
                rows.append(
                    (
                        "Participants par sexe et tranche d'âge",
                        f"{gender_label(gender)}, {age_band_label(band)}",
                        _count(crossed[(gender, band)]),
                    )
                )
    rows += [
        ("Quartiers prioritaires (QPV)", "Participants habitant un QPV", _count(people.qpv)),
        ("Quartiers prioritaires (QPV)", "Participants dont le quartier est connu", _count(people.qpv_known)),
        ("Quartiers prioritaires (QPV)", "Part des habitants des QPV (%)", _share(people.qpv_share)),
        ("Adhérents", "Nouveaux adhérents", _count(view.new_members)),
    ]
    families = view.families  # the dashboard's « Familles » (reports.Families)
    rows += [
        ("Familles", "Familles touchées (foyers dont un membre est venu)", _count(families.reached)),
        ("Familles", "Personnes dans ces familles", _count(families.people)),
        ("Familles", "Familles avec au moins un enfant de moins de 18 ans", _count(families.with_children)),
        ("Familles", "Enfants de moins de 18 ans dans ces familles", _count(families.children)),
        ("Familles", "Familles venues aux ateliers parentalité", _count(families.parenting)),
        ("Familles", "Participants membres d'une famille", _count(families.came_in_families)),
        ("Familles", "Participants sans foyer renseigné", _count(families.without_household)),
    ]
    rows += _workshop_rows("Ateliers", "", view.workshop_total)
    for theme in view.themes:
        rows += _workshop_rows("Ateliers par thème", f"{theme_label(theme.theme)} : ", theme)
    rows.append(("Passages", "Total des passages", _count(view.visits)))
    rows += [("Passages par motif", reason_label(r), _count(n)) for r, n in view.reasons]
    # the national categories the centres' reasons map to (federation.taxonomies)
    rows += [
        ("Passages par thème du CRA", taxonomies.cra_label(code), _count(n))
        for code, n in view.by_cra_theme
        if n
    ]
    rows += [
        ("Passages par domaine administratif", taxonomies.domain_label(code), _count(n))
        for code, n in view.by_domain
        if n
    ]
    return rows


def _workshop_rows(section: str, prefix: str, figures: WorkshopFigures) -> list[tuple[str, str, Value]]:
    return [
        (section, f"{prefix}Séances tenues", _count(figures.sessions)),
        (section, f"{prefix}Inscriptions", _count(figures.booked)),
        (section, f"{prefix}Liste d'attente", _count(figures.waitlisted)),
        (section, f"{prefix}Présents", _count(figures.present)),
        (section, f"{prefix}dont venus sans inscription", _count(figures.walk_ins)),
        (section, f"{prefix}Taux de présence des inscrits (%)", _share(figures.attendance_rate)),
    ]


def indicator_rows(view: Overview) -> list[tuple[str, str, str]]:
    """(section, indicator, value) as the CSV holds them: whole numbers
    without grouping, percentages with a decimal comma, so Excel reads numbers."""
    return [(section, indicator, _csv_value(value)) for section, indicator, value in indicators(view)]


def _csv_value(value: Value) -> str:
    figure, decimals = value
    return decimal_comma(figure, decimals) if decimals else str(figure)


def _pdf_value(value: Value) -> str:
    """Grouped the French way (« 12 345 », « 66,7 »); a dash when unknown."""
    figure, decimals = value
    return number(figure, decimals)


def indicators_csv(view: Overview, centre_name: str | None) -> bytes:
    span = [short_date(view.period.start), short_date(view.period.end), centre_name or ALL_CENTRES]
    return _csv_bytes([INDICATOR_HEADER] + [span + list(row) for row in indicator_rows(view)])


def visits_per_week_csv(view: Overview, centre_name: str | None) -> bytes:
    rows: list[list[object]] = [["Semaine du", "Centre", "Passages"]]
    rows += [[short_date(monday), centre_name or ALL_CENTRES, visits] for monday, visits in view.weeks]
    return _csv_bytes(rows)


# ---------------------------------------------------------------- PDF

#: dark text on light cells, readable on screen and printed in grey
HEADING_FILL = (221, 231, 242)
ROW_FILL = (245, 247, 250)
RULE_GREY = (170, 178, 189)
BAR_BLUE = (31, 95, 153)
TEXT_BLACK = (0, 0, 0)


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(pdf_fonts.FAMILY, size=8)
        self.set_text_color(*TEXT_BLACK)
        self.cell(0, 8, f"Accueil — fédération des centres sociaux — page {self.page_no()}/{{nb}}", align="C")


def report_pdf(view: Overview, centre_name: str | None) -> bytes:
    rows = indicators(view)
    pdf, _family = _start_pdf(view, "Rapport d'activité", centre_name, rows)
    _key_figures(pdf, view)
    _weekly_bars(pdf, view)
    _sections(pdf, rows)
    return bytes(pdf.output())


def _start_pdf(
    view: Overview, title: str, centre_name: str | None, rows: list[tuple[str, str, Value]]
) -> tuple[FPDF, str]:
    """A report's first page: its title, the centre and the period."""
    pdf = _Report(format="A4")
    family = pdf_fonts.add_fonts(
        pdf, " ".join([title, centre_name or "", *(f"{s} {i}" for s, i, _v in rows)])
    )
    pdf.set_title(title)
    pdf.set_lang("fr")
    pdf.add_page()
    pdf.set_text_color(*TEXT_BLACK)
    pdf.set_font(family, "B", 18)
    pdf.multi_cell(0, 10, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=11)
    # a centre's name may be long: wrapped, never run off the page
    pdf.multi_cell(
        0,
        6,
        f"{centre_name or ALL_CENTRES} — du {long_date(view.period.start)} au {long_date(view.period.end)}",
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    return pdf, family


def _sections(pdf: FPDF, rows: list[tuple[str, str, Value]]) -> None:
    """One table a section, in the rows' order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for section, indicator, value in rows:
        sections.setdefault(section, []).append((indicator, _pdf_value(value)))
    for section, section_rows in sections.items():
        _table(pdf, section, section_rows)


# ---------------------------------------------------------------- a funder's own shape


def funder_csv(
    view: Overview, title: str, rows: list[tuple[str, str, Value]], centre_name: str | None
) -> bytes:
    """A funder's rows (federation.funders) as the indicators' CSV is laid out."""
    span = [short_date(view.period.start), short_date(view.period.end), centre_name or ALL_CENTRES]
    return _csv_bytes(
        [INDICATOR_HEADER]
        + [span + [section, indicator, _csv_value(value)] for section, indicator, value in rows]
    )


def funder_pdf(
    view: Overview, title: str, rows: list[tuple[str, str, Value]], centre_name: str | None
) -> bytes:
    """A funder's rows as a PDF: its title, then a table a section."""
    pdf, _family = _start_pdf(view, title, centre_name, rows)
    _sections(pdf, rows)
    return bytes(pdf.output())


def pdf_value(value: Value) -> str:
    """A value as the PDF and the dashboard print it."""
    return _pdf_value(value)


def _key_figures(pdf: FPDF, view: Overview) -> None:
    share = view.participants.qpv_share
    figures = [
        ("Passages", number(view.visits)),
        ("Participants", number(view.participants.total)),
        ("Nouveaux adhérents", number(view.new_members)),
        ("Habitants des QPV", percent(share)),
        ("Séances d'ateliers", number(view.workshop_total.sessions)),
    ]
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(figures)
    for label, value in figures:
        x = pdf.get_x()
        pdf.set_font(pdf_fonts.FAMILY, "B", 14)
        pdf.cell(width, 8, value, align="C")
        pdf.set_xy(x, pdf.get_y() + 8)
        pdf.set_font(pdf_fonts.FAMILY, size=8)
        pdf.cell(width, 5, label, align="C")
        pdf.set_xy(x + width, pdf.get_y() - 8)
    pdf.ln(16)


def _weekly_bars(pdf: FPDF, view: Overview) -> None:
    pdf.set_font(pdf_fonts.FAMILY, "B", 12)
    pdf.cell(0, 8, "Passages par semaine", new_x="LMARGIN", new_y="NEXT")
    left, top = pdf.l_margin, pdf.get_y()
    width, height = pdf.w - pdf.l_margin - pdf.r_margin, 40
    peak = max((n for _m, n in view.weeks), default=0) or 1
    slot = width / max(len(view.weeks), 1)
    pdf.set_fill_color(*BAR_BLUE)
    for i, (_monday, visits) in enumerate(view.weeks):
        bar = height * visits / peak
        if bar:
            pdf.rect(left + i * slot + slot * 0.15, top + height - bar, slot * 0.7, bar, style="F")
    pdf.set_fill_color(255, 255, 255)  # the bars' blue must not reach any cell
    pdf.line(left, top + height, left + width, top + height)
    pdf.set_font(pdf_fonts.FAMILY, size=7)
    pdf.set_xy(left, top + height + 1)
    pdf.cell(width / 2, 4, f"semaine du {long_date(view.weeks[0][0])}" if view.weeks else "")
    pdf.cell(width / 2, 4, f"maximum : {number(peak)} passages par semaine", align="R")
    pdf.set_xy(left, top + height + 8)


def _table(pdf: FPDF, title: str, rows: list[tuple[str, str]]) -> None:
    if pdf.get_y() + 30 > pdf.page_break_trigger:  # a title never alone at the foot of a page
        pdf.add_page()
    pdf.set_font(pdf_fonts.FAMILY, "B", 12)
    pdf.set_text_color(*TEXT_BLACK)
    pdf.multi_cell(0, 7, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(pdf_fonts.FAMILY, size=10)
    pdf.set_draw_color(*RULE_GREY)
    pdf.set_line_width(0.2)
    with pdf.table(
        col_widths=(3, 1),
        text_align=("LEFT", "RIGHT"),
        first_row_as_headings=True,
        headings_style=FontFace(emphasis="BOLD", color=TEXT_BLACK, fill_color=HEADING_FILL),
        cell_fill_color=ROW_FILL,
        cell_fill_mode="ROWS",
        borders_layout="HORIZONTAL_LINES",
        line_height=6,
        padding=(1, 2),
    ) as table:
        table.row(["Indicateur", "Valeur"])
        for indicator, value in rows:
            table.row([indicator, value or "—"])
    pdf.set_draw_color(*TEXT_BLACK)
    pdf.ln(3)
