"""« À vérifier »: the things staff must check, whatever feature raised them.

Each feature registers a ``Kind`` (when its module is imported): how to list
its items, how to confirm one as it is, and which staff screen corrects one.
The staff screen « À vérifier » lists the items of every kind registered,
so a new kind of item (a seat given twice, possible duplicates) needs no
change to the screen. An item's words are a gettext msgid and its values,
like a DomainError's, so the screen shows them in its own language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.errors import N_, NotFound
from kiosk.core.store import Store


@dataclass(frozen=True)
class Item:
    """One thing to check. ``template`` % ``params`` is what staff read; the
    params named in ``translate`` are msgids too."""

    kind: str
    item_id: str
    day: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    translate: tuple[str, ...] = ()

    def text(self, gettext: Callable[[str], str] = lambda text: text) -> str:
        params = {k: gettext(v) if k in self.translate else v for k, v in self.params.items()}
        return gettext(self.template) % params


@dataclass(frozen=True)
class Kind:
    """A kind of item: ``items(store)`` lists those pending, oldest first;
    ``confirm(store, item_id, actor)`` says one is right as it is (None
    when it cannot be); ``correct_screen`` is the staff screen that
    corrects one (None: none)."""

    code: str
    title: str
    icon: str
    items: Callable[[Store], list[Item]]
    confirm: Callable[[Store, str, dict], None] | None = None
    confirm_text: str = N_("C'est juste")
    correct_screen: str | None = None


#: code -> kind, in the order they were registered
KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    """Add a kind of item to « À vérifier » (again under the same code: replaced)."""
    KINDS[kind.code] = kind


class Review:
    def __init__(self, store: Store):
        self.store = store

    def pending(self) -> list[tuple[Kind, list[Item]]]:
        """Each kind with items to check, and its items."""
        found = []
        for kind in KINDS.values():
            items = kind.items(self.store)
            if items:
                found.append((kind, items))
        return found

    def count(self) -> int:
        return sum(len(items) for _kind, items in self.pending())

    def confirm(self, kind: str, item_id: str, actor: dict) -> None:
        known = KINDS.get(kind)
        if known is None or known.confirm is None:
            raise NotFound(
                "kind", N_("Cette vérification est inconnue."), f"no review kind {kind!r}", value=kind
            )
        known.confirm(self.store, item_id, actor)
