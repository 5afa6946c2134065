"""Keeping the catalogues in step with the code (no Kivy here).

    python -m kiosk.ui.i18n_tools        # extract, update the .po, compile the .mo

``extract()`` collects every msgid: ``_("…")`` and ``_.gettext("…")`` in
kiosk/ui and kiosk/app.py (Python and .kv), and ``N_("…")`` in kiosk/core and
sync (their error messages and default labels reach the screen too). The .mo files are
committed, so a kiosk needs no build step; a test fails when they are stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

KIOSK = Path(__file__).resolve().parent.parent
LOCALE_DIR = KIOSK / "locale"
DOMAIN = "accueil"
TRANSLATED = ("en", "ar")
KEYWORDS = {"_": None, "N_": None, "gettext": None}
_KV_CALL = re.compile(r"""\b_\(\s*(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)""")


def sources() -> list[Path]:
    files = sorted((KIOSK / "ui").glob("*.py")) + sorted((KIOSK / "ui").glob("*.kv"))
    files += [KIOSK / "app.py"] + sorted((KIOSK / "core").glob("*.py"))
    files += sorted((KIOSK.parent / "sync").glob("*.py"))  # the sync's status messages
    return [f for f in files if f.name != "i18n_tools.py"]


def kv_messages(path: Path) -> list[tuple[int, str]]:
    found = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for match in _KV_CALL.finditer(line):
            found.append((lineno, match.group("text").encode().decode("unicode_escape")
                          if "\\" in match.group("text") else match.group("text")))
    return found


def extract() -> Catalog:
    template = Catalog(domain=DOMAIN, project="Accueil", charset="utf-8")
    for path in sources():
        where = str(path.relative_to(KIOSK.parent))
        if path.suffix == ".kv":
            for lineno, text in kv_messages(path):
                template.add(text, locations=[(where, lineno)], flags=_flags(text))
            continue
        for lineno, message, _comments, _context in extract_from_file("python", str(path), KEYWORDS):
            if isinstance(message, str) and message:
                template.add(message, locations=[(where, lineno)], flags=_flags(message))
    return template


def _flags(text: str) -> tuple[str, ...]:
    return ("python-format",) if re.search(r"%\(\w+\)[sd]", text) else ()


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def update() -> None:
    template = extract()
    for lang in TRANSLATED:
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(lang) if path.exists() else Catalog(locale=lang, domain=DOMAIN)
        template.creation_date = catalog.creation_date  # no diff when nothing changed
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)
        compile_mo(lang)


def compile_mo(lang: str) -> None:
    catalog = read(lang)
    with po_path(lang).with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)


if __name__ == "__main__":
    update()
    for lang in TRANSLATED:
        missing = [m.id for m in read(lang) if m.id and not m.string]
        print(f"{lang}: {len(missing)} untranslated")
