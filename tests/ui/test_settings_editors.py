"""The staff settings' lists as tables (one field a column) and the languages
as switches: nothing to type but the values, whatever the screen's language.

Before, the neighbourhoods were one text to type as « nom ; commune ; oui »:
the Arabic hint asked for « ؛ » and « نعم », which were refused or, worse,
saved the neighbourhood as not a priority one."""

from __future__ import annotations

import pytest
from kivyhelp import settle, tap
from modehelp import STAFF_PIN, add_people, sign_in

from kiosk.ui.staff_settings import CategoriesButton, CategoriesPicker, YesNoButton


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
    assert [[cell.text for cell in cells(line)[:3]] for line in lines(reasons)] == [
        [r["code"], r["label"], r["icon"]] for r in stored
    ]
    categories = {line.cells[0].text: line.cells[3] for line in lines(reasons)}
    assert isinstance(categories["demarches"], CategoriesButton)
    assert categories["demarches"].text == "Aide aux démarches administratives"
    assert categories["permanence"].text == "Social - Santé"
    assert categories["accueil"].text == "Aucune"
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
    code, label, icon, _categories = cells(lines(editor)[0])
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


def picker_of(cell) -> CategoriesPicker:
    from kivy.core.window import Window

    press(cell)
    (picker,) = [child for child in Window.children if isinstance(child, CategoriesPicker)]
    settle(picker)
    return picker


def choice(picker, key: str, code: str):
    (found,) = [c for c in picker.ids[key].children if c.code == code]
    return found


def test_staff_choose_a_reason_s_national_categories_from_the_lists(app, settings_screen):
    """A reason the centre adds gets its CRA theme and administrative domain
    from the taxonomies' lists (never typed), in the screen's language; the
    visits then carry them to the hub."""
    app.set_language("ar")
    editor = settings_screen.ids.reasons
    press(editor.ids.add_line)
    code, label, icon, categories = cells(lines(editor)[-1])
    code.text, label.text, icon.text = "impots_en_ligne", "Déclarer ses impôts", "account_balance"
    assert categories.value == {"cra_theme": None, "domain": None}
    picker = picker_of(categories)
    assert len(picker.ids.cra_theme.children) == 1 + 19 and len(picker.ids.domain.children) == 1 + 10
    press(choice(picker, "cra_theme", "demarches_administratives"))
    press(choice(picker, "domain", "argent_impots"))
    assert choice(picker, "domain", "argent_impots").colour == "selected"
    assert choice(picker, "domain", "").colour == "surface"
    tap(picker.ids.confirm)
    settle(settings_screen)
    assert categories.value == {"cra_theme": "demarches_administratives", "domain": "argent_impots"}
    assert categories.text != "Aucune"  # in Arabic, both names
    # « Annuler » leaves the cell as it was; « Aucun » clears one category
    picker = picker_of(categories)
    press(choice(picker, "cra_theme", ""))
    tap(picker.ids.cancel)
    assert categories.value["cra_theme"] == "demarches_administratives"
    tap(settings_screen.ids.save)
    saved = {r["code"]: r for r in app.centre.settings.get("reasons")}
    assert saved["impots_en_ligne"]["cra_theme"] == "demarches_administratives"
    assert saved["impots_en_ligne"]["domain"] == "argent_impots"
    mapped = app.centre.settings.reason_categories("impots_en_ligne")
    assert mapped == ("demarches_administratives", "argent_impots")
    # clearing the theme on a default reason drops it; its question of the body stays
    demarches = {line.cells[0].text: line.cells[3] for line in lines(editor)}["demarches"]
    picker = picker_of(demarches)
    press(choice(picker, "cra_theme", ""))
    tap(picker.ids.confirm)
    tap(settings_screen.ids.save)
    saved = {r["code"]: r for r in app.centre.settings.get("reasons")}
    assert "cra_theme" not in saved["demarches"] and saved["demarches"]["asks_body"] is True
