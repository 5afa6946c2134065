"""The itinerant mode (« hors les murs »): a device taken to an event.

Staff switch a device to an event (its name, its place, its day, a partner
if any) and back. While the event is on, every visit and every new member
recorded on this device carries the event's random id (``outreach_id``),
offline as ever: the events reach the hub at the next exchange.

Rules:

* one event at a time on a device: starting another while one is on is
  refused (end the first);
* an event is held on the day it is started (Europe/Paris); it ends by
  itself at the end of that day: from the next day on, nothing carries it,
  and the first read closes its row (``ended_at``: midnight);
* what the hub learns (``outreach.held``, protocol 1.2): the id, the day,
  the commune, the neighbourhood and whether it is a priority one (QPV),
  as the centre's neighbourhoods setting says, and the partner's kind.
  Never the event's name, the place's words or the partner's name: they
  stay on the device, as the centre's own words.

The events are this device's own bookkeeping: they do not replicate to the
centre's other devices (each device holds its own switch).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kiosk.core import period
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.settings import Settings
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from kiosk.core.voice import clean_text
from sync import protocol

MAX_NAME = 80
MAX_PLACE = 120
MAX_PARTNER = 80
#: the partner kinds the protocol knows, in the order the kiosk offers them
PARTNER_KINDS = protocol.PARTNER_KINDS

_OPEN = "SELECT * FROM outreach_events WHERE ended_at IS NULL ORDER BY started_at DESC"


def today(store: Store) -> date:
    """The device's calendar day in Paris."""
    return store.now().astimezone(period.PARIS).date()


def active_id(store: Store) -> str | None:
    """The id of the event on today on this device, or None: what a visit or
    a new member recorded now carries. A read only, cheap enough for every
    check-in; an event of a past day never answers here."""
    row = store.conn.execute(
        "SELECT id FROM outreach_events WHERE ended_at IS NULL AND day = ? LIMIT 1",
        (today(store).isoformat(),),
    ).fetchone()
    return row[0] if row else None


def _day_end(day: str) -> str:
    """The UTC time the Paris day ``day`` ends (the next day's midnight)."""
    return period.bounds(date.fromisoformat(day), date.fromisoformat(day))[1] or ""


class Outreach:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    # ------------------------------------------------------------ reads

    def active(self) -> dict | None:
        """The event on today, or None. Closes an event left open from a
        past day (it ended by itself at the end of its day)."""
        self._close_past()
        rows = self.store.query(_OPEN)
        return rows[0] if rows else None

    def recent(self, limit: int = 20) -> list[dict]:
        """This device's latest events, the newest first, with their counts."""
        return self.store.query(
            "SELECT e.*, "
            "(SELECT count(*) FROM visits v WHERE v.outreach_id = e.id) AS visits, "
            "(SELECT count(*) FROM members m "
            "WHERE m.outreach_id = e.id AND m.erased_at IS NULL) AS new_members "
            "FROM outreach_events e ORDER BY e.day DESC, e.started_at DESC LIMIT ?",
            (max(1, min(int(limit), 200)),),
        )

    def get(self, outreach_id: str) -> dict:
        rows = self.store.query("SELECT * FROM outreach_events WHERE id = ?", (outreach_id,))
        if not rows:
            raise NotFound(
                "outreach_id",
                N_("Cet événement n'existe pas."),
                f"no outreach event {outreach_id!r}",
                value=outreach_id,
            )
        return rows[0]

    def places(self) -> list[dict]:
        """The neighbourhoods the centre lists (name, commune, qpv), to pick from."""
        return list(self.settings.get("neighbourhoods"))

    # ------------------------------------------------------------ writes

    def start(
        self,
        name: Any,
        place: Any,
        day: date | str | None = None,
        neighbourhood: Any = None,
        commune: Any = None,
        partner: Any = None,
        partner_kind: Any = None,
        actor: dict | None = None,
    ) -> dict:
        """Switch this device to an event held today. ``neighbourhood`` is a
        name from the centre's neighbourhoods (its commune and QPV follow);
        otherwise ``commune`` may name one of their communes. Refused, with
        nothing written, when an event is already on or a value is wrong."""
        check_actor(self.store, actor)
        name = clean_text("name", name, MAX_NAME, required=True)
        place = clean_text("place", place, MAX_PLACE, required=True)
        if "\n" in name or "\n" in place:
            raise InvalidInput("name", N_("Écrivez sur une seule ligne."), "must be one line", value=name)
        held_on = self._day(day)
        where = self._where(neighbourhood, commune)
        partner = clean_text("partner", partner, MAX_PARTNER, required=False) or None
        if partner is not None and "\n" in partner:
            raise InvalidInput(
                "partner", N_("Écrivez sur une seule ligne."), "must be one line", value=partner
            )
        if partner_kind in (None, ""):
            partner_kind = "other" if partner else None
        elif partner_kind not in PARTNER_KINDS:
            raise InvalidInput(
                "partner_kind",
                N_("Choisissez le type de partenaire dans la liste."),
                f"unknown partner kind {partner_kind!r}",
                value=partner_kind,
            )
        event = {
            "id": protocol.new_id(),
            "name": name,
            "place": place,
            **where,
            "day": held_on.isoformat(),
            "partner": partner,
            "partner_kind": partner_kind,
            "started_at": self.store.now_iso(),
            "started_by": actor["id"] if actor else None,
            "ended_at": None,
        }
        with self.store.transaction():
            self._close_past()
            if self.store.conn.execute("SELECT 1 FROM outreach_events WHERE ended_at IS NULL").fetchone():
                raise Conflict(
                    "outreach",
                    N_("Un événement hors les murs est déjà en cours : terminez-le d'abord."),
                    "an outreach event is already on",
                )
            self.store.db.table("outreach_events").insert(event)
            self.store.emit(
                "outreach.held",
                {
                    "outreach_id": event["id"],
                    "day": event["day"],
                    "commune": event["commune"],
                    "neighbourhood": event["neighbourhood"],
                    "qpv": bool(event["qpv"]),
                    "partner_kind": partner_kind,
                },
            )
            if actor:
                self.store.audit(actor, "outreach.start", outreach_id=event["id"])
        return self.get(event["id"])

    def end(self, actor: dict | None = None) -> dict | None:
        """Switch this device back to the centre. Returns the event ended,
        or None when none was on (nothing to do: not an error)."""
        check_actor(self.store, actor)
        with self.store.transaction():
            self._close_past()
            rows = self.store.query(_OPEN)
            if not rows:
                return None
            self.store.conn.execute(
                "UPDATE outreach_events SET ended_at = ? WHERE id = ?", (self.store.now_iso(), rows[0]["id"])
            )
            if actor:
                self.store.audit(actor, "outreach.end", outreach_id=rows[0]["id"])
        return self.get(rows[0]["id"])

    # ------------------------------------------------------------ rules

    def _close_past(self) -> None:
        """An event left open from a past day ended at the end of its day."""
        past = self.store.conn.execute(
            "SELECT id, day FROM outreach_events WHERE ended_at IS NULL AND day < ?",
            (today(self.store).isoformat(),),
        ).fetchall()
        for outreach_id, day in past:
            self.store.conn.execute(
                "UPDATE outreach_events SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (_day_end(day), outreach_id),
            )

    def _day(self, day: date | str | None) -> date:
        now = today(self.store)
        if day is None or day == "":
            return now
        if isinstance(day, datetime):
            day = day.date()
        if isinstance(day, str):
            try:
                day = period.parse_date(day, "day")
            except InvalidInput:
                raise InvalidInput(
                    "day",
                    N_("Cette date n'est pas valide : écrivez-la JJ/MM/AAAA."),
                    f"{day!r} is not a date",
                    value=day,
                ) from None
        if not isinstance(day, date):
            raise InvalidInput("day", N_("Cette date n'est pas valide."), "must be a date", value=day)
        if day != now:
            raise InvalidInput(
                "day",
                N_("Un événement hors les murs commence le jour même : choisissez la date d'aujourd'hui."),
                f"an outreach event is held today ({now.isoformat()}), not {day.isoformat()}",
                value=day.isoformat(),
            )
        return day

    def _where(self, neighbourhood: Any, commune: Any) -> dict:
        """The commune, neighbourhood and QPV flag, from the centre's list only."""
        listed = self.places()
        if neighbourhood not in (None, ""):
            match = next((item for item in listed if item["name"] == neighbourhood), None)
            if match is None:
                raise InvalidInput(
                    "neighbourhood",
                    N_("Choisissez le quartier dans la liste."),
                    f"unknown neighbourhood {neighbourhood!r}",
                    value=neighbourhood,
                )
            if commune not in (None, "", match["commune"]):
                raise InvalidInput(
                    "commune",
                    N_("Ce quartier n'est pas dans cette commune."),
                    f"neighbourhood {neighbourhood!r} is in {match['commune']!r}, not {commune!r}",
                    value=commune,
                )
            return {"neighbourhood": match["name"], "commune": match["commune"], "qpv": bool(match["qpv"])}
        if commune not in (None, ""):
            if commune not in {item["commune"] for item in listed}:
                raise InvalidInput(
                    "commune",
                    N_("Choisissez la commune dans la liste."),
                    f"unknown commune {commune!r}",
                    value=commune,
                )
            return {"neighbourhood": None, "commune": commune, "qpv": False}
        return {"neighbourhood": None, "commune": None, "qpv": False}
