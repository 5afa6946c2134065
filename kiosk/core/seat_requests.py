"""Seat requests between centres, on the kiosk (no HTTP here).

A resident at this kiosk asks for a seat in another centre's session (from
« Dans les autres centres », kiosk/core/agenda.py) and agrees that their
first name, last name and phone go to that centre. The request waits in
``seat_requests_out`` until the sync seals it to that centre's public key
(``sync.envelope.seal_to_centre``; the key comes from the hub) and the hub
stored it. The answer comes back sealed to this centre's key; staff see it
and tell the resident.

The other way round, a request another centre's resident made for a session
here arrives sealed to this centre's key (``Keyring.exchange_key``, which
every device of the centre holds), is opened here and kept in
``seat_requests_in`` for staff: « Accepter » registers the resident (a new
member when nobody here has that name and phone, with the consent they
gave), « Refuser » declines; a session with no seat left is answered
« complet ». The answer is sealed to the key the request named.

What is sealed is checked on arrival like anything crossing a trust
boundary: an allow-list of fields, each bounded; anything else is refused.
"""

from __future__ import annotations

import re
from typing import Any

from kiosk.core import replication, text
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.members import Members
from kiosk.core.settings import Settings
from kiosk.core.staff import check_actor
from kiosk.core.store import Store
from kiosk.core.workshops import Workshops
from sync import envelope, protocol
from sync.blob import EnvelopeError

#: what a request's sealed content is: its format, then the fields
FORMAT = 1
OUTCOMES = ("accepted", "declined", "full")
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


class Refused(Exception):
    """Something sealed to this centre that is not a request or an answer it
    takes (tampered, from another centre, not what a kiosk seals)."""


def available(store: Store) -> bool:
    """Seat requests need the centre's keys (a kiosk enrolled at a hub)."""
    return replication.enabled(store.conn) and bool(Settings(store).get("centre_id"))


def public_key(store: Store) -> str:
    """This centre's public exchange key, hex, as the hub registers it."""
    return envelope.centre_public_key(replication.keyring(store)).hex()


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= limit or protocol.unfit_text(value):
        return None
    return value


def _checked_request(data: Any) -> dict[str, Any]:
    """The sealed request's fields, each checked; ``Refused`` otherwise."""
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        raise Refused("not a seat request of a known format")
    try:
        fields = {
            "id": data["id"],
            "from_centre": data["from_centre"],
            "reply_key": data["reply_key"],
            "session_id": data["session_id"],
            "first_name": text.clean_name("first_name", data["first_name"]),
            "last_name": text.clean_name("last_name", data["last_name"]),
            "phone": text.clean_phone(data["phone"]),
            "consent_at": protocol.utc_text(data["consent_at"]),
        }
    except (KeyError, TypeError, ValueError, InvalidInput) as error:
        raise Refused(f"a seat request field is missing or wrong: {error}") from error
    if not (protocol.is_id(fields["id"]) and protocol.is_id(fields["session_id"])):
        raise Refused("a seat request's ids are not ids")
    if not protocol.is_id(fields["from_centre"]) or not isinstance(fields["reply_key"], str):
        raise Refused("a seat request's centre or key is not one")
    if _HEX_KEY.fullmatch(fields["reply_key"]) is None or fields["phone"] is None:
        raise Refused("a seat request needs a reply key and a phone")
    return fields


def _check(store: Store, actor: dict | None) -> dict:
    """Deciding a request, or saying the resident was told, is staff's or a
    volunteer's: a PIN mode's actor is needed (returned as given)."""
    if actor is None or check_actor(store, actor) is None:
        raise InvalidInput(
            "actor",
            N_("Cette action demande le code d'un bénévole ou d'un salarié."),
            "a seat request is handled by an active volunteer or staff member",
        )
    return actor


class SeatRequests:
    def __init__(self, store: Store, settings: Settings | None = None):
        self.store = store
        self.settings = settings or Settings(store)

    # ------------------------------------------------------------ the resident asks, here

    def ask(
        self,
        entry: dict[str, Any],
        first_name: str,
        last_name: str,
        phone: str,
        consent: bool,
    ) -> dict[str, Any]:
        """Ask for a seat in ``entry`` (a session of another centre, as the
        agenda gives it). Refused without the resident's consent; nothing
        leaves before the next sync."""
        if consent is not True:
            raise InvalidInput(
                "consent",
                N_("Sans votre accord, nous ne pouvons pas envoyer votre demande à ce centre."),
                "a seat request is sent only with the resident's consent",
                value=consent,
            )
        clean_phone = text.clean_phone(phone)
        if clean_phone is None:
            raise InvalidInput(
                "phone",
                N_("Écrivez votre numéro de téléphone : le centre vous appellera."),
                "a seat request needs a phone number",
                value=phone,
            )
        row = {
            "id": protocol.new_id(),
            "to_centre": entry["centre_id"],
            "to_centre_name": entry["centre_name"],
            "session_id": entry["session_id"],
            "title": entry["title"],
            "place": entry.get("place"),
            "starts_at": entry["starts_at"],
            "first_name": text.clean_name("first_name", first_name),
            "last_name": text.clean_name("last_name", last_name),
            "phone": clean_phone,
            "consent_at": self.store.now_iso(),
            "created_at": self.store.now_iso(),
        }
        if not protocol.is_id(row["to_centre"]) or not protocol.is_id(row["session_id"]):
            raise InvalidInput(
                "session_id",
                N_("Cette séance est introuvable."),
                "the agenda entry has no valid ids",
                value=entry.get("session_id"),
            )
        if row["to_centre"] == self.settings.get("centre_id"):
            raise InvalidInput(
                "centre_id",
                N_("Cette séance est dans notre centre : inscrivez-vous dans « Ateliers »."),
                "a seat request goes to another centre",
                value=row["to_centre"],
            )
        with self.store.transaction():
            self.store.db.table("seat_requests_out").insert(row)
        return row

    def outgoing(self) -> list[dict[str, Any]]:
        """Requests made here that staff have not yet told the resident about, newest first."""
        return self.store.query(
            "SELECT * FROM seat_requests_out WHERE told_at IS NULL ORDER BY created_at DESC"
        )

    def mark_told(self, request_id: str, actor: dict | None) -> None:
        """Staff told the resident the answer: the request leaves the list."""
        actor = _check(self.store, actor)
        with self.store.transaction():
            done = self.store.conn.execute(
                "UPDATE seat_requests_out SET told_at = ?, told_by = ? WHERE id = ? AND outcome IS NOT NULL",
                (self.store.now_iso(), actor.get("id"), request_id),
            ).rowcount
            if not done:
                raise NotFound(
                    "request_id", N_("Cette demande est introuvable."), f"no answered request {request_id!r}"
                )
            self.store.audit(actor, "seat_request.told", request_id=request_id)

    # ------------------------------------------------------------ another centre asks, here

    def incoming(self) -> list[dict[str, Any]]:
        """Requests from other centres' residents waiting for staff, oldest first,
        with the session they ask for (None if it is not known here)."""
        rows = self.store.query("SELECT * FROM seat_requests_in WHERE outcome IS NULL ORDER BY received_at")
        workshops = Workshops(self.store)
        for row in rows:
            try:
                row["session"] = workshops.session(row["session_id"])
            except NotFound:
                row["session"] = None
        return rows

    def _waiting(self, request_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM seat_requests_in WHERE id = ?", (request_id,))
        if row is None:
            raise NotFound("request_id", N_("Cette demande est introuvable."), f"no request {request_id!r}")
        if row["outcome"] is not None:
            raise Conflict(
                "request_id", N_("Cette demande a déjà une réponse."), "the request was already answered"
            )
        return row

    def _member_for(self, row: dict[str, Any], actor: dict) -> str:
        """The member here with the request's names and phone, or a new one
        (the resident consented to their data going to this centre)."""
        same = text.fold(row["first_name"]), text.fold(row["last_name"])
        for found in self.store.query(
            "SELECT id, first_name, last_name FROM members WHERE phone = ? AND erased_at IS NULL",
            (row["phone"],),
        ):
            if (text.fold(found["first_name"]), text.fold(found["last_name"])) == same:
                return str(found["id"])
        member = Members(self.store, self.settings).register(
            first_name=row["first_name"],
            last_name=row["last_name"],
            phone=row["phone"],
            consent_data=True,
            actor=actor,
        )
        return str(member["id"])

    def accept(self, request_id: str, actor: dict | None) -> dict[str, Any]:
        """Register the resident in the session: ``{"outcome": "accepted",
        "member_id", "registration_id"}``, or ``{"outcome": "full"}`` when
        no seat is left (the answer says so; nobody is registered)."""
        actor = _check(self.store, actor)
        with self.store.transaction():
            row = self._waiting(request_id)
            workshops = Workshops(self.store)
            session = workshops.session(row["session_id"])
            if session["seats_left"] <= 0 or session["cancelled"]:
                return self._decide(row, "full", actor)
            member_id = self._member_for(row, actor)
            booked = workshops.register(row["session_id"], member_id, actor=actor)
            if booked["status"] != "booked":  # a seat went meanwhile: not on a waiting list they did not ask
                workshops.cancel_registration(row["session_id"], member_id, actor=actor)
                return self._decide(row, "full", actor)
            return self._decide(row, "accepted", actor, member_id, booked["registration_id"])

    def decline(self, request_id: str, actor: dict | None) -> dict[str, Any]:
        actor = _check(self.store, actor)
        with self.store.transaction():
            return self._decide(self._waiting(request_id), "declined", actor)

    def _decide(
        self,
        row: dict[str, Any],
        outcome: str,
        actor: dict,
        member_id: str | None = None,
        registration_id: str | None = None,
    ) -> dict[str, Any]:
        now = self.store.now_iso()
        answer = {"v": FORMAT, "id": row["id"], "outcome": outcome, "answered_at": now}
        sealed = envelope.seal_to_centre(answer, bytes.fromhex(row["reply_key"]))
        self.store.conn.execute(
            "UPDATE seat_requests_in SET outcome = ?, decided_at = ?, decided_by = ?, member_id = ?, "
            "registration_id = ?, answer = ? WHERE id = ?",
            (outcome, now, actor.get("id"), member_id, registration_id, sealed, row["id"]),
        )
        self.store.audit(actor, "seat_request." + outcome, request_id=row["id"])
        return {"outcome": outcome, "member_id": member_id, "registration_id": registration_id}

    # ------------------------------------------------------------ what the sync carries

    def to_send(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM seat_requests_out WHERE sent_at IS NULL ORDER BY created_at")

    def sealed(self, row: dict[str, Any], target_key: str) -> bytes:
        """The request sealed to the target centre's public key (hex)."""
        payload = {
            "v": FORMAT,
            "id": row["id"],
            "from_centre": self.settings.get("centre_id"),
            "reply_key": public_key(self.store),
            "session_id": row["session_id"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "phone": row["phone"],
            "consent_at": row["consent_at"],
        }
        return envelope.seal_to_centre(payload, bytes.fromhex(target_key))

    def mark_sent(self, request_id: str) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE seat_requests_out SET sent_at = ? WHERE id = ?", (self.store.now_iso(), request_id)
            )

    def take(self, item: dict[str, Any]) -> bool:
        """Open and keep a request the hub handed over (``item``: its id,
        ``from_centre`` as the hub knows the sender, its name, ``sealed``
        bytes). True when kept (or already held); ``Refused`` when it does
        not open here or is not what a kiosk seals."""
        try:
            data = envelope.open_for_centre(item["sealed"], replication.keyring(self.store))
        except EnvelopeError as error:
            raise Refused(str(error)) from error
        fields = _checked_request(data)
        if fields["id"] != item["id"] or fields["from_centre"] != item["from_centre"]:
            raise Refused("the sealed request does not match what the hub says of it")
        name = _text(item.get("from_centre_name"), 200) or ""
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO seat_requests_in (id, from_centre, from_centre_name, reply_key, session_id, "
                "first_name, last_name, phone, consent_at, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    fields["id"],
                    fields["from_centre"],
                    name,
                    fields["reply_key"],
                    fields["session_id"],
                    fields["first_name"],
                    fields["last_name"],
                    fields["phone"],
                    fields["consent_at"],
                    self.store.now_iso(),
                ),
            )
        return True

    def answers_to_send(self) -> list[tuple[str, bytes]]:
        rows = self.store.conn.execute(
            "SELECT id, answer FROM seat_requests_in WHERE answer IS NOT NULL AND answer_sent_at IS NULL"
        ).fetchall()
        return [(row[0], bytes(row[1])) for row in rows]

    def mark_answer_sent(self, request_id: str) -> None:
        """The hub holds the answer: the sealed copy here is no longer needed."""
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE seat_requests_in SET answer_sent_at = ?, answer = NULL WHERE id = ?",
                (self.store.now_iso(), request_id),
            )

    def take_answer(self, item: dict[str, Any]) -> bool:
        """Open and keep the answer to a request made here; True when it
        matched one (or was already held)."""
        try:
            data = envelope.open_for_centre(item["answer"], replication.keyring(self.store))
        except EnvelopeError as error:
            raise Refused(str(error)) from error
        if (
            not isinstance(data, dict)
            or data.get("v") != FORMAT
            or data.get("id") != item["id"]
            or data.get("outcome") not in OUTCOMES
        ):
            raise Refused("the sealed answer is not what a kiosk seals")
        try:
            answered_at = protocol.utc_text(data.get("answered_at"))
        except (TypeError, ValueError) as error:
            raise Refused(f"the sealed answer's time is wrong: {error}") from error
        with self.store.transaction():
            row = self.store.one(
                "SELECT to_centre, outcome FROM seat_requests_out WHERE id = ?", (item["id"],)
            )
            if row is None or row["to_centre"] != item.get("to_centre"):
                raise Refused("an answer to no request made here")
            if row["outcome"] is None:
                self.store.conn.execute(
                    "UPDATE seat_requests_out SET outcome = ?, answered_at = ? WHERE id = ?",
                    (data["outcome"], answered_at, item["id"]),
                )
        return True
