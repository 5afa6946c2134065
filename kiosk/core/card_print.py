"""Printing member cards: a PDF at credit-card size, or a receipt-printer ticket.

A card (CR80, 85.6 × 54 mm) carries the QR code of the member's card code,
their first name, the centre's name and the code in plain text (read aloud or
typed when the camera fails). It never carries the last name or anything
else: a lost card tells a finder nothing.

One member gives a one-card page, for card printers that take a CR80 PDF;
several give A4 sheets of ten with cut marks, for an ordinary printer.

ESC/POS (receipt printers) is an option: ``escpos_card`` returns the raw
bytes, which ``send_escpos`` writes to a USB printer's device file
(``/dev/usb/lp0``) or to a network printer's raw port (``tcp://192.168.1.50:9100``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from pathlib import Path

import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

from kiosk.core.cards import normalise, printable
from kiosk.core.errors import N_, InvalidInput, NotFound
from kiosk.core.files import atomic_output
from kiosk.core.pdf_fonts import add_fonts, fit_text, single_font, unprintable
from kiosk.core.settings import Settings
from kiosk.core.store import Store

CARD_W, CARD_H = 85.6, 54.0  # ISO/IEC 7810 ID-1 (CR80), mm
A4_W, A4_H = 210.0, 297.0
COLUMNS, ROWS = 2, 5
PER_SHEET = COLUMNS * ROWS
MARK = 5.0  # length of a cut mark, mm
QR_SIZE = 38.0  # mm: about 1.1 mm a module for a 29-module code, easy for a webcam
LABEL = "Carte d'adhérent"


def qr_image(code: str):
    """The QR code of ``code`` as a Pillow image, with its quiet zone."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=12, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("L")


# ---------------------------------------------------------------- PDF


def members_for_cards(store: Store, member_ids: Iterable[str] | None) -> list[dict]:
    """The members to print, in the order asked (each by id, or by its card
    code as printed); every member with a card if None."""
    if member_ids is None:
        return store.query(
            "SELECT id, first_name, card_code FROM members WHERE erased_at IS NULL "
            "AND card_code IS NOT NULL ORDER BY first_name COLLATE NOCASE, id"
        )
    found = []
    for member_id in member_ids:
        code = normalise(member_id)
        row = store.one(
            "SELECT id, first_name, card_code FROM members WHERE (id = ? OR card_code = ?) "
            "AND erased_at IS NULL",
            (member_id, code),
        )
        if row is None:
            raise NotFound(
                "member_id",
                N_("Aucun adhérent avec l'identifiant %(member_id)s."),
                f"no member {member_id!r}",
                value=member_id,
                member_id=member_id,
            )
        if not row["card_code"]:
            raise InvalidInput(
                "member_id",
                N_("Cet adhérent n'a pas de code de carte."),
                f"member {member_id!r} has no card code",
                value=member_id,
            )
        found.append(row)
    return found


def cards_pdf(
    store: Store, out_path: str | Path, member_ids: Iterable[str] | None = None, actor: dict | None = None
) -> int:
    """Write the cards of ``member_ids`` (all members if None) to ``out_path``;
    returns how many cards. One card: a CR80 page; more: A4 sheets. Audited
    (first names leave the kiosk on paper) when an ``actor`` is given."""
    members = members_for_cards(store, member_ids)
    if not members:
        raise InvalidInput("member_id", N_("Aucune carte à imprimer."), "no member to print a card for")
    centre = Settings(store).get("centre_name")
    texts = [centre, LABEL] + [member["first_name"] or "" for member in members]
    _refuse_unprintable(members, centre)
    if len(members) == 1:
        pdf = FPDF(unit="mm", format=(CARD_W, CARD_H))
        family = _prepare(pdf, texts)
        pdf.add_page()
        draw_card(pdf, family, 0, 0, members[0], centre)
    else:
        pdf = FPDF(unit="mm", format="A4")
        family = _prepare(pdf, texts)
        for first in range(0, len(members), PER_SHEET):
            pdf.add_page()
            _sheet(pdf, family, members[first : first + PER_SHEET], centre)
    pdf.set_title(f"Cartes d'adhérent — {centre}")
    with atomic_output(out_path) as handle:
        handle.write(bytes(pdf.output()))
    if actor is not None:
        with store.transaction():
            store.audit(actor, "cards.print", file=str(out_path), members=[m["id"] for m in members])
    return len(members)


def _refuse_unprintable(members: list[dict], centre: str) -> None:
    """A card whose name would print blank or cut is not printed: say which
    characters no font of the kiosk has, and whose name holds them."""
    missing = unprintable([centre])
    if missing:
        raise InvalidInput(
            "centre_name",
            N_(
                "Le nom du centre contient des caractères qu'aucune police de "
                "la borne ne sait imprimer : %(characters)s. Aucune carte n'a "
                "été écrite."
            ),
            f"no installed font has {missing!r}",
            value=centre,
            characters=_listed(missing),
        )
    missing_anywhere = set(unprintable([member["first_name"] or "" for member in members]))
    for member in members if missing_anywhere else []:
        missing = sorted(missing_anywhere & set(member["first_name"] or ""))
        if missing:
            raise InvalidInput(
                "first_name",
                N_(
                    "Le prénom « %(name)s » contient des caractères qu'aucune police de la "
                    "borne ne sait imprimer : %(characters)s. Aucune carte n'a été écrite : "
                    "corrigez l'orthographe du prénom, ou installez une police qui a ces "
                    "caractères."
                ),
                f"no installed font has {missing!r} (member {member['id']})",
                value=member["id"],
                name=member["first_name"],
                characters=_listed(missing),
            )


def _listed(characters: list[str]) -> str:
    """« 𗀀 » (U+17000), … : the character and its code, which a technician can look up."""
    return ", ".join(f"« {char} » (U+{ord(char):04X})" for char in characters[:10])


def _prepare(pdf: FPDF, texts: list[str]) -> str:
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    return add_fonts(pdf, texts)


def _sheet(pdf: FPDF, family: str, members: list[dict], centre: str) -> None:
    """Ten cards edge to edge, centred, with cut marks in the margins on
    every card edge: one guillotine cut a line."""
    left = (A4_W - COLUMNS * CARD_W) / 2
    top = (A4_H - ROWS * CARD_H) / 2
    for index, member in enumerate(members):
        column, row = index % COLUMNS, index // COLUMNS
        draw_card(pdf, family, left + column * CARD_W, top + row * CARD_H, member, centre)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    for column in range(COLUMNS + 1):
        x = left + column * CARD_W
        pdf.line(x, top - 2 - MARK, x, top - 2)
        pdf.line(x, top + ROWS * CARD_H + 2, x, top + ROWS * CARD_H + 2 + MARK)
    for row in range(ROWS + 1):
        y = top + row * CARD_H
        pdf.line(left - 2 - MARK, y, left - 2, y)
        pdf.line(left + COLUMNS * CARD_W + 2, y, left + COLUMNS * CARD_W + 2 + MARK, y)


def draw_card(pdf: FPDF, family: str, x: float, y: float, member: dict, centre: str) -> None:
    """One card with its top-left corner at (x, y), in mm."""
    pdf.set_fill_color(0, 94, 140)  # the centre's band, dark enough for white text
    pdf.rect(x, y, CARD_W, 10, style="F")
    pdf.set_text_color(255)
    pdf.set_font(family, "B", 10)
    pdf.set_xy(x + 3, y + 1.5)
    pdf.cell(CARD_W - 6, 7, fit_text(pdf, centre, CARD_W - 6), align="L")
    pdf.image(qr_image(member["card_code"]), x=x + 2, y=y + 12.5, w=QR_SIZE, h=QR_SIZE)
    text_x, text_w = x + QR_SIZE + 4, CARD_W - QR_SIZE - 7
    pdf.set_text_color(90)
    pdf.set_font(family, "", 7)
    pdf.set_xy(text_x, y + 15)
    pdf.cell(text_w, 4, LABEL)
    pdf.set_text_color(0)
    pdf.set_font(family, "B", 15)
    pdf.set_xy(text_x, y + 21)
    pdf.cell(text_w, 8, fit_text(pdf, member["first_name"] or "", text_w))
    pdf.set_font(family, "B", 12)
    pdf.set_xy(text_x, y + 38)
    pdf.cell(text_w, 6, printable(member["card_code"]))


# ---------------------------------------------------------------- ESC/POS

ESC, GS = b"\x1b", b"\x1d"
#: PC858 (Latin-1 with €): the code page of Epson-compatible printers for French.
CODE_PAGE, CODE_PAGE_NUMBER = "cp858", 19


def _qr_function(fn: int, payload: bytes) -> bytes:
    """GS ( k — the 2D code command: cn=49 (QR), then function ``fn``."""
    size = len(payload) + 2
    return GS + b"(k" + bytes([size % 256, size // 256, 49, fn]) + payload


def escpos_card(member: dict, centre_name: str, qr_size: int = 8) -> bytes:
    """A member card as raw ESC/POS bytes for an 80 mm receipt printer. A
    first name the printer's code page cannot write (Arabic, Chinese…) is
    printed as an image drawn with the PDF cards' fonts; characters no font
    has are named on the ticket instead of printing as « ? »."""

    def text(value: str) -> bytes:
        return value.encode(CODE_PAGE, errors="replace")

    code = member["card_code"].encode("ascii")
    return b"".join(
        [
            ESC + b"@",  # initialise
            ESC + b"t" + bytes([CODE_PAGE_NUMBER]),
            ESC + b"a\x01",  # centred
            ESC + b"E\x01",
            text(centre_name),
            b"\n",
            ESC + b"E\x00",
            text("Carte d'adhérent"),
            b"\n\n",
            _qr_function(65, b"\x32\x00"),  # model 2
            _qr_function(67, bytes([qr_size])),  # module size in dots
            _qr_function(69, b"\x31"),  # error correction M
            _qr_function(80, b"\x30" + code),  # store the data
            _qr_function(81, b"\x30"),  # print it
            b"\n",
            _escpos_name(member["first_name"] or ""),
            text(printable(member["card_code"])),
            b"\n",
            GS + b"V\x42\x03",  # feed 3 lines and cut
        ]
    )


#: The raster name's height and widest line, in printer dots (203 dpi: an
#: 80 mm printer prints 72 mm, 576 dots, a line).
NAME_DOTS, LINE_DOTS = 48, 576


def _escpos_name(name: str) -> bytes:
    """The first name in double size, as text when the code page has it,
    else as a raster image (GS v 0)."""
    try:
        return GS + b"!\x11" + name.encode(CODE_PAGE) + b"\n" + GS + b"!\x00"
    except UnicodeEncodeError:
        pass
    font_path, missing = single_font(name)
    shown = "".join(char for char in name if char not in missing)
    lines = [_raster(shown, font_path)] if shown.strip() else []
    if missing:
        lines.append(
            (
                "(caractères non imprimables : " + ", ".join(f"U+{ord(c):04X}" for c in missing[:6]) + ")\n"
            ).encode(CODE_PAGE, errors="replace")
        )
    return b"".join(lines)


def _raster(text: str, font_path: Path) -> bytes:
    """``text`` drawn black on white, shaped (harfbuzz through Pillow's raqm
    layout where available), as an ESC/POS raster image command."""
    from PIL import Image, ImageDraw, ImageFont

    size = NAME_DOTS
    while True:
        font = ImageFont.truetype(str(font_path), size)
        left, top, right, bottom = map(int, font.getbbox(text))  # whole dots (FreeType's are already)
        if right - left <= LINE_DOTS or size <= 16:
            break
        size -= 4
    width, height = min(LINE_DOTS, max(8, right - left)), max(1, bottom - top)
    image = Image.new("1", (width, height), 0)
    # in mode "1" a set bit is 255: the dots the printer burns black
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill=255)
    row = (width + 7) // 8
    return (
        GS + b"v0\x00" + bytes([row % 256, row // 256, height % 256, height // 256]) + image.tobytes() + b"\n"
    )


def send_escpos(data: bytes, target: str, timeout: float = 5.0) -> None:
    """Send raw bytes to a printer: a device file path, or tcp://host[:port]
    (port 9100 by default, the raw printing port)."""
    if target.startswith("tcp://"):
        host, _, port = target[len("tcp://") :].partition(":")
        try:
            with socket.create_connection((host, int(port or 9100)), timeout=timeout) as conn:
                conn.sendall(data)
        except (OSError, ValueError) as exc:
            raise _printer_error(target, exc) from exc
        return
    try:
        with open(target, "wb") as device:
            device.write(data)
    except OSError as exc:
        raise _printer_error(target, exc) from exc


def _printer_error(target: str, exc: Exception) -> InvalidInput:
    return InvalidInput(
        "printer",
        N_("L'imprimante %(printer)s ne répond pas. Est-elle allumée et branchée ?"),
        f"printer {target!r} unreachable: {exc}",
        value=target,
        printer=target,
    )
