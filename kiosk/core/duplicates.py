"""« Doublons possibles »: the same person registered twice (on two devices
of the centre, or twice on one), found for staff, who merge the two records
or say they are not the same person (docs/replication.md, « Duplicates »).

Two living members are a possible duplicate when they were born the same
year and their first and last names are equal once folded (case, accents,
spaces, hyphens and apostrophes ignored), or nearly: a few typing mistakes,
fewer for a short name (``tolerance``), and first and last names swapped.
Members are compared only within a block of the same year of birth and the
same pair of initials, so the search stays quick on a large centre
(``benchmarks/bench_duplicates.py``); a typo in a name's first letter is
the price of that.

A merge keeps the record staff chose; the other one's details fill the kept
one's where it has none (staff see which before confirming), then it points
at the kept one (``merged_into``) and holds nothing more: its visits,
registrations, attendance and card follow the kept member
(``replication.follow_merge``). The merge replicates to the centre's other
devices, and the hub hears ``member.merged`` (two pseudonyms) so it counts
one participant. A pair staff dismissed (« Pas la même personne ») never
comes back, on any device.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import OSA

from kiosk.core import replication, review, text
from kiosk.core.errors import N_, Conflict, InvalidInput, NotFound
from kiosk.core.members import Members, check_actor, reported_attributes
from kiosk.core.settings import Settings
from kiosk.core.store import Store

#: the details a kept record takes from the other where it has none; the
#: consents are the person's answers on each record and are never taken over
FILLABLE = (
    "birth_year",
    "age_band",
    "age_band_year",
    "gender",
    "commune",
    "neighbourhood",
    "qpv",
    "phone",
    "email",
    "card_code",
    "household_id",
)
#: the most pairs one search returns (the screen shows them a page at a time)
MAX_PAIRS = 500

_NOT_LETTERS = re.compile(r"[^0-9a-z\u00c0-\uffff]+")


@lru_cache(maxsize=65_536)  # names repeat: each is folded once
def normalise(name: str | None) -> str:
    """A name as the comparison sees it: folded (no case, accents or
    ligatures) without spaces, hyphens or apostrophes ('Marie-Thérèse'
    and 'marie therese' are one)."""
    return _NOT_LETTERS.sub("", text.fold(name or ""))


def tolerance(name: str) -> int:
    """Typing mistakes allowed in a normalised name: none up to 3 letters,
    one up to 7, two beyond (a swap of two letters counts one)."""
    return 0 if len(name) <= 3 else 1 if len(name) <= 7 else 2


@lru_cache(maxsize=262_144)  # the same two names meet in many blocks (years)
def _close(one: str, other: str) -> bool:
    allowed = min(tolerance(one), tolerance(other))
    return OSA.distance(one, other, score_cutoff=allowed) <= allowed


def same_names(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """Whether two normalised (first, last) names may be one person's: each
    name within its tolerance, as given or with first and last swapped."""
    if not (first_a and last_a and first_b and last_b):
        return False
    return (_close(first_a, first_b) and _close(last_a, last_b)) or (
        _close(first_a, last_b) and _close(last_a, first_b)
    )


@dataclass(frozen=True)
class Pair:
    """Two members that may be one person, the smaller id first."""

    member_a: str
    member_b: str


Row = tuple[str, str | None, str | None, int | None]


def find_pairs(rows: list[Row], dismissed: set[Pair]) -> list[Pair]:
    """The possible duplicates among ``rows`` (id, first name, last name,
    year of birth), leaving out the pairs in ``dismissed``. Pure: the
    benchmark and the tests call it on their own rows."""
    # block -> normalised (first, last) -> the members bearing it: names
    # repeat, so each distinct pair of names in a block is compared once
    blocks: dict[tuple[int, str], dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    for member_id, first, last, year in rows:
        if year is None:
            continue
        first_n, last_n = normalise(first), normalise(last)
        if not first_n or not last_n:
            continue
        # the same block whichever of the two names comes first
        initials = "".join(sorted((first_n[0], last_n[0])))
        blocks[(year, initials)][(first_n, last_n)].append(member_id)
    found: set[Pair] = set()
    for names in blocks.values():
        keys = list(names)
        for i, key in enumerate(keys):
            same = names[key]
            found.update(Pair(*sorted((a, b))) for n, a in enumerate(same) for b in same[n + 1 :])
            for other in keys[i + 1 :]:
                if same_names(*key, *other):
                    found.update(Pair(*sorted((a, b))) for a in same for b in names[other])
    return sorted(found - dismissed, key=lambda p: (p.member_a, p.member_b))


#: the pairs last found on each open database, with what they were found
#: from (``Duplicates._fingerprint``): the staff menu counts « À vérifier »
#: each time it is shown, and the search runs again only once something was
#: written. A cache, dropped with its store.
_FOUND: weakref.WeakKeyDictionary[Store, tuple[tuple, list[Pair]]] = weakref.WeakKeyDictionary()


class Duplicates:
    """The staff's side: the pairs to look at, a pair dismissed, a merge."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.members = Members(store, settings)

    def dismissed(self) -> set[Pair]:
        return {
            Pair(a, b)
            for a, b in self.store.conn.execute("SELECT member_a, member_b FROM duplicate_dismissals")
        }

    def pairs(self, limit: int = MAX_PAIRS) -> list[Pair]:
        """The possible duplicates among the living members, newest first
        (the record registered last), at most ``limit``."""
        fingerprint = self._fingerprint()
        held = _FOUND.get(self.store)
        if held is not None and held[0] == fingerprint:
            return held[1][:limit]
        rows = self.store.conn.execute(
            "SELECT id, first_name, last_name, birth_year FROM members "
            "WHERE erased_at IS NULL AND birth_year IS NOT NULL"
        ).fetchall()
        found = find_pairs(rows, self.dismissed())
        found.sort(key=lambda p: max(p.member_a, p.member_b), reverse=True)  # ids are time-ordered
        _FOUND[self.store] = (fingerprint, found)
        return found[:limit]

    def _fingerprint(self) -> tuple[int, int]:
        """Changes whenever the database does: a commit on another connection
        moves ``data_version``, one on this connection ``total_changes``."""
        (version,) = self.store.conn.execute("PRAGMA data_version").fetchone()
        return version, self.store.conn.total_changes

    def count(self) -> int:
        return len(self.pairs())

    def side(self, member_id: str) -> dict[str, Any]:
        """What staff see of one record: the member, their last visit, and
        where the record was made (this device, another of the centre, or
        an event outside the centre)."""
        member = self.members.get(member_id)
        first = self.store.conn.execute(
            "SELECT origin FROM replication_log WHERE tbl = 'members' AND row_id = ? ORDER BY stamp LIMIT 1",
            (member_id,),
        ).fetchone()
        outreach = self.store.one("SELECT outreach_id FROM members WHERE id = ?", (member_id,))
        if outreach and outreach["outreach_id"]:
            origin = "outreach"
        elif first is not None and first[0] == "remote":
            origin = "other_device"
        else:
            origin = "this_device"
        return {**member, "origin": origin}

    def preview(self, keep_id: str, other_id: str) -> dict[str, Any]:
        """The details the kept record would take from the other one (those
        it has none of): what staff confirm before merging."""
        keep, other = self.members.get(keep_id), self.members.get(other_id)
        fill = {
            name: other[name]
            for name in FILLABLE
            if keep.get(name) in (None, "", False) and other.get(name) not in (None, "", False)
        }
        if "neighbourhood" not in fill:
            fill.pop("qpv", None)  # the QPV flag goes with the neighbourhood it comes from
        return fill

    def dismiss(self, member_a: str, member_b: str, actor: dict) -> None:
        """« Pas la même personne »: the pair is not offered again, here or
        on the centre's other devices."""
        self._check(member_a, member_b, actor)
        low, high = sorted((member_a, member_b))
        with self.store.transaction():
            now = self.store.now_iso()
            self.store.conn.execute(
                "INSERT OR IGNORE INTO duplicate_dismissals (member_a, member_b, dismissed_at) "
                "VALUES (?, ?, ?)",
                (low, high, now),
            )
            replication.record_dismissal(self.store, low, high, now)
            self.store.audit(actor, "member.not_duplicate", member_a=low, member_b=high)

    def merge(self, keep_id: str, other_id: str, actor: dict) -> dict[str, Any]:
        """Merge ``other_id``'s record into ``keep_id``'s (staff chose which
        to keep); returns the kept member as stored."""
        self._check(keep_id, other_id, actor)
        keep = self.members.get(keep_id)
        fill = self.preview(keep_id, other_id)
        today = self.store.now().date()
        with self.store.transaction():
            now = self.store.now_iso()
            # the merge is in the log before the rows follow: a replicating
            # device merges each session's registrations from the log
            replication.record(self.store, "members", other_id, {"merged_into": keep_id, "updated_at": now})
            twins = {
                table: self.store.query(
                    f"SELECT * FROM {table} WHERE member_id IN (?, ?) "
                    f"AND session_id IN (SELECT session_id FROM {table} WHERE member_id = ? "
                    f"INTERSECT SELECT session_id FROM {table} WHERE member_id = ?)",
                    (keep_id, other_id, keep_id, other_id),
                )
                for table in ("registrations", "attendance")
            }
            replication.follow_merge(self.store, other_id, keep_id)
            self._drop_twins(twins, keep_id)
            if fill:
                self.store.db.table("members").update(keep_id, {**fill, "updated_at": now})
                replication.record_member(self.store, {"id": keep_id, **fill, "updated_at": now})
            self.store.emit("member.merged", {"member_id": other_id, "into_member_id": keep_id})
            if _report(keep, today) != _report({**keep, **fill}, today):
                self.store.emit("member.updated", _report({**keep, **fill}, today))
            self.store.audit(
                actor, "member.merge", member_id=other_id, into_member_id=keep_id, filled=sorted(fill)
            )
        return self.members.get(keep_id)

    def _drop_twins(self, twins: dict[str, list[dict[str, Any]]], keep_id: str) -> None:
        """The registrations and marks the merge dropped (the person's second
        one to a session) end cancelled, or absent: in the log, so a later
        change of the one kept (a cancellation, an absence) is not undone on
        another device by the dropped one coming back as the better, and at
        the hub, whose registration, seat and attendance figures then count
        the person once."""
        for table, rows in twins.items():
            for twin in rows:
                if self.store.one(f"SELECT 1 FROM {table} WHERE id = ?", (twin["id"],)) is not None:
                    continue  # the one kept
                where = {"session_id": twin["session_id"], "member_id": keep_id}
                if table == "registrations" and twin["status"] != "cancelled":
                    replication.record(self.store, table, twin["id"], {"status": "cancelled"})
                    self.store.emit(
                        "registration.changed",
                        {"registration_id": twin["id"], **where, "status": "cancelled"},
                    )
                elif table == "attendance" and twin["present"]:
                    replication.record(self.store, table, twin["id"], {"present": 0})
                    self.store.emit(
                        "attendance.taken",
                        {
                            "attendance_id": twin["id"],
                            **where,
                            "present": False,
                            "walk_in": bool(twin["walk_in"]),
                        },
                    )

    def _check(self, one: str, other: str, actor: dict) -> None:
        check_actor(actor)
        if (
            not actor
            or self.store.one(
                "SELECT 1 FROM staff WHERE id = ? AND role = 'staff' AND active = 1", (actor.get("id"),)
            )
            is None
        ):
            raise InvalidInput(
                "actor",
                N_("Cette action demande le code d'un salarié."),
                "merging or dismissing duplicates needs a staff member",
                value=actor,
            )
        if one == other:
            raise Conflict(
                "member_id", N_("C'est la même fiche."), "a member cannot be merged with itself", value=one
            )
        for member_id in (one, other):
            self.members.get(member_id)  # NotFound when unknown, erased or already merged


def _report(member: dict[str, Any], today: date) -> dict[str, Any]:
    return reported_attributes(member, today)


# ---------------------------------------------------------------- « À vérifier »


def _review_items(store: Store) -> list[review.Item]:
    settings = Settings(store)
    try:
        count = Duplicates(store, settings).count()
    except NotFound:  # pragma: no cover - a member erased while the list was read
        return []
    if not count:
        return []
    return [
        review.Item(
            kind="duplicates",
            item_id="all",
            day=store.now_iso()[:10],
            template=N_("Fiches en double possibles : %(count)d. La même personne inscrite deux fois ?"),
            params={"count": count},
        )
    ]


review.register(
    review.Kind(
        code="duplicates",
        title=N_("Doublons possibles"),
        icon="people",
        items=_review_items,
        correct_screen="staff_duplicates",
    )
)
