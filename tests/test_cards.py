"""Member cards: the CR80 PDF, A4 sheets, the QR decoded back, ESC/POS bytes."""

from __future__ import annotations

import socket
import subprocess
import threading

import centre_rows as rows
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from kiosk.core import card_print
from kiosk.core.errors import InvalidInput, NotFound
from kiosk.core.settings import Settings

MM = 72 / 25.4  # PDF points per millimetre


@pytest.fixture
def filled(store):
    rows.fill(store)
    Settings(store).set("centre_name", "Centre social Éclair — Boulogne")
    return store


def decoded_qr_codes(page) -> list[str]:
    found = []
    for image in page.images:
        found += [barcode.text for barcode in zxingcpp.read_barcodes(image.image)]
    return found


def test_one_member_gives_one_cr80_card_with_name_centre_code_and_qr(filled, tmp_path):
    out = tmp_path / "carte.pdf"
    assert card_print.cards_pdf(filled, out, [rows.AICHA]) == 1
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(85.6 * MM, abs=0.1)
    assert float(box.height) == pytest.approx(54 * MM, abs=0.1)
    text = reader.pages[0].extract_text()
    for expected in ("Aïcha", "Centre social Éclair — Boulogne", "K7QM-3XPD", "Carte d'adhérent"):
        assert expected in text
    assert "Benali" not in text  # a lost card names nobody
    assert decoded_qr_codes(reader.pages[0]) == ["K7QM3XPD"]


def test_a_batch_is_laid_out_ten_to_an_a4_sheet_in_the_order_asked(filled, tmp_path):
    # 12 members: the 3 of the fixture and 9 more
    ids = [rows.JEAN, rows.AICHA, rows.MALLORY]
    with filled.transaction():
        for n in range(9):
            member_id = f"0190aaaa-0000-7000-8000-0000000001{n:02d}"
            rows.member(filled, member_id, f"Prénom{n}", "X", card=f"CODE{n:04d}")
            ids.append(member_id)
    out = tmp_path / "cartes.pdf"
    assert card_print.cards_pdf(filled, out, ids) == 12
    reader = PdfReader(out)
    assert len(reader.pages) == 2
    assert float(reader.pages[0].mediabox.width) == pytest.approx(210 * MM, abs=0.1)
    first = decoded_qr_codes(reader.pages[0])
    assert first[:3] == ["H4Z22XXA", "K7QM3XPD", "MMMM2345"] and len(first) == 10
    assert decoded_qr_codes(reader.pages[1]) == ["CODE0007", "CODE0008"]
    assert "Prénom8" in reader.pages[1].extract_text()


def test_without_ids_every_member_with_a_card_is_printed(filled, tmp_path):
    out = tmp_path / "toutes.pdf"
    assert card_print.cards_pdf(filled, out) == 3  # the erased member has none
    assert sorted(decoded_qr_codes(PdfReader(out).pages[0])) == ["H4Z22XXA", "K7QM3XPD", "MMMM2345"]


def test_a_sheet_has_cut_marks_in_its_margins(filled, tmp_path):
    out = tmp_path / "cartes.pdf"
    card_print.cards_pdf(filled, out, [rows.AICHA, rows.JEAN])
    content = PdfReader(out).pages[0].get_contents().get_data().decode("latin-1")
    # 3 vertical and 6 horizontal card edges, marked on both sides
    assert content.count(" l S") >= 2 * (3 + 6)


def test_an_unknown_or_erased_member_is_named(filled, tmp_path):
    for wrong in ("0190ffff-0000-7000-8000-000000000000", rows.ERASED):
        with pytest.raises(NotFound) as refused:
            card_print.cards_pdf(filled, tmp_path / "x.pdf", [rows.AICHA, wrong])
        assert refused.value.field == "member_id" and wrong in refused.value.message_fr
    assert not (tmp_path / "x.pdf").exists()


def test_a_very_long_first_name_is_shrunk_to_fit(filled, tmp_path):
    with filled.transaction():
        filled.conn.execute(
            "UPDATE members SET first_name = ? WHERE id = ?",
            ("Marie-Bernadette-Françoise-Gwendoline", rows.AICHA),
        )
    out = tmp_path / "carte.pdf"
    card_print.cards_pdf(filled, out, [rows.AICHA])
    assert "Marie-Bernadette" in PdfReader(out).pages[0].extract_text()


def test_escpos_card_holds_a_well_formed_qr_command(filled):
    member = {"first_name": "Aïcha", "card_code": "K7QM3XPD"}
    data = card_print.escpos_card(member, "Centre social Éclair")
    assert data.startswith(b"\x1b@") and data.endswith(b"\x1dVB\x03")
    store_cmd = b"\x1d(k"
    commands = []
    at = data.find(store_cmd)
    while at != -1:
        size = data[at + 3] + 256 * data[at + 4]
        commands.append(data[at + 5 : at + 5 + size])
        at = data.find(store_cmd, at + 5 + size)
    assert commands == [b"1A2\x00", b"1C\x08", b"1E1", b"1P0K7QM3XPD", b"1Q0"]
    assert "Aïcha".encode("cp858") in data and "Éclair".encode("cp858") in data
    assert b"K7QM-3XPD" in data


def test_escpos_bytes_reach_a_network_printer_and_a_device_file(tmp_path):
    data = card_print.escpos_card({"first_name": "Jean", "card_code": "ABCD2345"}, "Centre")
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def printer():
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(4096):
                received.extend(chunk)

    thread = threading.Thread(target=printer)
    thread.start()
    card_print.send_escpos(data, f"tcp://127.0.0.1:{server.getsockname()[1]}")
    thread.join(5)
    server.close()
    assert bytes(received) == data
    device = tmp_path / "lp0"
    card_print.send_escpos(data, str(device))
    assert device.read_bytes() == data


def test_an_unreachable_printer_is_a_clear_error(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(InvalidInput) as refused:
        card_print.send_escpos(b"x", f"tcp://127.0.0.1:{port}", timeout=1)
    assert refused.value.field == "printer" and "ne répond pas" in refused.value.message_fr


def test_the_printed_card_scans_back_at_300_dpi(filled, tmp_path):
    """Render the page as a printer would (poppler, scripts/system-deps.sh test)
    and read the QR from the picture, not from the embedded image."""
    out = tmp_path / "carte.pdf"
    card_print.cards_pdf(filled, out, [rows.JEAN])
    subprocess.run(
        ["pdftoppm", "-r", "300", "-png", "-singlefile", str(out), str(tmp_path / "page")], check=True
    )
    picture = Image.open(tmp_path / "page.png")
    assert picture.size == pytest.approx((round(85.6 / 25.4 * 300), round(54 / 25.4 * 300)), abs=2)
    assert [b.text for b in zxingcpp.read_barcodes(picture)] == ["H4Z22XXA"]


def test_a_member_can_be_named_by_the_code_printed_on_their_card(filled, tmp_path):
    out = tmp_path / "carte.pdf"
    card_print.cards_pdf(filled, out, ["k7qm-3xpd"])
    assert decoded_qr_codes(PdfReader(out).pages[0]) == ["K7QM3XPD"]


def test_printing_cards_in_a_pin_mode_is_audited(filled, tmp_path):
    card_print.cards_pdf(
        filled, tmp_path / "c.pdf", [rows.JEAN], actor={"id": rows.STAFF_ID, "name": "Nadia"}
    )
    entry = filled.one("SELECT * FROM audit_log WHERE action = 'cards.print'")
    assert entry["actor_name"] == "Nadia" and rows.JEAN in entry["detail"]


def test_an_arabic_first_name_is_printed_with_an_embedded_unicode_font(filled, tmp_path):
    """(That harfbuzz joins the letters right to left was checked by eye on
    the rendered card; pypdf's text cannot tell shaped glyphs apart.)"""
    with filled.transaction():
        filled.conn.execute("UPDATE members SET first_name = ? WHERE id = ?", ("فاطمة", rows.AICHA))
    out = tmp_path / "carte.pdf"
    card_print.cards_pdf(filled, out, [rows.AICHA])
    assert "فاطمة" in PdfReader(out).pages[0].extract_text()
    assert b"/Identity-H" in out.read_bytes()


def _rename(store, member_id: str, first_name: str) -> None:
    with store.transaction():
        store.conn.execute("UPDATE members SET first_name = ? WHERE id = ?", (first_name, member_id))


def pdftotext(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("name", ["李", "佐藤 さくら", "𞤀𞤣𞤤𞤢𞤥", "ትግስት", "ਗੁਰਪ੍ਰੀਤ", "Ⴀ Ნინო", "ⵜⵉⴼⵉⵏⴰⵖ"])
def test_a_first_name_in_any_script_a_font_has_comes_out_on_the_card(filled, tmp_path, name):
    _rename(filled, rows.AICHA, name)
    out = tmp_path / "carte.pdf"
    assert card_print.cards_pdf(filled, out, [rows.AICHA]) == 1
    text = pdftotext(out)
    assert name in text or name[::-1] in text  # pdftotext gives right-to-left Adlam in visual order


def test_a_sheet_embeds_only_the_fallback_fonts_its_names_need(filled, tmp_path):
    _rename(filled, rows.AICHA, "李")
    out = tmp_path / "cartes.pdf"
    card_print.cards_pdf(filled, out, [rows.AICHA, rows.JEAN])
    text, data = pdftotext(out), out.read_bytes()
    assert "李" in text and "Jean" in text
    assert b"DroidSansFallback" in data and b"NotoSansAdlam" not in data


@pytest.mark.parametrize(
    "name, shown", [("𗀀𗀁", "« 𗀀 » (U+17000), « 𗀁 » (U+17001)"), ("Léa 🧿", "« 🧿 » (U+1F9FF)")]
)
def test_a_name_no_font_can_print_is_refused_naming_the_characters(filled, tmp_path, name, shown):
    _rename(filled, rows.JEAN, name)
    out = tmp_path / "cartes.pdf"
    with pytest.raises(InvalidInput) as refused:
        card_print.cards_pdf(filled, out, [rows.AICHA, rows.JEAN])
    assert refused.value.field == "first_name" and refused.value.value == rows.JEAN
    assert f"« {name} »" in refused.value.message_fr and shown in refused.value.message_fr
    assert not out.exists()


def raster_images(data: bytes) -> list[Image.Image]:
    """The GS v 0 raster images of an ESC/POS ticket, as images (black = ink)."""
    images, at = [], data.find(b"\x1dv0")
    while at != -1:
        row = data[at + 4] + 256 * data[at + 5]
        height = data[at + 6] + 256 * data[at + 7]
        bits = data[at + 8 : at + 8 + row * height]
        assert len(bits) == row * height  # the command is whole
        images.append(Image.frombytes("1", (row * 8, height), bits))
        at = data.find(b"\x1dv0", at + 8 + row * height)
    return images


@pytest.mark.parametrize("name", ["李", "فاطمة", "ትግስት"])
def test_a_receipt_card_draws_a_name_its_code_page_lacks(name):
    data = card_print.escpos_card({"first_name": name, "card_code": "K7QM3XPD"}, "Centre")
    (image,) = raster_images(data)
    inked = sum(image.getdata()) // 255
    assert image.height >= 20 and 0.05 < inked / (image.width * image.height) < 0.9
    outside = data[: data.find(b"\x1dv0")] + data[data.rfind(b"\nK7QM-3XPD") :]
    assert b"?" not in outside and b"non imprimables" not in outside


def test_a_latin_name_stays_text_on_a_receipt_card():
    data = card_print.escpos_card({"first_name": "Aïcha", "card_code": "K7QM3XPD"}, "Centre")
    assert raster_images(data) == [] and b"\x1d!\x11" + "Aïcha".encode("cp858") in data


def test_a_receipt_card_names_the_characters_no_font_has():
    data = card_print.escpos_card({"first_name": "𗀀 Léa", "card_code": "K7QM3XPD"}, "Centre")
    assert len(raster_images(data)) == 1  # what can be drawn is
    assert b"(caract\x8ares non imprimables : U+17000)" in data
