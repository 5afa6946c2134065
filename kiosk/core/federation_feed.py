"""What the federation published, as this kiosk last received it.

The hub signs every page of publications (``sync.publications``); the sync
(``kiosk.syncing.pull_publications``) verifies a page and hands it here. This
module keeps the last good copy of each (kind, key) with when it came
(table ``federation_feed``), the hub's key this kiosk pinned, its cursor, and
the last refusal for the staff's sync screen (``sync_state``). A refused page
changes nothing held: the screens go on showing the last good copy.

Reading, for the screens and ``kiosk status``: ``items(store, kind)``,
``messages(store, language, today)``, ``updated_at(store)``,
``summary(store)``.

The reasons list: the federation's list (kind « reasons », key « list »)
reaches the centre's « reasons » setting as it arrives. A centre that kept
the default list, or the federation's previous list, follows the federation
(its list becomes the federation's). A centre whose staff edited the list
keeps its own words, pictograms, order and local reasons; for every reason
code the federation also lists, the federation's national categories
(``cra_theme``, ``domain``) replace the centre's, so the federation's
figures add up (docs/sync-protocol.md, « Publications »).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from kiosk.core.errors import InvalidInput
from kiosk.core.settings import DEFAULTS, REASON_CATEGORIES, Settings
from kiosk.core.store import Store
from sync import outbox
from sync import publications as wire

log = logging.getLogger(__name__)

#: sync_state keys
HUB_KEY = "federation_hub_key"
CURSOR = "federation_cursor"
RECEIVED_AT = "federation_received_at"
REFUSED = "federation_refused"

#: the reasons list's key within its kind
REASONS_KEY = "list"


# ---------------------------------------------------------------- the key and the cursor


def pinned_key(store: Store) -> str | None:
    """The hub key (hex) this kiosk trusts, None before it learnt one."""
    return outbox.get_state(store.conn, HUB_KEY)


def pin_key(store: Store, key_hex: str | None) -> None:
    """At enrolment: trust ``key_hex``, the key the hub answered with. A
    kiosk enrolled again at another hub (another key) starts its copies
    afresh; the same hub's key changes nothing."""
    if not key_hex:
        return
    with store.transaction():
        held = pinned_key(store)
        if held == key_hex:
            return
        if held is not None:
            store.conn.execute("DELETE FROM federation_feed")
            outbox.set_state(store.conn, CURSOR, None)
            outbox.set_state(store.conn, RECEIVED_AT, None)
        outbox.set_state(store.conn, HUB_KEY, key_hex)
        outbox.set_state(store.conn, REFUSED, None)


def cursor(store: Store) -> int:
    return int(outbox.get_state(store.conn, CURSOR) or 0)


# ---------------------------------------------------------------- a page received


def apply(store: Store, page: wire.Page) -> dict[str, int]:
    """Keep what a verified page holds, in one transaction: each item
    stored (or dropped when withdrawn), the cursor moved, the key pinned if
    none was (trust on first use), the last refusal cleared. Returns
    ``{"received", "withdrawn"}``."""
    received = withdrawn = 0
    now = store.now_iso()
    with store.transaction():
        if pinned_key(store) is None:
            outbox.set_state(store.conn, HUB_KEY, page.hub_key)
        if page.reset:  # the hub starts again from everything it holds: so does this kiosk
            store.conn.execute("DELETE FROM federation_feed")
        for item in page.items:
            if item["kind"] == "reasons" and item["key"] == REASONS_KEY and not item["withdrawn"]:
                _reasons_arrived(store, item["body"]["reasons"])
            if item["withdrawn"]:
                store.conn.execute(
                    "DELETE FROM federation_feed WHERE kind = ? AND key = ?", (item["kind"], item["key"])
                )
                withdrawn += 1
                continue
            store.conn.execute(
                "INSERT INTO federation_feed (kind, key, body, updated_at, received_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET "
                "body = excluded.body, updated_at = excluded.updated_at, received_at = excluded.received_at",
                (
                    item["kind"],
                    item["key"],
                    json.dumps(item["body"], ensure_ascii=False),
                    item["updated_at"],
                    now,
                ),
            )
            received += 1
        outbox.set_state(store.conn, CURSOR, str(page.cursor))
        outbox.set_state(store.conn, RECEIVED_AT, now)
        outbox.set_state(store.conn, REFUSED, None)
    return {"received": received, "withdrawn": withdrawn}


def refuse(store: Store, reason: str, message: str) -> None:
    """Note a refused page for staff (its reason code and English words);
    what is held stays as it was."""
    with store.transaction():
        outbox.set_state(
            store.conn, REFUSED, json.dumps({"at": store.now_iso(), "reason": reason, "message": message})
        )


def refusal(store: Store) -> dict[str, str] | None:
    """The last refusal since the last good page: ``{"at", "reason", "message"}``."""
    text = outbox.get_state(store.conn, REFUSED)
    return json.loads(text) if text else None


def _reasons_arrived(store: Store, federal: list[dict[str, Any]]) -> None:
    settings = Settings(store)
    row = store.conn.execute("SELECT value FROM settings WHERE key = 'reasons'").fetchone()
    local = json.loads(row[0]) if row else None
    previous = store.conn.execute(
        "SELECT body FROM federation_feed WHERE kind = 'reasons' AND key = ?", (REASONS_KEY,)
    ).fetchone()
    followed = json.loads(previous[0])["reasons"] if previous else None
    if local is None or local == DEFAULTS["reasons"] or local == followed:
        merged = federal
    else:
        national = {reason["code"]: reason for reason in federal}
        merged = []
        for reason in local:
            mapped = national.get(reason["code"])
            if mapped is not None:
                reason = {key: value for key, value in reason.items() if key not in REASON_CATEGORIES}
                reason |= {key: mapped[key] for key in REASON_CATEGORIES if mapped.get(key)}
            merged.append(reason)
    if merged != local:
        try:
            settings.set("reasons", merged)
        except InvalidInput as refused:  # the wire's rules passed, the setting's did not: keep the centre's
            log.warning("publications: the federation's reasons were not applied: %s", refused)


# ---------------------------------------------------------------- reading


def items(store: Store, kind: str) -> list[dict[str, Any]]:
    """The publications of ``kind`` held, each its body's fields plus
    ``key``, ``updated_at`` (at the hub) and ``received_at`` (here); in key
    order. No body field carries those three names."""
    return [
        {
            **json.loads(row["body"]),
            "key": row["key"],
            "updated_at": row["updated_at"],
            "received_at": row["received_at"],
        }
        for row in store.query(
            "SELECT key, body, updated_at, received_at FROM federation_feed WHERE kind = ? ORDER BY key",
            (kind,),
        )
    ]


def count(store: Store, kind: str) -> int:
    return int(
        store.conn.execute("SELECT count(*) FROM federation_feed WHERE kind = ?", (kind,)).fetchone()[0]
    )


def updated_at(store: Store) -> str | None:
    """When this kiosk last received a good page (UTC ISO), None if never."""
    return outbox.get_state(store.conn, RECEIVED_AT)


def messages(store: Store, language: str, today: date) -> list[dict[str, str]]:
    """The federation's messages to show today: ``{"key", "text",
    "pictogram", "language"}``, the text in ``language`` when translated, in
    French otherwise (``language`` says which); the most recent start first."""
    day = today.isoformat()
    shown = [item for item in items(store, "message") if item["starts_on"] <= day <= item["ends_on"]]
    shown.sort(key=lambda item: (item["starts_on"], item["updated_at"]), reverse=True)
    return [
        {
            "key": item["key"],
            "text": item["text"].get(language) or item["text"]["fr"],
            "pictogram": item["pictogram"],
            "language": language if item["text"].get(language) else "fr",
        }
        for item in shown
    ]


def summary(store: Store) -> dict[str, Any]:
    """What ``kiosk status --json`` shows under « federation »."""
    return {
        "sheets": count(store, "sheet"),
        "agenda": count(store, "agenda"),
        "messages": count(store, "message"),
        "updated_at": updated_at(store),
        "hub_key": pinned_key(store),
        "refused": refusal(store),
    }
