"""FitLabel keeps its text within its box as drawn, not only as measured:
SDL_ttf's fonts can measure the same words a few pixels apart from one
moment to the next, so the size ``fit`` chose may draw one line more."""

from __future__ import annotations

import pytest
from kivyhelp import settle

from kiosk.ui import offscreen, widgets
from kiosk.ui.i18n import _, shape
from kiosk.ui.widgets import FitLabel

pytestmark = pytest.mark.ui

WORDS = {
    "fr": "Accompagnement administratif et numérique : comprendre ses courriers de la CAF",
    "ar": "مرافقة إدارية ورقمية: فهم رسائل صندوق الإعانات العائلية وملء التصريحات عبر الإنترنت",
}


def fit_label(board, text: str, wanted: float, least: float, size: tuple[int, int]) -> FitLabel:
    label = FitLabel(size_hint=(None, None), pos=(10, 10))
    label.wanted, label.least, label.size, label.text = wanted, least, size, text  # over widgets.kv's sizes
    board.add_widget(label)
    return label


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_text_measured_to_fit_but_drawn_too_tall_goes_down_a_size(board, app, monkeypatch, lang):
    # a measure that finds room for a few sizes more than the drawing does:
    # what a font measuring words narrower than it draws them amounts to
    measure = widgets.text_fits
    monkeypatch.setattr(widgets, "text_fits", lambda label, size, *a, **k: measure(label, size - 5, *a, **k))
    app.set_language(lang)
    text = shape(WORDS[lang]) if lang == "ar" else WORDS[lang]
    label = fit_label(board, text, wanted=60, least=16, size=(420, 120))
    for _round in range(3):
        offscreen.frames(2)
        settle(label)
    drawn_w, drawn_h = label.texture_size
    assert label.font_size >= 16
    assert drawn_w <= label.width + 1 and drawn_h <= label.height + 1, (
        f"text drawn {drawn_w}x{drawn_h} in a {label.width:.0f}x{label.height:.0f} box at {label.font_size}"
    )
    _.switch("fr")


def test_a_text_that_does_not_fit_even_at_least_stays_at_least(board, app):
    label = fit_label(board, WORDS["fr"] * 4, wanted=40, least=20, size=(300, 60))
    offscreen.frames(3)
    settle(label)
    assert label.font_size == 20
    assert label.texture_size[1] > label.height  # the layout test says so; the label does not go under
