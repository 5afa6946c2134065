"""Every user-facing string goes through gettext; en and ar translate them all."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from kiosk.ui import i18n, i18n_tools

KIOSK = Path(i18n_tools.KIOSK)
UI_PY = sorted((KIOSK / "ui").glob("*.py")) + [KIOSK / "app.py"]
UI_KV = sorted((KIOSK / "ui").glob("*.kv"))
#: Widget properties whose text a resident reads.
SHOWN = {"text", "title", "question", "message", "hint_text", "status", "greeting", "seats"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _words(value: str) -> bool:
    """A literal a person would read: letters beyond an identifier or a code."""
    return bool(re.search(r"[A-Za-zÀ-ÿ]{2,}.*\s|[A-Za-zÀ-ÿ]{3,}", value)) and not re.fullmatch(
        r"[a-z_]+", value
    )


def test_kv_files_show_no_literal_words():
    offenders = []
    for path in UI_KV:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"\s*(\w+):\s*(.+)$", line)
            if not match or match.group(1) not in SHOWN:
                continue
            # translated (_, _.pgettext with its context, _.ngettext with both forms): fine
            expression = re.sub(
                r"""_(?:\.[pn]gettext)?\(\s*(["']).*?\1(?:\s*,\s*(["']).*?\2)?""", "_(X", match.group(2)
            )
            for literal in re.findall(r"""(["'])(.*?)\1""", expression):
                if _words(literal[1]):
                    offenders.append(f"{path.name}:{lineno}: {line.strip()}")
    assert not offenders, "untranslated text in .kv:\n" + "\n".join(offenders)


def test_python_sources_show_no_literal_words():
    offenders = []
    for path in UI_PY:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # keyword arguments like text="..." and assignments like self.message = "..."
            pairs = []
            if isinstance(node, ast.Call):
                pairs = [(kw.arg, kw.value) for kw in node.keywords]
            elif isinstance(node, ast.Assign):
                pairs = [(getattr(t, "attr", None), node.value) for t in node.targets]
            for name, value in pairs:
                if (
                    name in SHOWN
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and _words(value.value)
                ):
                    offenders.append(f"{path.name}:{node.lineno}: {name}={value.value!r}")
    assert not offenders, "untranslated text in Python:\n" + "\n".join(offenders)


def test_python_never_shows_a_literal_through_display():
    """``_.display("…")`` shapes a text but does not translate it: a literal
    given to it would stay French on every screen."""
    offenders = []
    for path in UI_PY:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("display", "wrap")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and _words(node.args[0].value)
            ):
                offenders.append(f"{path.name}:{node.lineno}: {node.args[0].value!r}")
    assert not offenders, "shown without gettext:\n" + "\n".join(offenders)


def test_the_defaults_residents_see_are_marked_for_translation():
    from kiosk.core.settings import DEFAULT_REASONS, OTHER_COMMUNE

    wanted = {m.id for m in i18n_tools.extract() if m.id}
    assert OTHER_COMMUNE in wanted  # « Autre commune » once stayed French everywhere
    assert all(reason["label"] in wanted for reason in DEFAULT_REASONS)


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_catalogue_translates_every_msgid_of_ui_and_core(lang):
    wanted = {(m.context, m.id) for m in i18n_tools.extract() if m.id}
    catalogue = {(m.context, m.id): m.string for m in i18n_tools.read(lang) if m.id}

    def translated(key) -> bool:
        text = catalogue.get(key)
        return bool(text) and (all(text) if isinstance(text, tuple) else True)  # every plural form

    missing = sorted((key for key in wanted if not translated(key)), key=str)
    assert not missing, f"{lang}: untranslated (run python -m kiosk.ui.i18n_tools): {missing}"


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_translations_keep_their_placeholders(lang):
    for message in i18n_tools.read(lang):
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple):
            # plural forms: each form uses only the plural's placeholders; a form
            # for one or two things may say the number in words (Arabic)
            wanted = set(PLACEHOLDER.findall(message.id[1]))
            for form in message.string:
                assert set(PLACEHOLDER.findall(form)) <= wanted, (message.id, form)
            assert set(PLACEHOLDER.findall(message.string[-1])) == wanted, message.id
            continue
        assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), message.id


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_compiled_catalogue_matches_its_po(lang):
    po = {(m.context, m.id): m.string for m in i18n_tools.read(lang) if m.id and m.string}
    with i18n_tools.po_path(lang).with_suffix(".mo").open("rb") as handle:
        mo = {
            (m.context, tuple(m.id) if isinstance(m.id, list) else m.id): tuple(m.string)
            if isinstance(m.string, list)
            else m.string
            for m in read_mo(handle)
            if m.id
        }
    assert mo == po, "stale .mo: run python -m kiosk.ui.i18n_tools"


def test_french_is_the_source_and_arabic_comes_shaped():
    translator = i18n.Translator()
    assert translator("Je suis là") == "Je suis là"
    translator.switch("en")
    assert translator("Bienvenue, %(name)s !", name="Aïcha") == "Welcome, Aïcha!"
    translator.switch("ar")
    shown = translator("Je suis là")
    assert all("\ufe70" <= c <= "\ufeff" or c == " " for c in shown)  # joined presentation forms
    assert shown == i18n.shape("أنا هنا")


def test_dates_in_words_in_each_language():
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 14 h in Paris
    end = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    translator = i18n.Translator()
    assert translator.span(start, end) == "mardi 1 décembre, 14 h – 16 h 30"
    translator.switch("en")
    assert translator.span(start, end).replace("\u202f", " ") == "Tuesday 1 December, 2 PM – 4:30 PM"
    translator.switch("ar")
    assert translator.day(start) == "الثلاثاء 1 ديسمبر"


def test_arabic_paragraphs_wrap_before_shaping_so_lines_keep_their_order():
    translator = i18n.Translator()
    translator.switch("ar")
    text = "كلمة " * 30
    lines = translator.wrap(text, 40).split("\n")
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)


def test_a_hyphenated_name_stays_whole_in_a_wrapped_arabic_line():
    translator = i18n.Translator()
    translator.switch("ar")
    question = translator("Vous vivez avec %(name)s ?", name="Marie-Thérèse V.")
    lines = i18n.wrap_shaped(question.logical, 12).split("\n")
    assert len(lines) > 1
    assert any("Marie-Thérèse" in line for line in lines), lines


@pytest.mark.parametrize(
    "value, shown",
    [
        ("/media/usb/passages.csv", "/media/usb/passages.csv"),  # not « media/usb/passages.csv/ »
        ("06 12 34 56 78", "06 12 34 56 78"),  # not « 78 56 34 12 06 »
        ("Aïcha B.", "Aïcha B."),  # not « .Aïcha B »
    ],
)
def test_a_placeholder_keeps_its_own_order_inside_arabic(value, shown):
    translator = i18n.Translator()
    translator.switch("ar")
    text = translator("Dossier : %(folder)s", folder=value)
    assert shown in text  # the visual string holds the value as it is read
    assert i18n.spoken(text) == translator.gettext("Dossier : %(folder)s") % {"folder": value}


def test_placeholders_are_left_alone_in_left_to_right_languages():
    translator = i18n.Translator()
    translator.switch("en")
    assert translator("Dossier : %(folder)s", folder="/media/usb") == "Folder: /media/usb"


@pytest.mark.parametrize(
    "lang, n, expected",
    [
        ("fr", 0, "Encore 0 place libre"),
        ("fr", 1, "Encore 1 place libre"),
        ("fr", 3, "Encore 3 places libres"),
        ("en", 1, "1 seat left"),
        ("en", 2, "2 seats left"),
        ("ar", 1, "بقي مقعد واحد فارغ"),
        ("ar", 2, "بقي مقعدان فارغان"),
        ("ar", 5, "بقيت 5 مقاعد فارغة"),
        ("ar", 12, "بقي 12 مقعداً فارغاً"),
        ("ar", 100, "بقي 100 مقعد فارغ"),
    ],
)
def test_counts_take_the_plural_form_of_their_language(lang, n, expected):
    translator = i18n.Translator()
    translator.switch(lang)
    shown = translator.ngettext("Encore %(n)d place libre", "Encore %(n)d places libres", n, n=n)
    assert i18n.spoken(shown) == expected


def test_one_french_word_two_meanings_two_translations():
    translator = i18n.Translator()
    translator.switch("en")
    assert translator.pgettext("bouton", "Accueil") == "Home"
    assert translator.pgettext("thème", "Accueil") == "Welcome and information"
    assert translator.pgettext("question", "Passer") == "Skip"
    translator.switch("ar")
    assert i18n.spoken(translator.pgettext("bouton", "Accueil")) == "البداية"
    assert i18n.spoken(translator.pgettext("thème", "Accueil")) == "الاستقبال والإرشاد"


def test_other_commune_is_shown_in_the_residents_language():
    from kiosk.core.settings import OTHER_COMMUNE
    from kiosk.ui.first_visit import OTHER_TOWN

    translator = i18n.Translator()
    assert translator(OTHER_TOWN) == "Une autre ville"
    translator.switch("en")
    assert translator(OTHER_TOWN) == "Another town" and translator(OTHER_COMMUNE) == "Another town"
    translator.switch("ar")
    assert i18n.spoken(translator(OTHER_TOWN)) == "مدينة أخرى"


def test_an_error_shown_in_arabic_keeps_its_path_in_order(app):
    from kiosk.core.errors import NotFound

    app.set_language("ar")
    error = NotFound(
        "path", "Le fichier %(path)s n'existe pas.", "no such file", path="/media/usb/passages.csv"
    )
    shown = app.error_text(error)
    assert "/media/usb/passages.csv" in shown and "media/usb/passages.csv/" not in shown
