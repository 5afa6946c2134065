"""Keeping the catalogues in step with the code (no Kivy here).

    python -m kiosk.ui.i18n_tools        # extract, update the .po, compile the .mo

``extract()`` collects every msgid: ``_("…")``, ``_.gettext("…")``,
``_.ngettext("…", "…", n)`` (plural forms) and ``_.pgettext("context", "…")``
in kiosk/ui, kiosk/app.py and the ``kiosk`` command (kiosk/cli*.py; Python
and the expressions of .kv rules), and
``N_("…")`` in kiosk/core and sync (their error messages and default labels
reach the screen too). The .mo files are
committed, so a kiosk needs no build step; a test fails when they are stale.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages import extract as babel_extract
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

KIOSK = Path(__file__).resolve().parent.parent
LOCALE_DIR = KIOSK / "locale"
DOMAIN = "accueil"
TRANSLATED = ("en", "ar")
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "NP_": ((1, "c"), 2),
}
#: A kv rule's property line: ``name: expression`` (the expression is Python).
_KV_RULE = re.compile(r"^(\s*)([\w.]+):(\s*)(.+)$")


def sources() -> list[Path]:
    files = sorted((KIOSK / "ui").glob("*.py")) + sorted((KIOSK / "ui").glob("*.kv"))
    files += [KIOSK / "app.py"] + sorted((KIOSK / "core").glob("*.py"))
    files += [KIOSK / "cli.py", KIOSK / "cli_admin.py", KIOSK / "syncing.py"]  # what the commands print
    files += sorted((KIOSK.parent / "sync").glob("*.py"))  # the sync's status messages
    return [f for f in files if f.name != "i18n_tools.py"]


def kv_messages(path: Path) -> list[tuple[int, str | tuple, str | None]]:
    """(line, message, context) of every gettext call in a .kv file's rules,
    found by Babel's own Python extractor over the rules' expressions."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _KV_RULE.match(line)
        lines.append(match.group(4) if match and not line.lstrip().startswith("#") else "")
    source = io.BytesIO("\n".join(lines).encode("utf-8"))
    return [
        (lineno, message, context)
        for lineno, message, _comments, context in babel_extract.extract("python", source, KEYWORDS)
    ]


def extract() -> Catalog:
    template = Catalog(domain=DOMAIN, project="Accueil", charset="utf-8")
    for path in sources():
        where = str(path.relative_to(KIOSK.parent))
        if path.suffix == ".kv":
            found = kv_messages(path)
        else:
            found = [
                (lineno, message, context)
                for lineno, message, _comments, context in extract_from_file("python", str(path), KEYWORDS)
            ]
        for lineno, message, context in found:
            if isinstance(message, tuple):  # ngettext: (singular, plural[, n])
                message = tuple(message[:2])
                if not all(isinstance(part, str) and part for part in message):
                    continue
            elif not (isinstance(message, str) and message):
                continue
            template.add(message, locations=[(where, lineno)], flags=_flags(message), context=context)
    return template


def _flags(message: str | tuple) -> tuple[str, ...]:
    texts = message if isinstance(message, tuple) else (message,)
    return ("python-format",) if any(re.search(r"%\(\w+\)[sd]", text) for text in texts) else ()


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
        missing = [
            m.id
            for m in read(lang)
            if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
        ]
        print(f"{lang}: {len(missing)} untranslated")
