"""Files for funders (FEDER, CAF, SENACS) built from federation.reports.

CSV that a French Excel opens as it should: UTF-8 with a BOM (else accents
break), ';' between cells (',' is the decimal mark in France), decimal commas,
dates as dd/mm/yyyy. A PDF report with fpdf2 and a Unicode TrueType font.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from federation.reports import Overview, WorkshopFigures
from federation.formatting import (
    age_band_label, decimal_comma, gender_label, long_date, number, percent, reason_label,
    short_date, theme_label,
)
from sync import csvsafe
from sync.protocol import AGE_BANDS, GENDERS

ALL_CENTRES = "Tous les centres"
INDICATOR_HEADER = ["Début", "Fin", "Centre", "Rubrique", "Indicateur", "Valeur"]

#: Noto Sans comes with Debian's fonts-noto-core (scripts/system-deps.sh installs
#: it, the kiosk needs it too); DejaVu as a fallback. Both cover French and more.
FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
     "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
]


def _csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    # every cell, not only those thought free text: a centre's name and a
    # device's reason code reach here too, and either may start with '='
    writer.writerows(csvsafe.row(row) for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- indicators

def indicator_rows(view: Overview) -> list[tuple[str, str, str]]:
    """(section, indicator, value) in the order funders' forms ask for them.
    Values are text: whole numbers, or a percentage with a decimal comma."""
    people = view.participants
    rows = [("Participants", "Participants (adhérents distincts venus)", str(people.total))]
    rows += [("Participants par sexe", gender_label(g), str(n)) for g, n in people.by_gender()]
    rows += [("Participants par tranche d'âge", age_band_label(b), str(n))
             for b, n in people.by_age_band()]
    crossed = people.by_gender_and_age()
    for gender in [*GENDERS, None]:
        for band in AGE_BANDS:
            if crossed.get((gender, band)):
                rows.append(("Participants par sexe et tranche d'âge",
                             f"{gender_label(gender)}, {age_band_label(band)}",
                             str(crossed[(gender, band)])))
    rows += [
        ("Quartiers prioritaires (QPV)", "Participants habitant un QPV", str(people.qpv)),
        ("Quartiers prioritaires (QPV)", "Participants dont le quartier est connu", str(people.qpv_known)),
        ("Quartiers prioritaires (QPV)", "Part des habitants des QPV (%)",
         decimal_comma(None if people.qpv_share is None else people.qpv_share * 100)),
        ("Adhérents", "Nouveaux adhérents", str(view.new_members)),
    ]
    rows += _workshop_rows("Ateliers", "", view.workshop_total)
    for theme in view.themes:
        rows += _workshop_rows("Ateliers par thème", f"{theme_label(theme.theme)} : ", theme)
    rows.append(("Passages", "Total des passages", str(view.visits)))
    rows += [("Passages par motif", reason_label(r), str(n)) for r, n in view.reasons]
    return rows


def _workshop_rows(section: str, prefix: str, figures: WorkshopFigures) -> list[tuple[str, str, str]]:
    rate = figures.attendance_rate
    return [
        (section, f"{prefix}Séances tenues", str(figures.sessions)),
        (section, f"{prefix}Inscriptions", str(figures.booked)),
        (section, f"{prefix}Liste d'attente", str(figures.waitlisted)),
        (section, f"{prefix}Présents", str(figures.present)),
        (section, f"{prefix}dont venus sans inscription", str(figures.walk_ins)),
        (section, f"{prefix}Taux de présence des inscrits (%)",
         decimal_comma(None if rate is None else rate * 100)),
    ]


def indicators_csv(view: Overview, centre_name: str | None) -> bytes:
    span = [short_date(view.period.start), short_date(view.period.end), centre_name or ALL_CENTRES]
    return _csv_bytes([INDICATOR_HEADER] + [span + list(row) for row in indicator_rows(view)])


def visits_per_week_csv(view: Overview, centre_name: str | None) -> bytes:
    rows = [["Semaine du", "Centre", "Passages"]]
    rows += [[short_date(monday), centre_name or ALL_CENTRES, visits] for monday, visits in view.weeks]
    return _csv_bytes(rows)


# ---------------------------------------------------------------- PDF

def _font_paths() -> tuple[str, str]:
    for regular, bold in FONT_CANDIDATES:
        if Path(regular).exists() and Path(bold).exists():
            return regular, bold
    raise FileNotFoundError("no Unicode font found: install fonts-noto-core (scripts/system-deps.sh)")


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Sans", size=8)
        self.cell(0, 8, f"Accueil — fédération des centres sociaux — page {self.page_no()}/{{nb}}",
                  align="C")


def report_pdf(view: Overview, centre_name: str | None) -> bytes:
    pdf = _Report(format="A4")
    regular, bold = _font_paths()
    pdf.add_font("Sans", "", regular)
    pdf.add_font("Sans", "B", bold)
    pdf.set_title("Rapport d'activité")
    pdf.set_lang("fr")
    pdf.add_page()
    pdf.set_font("Sans", "B", 18)
    pdf.cell(0, 10, "Rapport d'activité", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Sans", size=11)
    pdf.cell(0, 7, f"{centre_name or ALL_CENTRES} — du {long_date(view.period.start)} "
                   f"au {long_date(view.period.end)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _key_figures(pdf, view)
    _weekly_bars(pdf, view)
    sections: dict[str, list[tuple[str, str]]] = {}
    for section, indicator, value in indicator_rows(view):
        sections.setdefault(section, []).append((indicator, value))
    for section, rows in sections.items():
        _table(pdf, section, rows)
    return bytes(pdf.output())


def _key_figures(pdf: FPDF, view: Overview) -> None:
    share = view.participants.qpv_share
    figures = [("Passages", number(view.visits)), ("Participants", number(view.participants.total)),
               ("Nouveaux adhérents", number(view.new_members)),
               ("Habitants des QPV", percent(share)),
               ("Séances d'ateliers", number(view.workshop_total.sessions))]
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(figures)
    for label, value in figures:
        x = pdf.get_x()
        pdf.set_font("Sans", "B", 14)
        pdf.cell(width, 8, value, align="C")
        pdf.set_xy(x, pdf.get_y() + 8)
        pdf.set_font("Sans", size=8)
        pdf.cell(width, 5, label, align="C")
        pdf.set_xy(x + width, pdf.get_y() - 8)
    pdf.ln(16)


def _weekly_bars(pdf: FPDF, view: Overview) -> None:
    pdf.set_font("Sans", "B", 12)
    pdf.cell(0, 8, "Passages par semaine", new_x="LMARGIN", new_y="NEXT")
    left, top = pdf.l_margin, pdf.get_y()
    width, height = pdf.w - pdf.l_margin - pdf.r_margin, 40
    peak = max((n for _m, n in view.weeks), default=0) or 1
    slot = width / max(len(view.weeks), 1)
    pdf.set_fill_color(31, 95, 153)
    for i, (_monday, visits) in enumerate(view.weeks):
        bar = height * visits / peak
        if bar:
            pdf.rect(left + i * slot + slot * 0.15, top + height - bar, slot * 0.7, bar, style="F")
    pdf.line(left, top + height, left + width, top + height)
    pdf.set_font("Sans", size=7)
    pdf.set_xy(left, top + height + 1)
    pdf.cell(width / 2, 4, f"semaine du {long_date(view.weeks[0][0])}" if view.weeks else "")
    pdf.cell(width / 2, 4, f"maximum : {number(peak)} passages par semaine", align="R")
    pdf.set_xy(left, top + height + 8)


def _table(pdf: FPDF, title: str, rows: list[tuple[str, str]]) -> None:
    pdf.set_font("Sans", "B", 12)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Sans", size=10)
    with pdf.table(col_widths=(3, 1), text_align=("LEFT", "RIGHT"), first_row_as_headings=True,
                   headings_style=FontFace(emphasis="BOLD")) as table:
        table.row(["Indicateur", "Valeur"])
        for indicator, value in rows:
            table.row([indicator, value or "—"])
    pdf.ln(2)
