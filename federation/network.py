"""A parent hub's side of the roll-up: its child hubs (a departmental
federation's hub under a regional one, a regional under the national one),
their one-time link codes, their tokens, and the figures they send.

What a child sends is validated here against an allow-list (the dimensions
of federation.rollup_figures, their keys, periods and sizes) and stored as
sets: a set replaces the one it names, unless the parent already holds a
set computed later by that child (a higher ``generation``). So a batch sent
twice, or a day computed again after late events, replaces rather than adds.

Every function takes an open connection and leaves the transaction to the
caller, like federation.centres.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import centres, rollup_figures
from federation import store as db
from federation.projections import dialect_insert
from federation.rollup_figures import DIMENSIONS, FigureSet
from sync import protocol
from sync.clock import utc_now

#: what one batch may carry
MAX_SETS = 2000
MAX_CENTRES = 2000
MAX_GENERATION = 2**62


class FiguresRefused(ValueError):
    """A batch the parent will not store: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class ChildHub:
    id: str
    name: str


@dataclass
class Batch:
    batch_id: str
    generation: int
    centres: dict[str, tuple[str, str]]  # id -> (name, federation)
    sets: list[FigureSet]
    dropped: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- children and their codes


def add_child(conn: Connection, name: str, now: datetime | None = None) -> tuple[str, str]:
    """Record a child hub; return (its id, its one-time link code)."""
    name = name.strip()
    if not name or len(name) > 200 or protocol.unfit_text(name):
        raise ValueError("name: a child federation needs a name of 1 to 200 printable characters")
    child_id = protocol.new_id()
    conn.execute(db.child_hubs.insert().values(id=child_id, name=name, created_at=centres.now_iso(now)))
    return child_id, new_code(conn, child_id, now)


def new_code(conn: Connection, child_id: str, now: datetime | None = None) -> str:
    """A fresh one-time link code for a child, valid centres.CODE_LIFETIME."""
    if conn.execute(sa.select(db.child_hubs.c.id).where(db.child_hubs.c.id == child_id)).first() is None:
        raise LookupError(f"child: no child hub with id {child_id}")
    now = now or utc_now()
    raw = "".join(secrets.choice(centres.CODE_ALPHABET) for _ in range(centres.CODE_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, centres.CODE_LENGTH, 4))
    conn.execute(
        db.child_codes.insert().values(
            code_hash=centres.sha256(centres.normalise_code(code)),
            child_id=child_id,
            created_at=centres.now_iso(now),
            expires_at=centres.now_iso(now + centres.CODE_LIFETIME),
        )
    )
    return code


def link(conn: Connection, code: str, now: datetime | None = None) -> dict:
    """Trade a one-time code for the child's token (a new one replaces any
    earlier token of that child). Raises centres.EnrolmentRefused."""
    codes, now_text = db.child_codes, centres.now_iso(now)
    code_hash = centres.sha256(centres.normalise_code(code))
    claimed = conn.execute(
        codes.update()
        .where(codes.c.code_hash == code_hash, codes.c.used_at.is_(None), codes.c.expires_at > now_text)
        .values(used_at=now_text)
    ).rowcount
    if not claimed:
        held = conn.execute(sa.select(codes.c.used_at).where(codes.c.code_hash == code_hash)).first()
        if held is None:
            raise centres.EnrolmentRefused(403, "unknown link code")
        if held.used_at is not None:
            raise centres.EnrolmentRefused(
                403, "this link code was already used: ask the parent for a new one"
            )
        raise centres.EnrolmentRefused(403, "this link code has expired: ask the parent for a new one")
    child = conn.execute(
        sa.select(db.child_hubs)
        .join(codes, codes.c.child_id == db.child_hubs.c.id)
        .where(codes.c.code_hash == code_hash)
    ).one()
    if child.revoked_at is not None:
        raise centres.EnrolmentRefused(403, "this child federation was revoked by the parent")
    token = secrets.token_urlsafe(32)
    conn.execute(
        db.child_hubs.update()
        .where(db.child_hubs.c.id == child.id)
        .values(token_hash=centres.sha256(token), linked_at=now_text)
    )
    return {"child_id": child.id, "token": token, "name": child.name, "protocol": protocol.PROTOCOL_VERSION}


def authenticate(conn: Connection, token: str) -> ChildHub | None:
    """The linked, unrevoked child holding ``token``, or None."""
    c = db.child_hubs.c
    row = conn.execute(
        sa.select(c.id, c.name).where(c.token_hash == centres.sha256(token), c.revoked_at.is_(None))
    ).first()
    return ChildHub(row.id, row.name) if row else None


def revoke(conn: Connection, child_id: str, now: datetime | None = None) -> bool:
    """Refuse a child's token from now on; False if no such live child."""
    c = db.child_hubs.c
    return bool(
        conn.execute(
            db.child_hubs.update()
            .where(c.id == child_id, c.revoked_at.is_(None))
            .values(revoked_at=centres.now_iso(now))
        ).rowcount
    )


# ---------------------------------------------------------------- a batch of figures

_BATCH_FIELDS = {"protocol", "batch_id", "generation", "centres", "figures"}
_CENTRE_FIELDS = {"id", "name", "federation"}
_SET_FIELDS = {"centre_id", "period", "dimension", "values"}


def _text(value: object, where: str, longest: int, shortest: int = 1) -> str:
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        raise FiguresRefused(where, f"must be a text of {shortest} to {longest} characters")
    problem = protocol.unfit_text(value)
    if problem:
        raise FiguresRefused(where, problem)
    return value


def _object(value: object, where: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(value, dict):
        raise FiguresRefused(where, "must be a JSON object")
    unknown = set(value) - allowed
    if unknown:
        raise FiguresRefused(f"{where}.{sorted(unknown)[0]}", "is not a field of the roll-up protocol")
    missing = required - set(value)
    if missing:
        raise FiguresRefused(f"{where}.{sorted(missing)[0]}", "is missing")
    return value


def validate(body: object) -> Batch:
    """The batch, checked field by field, or FiguresRefused naming the first
    fault. A dimension this hub does not know is dropped (listed in the
    answer), not refused: a newer child may send more than an older parent keeps."""
    body = _object(body, "body", _BATCH_FIELDS, _BATCH_FIELDS)
    try:
        protocol.check_version(body["protocol"])
    except protocol.ProtocolError as error:
        raise FiguresRefused("protocol", str(error)) from None
    if not protocol.is_id(body["batch_id"]):
        raise FiguresRefused("batch_id", "must be a UUID")
    generation = body["generation"]
    if type(generation) is not int or not 1 <= generation <= MAX_GENERATION:
        raise FiguresRefused("generation", f"must be a whole number from 1 to {MAX_GENERATION}")
    listed, sets = body["centres"], body["figures"]
    if not isinstance(listed, list) or len(listed) > MAX_CENTRES:
        raise FiguresRefused("centres", f"must be a list of at most {MAX_CENTRES} centres")
    if not isinstance(sets, list) or len(sets) > MAX_SETS:
        raise FiguresRefused("figures", f"must be a list of at most {MAX_SETS} figure sets")
    batch = Batch(body["batch_id"], generation, {}, [])
    for index, item in enumerate(listed):
        where = f"centres[{index}]"
        item = _object(item, where, _CENTRE_FIELDS, _CENTRE_FIELDS)
        if not protocol.is_id(item["id"]):
            raise FiguresRefused(f"{where}.id", "must be a UUID")
        batch.centres[item["id"]] = (
            _text(item["name"], f"{where}.name", 200).strip() or "?",
            _text(item["federation"], f"{where}.federation", 300, 0).strip(),
        )
    seen: set[tuple[str, str, str]] = set()
    for index, item in enumerate(sets):
        figure_set = _figure_set(item, f"figures[{index}]", batch.centres)
        if isinstance(figure_set, str):
            dimension = str(item["dimension"])[:60]
            batch.dropped.append({"index": index, "dimension": dimension, "reason": figure_set})
        elif figure_set.key in seen:
            raise FiguresRefused(f"figures[{index}]", "names the same centre, period and dimension twice")
        else:
            seen.add(figure_set.key)
            batch.sets.append(figure_set)
    return batch


def _figure_set(item: object, where: str, listed: dict[str, tuple[str, str]]) -> FigureSet | str:
    """The set, checked; or why this hub drops it (a dimension or a key it
    does not keep: a newer child may know more); FiguresRefused if malformed."""
    item = _object(item, where, _SET_FIELDS, _SET_FIELDS)
    if item["centre_id"] not in listed:
        raise FiguresRefused(f"{where}.centre_id", "must be one of the batch's centres")
    dimension = DIMENSIONS.get(_text(item["dimension"], f"{where}.dimension", 60))
    if dimension is None:
        return "a dimension this hub does not keep"
    period = item["period"]
    if not isinstance(period, str) or rollup_figures.grain_of(period) not in dimension.grains():
        raise FiguresRefused(
            f"{where}.period",
            f"must be a {' or a '.join(dimension.grains())} of 2000-2099 for {dimension.name}",
        )
    values = item["values"]
    if not isinstance(values, dict) or len(values) > rollup_figures.MAX_KEYS:
        raise FiguresRefused(
            f"{where}.values", f"must be an object of at most {rollup_figures.MAX_KEYS} figures"
        )
    for key, count in values.items():
        if len(key) > rollup_figures.MAX_KEY_LENGTH or not rollup_figures.KEY_RE.fullmatch(key):
            raise FiguresRefused(f"{where}.values", f"{key[:40]!r} is not a figure's key")
        if type(count) is not int or not 0 <= count <= rollup_figures.MAX_COUNT:
            raise FiguresRefused(f"{where}.values.{key}", "must be a whole number from 0")
    unknown = sorted(key for key in values if not dimension.allows(key))
    if unknown:
        return f"key {unknown[0]!r} is not one this hub keeps for {dimension.name}"
    return FigureSet(item["centre_id"], period, dimension.name, {k: v for k, v in values.items() if v})


def store(conn: Connection, child: ChildHub, batch: Batch, received_at: str) -> dict:
    """Store a validated batch: each set replaces the one it names unless the
    parent holds that set from a later generation (then it is ``stale``)."""
    # the child's row first: on PostgreSQL it locks, so one child's batches
    # arriving on two processes take turns (SQLite's write lock does that)
    conn.execute(
        db.child_hubs.update().where(db.child_hubs.c.id == child.id).values(last_received_at=received_at)
    )
    _store_centres(conn, child, batch, received_at)
    s = db.child_figure_sets.c
    held: dict[tuple[str, str, str], int] = {}
    for centre_id in {figure_set.centre_id for figure_set in batch.sets}:
        periods = [figure_set.period for figure_set in batch.sets if figure_set.centre_id == centre_id]
        query = sa.select(s.period, s.dimension, s.version).where(
            s.child_id == child.id, s.centre_id == centre_id, s.period.between(min(periods), max(periods))
        )
        held.update({(centre_id, p, d): v for p, d, v in conn.execute(query)})
    fresh = [fs for fs in batch.sets if held.get(fs.key, 0) <= batch.generation]
    if fresh:
        keys = [
            {
                "b_child": child.id,
                "b_centre": fs.centre_id,
                "b_period": fs.period,
                "b_dimension": fs.dimension,
            }
            for fs in fresh
        ]
        _add_to_months(conn, child, [fs for fs in fresh if len(fs.period) == 10])
        f = db.child_figures.c
        conn.execute(
            db.child_figures.delete().where(
                f.child_id == sa.bindparam("b_child"),
                f.centre_id == sa.bindparam("b_centre"),
                f.period == sa.bindparam("b_period"),
                f.dimension == sa.bindparam("b_dimension"),
            ),
            keys,
        )
        rows = [
            {"child_id": child.id, "centre_id": fs.centre_id, "period": fs.period, "dimension": fs.dimension}
            | {"key": key, "value": value}
            for fs in fresh
            for key, value in fs.values.items()
        ]
        if rows:
            conn.execute(db.child_figures.insert(), rows)
        insert = dialect_insert(conn, db.child_figure_sets)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["child_id", "centre_id", "period", "dimension"],
                set_={"version": insert.excluded.version, "received_at": insert.excluded.received_at},
            ),
            [
                {
                    "child_id": child.id,
                    "centre_id": fs.centre_id,
                    "period": fs.period,
                    "dimension": fs.dimension,
                }
                | {"version": batch.generation, "received_at": received_at}
                for fs in fresh
            ],
        )
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "batch_id": batch.batch_id,
        "stored": len(fresh),
        "stale": len(batch.sets) - len(fresh),
        "dropped": batch.dropped,
    }


def _add_to_months(conn: Connection, child: ChildHub, day_sets: list[FigureSet]) -> None:
    """Add to child_month_figures what the day sets change: their new figures
    less those they replace (read before they are deleted)."""
    if not day_sets:
        return
    change: dict[tuple[str, str, str, str], int] = {}
    for fs in day_sets:
        for key, value in fs.values.items():
            index = (fs.centre_id, fs.period[:7], fs.dimension, key)
            change[index] = change.get(index, 0) + value
    f = db.child_figures.c
    wanted = {fs.key for fs in day_sets}
    for centre_id in {fs.centre_id for fs in day_sets}:
        periods = [fs.period for fs in day_sets if fs.centre_id == centre_id]
        query = sa.select(f.period, f.dimension, f.key, f.value).where(
            f.child_id == child.id, f.centre_id == centre_id, f.period.between(min(periods), max(periods))
        )
        for period, dimension, key, value in conn.execute(query):
            if (centre_id, period, dimension) in wanted:
                index = (centre_id, period[:7], dimension, key)
                change[index] = change.get(index, 0) - int(value)
    rows = [
        {"child_id": child.id, "centre_id": centre_id, "month": month, "dimension": dimension}
        | {"key": key, "value": value}
        for (centre_id, month, dimension, key), value in sorted(change.items())
        if value
    ]
    if rows:
        insert = dialect_insert(conn, db.child_month_figures)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["child_id", "centre_id", "month", "dimension", "key"],
                set_={"value": db.child_month_figures.c.value + insert.excluded.value},
            ),
            rows,
        )


def _store_centres(conn: Connection, child: ChildHub, batch: Batch, received_at: str) -> None:
    if not batch.centres:
        return
    insert = dialect_insert(conn, db.child_centres)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["child_id", "centre_id"],
            set_={
                "name": insert.excluded.name,
                "federation": insert.excluded.federation,
                "updated_at": insert.excluded.updated_at,
            },
        ),
        [
            {"child_id": child.id, "centre_id": centre_id, "name": name, "federation": federation}
            | {"updated_at": received_at}
            for centre_id, (name, federation) in sorted(batch.centres.items())
        ],
    )


# ---------------------------------------------------------------- what the parent shows


#: the counts of Figures, in `federation stats --json` and added up over centres
FIGURES = (
    "visits",
    "participants",
    "new_members",
    "qpv",
    "qpv_known",
    "sessions",
    "booked",
    "present",
    "walk_ins",
    "volunteers",
    "volunteer_minutes",
    "families",
    "ideas",
    "outreach_events",
)


@dataclass
class Figures:
    """A year's figures of a centre, a child or the network, from the sets
    received, with the definitions of the hub's own dashboard."""

    visits: int = 0
    new_members: int = 0
    participants: int = 0
    qpv: int = 0
    qpv_known: int = 0
    sessions: int = 0
    booked: int = 0
    present: int = 0
    walk_ins: int = 0
    volunteers: int = 0
    volunteer_minutes: int = 0
    families: int = 0
    ideas: int = 0
    outreach_events: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    age_bands: dict[str, int] = field(default_factory=dict)
    genders: dict[str, int] = field(default_factory=dict)
    senacs: dict[str, int] = field(default_factory=dict)

    def add(self, dimension: str, key: str, value: int) -> None:
        if dimension == "visits.reason":
            self.visits += value
            self.reasons[key] = self.reasons.get(key, 0) + value
        elif dimension == "members.new":
            self.new_members += value
        elif dimension == "workshops.theme":
            what = key.rsplit(":", 1)[-1]
            if what in ("sessions", "booked", "present", "walk_ins"):
                setattr(self, what, getattr(self, what) + value)
        elif dimension == "participants.profile":
            band, gender, qpv = (key.split(":") + ["", ""])[:3]
            self.participants += value
            self.age_bands[band] = self.age_bands.get(band, 0) + value
            self.genders[gender] = self.genders.get(gender, 0) + value
            self.qpv += value if qpv == "yes" else 0
            self.qpv_known += value if qpv in ("yes", "no") else 0
        elif dimension == "participants.senacs":
            band = key.rsplit(":", 1)[-1]
            self.senacs[band] = self.senacs.get(band, 0) + value
        elif dimension == "volunteering.minutes" and key != "unchecked":
            self.volunteer_minutes += value
        elif dimension == "volunteering.people" and key == "total":
            self.volunteers += value
        elif dimension == "families" and key == "reached":
            self.families += value
        elif dimension == "voice.ideas" and key.startswith("received:"):
            self.ideas += value
        elif dimension == "outreach" and key == "held":
            self.outreach_events += value

    def merge(self, other: Figures) -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("reasons", "age_bands", "genders", "senacs"):
            mine = getattr(self, name)
            for key, value in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + value

    @property
    def qpv_share(self) -> float | None:
        return self.qpv / self.qpv_known if self.qpv_known else None

    @property
    def volunteer_hours(self) -> float:
        return self.volunteer_minutes / 60

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIGURES}


@dataclass
class ChildCentre:
    id: str
    name: str
    federation: str
    figures: Figures


@dataclass
class Child:
    id: str
    name: str
    created_at: str
    linked_at: str | None
    revoked_at: str | None
    last_received_at: str | None
    centres: list[ChildCentre] = field(default_factory=list)
    figures: Figures = field(default_factory=Figures)

    @property
    def federations(self) -> list[tuple[str, list[ChildCentre]]]:
        """The child's centres grouped by the federation below it that holds them ('' its own)."""
        groups: dict[str, list[ChildCentre]] = {}
        for centre in self.centres:
            groups.setdefault(centre.federation, []).append(centre)
        return sorted(groups.items())


def children(conn: Connection, year: int) -> list[Child]:
    """Every child hub with its centres and their figures for ``year``, as
    last received: additive figures summed over the year's days, distinct
    ones read from the year's sets."""
    h = db.child_hubs.c
    found = {
        row.id: Child(row.id, row.name, row.created_at, row.linked_at, row.revoked_at, row.last_received_at)
        for row in conn.execute(sa.select(db.child_hubs).order_by(h.name, h.created_at))
    }
    c = db.child_centres.c
    by_centre: dict[tuple[str, str], ChildCentre] = {}
    for row in conn.execute(sa.select(db.child_centres).order_by(c.federation, c.name)):
        if row.child_id in found:
            centre = ChildCentre(row.centre_id, row.name, row.federation, Figures())
            by_centre[(row.child_id, row.centre_id)] = centre
            found[row.child_id].centres.append(centre)
    f, m = db.child_figures.c, db.child_month_figures.c
    additive = [name for name, d in DIMENSIONS.items() if d.additive]
    distinct = [name for name, d in DIMENSIONS.items() if not d.additive]
    # additive figures: the year's twelve months (kept at each store); distinct: the year's sets
    months = (
        sa.select(m.child_id, m.centre_id, m.dimension, m.key, sa.func.sum(m.value))
        .where(m.month.between(f"{year:04d}-01", f"{year:04d}-12"), m.dimension.in_(additive))
        .group_by(m.child_id, m.centre_id, m.dimension, m.key)
    )
    sets = sa.select(f.child_id, f.centre_id, f.dimension, f.key, f.value).where(
        f.period == f"{year:04d}",
        f.dimension.in_(distinct),
        # the predicate of store's partial index child_figures_periods, word for word
        sa.text("length(child_figures.period) < 10"),
    )
    for query in (months, sets):
        for child_id, centre_id, dimension, key, value in conn.execute(query):
            held = by_centre.get((child_id, centre_id))
            if held is not None:
                held.figures.add(dimension, key, int(value))
    for child in found.values():
        for centre in child.centres:
            child.figures.merge(centre.figures)
    return list(found.values())


def children_stats(conn: Connection, year: int) -> list[dict[str, Any]]:
    """The children of `federation stats --json`: each with its figures for ``year``."""
    return [
        {
            "id": child.id,
            "name": child.name,
            "linked_at": child.linked_at,
            "revoked_at": child.revoked_at,
            "last_received_at": child.last_received_at,
            "year": year,
            **child.figures.as_json(),
            "centres": [
                {"id": centre.id, "name": centre.name, "federation": centre.federation}
                | centre.figures.as_json()
                for centre in child.centres
            ],
        }
        for child in children(conn, year)
    ]
