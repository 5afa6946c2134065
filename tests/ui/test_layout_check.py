"""The layout test's eyes (layoutcheck.py) see each defect it is meant to
catch, on widgets broken on purpose, and see none on a sound layout."""

from __future__ import annotations

import pytest
from kivy.core.window import Window
from kivy.uix.button import Button
from kivyhelp import settle
from layoutcheck import problems

from kiosk.ui import offscreen
from kiosk.ui.widgets import KioskLabel, ShortLabel

pytestmark = pytest.mark.ui

DPI = 150  # 9 mm = 53 px, 4 mm of text = a 25 px font


def place(board, widget, x, y, w, h):
    widget.size_hint = (None, None)
    widget.pos, widget.size = (x, y), (w, h)
    board.add_widget(widget)
    return widget


def look(board) -> list[str]:
    offscreen.frames(2)
    settle(board)
    for child in board.children:
        if hasattr(child, "texture_update"):
            child.texture_update()
    return problems(board, DPI, resident=True)


def test_a_sound_layout_has_no_problem(board):
    place(board, KioskLabel(text="Je suis là", font_size=30), 10, 10, 300, 60)
    place(board, Button(text="OK", font_size=30), 10, 100, 120, 80)
    place(board, Button(text="Non", font_size=30), 140, 100, 120, 80)
    assert look(board) == []


def test_text_spilling_out_of_its_box_is_seen(board):
    place(board, KioskLabel(text="Une question, une information, un papier", font_size=30), 10, 10, 200, 40)
    assert any("spills out of its box" in p for p in look(board))


def test_a_word_broken_across_lines_is_seen(board):
    # the defect of the 800x480 home screen: the centre's name one letter a line
    place(board, KioskLabel(text="Accompagnement administratif", font_size=30), 10, 10, 120, 400)
    assert any("breaks a word across lines" in p for p in look(board))


def test_an_ellipsis_is_seen_unless_the_whole_text_is_one_tap_away(board):
    text = "Accompagnement administratif et numérique : vos courriers de la CAF"
    place(board, KioskLabel(text=text, font_size=30, shorten=True), 10, 10, 300, 50)
    place(board, ShortLabel(text=text, font_size=30), 10, 100, 300, 50)
    found = look(board)
    assert sum("shortened with an ellipsis" in p for p in found) == 1


def test_overlapping_targets_are_seen(board):
    # the defect of the 800x480 keyboard: rows drawn over each other
    place(board, Button(text="A", font_size=30), 10, 10, 80, 80)
    place(board, Button(text="Q", font_size=30), 10, 60, 80, 80)
    assert any("overlap" in p for p in look(board))


def test_a_widget_outside_the_window_is_seen(board):
    place(board, Button(text="Suivants", font_size=30), Window.width - 50, 10, 200, 80)
    assert any("outside the" in p for p in look(board))


def test_targets_and_text_under_the_physical_minimums_are_seen(board):
    place(board, Button(text="x", font_size=30), 10, 10, 40, 40)  # 7.6 mm at 150 dpi
    small = place(board, KioskLabel(text="petit"), 10, 200, 300, 60)
    small.font_size = 16  # after the kv rule, which sizes it from kiosk.ui.sizes
    found = look(board)
    assert any("under 9 mm" in p for p in found)
    assert any("KioskLabel 'petit' is 16 px" in p for p in found)


def test_a_real_screen_broken_on_purpose_fails(app):
    """The home screen passes at 800x480; squeeze the centre's name and it
    no longer does (the defect the layout test was written against)."""
    from kiosk.ui.sizes import sizes

    Window.size = (800, 480)
    sizes.follow(Window, 133)
    try:
        app.centre_name = "Centre social et culturel intercommunal de l'Accompagnement administratif"
        app.go("home")
        offscreen.frames(3)
        settle(app.sm.current_screen)
        assert problems(app.root, 133, resident=True) == []
        name = app.root.ids.centre_name
        name.size_hint_x, name.width = None, 60
        offscreen.frames(3)
        settle(name)
        assert any("breaks a word across lines" in p for p in problems(app.root, 133, resident=True))
    finally:
        Window.size = offscreen.SIZE
        sizes.follow(Window, 96)
