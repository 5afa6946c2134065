"""`kiosk screenshot` renders a screen with no display into a 1280x800 PNG."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from kiosk.core.centre import Centre


@pytest.mark.slow
@pytest.mark.parametrize("screen, lang", [("home", "fr"), ("workshops", "ar")])
def test_screenshot_writes_the_screen_as_a_png(tmp_path, screen, lang):
    db = tmp_path / "centre.db"
    Centre.open(db).close()
    out = tmp_path / f"{screen}.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "screenshot",
            "--db",
            str(db),
            "--screen",
            screen,
            "--lang",
            lang,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    image = Image.open(out)
    assert image.size == (1280, 800)
    assert len(set(image.convert("L").getdata())) > 10  # something was drawn, not a blank frame


@pytest.mark.slow
def test_screenshots_at_another_size_and_density_into_a_folder(tmp_path):
    db = tmp_path / "centre.db"
    Centre.open(db).close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "screenshot",
            "--db",
            str(db),
            "--screen",
            "home,staff_home",
            "--lang",
            "fr,ar",
            "--size",
            "720x1280",
            "--dpi",
            "210",
            "--out",
            str(tmp_path / "shots"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert written == [
        "home-720x1280-ar.png",
        "home-720x1280-fr.png",
        "staff_home-720x1280-ar.png",
        "staff_home-720x1280-fr.png",
    ]
    for name in written:
        image = Image.open(tmp_path / "shots" / name)
        assert image.size == (720, 1280)
        assert len(set(image.convert("L").getdata())) > 10


def test_an_unknown_screen_is_refused_with_the_list(tmp_path):
    db = tmp_path / "centre.db"
    Centre.open(db).close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "screenshot",
            "--db",
            str(db),
            "--screen",
            "nope",
            "--out",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "unknown screen 'nope'" in done.stderr and "workshops" in done.stderr
