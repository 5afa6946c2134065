"""Households (« foyers »): members who live together, linked by one id.

A household is nothing but the members holding the same ``household_id``,
a random id (UUID4, no time in it) made on the kiosk when two members are
first linked. It has no name and no row of its own, so:

* a household has at least two members: linking someone to a member with
  no household makes one for the two of them; one member left alone (the
  others unlinked or erased) goes back to no household;
* being in a household is optional: a member with none is « sans foyer
  renseigné », never an error, and nothing here ever blocks a registration.

Every change of a member's household reaches the hub as that member's
``member.updated`` (its ``household_id``, protocol 1.2), emitted in the
change's transaction. What the hub counts from it (families reached, the
people in them, families with children): docs/funder-figures.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from kiosk.core.errors import N_, InvalidInput, NotFound
from kiosk.core.members import Members, check_actor, display_name, reported_attributes
from kiosk.core.settings import Settings
from kiosk.core.store import Store

#: the most members one household may hold: a bound, not a judgement (a
#: mistake that links half the centre together is refused, not reported)
MAX_MEMBERS = 20


def new_household_id() -> str:
    """A random household id, as the protocol writes ids (lowercase UUID).
    Random rather than time-ordered: the id says nothing of when it was made."""
    return str(uuid.uuid4())


class Households:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.members = Members(store, settings)

    # ------------------------------------------------------------ reads

    def of(self, member_id: str) -> list[dict]:
        """The other members of ``member_id``'s household, by first name
        (empty when the member has none). NotFound for an unknown member."""
        member = self.members.get(member_id)
        if not member["household_id"]:
            return []
        rows = self.store.query(
            "SELECT id, first_name, last_name, birth_year, age_band, age_band_year, erased_at "
            "FROM members WHERE household_id = ? AND id != ? AND erased_at IS NULL "
            "ORDER BY first_name, last_name, id",
            (member["household_id"], member_id),
        )
        return [{**row, "display_name": display_name(row)} for row in rows]

    def size(self, member_id: str) -> int:
        """How many members ``member_id``'s household holds, the member
        included (1: no household)."""
        return 1 + len(self.of(member_id))

    # ------------------------------------------------------------ writes

    def link(self, member_id: str, with_member_id: str, actor: dict | None = None) -> str:
        """Put ``member_id`` in the household of ``with_member_id`` (« même
        foyer que… »), making one for the two when that member has none.
        A member who was in another household leaves it. Returns the
        household id."""
        check_actor(actor)
        if member_id == with_member_id:
            raise InvalidInput(
                "with_member_id",
                N_("Choisissez une autre personne que celle-ci."),
                "a member cannot be linked to themselves",
                value=with_member_id,
            )
        with self.store.transaction():
            member = self.members.get(member_id)  # NotFound when unknown or erased
            other = self.members.get(with_member_id)
            household = other["household_id"]
            if household and household == member["household_id"]:
                return household
            if household and self._count(household) >= MAX_MEMBERS:
                raise InvalidInput(
                    "with_member_id",
                    N_("Ce foyer a déjà %(count)d personnes. Demandez à un salarié."),
                    f"household {household} already holds {MAX_MEMBERS} members",
                    value=with_member_id,
                    count=MAX_MEMBERS,
                )
            if member["household_id"]:
                self._leave(member)
            if not household:
                household = new_household_id()
                self._set(other, household)
            self._set(self.members.get(member_id), household)
            if actor:
                self.store.audit(actor, "household.link", member_id=member_id, with_member_id=with_member_id)
        return household

    def together(self, member_id: str, other_id: str, actor: dict | None = None) -> str:
        """Put ``other_id`` in ``member_id``'s household (« ajouter à ce
        foyer », from that member's card): when ``member_id`` has none yet
        and the other has one, ``member_id`` joins theirs instead, so a
        household is never split to make a new one. Returns the household id."""
        member = self.members.get(member_id)
        if member["household_id"]:
            return self.link(other_id, member_id, actor=actor)
        return self.link(member_id, other_id, actor=actor)

    def unlink(self, member_id: str, actor: dict | None = None) -> None:
        """Take ``member_id`` out of their household (nothing to do when in
        none); one member left alone there leaves it too."""
        check_actor(actor)
        with self.store.transaction():
            member = self.members.get(member_id)
            if not member["household_id"]:
                return
            self._leave(member)
            if actor:
                self.store.audit(actor, "household.unlink", member_id=member_id)

    def register(self, same_household_as: str | None = None, **fields: Any) -> dict:
        """``Members.register``, then « même foyer que » ``same_household_as``
        in the same transaction. The registration never waits on the
        household: when that member has gone meanwhile (erased), or their
        household is full, the new member is registered with none."""
        with self.store.transaction():
            member = self.members.register(**fields)
            if same_household_as:
                try:  # link's transaction is a savepoint here: a refused link leaves the registration
                    self.link(member["id"], same_household_as, actor=fields.get("actor"))
                except (NotFound, InvalidInput):
                    pass
        return self.members.get(member["id"])

    def forget(self, member_id: str) -> None:
        """Erasure's part, inside the erasure's transaction: the member
        leaves their household (its ``member.erased`` tells the hub)."""
        member = self.members.get(member_id)
        if member["household_id"]:
            self._leave(member, emit=False)

    # ------------------------------------------------------------ inside a transaction

    def _count(self, household: str) -> int:
        return self.store.conn.execute(
            "SELECT count(*) FROM members WHERE household_id = ? AND erased_at IS NULL", (household,)
        ).fetchone()[0]

    def _set(self, member: dict, household: str | None) -> None:
        """Write a member's household and tell the hub (member.updated)."""
        self.store.conn.execute(
            "UPDATE members SET household_id = ?, updated_at = ? WHERE id = ?",
            (household, self.store.now_iso(), member["id"]),
        )
        changed = {**member, "household_id": household}
        self.store.emit("member.updated", reported_attributes(changed, self.store.now().date()))

    def _leave(self, member: dict, emit: bool = True) -> None:
        household = member["household_id"]
        if emit:
            self._set(member, None)
        else:
            self.store.conn.execute("UPDATE members SET household_id = NULL WHERE id = ?", (member["id"],))
        left = self.store.query(
            "SELECT id FROM members WHERE household_id = ? AND erased_at IS NULL", (household,)
        )
        if len(left) == 1:  # a household is two members or more
            self._set(self.members.get(left[0]["id"]), None)
