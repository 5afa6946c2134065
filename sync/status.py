"""What the sync has done, in numbers and plain words: for `kiosk status`,
the staff's sync screen, and for spotting a hub restored from an old backup.

All functions read a kiosk database connection (see ``outbox.connect``);
none talk to the network — ``client.hub_status`` does, and ``compare`` puts
the two side by side.
"""

from __future__ import annotations

import gettext
import json
import sqlite3
from datetime import UTC, date, datetime, time
from typing import Any

from sync import lock as sync_lock
from sync import outbox, protocol
from sync.client import CLOCK_KEY
from sync.clock import PARIS
from sync.i18n import N_, French

FRENCH = French()

#: How far the kiosk's clock may be from the hub's before staff are warned:
#: beyond it, what the kiosk records is dated wrong (and the hub may park it).
CLOCK_TOLERANCE_S = 300
CLOCK_AHEAD = N_(
    "L'horloge de la borne avance de %(gap)s sur celle du hub. Faites régler la date et "
    "l'heure de la borne : ce qu'elle enregistre est mal daté."
)
CLOCK_BEHIND = N_(
    "L'horloge de la borne retarde de %(gap)s sur celle du hub. Faites régler la date et "
    "l'heure de la borne : ce qu'elle enregistre est mal daté."
)


def local_status(conn: sqlite3.Connection, parked_shown: int = 20) -> dict[str, Any]:
    """Counts (``recorded`` is every event ever recorded, purged ones included),
    the last success and last error, and the first parked events with the
    hub's reason."""
    counts = outbox.counts(conn)
    last_error = outbox.get_state(conn, "last_error")
    last_result = outbox.get_state(conn, "last_result")
    parked = [
        {"event_id": row[0], "type": row[1], "occurred_at": row[2], "reason": row[3]}
        for row in conn.execute(
            "SELECT event_id, type, occurred_at, parked_reason FROM outbox "
            f"WHERE {outbox.SETTLED} AND state = 'parked' ORDER BY seq LIMIT ?",
            (parked_shown,),
        )
    ]
    return {
        "recorded": counts["recorded"],
        "pending": counts["pending"],
        "parked": counts["parked"],
        "sent": counts["sent_total"],
        "sent_kept": counts["sent"],
        "purged": counts["purged"],
        "last_success": outbox.get_state(conn, "last_success"),
        "last_error": json.loads(last_error) if last_error else None,
        "last_result": json.loads(last_result) if last_result else None,
        "parked_events": parked,
        "sync_running": sync_lock.SyncLock(conn).holder() is not None,
        "clock": clock_check(conn),
    }


def clock_check(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The last comparison of the kiosk's clock with the hub's (recorded by
    each push from the hub's Date header): ``skew_s`` (the kiosk's minus the
    hub's), ``checked_at``, ``off`` (beyond CLOCK_TOLERANCE_S) and, when off,
    the warning: ``template``, ``unit`` (minutes, hours or days) and ``n``
    for ``clock_words``, ``message_fr`` ready for the terminal. None before
    any hub answer."""
    text = outbox.get_state(conn, CLOCK_KEY)
    try:
        stored = json.loads(text) if text else None
        if not isinstance(stored, dict):
            return None
        skew = float(stored["skew_s"])
    except (ValueError, TypeError, KeyError):
        return None
    check = {"skew_s": skew, "checked_at": stored.get("at"), "off": abs(skew) > CLOCK_TOLERANCE_S}
    if check["off"]:
        seconds = abs(skew)
        if seconds >= 36 * 3600:
            unit, n = "days", round(seconds / 86400)
        elif seconds >= 90 * 60:
            unit, n = "hours", round(seconds / 3600)
        else:
            unit, n = "minutes", round(seconds / 60)
        check.update(template=CLOCK_AHEAD if skew > 0 else CLOCK_BEHIND, unit=unit, n=n)
        check["message_fr"] = clock_words(check, FRENCH)
    return check


def gap_words(unit: str, n: int, tr: gettext.NullTranslations) -> str:
    """« 3 jours » in ``tr``'s language, with the plural form ``n`` wants."""
    if unit == "days":
        text = tr.ngettext("%(n)d jour", "%(n)d jours", n)
    elif unit == "hours":
        text = tr.ngettext("%(n)d h", "%(n)d h", n)
    else:
        text = tr.ngettext("%(n)d min", "%(n)d min", n)
    return text % {"n": n}


def clock_words(check: dict[str, Any], tr: gettext.NullTranslations) -> str:
    """The warning of an ``off`` clock check, in ``tr``'s language."""
    return tr.gettext(check["template"]) % {"gap": gap_words(check["unit"], check["n"], tr)}


def compare(local: dict[str, Any], hub: dict[str, Any]) -> dict[str, Any] | None:
    """A gap between what this kiosk sent and what the hub holds of its
    centre, or None. A hub restored from an older backup shows here.

    The hub counts its centre's events (every kiosk of the centre), so a hub
    holding more is normal with several kiosks; holding fewer never is."""
    missing = local["sent"] - int(hub.get("events_total") or 0)
    if missing <= 0:
        return None
    since = _resend_date(hub)
    message_en = (
        f"the hub holds {missing} fewer events than this kiosk sent: run kiosk sync --resend-since {since}"
    )
    gap = {
        "missing": missing,
        "resend_since": since,
        "purged": local.get("purged") or 0,
        "message_en": message_en,
    }
    gap["message_fr"] = _gap_words(gap, FRENCH)
    return gap


def _gap_words(gap: dict[str, Any], tr: gettext.NullTranslations) -> str:
    text = tr.ngettext(
        "Le hub a %(n)d événement de moins que la borne n'en a envoyé : "
        "relancez avec --resend-since %(since)s",
        "Le hub a %(n)d événements de moins que la borne n'en a envoyé : "
        "relancez avec --resend-since %(since)s",
        gap["missing"],
    ) % {"n": gap["missing"], "since": gap["resend_since"]}
    if gap["purged"]:
        text += tr.gettext(
            " (les %(n)d envois les plus anciens ne sont plus gardés sur la borne "
            "et ne pourront pas être renvoyés)"
        ) % {"n": gap["purged"]}
    return text


def _resend_date(hub: dict[str, Any]) -> str:
    """The day (Paris) from which to send again: the hub's last event, since
    a restored hub lost what came after its backup."""
    last = hub.get("last_occurred_at")
    if not last:
        return "2000-01-01"
    return protocol.parse_utc(last).astimezone(PARIS).date().isoformat()


def parse_since(text: str) -> str:
    """``--resend-since``: a day (YYYY-MM-DD, from midnight in Paris) or an
    ISO 8601 time with a zone; returned as the protocol's UTC text."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = protocol.parse_utc(text)
        except ValueError:
            raise ValueError(f"--resend-since: {text!r} is not a date like 2026-11-02") from None
    else:
        moment = datetime.combine(day, time(0, 0), PARIS).astimezone(UTC)
    return protocol.utc_iso(moment)


def requeue_since(conn: sqlite3.Connection, since_iso: str) -> int:
    """Queue again the sent events that occurred since ``since_iso`` (the hub
    keeps each once, so a resend of what it has is harmless)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        count = outbox.requeue_sent_since(conn, since_iso)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def describe(
    local: dict[str, Any],
    hub: dict[str, Any] | None = None,
    hub_error: str | None = None,
    translations: gettext.NullTranslations = FRENCH,
) -> str:
    """Several plain lines for the terminal (``kiosk status``), through
    ``translations`` (a gettext catalogue; French by default). ``hub_error``
    is a French msgid (``SyncError.message_fr``)."""
    tr = translations
    when = _when(local["last_success"])
    lines = [
        tr.gettext("Événements enregistrés : %(n)d") % {"n": local["recorded"]},
        tr.gettext("En attente d'envoi : %(n)d") % {"n": local["pending"]},
        tr.gettext("Mis de côté (refusés par le hub) : %(n)d") % {"n": local["parked"]},
        tr.gettext("Dernier envoi réussi : %(when)s") % {"when": when}
        if when
        else tr.gettext("Dernier envoi réussi : jamais"),
    ]
    error = local.get("last_error")
    if error:
        message = error.get("message_fr")
        lines.append(
            tr.gettext("Dernière erreur (%(when)s) : %(message)s")
            % {"when": _when(error.get("at")) or "", "message": tr.gettext(message) if message else "-"}
        )
    for item in local["parked_events"][:5]:
        lines.append(
            "  - "
            + tr.gettext("%(type)s du %(when)s : %(reason)s")
            % {"type": item["type"], "when": _when(item["occurred_at"]), "reason": item["reason"]}
        )
    clock = local.get("clock")
    if clock and clock["off"]:
        lines.append(clock_words(clock, tr))
    if hub is not None:
        lines.append(
            tr.gettext("Le hub a %(held)d événements de ce centre ; la borne en a envoyé %(sent)d.")
            % {"held": hub.get("events_total", 0), "sent": local["sent"]}
        )
        gap = compare(local, hub)
        if gap:
            lines.append(_gap_words(gap, tr))
    elif hub_error:
        lines.append(
            tr.gettext("Hub non joignable pour comparer : %(message)s") % {"message": tr.gettext(hub_error)}
        )
    return "\n".join(lines)


def describe_fr(
    local: dict[str, Any], hub: dict[str, Any] | None = None, hub_error: str | None = None
) -> str:
    """``describe`` in French."""
    return describe(local, hub, hub_error)


def _when(iso: str | None) -> str | None:
    if not iso:
        return None
    return protocol.parse_utc(iso).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
