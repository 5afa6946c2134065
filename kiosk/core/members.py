"""Members (adhérents): registering, finding, updating, replacing a lost card.

Every change commits with its event (``member.created`` / ``member.updated``)
in one transaction. Events carry the member's random id and the attributes
reporting needs (age band, year of birth, gender, commune, neighbourhood, QPV
flag, the random id of their household), never a name, phone, e-mail or date
of birth.

``member.updated`` is emitted only when one of those reported attributes
changes: the hub knows nothing else about a member, so a new phone number or
a corrected spelling of a name has nothing to tell it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kiosk.core import cards, outreach, replication, search, situation, text
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol

GENDERS = list(protocol.GENDERS)

#: Fields ``update`` accepts. Withdrawing the consent to data processing is
#: an erasure (kiosk/core/privacy.py), not an update.
UPDATABLE = (
    "first_name",
    "last_name",
    "birth_year",
    "age_band",
    "gender",
    "commune",
    "neighbourhood",
    "phone",
    "email",
    "consent_photos",
    "consent_contact",
    # the FSE+ situation (kiosk/core/situation.py): the consent, then the answers
    "situation_consent",
    "employment",
    "education",
)

#: the bands a resident may give instead of a year of birth
CHOSEN_BANDS = [band for band in protocol.AGE_BANDS if band != "unknown"]


def _band_ages(band: str) -> tuple[int, int | None]:
    """« 25-54 » -> (25, 54); « 65+ » -> (65, None)."""
    if band.endswith("+"):
        return int(band[:-1]), None
    low, high = band.split("-")
    return int(low), int(high)


def band_now(band: str | None, given_in: int | None, on: date) -> str:
    """The protocol band, in ``on``'s year, of someone who gave ``band`` in
    the year ``given_in`` (ages by year, as sync.protocol.age_band counts):
    the band that holds every age they may have now, else « unknown »."""
    if not band or band == "unknown" or given_in is None:
        return "unknown"
    low, high = _band_ages(band)
    shift = on.year - given_in
    for candidate in CHOSEN_BANDS:
        c_low, c_high = _band_ages(candidate)
        if c_low <= low + shift and (c_high is None or (high is not None and high + shift <= c_high)):
            return candidate
    return "unknown"


def age_band_of(member, on: date) -> str:
    """The member's reported band (``member``: a members row, as a dict or a
    sqlite3.Row): from the year of birth, else from the band given."""
    if member["birth_year"] is not None:
        return protocol.age_band(member["birth_year"], on)
    return band_now(member["age_band"], member["age_band_year"], on)


def reported_attributes(member: dict, on: date) -> dict:
    """The payload of member.created / member.updated: what the hub may know."""
    return {
        "member_id": member["id"],
        "age_band": age_band_of(member, on),
        # the year alone, so the hub can count each funder's age bands at any date
        "year_born": member["birth_year"],
        "gender": member["gender"],
        "commune": member["commune"],
        "neighbourhood": member["neighbourhood"],
        "qpv": bool(member["qpv"]),
        # the random id of the member's household, or None (kiosk/core/households.py)
        "household_id": member.get("household_id"),
        # the FSE+ situation, only while the member consents to give it
        **situation.reported(member),
    }


def display_name(member: dict) -> str:
    """What the kiosk shows the public: first name and initial ('Aïcha B.')."""
    if member.get("erased_at") or not member.get("first_name"):
        return "—"
    initial = member["last_name"][:1].upper()
    return f"{member['first_name']} {initial}." if initial else member["first_name"]


def check_actor(actor: dict | None) -> None:
    if actor is not None and (
        not isinstance(actor, dict) or actor.get("role") not in ("volunteer", "staff") or not actor.get("id")
    ):
        raise InvalidInput(
            "actor",
            N_("Cette action demande le code d'un bénévole ou d'un salarié."),
            "actor must be a volunteer or staff member with an id",
            value=actor,
        )


class Members:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    # ------------------------------------------------------------ checks

    def _clean(self, fields: dict) -> dict:
        """Check and normalise the fields given; raise InvalidInput on the first bad one."""
        clean: dict[str, Any] = {}
        for name in ("first_name", "last_name"):
            if name in fields:
                clean[name] = text.clean_name(name, fields[name])
        if "birth_year" in fields:
            clean["birth_year"] = text.clean_birth_year(fields["birth_year"], self.store.now().year)
        if "age_band" in fields:
            # a band stands for the year of birth the resident preferred not to give
            band = fields["age_band"] or None
            clean["age_band"] = None if band is None else text.clean_choice("age_band", band, CHOSEN_BANDS)
            clean["age_band_year"] = None if band is None else self.store.now().year
        if clean.get("birth_year") is not None:
            clean["age_band"], clean["age_band_year"] = None, None
        if "gender" in fields:
            clean["gender"] = text.clean_choice("gender", fields["gender"], GENDERS)
        if "commune" in fields:
            clean["commune"] = text.clean_choice("commune", fields["commune"], self.settings.get("communes"))
        if "neighbourhood" in fields:
            names = [item["name"] for item in self.settings.get("neighbourhoods")]
            clean["neighbourhood"] = text.clean_choice("neighbourhood", fields["neighbourhood"], names)
        if "phone" in fields:
            clean["phone"] = text.clean_phone(fields["phone"])
        if "email" in fields:
            clean["email"] = text.clean_email(fields["email"])
        for flag in ("consent_photos", "consent_contact"):
            if flag in fields:
                clean[flag] = text.clean_flag(flag, fields[flag])
        clean.update(situation.clean(fields, self.store.now_iso()))
        return clean

    def _place(self, member: dict) -> dict:
        """Derive QPV from the neighbourhood, and the commune when none was
        given; refuse a neighbourhood outside the chosen commune."""
        place = self.settings.neighbourhood(member["neighbourhood"]) if member["neighbourhood"] else None
        if place is None:
            return {"qpv": False}
        if member["commune"] is None:
            return {"qpv": place["qpv"], "commune": place["commune"]}
        if member["commune"] != place["commune"]:
            raise InvalidInput(
                "neighbourhood",
                N_("Ce quartier n'est pas dans la ville %(commune)s. Choisissez un autre quartier."),
                f"{place['name']!r} is not in {member['commune']!r}",
                value=member["neighbourhood"],
                commune=member["commune"],
            )
        return {"qpv": place["qpv"]}

    def _new_card_code(self) -> str:
        while True:  # 35 random bits: a clash is rare, but a code is never given twice
            code = cards.new_code()
            taken = self.store.conn.execute(
                "SELECT 1 FROM members WHERE card_code = ? UNION ALL "
                "SELECT 1 FROM revoked_cards WHERE card_code = ?",
                (code, code),
            ).fetchone()
            if not taken:
                return code

    # ------------------------------------------------------------ writes

    def register(
        self,
        first_name: str,
        last_name: str,
        birth_year: int | None = None,
        age_band: str | None = None,
        gender: str | None = None,
        commune: str | None = None,
        neighbourhood: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        consent_data: bool = False,
        consent_photos: bool = False,
        consent_contact: bool = False,
        actor: dict | None = None,
    ) -> dict:
        """Register a member who agreed to their data being kept; returns the member."""
        if consent_data is not True:
            raise InvalidInput(
                "consent_data",
                N_(
                    "Sans votre accord, nous ne pouvons pas garder vos informations. "
                    "Vous pouvez venir au centre sans vous inscrire."
                ),
                "a member is registered only with their consent to data processing",
                value=consent_data,
            )
        check_actor(actor)
        member = self._clean(
            dict(
                first_name=first_name,
                last_name=last_name,
                birth_year=birth_year,
                age_band=age_band,
                gender=gender,
                commune=commune,
                neighbourhood=neighbourhood,
                phone=phone,
                email=email,
                consent_photos=consent_photos,
                consent_contact=consent_contact,
            )
        )
        member.update(self._place(member))
        now = self.store.now_iso()
        member.update(
            id=protocol.new_id(),
            consent_data=True,
            consent_data_at=now,
            created_at=now,
            updated_at=now,
            last_seen_at=None,
            erased_at=None,
        )
        with self.store.transaction():
            member["card_code"] = self._new_card_code()
            # met at the itinerant event on today on this device, if any
            member["outreach_id"] = outreach.active_id(self.store)
            self.store.db.table("members").insert(member)
            search.index_member(self.store.conn, member["id"], member["first_name"], member["last_name"], now)
            self.store.emit(
                "member.created",
                {
                    **reported_attributes(member, self.store.now().date()),
                    "outreach_id": member["outreach_id"],
                },
            )
            replication.record_member(self.store, member)
            if actor:
                self.store.audit(actor, "member.register", member_id=member["id"])
        return self.get(member["id"])

    def update(self, member_id: str, actor: dict | None = None, **fields: Any) -> dict:
        """Change some of a member's fields; returns the member as stored."""
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise InvalidInput(
                unknown[0],
                N_("Ce champ ne peut pas être modifié. Demandez à un salarié."),
                f"unknown or read-only field {unknown[0]!r}",
                value=fields[unknown[0]],
            )
        check_actor(actor)
        before = self.get(member_id)
        changes = self._clean(fields)
        after = {**before, **changes}
        if changes.get("neighbourhood") and "commune" not in changes:
            after["commune"] = None  # moving house: the new neighbourhood says the commune
        changes.update(self._place(after))
        after.update(changes)
        situation.check(before, after, changes, self.settings)
        today = self.store.now().date()
        old_report = reported_attributes(before, today)
        new_report = reported_attributes(after, today)
        with self.store.transaction():
            changes["updated_at"] = self.store.now_iso()
            self.store.db.table("members").update(member_id, changes)
            replication.record_member(self.store, {"id": member_id, **changes})
            if before["first_name"] != after["first_name"] or before["last_name"] != after["last_name"]:
                seen = before["last_seen_at"] or before["created_at"]
                search.index_member(self.store.conn, member_id, after["first_name"], after["last_name"], seen)
            if new_report != old_report:
                self.store.emit("member.updated", new_report)
            if actor:
                self.store.audit(actor, "member.update", member_id=member_id, fields=sorted(fields))
        return self.get(member_id)

    def replace_card(self, member_id: str, actor: dict) -> dict:
        """Give a member a new card code (lost card); the old code is refused from now on."""
        if actor is None:
            raise InvalidInput(
                "actor",
                N_("Cette action demande le code d'un bénévole ou d'un salarié."),
                "replacing a card needs a volunteer or staff member",
                value=None,
            )
        check_actor(actor)
        member = self.get(member_id)
        with self.store.transaction():
            now = self.store.now_iso()
            self.store.conn.execute(
                "INSERT INTO revoked_cards (card_code, member_id, "
                "reason, revoked_at) VALUES (?, ?, 'replaced', ?)",
                (member["card_code"], member_id, now),
            )
            code = self._new_card_code()
            self.store.conn.execute(
                "UPDATE members SET card_code = ?, updated_at = ? WHERE id = ?", (code, now, member_id)
            )
            replication.record_member(self.store, {"id": member_id, "card_code": code, "updated_at": now})
            self.store.audit(actor, "member.replace_card", member_id=member_id)
        return self.get(member_id)

    # ------------------------------------------------------------ reads

    def get(self, member_id: str) -> dict:
        row = self.store.one("SELECT * FROM members WHERE id = ? AND erased_at IS NULL", (member_id,))
        if row is None:
            raise NotFound(
                "member_id",
                N_("Nous ne trouvons pas cette personne. Demandez à l'accueil."),
                f"no member {member_id!r}",
                value=member_id,
            )
        return self._fresh(row)

    def _fresh(self, row: dict) -> dict:
        """A members row with its flags as booleans and its last contact
        fresh (a check-in does not write last_seen_at: see search.refresh_recency)."""
        row["last_seen_at"] = search.last_seen(self.store.conn, row["id"], row["last_seen_at"])
        return _as_member(row)

    def by_card(self, code: str) -> dict:
        """The member holding this card; a replaced card raises Conflict."""
        typed = cards.normalise(code)
        if not cards.is_valid(typed):
            raise InvalidInput(
                "card_code",
                N_("Nous n'arrivons pas à lire cette carte. Essayez encore, ou demandez à l'accueil."),
                "not a card code (wrong length, letter or check character)",
                value=code,
            )
        row = self.store.one("SELECT * FROM members WHERE card_code = ? AND erased_at IS NULL", (typed,))
        if row is not None:
            return self._fresh(row)
        revoked = self.store.one(
            "SELECT r.reason, m.merged_into FROM revoked_cards r JOIN members m ON m.id = r.member_id "
            "WHERE r.card_code = ?",
            (typed,),
        )
        kept = revoked["merged_into"] if revoked else None
        for _ in range(8):  # the card of a record merged into another opens the kept one
            if kept is None:
                break
            row = self.store.one("SELECT * FROM members WHERE id = ?", (kept,))
            if row is not None and row["erased_at"] is None:
                return self._fresh(row)
            kept = row["merged_into"] if row is not None else None
        if revoked and revoked["reason"] == "replaced":
            raise Conflict(
                "card_code",
                N_(
                    "Cette carte ne marche plus : vous avez une nouvelle carte. "
                    "Prenez la nouvelle carte, ou demandez à l'accueil."
                ),
                "this card was replaced by a new one",
                value=typed,
            )
        raise NotFound(
            "card_code",
            N_("Cette carte ne marche pas. Demandez une nouvelle carte à l'accueil."),
            "no member holds this card",
            value=typed,
        )

    def search(self, query: str, limit: int = 8) -> list[dict]:
        """Members by name prefix (accents, case and one typo forgiven) or by card code."""
        if not isinstance(query, str) or not query.strip():
            return []
        search.refresh_recency(self.store.conn)  # ranks by recency: apply the latest check-ins first
        code = search.card_query(query)
        if code:
            row = self.store.one("SELECT * FROM members WHERE card_code = ? AND erased_at IS NULL", (code,))
            if row is not None:
                return [_as_member(row)]
        ids = search.matching_ids(self.store.conn, query, limit)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = {
            row["id"]: row
            for row in self.store.query(
                f"SELECT * FROM members WHERE id IN ({marks}) AND erased_at IS NULL", ids
            )
        }
        return [_as_member(rows[i]) for i in ids if i in rows]

    def count(self) -> int:
        return self.store.conn.execute("SELECT count(*) FROM members WHERE erased_at IS NULL").fetchone()[0]

    display_name = staticmethod(display_name)


def _as_member(row: dict) -> dict:
    """A members row with its flags as booleans."""
    for flag in ("qpv", "consent_data", "consent_photos", "consent_contact"):
        row[flag] = bool(row[flag])
    return row
