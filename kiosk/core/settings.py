"""The centre's settings, stored in the database so one backup holds everything.

Each key has a default and a check; ``get`` returns the stored value or the
default, ``set`` refuses a bad value with a DomainError naming the key.

The centre's settings (``sync.replication.SHARED_SETTINGS``: its name, its
communes and neighbourhoods, the visit reasons, the timeouts, the languages,
the retention, whether the FSE+ situation is asked) replicate to the
centre's other devices; the rest is this device's own (its enrolment, its
outbox's upkeep, its printer, backup folder and screen).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kiosk.core import changelog
from kiosk.core.errors import N_, InvalidInput
from kiosk.core.store import Store
from sync import protocol
from sync.replication import SHARED_SETTINGS

#: The default reasons for a visit: code, French label (a gettext msgid), the
#: pictogram key the UI draws (Material Design icon names), and, where the
#: reason is one, its national category: ``cra_theme`` (a theme of the
#: conseillers numériques' reports) and/or ``domain`` (an administrative
#: domain), from sync.protocol.CRA_THEMES and ADMIN_DOMAINS. A visit carries
#: them to the hub; residents only ever read the label. Reviewed against the
#: taxonomies in docs/funder-figures.md: a question at the desk, an
#: appointment, a workshop (counted by its own theme), free use of a computer
#: and « autre » are no accompaniment; the help with an online form is the
#: CRA's « aide aux démarches administratives »; the social worker's hours
#: are the « social - santé » domain.
DEFAULT_REASONS = [
    {"code": "accueil", "label": N_("Une question, une information"), "icon": "info"},
    {
        "code": "demarches",
        "label": N_("Aide pour un papier sur internet"),
        "icon": "computer",
        "cra_theme": "demarches_administratives",
        "asks_body": True,
    },
    {"code": "rendez_vous", "label": N_("J'ai un rendez-vous"), "icon": "event"},
    {"code": "atelier", "label": N_("Un atelier"), "icon": "groups"},
    {"code": "ordinateur", "label": N_("Un ordinateur ou le wifi"), "icon": "wifi"},
    {
        "code": "permanence",
        "label": N_("Voir une assistante sociale"),
        "icon": "support_agent",
        "domain": "social_sante",
    },
    {"code": "autre", "label": N_("Autre chose"), "icon": "more_horiz"},
]
#: a reason's keys naming its national categories, and the codes each allows
REASON_CATEGORIES = {"cra_theme": protocol.CRA_THEMES, "domain": protocol.ADMIN_DOMAINS}
#: what a reason says besides its words and pictogram: its categories (the
#: settings screen chooses them from the taxonomies' lists), and
#: ``asks_body``, whether the kiosk then asks which body the papers are for
#: (BODIES), which gives the visit its administrative domain (kept as its code
#: had it when the settings screen saves)
REASON_KEPT_KEYS = ("cra_theme", "domain", "asks_body")

#: The bodies a resident may name after a reason that asks: code, words
#: (a gettext msgid), pictogram, and the administrative domain it gives the
#: visit (docs/funder-figures.md). « Autre chose » gives none.
BODIES: list[dict[str, Any]] = [
    {"code": "caf", "label": N_("La CAF"), "icon": "family_restroom", "domain": "social_sante"},
    {"code": "impots", "label": N_("Les impôts"), "icon": "account_balance", "domain": "argent_impots"},
    {
        "code": "sante",
        "label": N_("La santé, la carte Vitale"),
        "icon": "local_hospital",
        "domain": "social_sante",
    },
    {
        "code": "papiers",
        "label": N_("Une carte d'identité, un passeport, un permis"),
        "icon": "badge",
        "domain": "papiers_citoyennete",
    },
    {
        "code": "emploi",
        "label": N_("Le travail, France Travail"),
        "icon": "work",
        "domain": "travail_formation",
    },
    {"code": "logement", "label": N_("Le logement"), "icon": "home", "domain": "logement"},
    {"code": "autre", "label": N_("Autre chose, ou je ne sais pas"), "icon": "more_horiz", "domain": None},
]
BODY_DOMAINS = {body["code"]: body["domain"] for body in BODIES}

#: The first default reasons' labels. A centre that saved its reasons before
#: they were reworded keeps these in its settings: marked so they stay translated.
FORMER_REASON_LABELS = (
    N_("Accueil / information"),
    N_("Aide aux démarches en ligne"),
    N_("Rendez-vous (CAF, partenaire)"),
    N_("Accès ordinateur / wifi"),
    N_("Permanence sociale"),
)

#: Priority neighbourhoods (QPV) of the Boulonnais, offered by default; a centre
#: edits its own list. "qpv" says whether living there counts as a QPV resident.
DEFAULT_NEIGHBOURHOODS = [
    {"name": "Transition", "commune": "Boulogne-sur-Mer", "qpv": True},
    {"name": "Chemin Vert", "commune": "Boulogne-sur-Mer", "qpv": True},
    {"name": "Aiglon", "commune": "Boulogne-sur-Mer", "qpv": True},
    {"name": "Beaurepaire", "commune": "Boulogne-sur-Mer", "qpv": True},
    {"name": "Vaucluse - Mont Soleil", "commune": "Outreau", "qpv": True},
    {"name": "Tour du Renard", "commune": "Outreau", "qpv": True},
    {"name": "Quartier Est", "commune": "Le Portel", "qpv": True},
    {"name": "Centre-ville", "commune": "Boulogne-sur-Mer", "qpv": False},
]

#: The last choice of the default communes. Stored in French like every
#: commune (members keep it); the screens show it translated.
OTHER_COMMUNE = N_("Autre commune")

DEFAULT_COMMUNES = [
    "Boulogne-sur-Mer",
    "Outreau",
    "Saint-Martin-Boulogne",
    "Le Portel",
    "Wimereux",
    "Saint-Léonard",
    "Équihen-Plage",
    "Wimille",
    "Pont-de-Briques",
    OTHER_COMMUNE,
]

LANGUAGES = ("fr", "en", "ar")

DEFAULTS: dict[str, Any] = {
    "centre_name": "Centre social",
    "communes": DEFAULT_COMMUNES,
    "neighbourhoods": DEFAULT_NEIGHBOURHOODS,
    "reasons": DEFAULT_REASONS,
    "idle_timeout_s": 60,
    "pin_idle_timeout_s": 30,
    "languages": list(LANGUAGES),
    "retention_months": 24,
    "sent_events_kept_days": 90,
    "hub_url": None,
    "device_token": None,
    "centre_id": None,
    "printer": None,
    "backup_dir": None,
    # the screen's real density in dots per inch, for panels that report
    # none or nonsense (None: ask the display); `kiosk run --dpi` overrides it
    "display_dpi": None,
    # whether registration and the member card ask the FSE+ situation
    # (kiosk/core/situation.py): off unless a centre running an FSE+-funded
    # action turns it on; each member is still asked their consent first
    "collect_situation": False,
}


def _bad(key: str, en: str, value: Any) -> InvalidInput:
    return InvalidInput(key, N_("Ce réglage n'est pas valable : %(key)s."), en, value=value, key=key)


def _text(key: str, value: Any, max_len: int = 120) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise _bad(key, f"must be a non-empty text of at most {max_len} characters", value)
    if any(ord(c) < 32 for c in value):
        raise _bad(key, "must not contain control characters", value)


def _seconds(low: int, high: int) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(key, f"must be a whole number from {low} to {high}", value)

    return check


def _reasons(key: str, value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise _bad(key, "must be a non-empty list", value)
    codes = set()
    for item in value:
        if not isinstance(item, dict) or not {"code", "label", "icon"} <= set(item):
            raise _bad(key, "each reason needs code, label and icon", value)
        # the protocol's rule: the hub refuses a visit whose reason is not such a code
        if not isinstance(item["code"], str) or not protocol.REASON_CODE_RE.fullmatch(item["code"]):
            raise _bad(key, f"reason code {item['code']!r} must be lowercase ASCII", value)
        _text(key, item["label"])
        # the UI looks the pictogram up by this name in its icon font
        if not isinstance(item["icon"], str) or not re.fullmatch(r"[a-z0-9_]{1,64}", item["icon"]):
            raise _bad(key, f"reason icon {item['icon']!r} must be an icon name", value)
        if "asks_body" in item and not isinstance(item["asks_body"], bool):
            raise _bad(key, f"reason asks_body {item['asks_body']!r} must be true or false", value)
        for category, allowed in REASON_CATEGORIES.items():
            if item.get(category) is not None and item[category] not in allowed:
                raise _bad(
                    key, f"reason {category} {item[category]!r} must be one of {', '.join(allowed)}", value
                )
        if item["code"] in codes:
            raise _bad(key, f"reason code {item['code']!r} is listed twice", value)
        codes.add(item["code"])


def _neighbourhoods(key: str, value: Any) -> None:
    if not isinstance(value, list):
        raise _bad(key, "must be a list", value)
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("qpv"), bool):
            raise _bad(key, "each neighbourhood needs name, commune and qpv", value)
        _text(key, item.get("name"))
        _text(key, item.get("commune"))
    names = [item["name"] for item in value]
    if len(set(names)) != len(names):
        # members store the neighbourhood's name: two with one name would be ambiguous
        raise _bad(key, "each neighbourhood name must be listed once", value)


def _communes(key: str, value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise _bad(key, "must be a non-empty list", value)
    for item in value:
        _text(key, item)
    if len(set(value)) != len(value):
        raise _bad(key, "each commune must be listed once", value)


def _languages(key: str, value: Any) -> None:
    if (
        not isinstance(value, list)
        or "fr" not in value
        or not all(item in LANGUAGES for item in value)
        or len(set(value)) != len(value)
    ):
        raise _bad(key, f"must be a list from {LANGUAGES} that includes 'fr', each once", value)


def _optional_url(key: str, value: Any) -> None:
    if value is None:
        return
    _text(key, value, 2000)
    parts = urlsplit(value)
    # plain http is allowed for a hub on the centre's own network
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(key, "must be an http(s) address like https://hub.example.fr", value)


def _optional_text(key: str, value: Any) -> None:
    if value is not None:
        _text(key, value, 2000)


def _flag(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _bad(key, "must be true or false", value)


def _optional_dpi(key: str, value: Any) -> None:
    if value is not None:
        _seconds(50, 600)(key, value)


CHECKS: dict[str, Callable[[str, Any], None]] = {
    "centre_name": _text,
    "communes": _communes,
    "neighbourhoods": _neighbourhoods,
    "reasons": _reasons,
    "idle_timeout_s": _seconds(15, 900),
    "pin_idle_timeout_s": _seconds(10, 900),
    "languages": _languages,
    "retention_months": _seconds(1, 120),
    "sent_events_kept_days": _seconds(1, 3650),
    "hub_url": _optional_url,
    "device_token": _optional_text,
    "centre_id": _optional_text,
    "printer": _optional_text,
    "backup_dir": _optional_text,
    "display_dpi": _optional_dpi,
    "collect_situation": _flag,
}


_REASONS_TEXT = "SELECT value FROM settings WHERE key = 'reasons'"


def _codes(reasons_text: str | None) -> tuple[str, ...]:
    reasons = json.loads(reasons_text) if reasons_text is not None else DEFAULTS["reasons"]
    return tuple(reason["code"] for reason in reasons)


def _categories(reasons_text: str | None) -> dict[str, tuple[str | None, str | None]]:
    reasons = json.loads(reasons_text) if reasons_text is not None else DEFAULTS["reasons"]
    return {reason["code"]: (reason.get("cra_theme"), reason.get("domain")) for reason in reasons}


class Settings:
    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str) -> Any:
        if key not in DEFAULTS:
            raise KeyError(key)
        row = self.store.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else DEFAULTS[key]

    def all(self) -> dict[str, Any]:
        stored = {k: json.loads(v) for k, v in self.store.conn.execute("SELECT key, value FROM settings")}
        return {key: stored.get(key, default) for key, default in DEFAULTS.items()}

    def set(self, key: str, value: Any, actor: dict | None = None) -> None:
        if key not in DEFAULTS:
            raise InvalidInput(
                "key", N_("Réglage inconnu : %(key)s."), f"unknown setting {key!r}", value=key, key=key
            )
        CHECKS[key](key, value)
        text = json.dumps(value, ensure_ascii=False)
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )
            if key in SHARED_SETTINGS:  # the centre's, not this device's own
                changelog.record(self.store.conn, "settings", key, {"value": text})
            secret = key == "device_token"
            self.store.audit(actor, "settings.set", key=key, value="***" if secret else value)

    # conveniences the domain uses
    def reason_codes(self) -> list[str]:
        return list(self._reason_codes())

    def is_reason(self, code: Any) -> bool:
        """Whether ``code`` is one of the configured visit reasons (cached: every check-in asks)."""
        return code in self._reason_codes()

    def reason_categories(self, code: Any) -> tuple[str | None, str | None] | None:
        """(CRA theme, administrative domain) of a configured reason, each
        None where it is none; None when ``code`` is no configured reason.
        One read of the stored text, like ``is_reason`` (a check-in asks)."""
        row = self.store.conn.execute(_REASONS_TEXT).fetchone()
        return self.store.parsed("reason_categories", row[0] if row else None, _categories).get(code)

    def _reason_codes(self) -> tuple[str, ...]:
        # every check-in asks: one primary-key read of the stored text, parsed
        # again only when it changed (Store.parsed), whoever changed it
        row = self.store.conn.execute(_REASONS_TEXT).fetchone()
        return self.store.parsed("reason_codes", row[0] if row else None, _codes)

    def neighbourhood(self, name: str) -> dict | None:
        for item in self.get("neighbourhoods"):
            if item["name"] == name:
                return item
        return None
