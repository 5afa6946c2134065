"""Sizes from the window and the display's density: the physical minimums of
kiosk.ui.theme on every listed display, where the density comes from (the
screen's EDID, the kiosk setting, `kiosk run --dpi`), and the bad values
refused."""

from __future__ import annotations

import pytest
from test_layout import DISPLAYS

from kiosk.core.errors import InvalidInput
from kiosk.core.settings import Settings
from kiosk.ui import theme
from kiosk.ui.window_config import choose_dpi, display_dpi, edid_dpi


@pytest.mark.parametrize("width, height, dpi", DISPLAYS, ids=[f"{w}x{h}" for w, h, _d in DISPLAYS])
def test_every_size_meets_its_physical_minimum(width, height, dpi):
    sizes = theme.layout_for(width, height, dpi)
    assert sizes.touch >= theme.mm_px(theme.TARGET_MM, dpi) - 0.5
    assert sizes.least_touch >= theme.mm_px(theme.TARGET_MM, dpi)
    assert sizes.key >= theme.mm_px(theme.KEY_MM, dpi) - 0.5
    assert sizes.tile >= theme.mm_px(theme.TILE_MM, dpi) - 0.5
    assert min(sizes.text, sizes.small) * theme.CAP_TO_DESCENDER_EM >= theme.mm_px(theme.TEXT_MM, dpi) - 0.5
    assert sizes.staff_text * theme.CAP_TO_DESCENDER_EM >= theme.mm_px(theme.STAFF_TEXT_MM, dpi) - 0.5


def test_ten_keys_of_seven_millimetres_fit_720_pixels_at_210_dpi():
    sizes = theme.layout_for(720, 1280, 210)
    assert 10 * theme.mm_px(theme.KEY_MM, 210) + 9 * sizes.gap / 2 + 2 * sizes.gap <= 720


def test_large_screens_get_bigger_type_and_portrait_is_told():
    assert theme.layout_for(1920, 1080, 150).text > theme.layout_for(1280, 800, 150).text
    assert theme.layout_for(1080, 1920, 100).portrait and not theme.layout_for(1920, 1080, 100).portrait
    assert theme.layout_for(800, 480, 133).compact and not theme.layout_for(1280, 800, 150).compact


def edid(pixels: int, millimetres: int) -> bytes:
    block = bytearray(128)
    block[:8] = b"\x00\xff\xff\xff\xff\xff\xff\x00"
    dtd = bytearray(18)
    dtd[0], dtd[1] = 0x01, 0x1D  # a pixel clock: a timing, not a descriptor
    dtd[2], dtd[4] = pixels & 0xFF, (pixels >> 8) << 4
    dtd[12], dtd[14] = millimetres & 0xFF, (millimetres >> 8) << 4
    block[54:72] = dtd
    return bytes(block)


def test_the_density_is_read_from_the_screens_edid():
    assert edid_dpi(edid(1280, 217)) == pytest.approx(149.8, abs=0.1)  # a 10" 1280x800 panel
    assert edid_dpi(edid(1280, 0)) is None  # no size: a projector
    assert edid_dpi(b"\x00" * 128) is None  # not an EDID


def test_only_a_connected_screen_with_a_plausible_size_counts(tmp_path):
    def output(name: str, status: str, data: bytes) -> None:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "status").write_text(status + "\n")
        (folder / "edid").write_bytes(data)

    output("card0-HDMI-A-1", "disconnected", edid(1920, 300))
    output("card0-HDMI-A-2", "connected", edid(1920, 16))  # an aspect ratio, not millimetres
    assert display_dpi(str(tmp_path)) is None
    output("card1-DSI-1", "connected", edid(800, 154))
    assert display_dpi(str(tmp_path)) == pytest.approx(131.9, abs=0.1)


def test_kiosk_run_dpi_wins_over_the_setting_over_the_screen():
    assert choose_dpi(210, 150, 96) == 210
    assert choose_dpi(None, 150, 96) == 150
    assert choose_dpi(None, None, 96) == 96
    assert choose_dpi(None, None, None) == theme.FALLBACK_DPI


def test_the_display_dpi_setting_is_checked(store):
    settings = Settings(store)
    assert settings.get("display_dpi") is None
    settings.set("display_dpi", 133)
    assert settings.get("display_dpi") == 133
    for bad in (0, 5000, "133", 13.3):
        with pytest.raises(InvalidInput):
            settings.set("display_dpi", bad)
    assert settings.get("display_dpi") == 133


@pytest.mark.parametrize(
    "argv",
    [["run", "--dpi", "0"], ["run", "--dpi", "dense"], ["screenshot", "--out", "x.png", "--dpi", "9000"]],
)
def test_a_bad_dpi_is_refused_by_the_command(argv, capsys):
    from kiosk.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "dots per inch" in capsys.readouterr().err


def test_a_bad_screenshot_size_is_refused():
    from kiosk.ui.screenshot import parse_size

    assert parse_size("720x1280") == (720, 1280)
    for bad in ("720", "12x12", "1280 by 800", "99999x800"):
        with pytest.raises(SystemExit, match="WIDTHxHEIGHT|320 to 7680"):
            parse_size(bad)
