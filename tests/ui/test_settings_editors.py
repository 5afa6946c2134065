"""The staff settings' lists as tables (one field a column) and the languages
as switches: nothing to type but the values, whatever the screen's language.

Before, the neighbourhoods were one text to type as « nom ; commune ; oui »:
the Arabic hint asked for « ؛ » and « نعم », which were refused or, worse,
saved the neighbourhood as not a priority one."""

from __future__ import annotations

import pytest
from kivyhelp import settle, tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.ui.staff_settings import YesNoButton


@pytest.fixture
def settings_screen(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.screen("staff_home").ids.settings)
    assert app.sm.current == "staff_settings"
    return app.screen("staff_settings")


def press(widget) -> None:
    """Scroll the settings to ``widget`` (a long screen), then tap it."""
    from kivy.uix.scrollview import ScrollView

    parent = widget.parent
    while parent is not None and not isinstance(parent, ScrollView):
        parent = parent.parent
    if parent is not None:
        parent.scroll_to(widget, padding=20, animate=False)
        settle(widget)
    tap(widget)


def lines(editor):
    return list(reversed(editor.ids.lines.children))


def cells(line):
    """A line's cells in column order, whatever the screen's direction."""
    shown = list(line.ids.cells.children)
    ordered = shown if line.ids.cells._mirrored else shown[::-1]
    assert ordered == line.cells
    return ordered


def test_the_lists_show_one_field_a_column(app, settings_screen):
    reasons = settings_screen.ids.reasons
    stored = app.centre.settings.get("reasons")
    assert [[cell.text for cell in cells(line)] for line in lines(reasons)] == [
        [r["code"], r["label"], r["icon"]] for r in stored
    ]
    first = cells(lines(settings_screen.ids.neighbourhoods)[0])
    assert isinstance(first[2], YesNoButton) and first[2].value is True


def test_an_arabic_neighbourhood_is_added_with_a_tap_for_priority(app, settings_screen):
    app.set_language("ar")
    editor = settings_screen.ids.neighbourhoods
    count = len(lines(editor))
    press(editor.ids.add_line)
    assert len(lines(editor)) == count + 1
    name, commune, qpv = cells(lines(editor)[-1])
    name.text, commune.text = "حي النور", "Outreau"
    assert qpv.value is False
    press(qpv)
    assert qpv.value is True
    tap(settings_screen.ids.save)
    saved = app.centre.settings.neighbourhood("حي النور")
    assert saved == {"name": "حي النور", "commune": "Outreau", "qpv": True}


def test_a_line_is_removed_with_its_button_and_empty_lines_are_dropped(app, settings_screen):
    editor = settings_screen.ids.reasons
    before = app.centre.settings.get("reasons")
    last = lines(editor)[-1]
    press(last.ids["drop"])
    editor.add_line()  # left empty: not a reason
    tap(settings_screen.ids.save)
    assert app.centre.settings.get("reasons") == before[:-1]


def test_languages_are_switches_and_french_stays(app, settings_screen):
    switch = settings_screen.ids.languages
    assert switch.chosen == ["fr", "en", "ar"]
    toggles = {child.code: child for child in switch.walk() if hasattr(child, "chooser") and child.chooser}
    press(toggles["en"])
    press(toggles["fr"])  # French cannot be switched off
    assert switch.chosen == ["fr", "ar"]
    assert [toggles[code].colour for code in ("fr", "en", "ar")] == ["selected", "surface", "selected"]
    tap(settings_screen.ids.save)
    assert app.centre.settings.get("languages") == ["fr", "ar"]
    press(toggles["en"])
    assert switch.chosen == ["fr", "en", "ar"]  # back in the usual order


def test_a_refused_list_names_the_list_and_stores_nothing(app, settings_screen):
    editor = settings_screen.ids.reasons
    before = app.centre.settings.get("reasons")
    code, label, icon = cells(lines(editor)[0])
    code.text = "Code avec espaces"
    tap(settings_screen.ids.save)
    settle(settings_screen)
    assert settings_screen.result.startswith("Raisons de venue — ")
    assert app.centre.settings.get("reasons") == before


def test_nothing_is_stored_when_one_value_is_refused(app, settings_screen):
    settings_screen.ids.centre_name.text = "Un autre nom"
    editor = settings_screen.ids.neighbourhoods
    name, _commune, _qpv = cells(lines(editor)[0])
    name.text = "x" * 500  # too long: refused
    tap(settings_screen.ids.save)
    assert settings_screen.result.startswith("Quartiers — ")
    assert app.centre.settings.get("centre_name") == "Centre social du Chemin Vert"  # not half saved


def test_saving_the_settings_keeps_each_reason_s_national_categories(app, settings_screen):
    """The table edits code, label and pictogram; what a reason is for the
    funders (CRA theme, administrative domain) stays with its code."""
    lines(settings_screen.ids.reasons)  # shown as stored
    cells(lines(settings_screen.ids.reasons)[1])[1].text = "Un papier en ligne"
    tap(settings_screen.ids.save)
    saved = {r["code"]: r for r in app.centre.settings.get("reasons")}
    assert saved["demarches"]["label"] == "Un papier en ligne"
    assert saved["demarches"]["cra_theme"] == "demarches_administratives"
    assert saved["permanence"]["domain"] == "social_sante"
