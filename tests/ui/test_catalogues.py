"""The English and Arabic catalogues checked as a translator's tools would:
``msgfmt --check`` (GNU gettext), the plural forms each language needs, and
one term a concept as docs/glossaire.md sets them."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.ui import i18n_tools

GLOSSARY = Path(i18n_tools.KIOSK).parent / "docs" / "glossaire.md"
COLUMNS = {"en": 2, "ar": 3}
NEVER = {"en": 4, "ar": 5}
PLURAL_FORMS = {
    "en": (2, "(n != 1)"),
    "ar": (
        6,
        "(n == 0 ? 0 : n == 1 ? 1 : n == 2 ? 2 : n % 100 >= 3 && n % 100 <= 10 ? 3 : "
        "n % 100 >= 11 && n % 100 <= 99 ? 4 : 5)",
    ),
}


def glossary_rows() -> list[list[str]]:
    """The rows of the glossary's table of terms (the one with the « Jamais » columns)."""
    text = GLOSSARY.read_text(encoding="utf-8")
    table = text[text.index("| Idée |") :].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.splitlines()]
    return [row for row in rows[2:] if len(row) == 6]


def forms(cell: str) -> list[str]:
    return [form.strip() for form in cell.split(" / ") if form.strip()]


def trigger(word: str) -> re.Pattern:
    """A French word of the glossary, whole (``effac*``: any word starting so)."""
    if word.endswith("*"):
        return re.compile(r"(?<!\w)" + re.escape(word[:-1]), re.IGNORECASE)
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)


def messages(lang: str):
    """(context, French texts, translated texts) of every translated message."""
    for message in i18n_tools.read(lang):
        if not message.id:
            continue
        french = list(message.id) if isinstance(message.id, tuple) else [message.id]
        translated = list(message.string) if isinstance(message.string, tuple) else [message.string]
        yield message.context, french, translated


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_msgfmt_check_passes(lang):
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt is missing: install gettext (scripts/system-deps.sh test)"
    done = subprocess.run(
        [msgfmt, "--check", "-o", "/dev/null", str(i18n_tools.po_path(lang))], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_each_catalogue_declares_its_plural_forms_and_every_plural_has_them_all(lang):
    catalogue = i18n_tools.read(lang)
    count, expression = PLURAL_FORMS[lang]
    assert catalogue.num_plurals == count
    assert catalogue.plural_expr.replace(" ", "") == expression.replace(" ", "")
    plurals = [m for m in catalogue if m.id and isinstance(m.id, tuple)]
    assert plurals, "no message uses plural forms"
    for message in plurals:
        assert len(message.string) == count and all(message.string), message.id


def test_arabic_plural_forms_pick_the_right_form_for_each_number():
    plural = gettext.c2py(i18n_tools.read("ar").plural_expr)
    assert [plural(n) for n in (0, 1, 2, 3, 10, 11, 99, 100, 102, 111)] == [0, 1, 2, 3, 3, 4, 4, 5, 5, 4]


def test_the_code_uses_plural_forms_for_counts():
    ids = {
        m.id[0] if isinstance(m.id, tuple) else m.id for m in i18n_tools.extract() if isinstance(m.id, tuple)
    }
    assert "Encore %(n)d place libre" in ids
    assert "%(count)d personne effacée." in ids
    assert "Nous effaçons tout %(months)d mois après votre dernière visite." in ids


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_translations_use_the_glossary_terms(lang):
    wrong = []
    for row in glossary_rows():
        triggers = row[1]
        context = None
        match = re.match(r"\(contexte « (\w+) »\)\s*(.*)", triggers)
        if match:
            context, triggers = match.group(1), match.group(2)
        wanted = forms(row[COLUMNS[lang]])
        for msg_context, french, translated in messages(lang):
            if context is not None and msg_context != context:
                continue
            if not any(trigger(t).search(f) for t in forms(triggers) for f in french):
                continue
            for text in translated:
                if not any(w.lower() in text.lower() for w in wanted):
                    wrong.append(f"{row[0]}: {french[0]!r} -> {text!r} (wanted {' / '.join(wanted)})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("lang", i18n_tools.TRANSLATED)
def test_translations_never_use_the_words_the_glossary_forbids(lang):
    wrong = []
    for row in glossary_rows():
        for never in forms(row[NEVER[lang]]):
            pattern = re.compile(r"(?<!\w)" + re.escape(never) + r"(?!\w)", re.IGNORECASE)
            for _context, french, translated in messages(lang):
                wrong += [
                    f"{never!r} in {text!r} ({french[0]!r})" for text in translated if pattern.search(text)
                ]
    assert not wrong, "\n".join(wrong)


def test_the_glossary_is_read_whole():
    rows = glossary_rows()
    assert len(rows) >= 20
    assert any("منخرط" in row[5] for row in rows)
