"""Centres and their devices: creation, one-time enrolment codes, device
tokens (random, stored as sha256, scoped to one centre, revocable), and the
figures `federation stats` and `federation list-centres` print.

The Python API the CLI and the API routers share; every function takes an
open SQLAlchemy connection and leaves the transaction to the caller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import store as db
from sync import protocol
from sync.clock import utc_now

CODE_LIFETIME = timedelta(days=7)
# unambiguous when read aloud or typed by hand: no 0/O, 1/I/L
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


class EnrolmentRefused(Exception):
    """A code that is unknown, used or expired. ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Device:
    id: str
    centre_id: str
    centre_name: str
    label: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def now_iso(now: datetime | None = None) -> str:
    return protocol.utc_iso(now or utc_now())


def normalise_code(code: str) -> str:
    """Codes are typed by people: ignore case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def add_centre(
    conn: Connection, name: str, now: datetime | None = None, commune: str | None = None
) -> tuple[str, str]:
    """Create a centre; return (centre id, its first enrolment code)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("name: a centre needs a name of 1 to 200 characters")
    centre_id = protocol.new_id()
    conn.execute(
        db.centres.insert().values(
            id=centre_id, name=name, created_at=now_iso(now), commune=_commune(commune)
        )
    )
    return centre_id, new_code(conn, centre_id, now)


def _commune(commune: str | None) -> str | None:
    commune = (commune or "").strip()
    if len(commune) > 80 or protocol.unfit_text(commune):
        raise ValueError("commune: a town's name of at most 80 characters, on one line")
    return commune or None


def set_commune(conn: Connection, centre_id: str, commune: str | None) -> None:
    """Say which town the centre is in (empty or None: not given)."""
    done = conn.execute(
        db.centres.update().where(db.centres.c.id == centre_id).values(commune=_commune(commune))
    )
    if done.rowcount == 0:
        raise LookupError(f"centre: no centre with id {centre_id}")


def new_code(
    conn: Connection, centre_id: str, now: datetime | None = None, lifetime: timedelta = CODE_LIFETIME
) -> str:
    """A fresh one-time code for ``centre_id``, valid ``lifetime`` (a device's
    invite to its centre: minutes; the federation's: CODE_LIFETIME)."""
    if conn.execute(sa.select(db.centres.c.id).where(db.centres.c.id == centre_id)).first() is None:
        raise LookupError(f"centre: no centre with id {centre_id}")
    now = now or utc_now()
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))
    conn.execute(
        db.enrolment_codes.insert().values(
            code_hash=sha256(normalise_code(code)),
            centre_id=centre_id,
            created_at=now_iso(now),
            expires_at=now_iso(now + lifetime),
        )
    )
    return code


def enrol(conn: Connection, code: str, label: str, now: datetime | None = None) -> dict:
    """Trade a one-time code for a device token. Raises EnrolmentRefused."""
    codes = db.enrolment_codes
    now_text = now_iso(now)
    code_hash = sha256(normalise_code(code))
    # claim the code with a write first: two kiosks racing for one code
    # cannot both win, and SQLite takes its write lock before any read
    claimed = conn.execute(
        codes.update()
        .where(codes.c.code_hash == code_hash, codes.c.used_at.is_(None), codes.c.expires_at > now_text)
        .values(used_at=now_text)
    ).rowcount
    if not claimed:
        held = conn.execute(sa.select(codes).where(codes.c.code_hash == code_hash)).first()
        if held is None:
            raise EnrolmentRefused(403, "unknown enrolment code")
        if held.used_at is not None:
            raise EnrolmentRefused(
                403, "this enrolment code was already used: ask the federation for a new one"
            )
        raise EnrolmentRefused(403, "this enrolment code has expired: ask the federation for a new one")
    centre = conn.execute(
        sa.select(db.centres)
        .join(codes, codes.c.centre_id == db.centres.c.id)
        .where(codes.c.code_hash == code_hash)
    ).one()
    token = secrets.token_urlsafe(32)
    device_id = str(uuid.uuid4())
    conn.execute(
        db.devices.insert().values(
            id=device_id,
            centre_id=centre.id,
            label=label,
            token_hash=sha256(token),
            enrolled_at=now_text,
        )
    )
    return {
        "device_id": device_id,
        "device_token": token,
        "centre_id": centre.id,
        "centre_name": centre.name,
        "protocol": protocol.PROTOCOL_VERSION,
    }


_AUTHENTICATE = (
    "SELECT devices.id, devices.centre_id, centres.name, devices.label FROM devices "
    "JOIN centres ON centres.id = devices.centre_id "
    "WHERE devices.token_hash = {m} AND devices.revoked_at IS NULL"
)


def authenticate(conn: Connection, token: str) -> Device | None:
    """The live device holding ``token``, or None (unknown or revoked).
    Plain SQL, as mark_synced: every request runs it, and building the Core
    statement each time cost more than running it."""
    row = conn.exec_driver_sql(_AUTHENTICATE.format(m=db.param_mark(conn)), (sha256(token),)).first()
    return Device(*row) if row else None


def revoke_device(conn: Connection, device_id: str, now: datetime | None = None) -> bool:
    """Revoke a device's token; False if no such live device."""
    return bool(
        conn.execute(
            db.devices.update()
            .where(db.devices.c.id == device_id, db.devices.c.revoked_at.is_(None))
            .values(revoked_at=now_iso(now))
        ).rowcount
    )


def mark_synced(conn: Connection, device_id: str, when: str) -> None:
    # plain SQL: it runs once a batch, and a Core update is built anew each time
    conn.exec_driver_sql(
        "UPDATE devices SET last_seen_at = {m}, last_sync_at = {m} WHERE id = {m}".format(
            m=db.param_mark(conn)
        ),
        (when, when, device_id),
    )


def note_version(conn: Connection, device_id: str, header: str | None, when: str) -> None:
    """Record the app version a device's request said it runs
    (``protocol.APP_VERSION_HEADER``); none, or one outside the pattern,
    changes nothing."""
    if header is None or not re.fullmatch(protocol.APP_VERSION_PATTERN, header):
        return
    m = db.param_mark(conn)
    conn.exec_driver_sql(
        f"INSERT INTO device_versions (device_id, app_version, reported_at) VALUES ({m}, {m}, {m}) "
        "ON CONFLICT (device_id) DO UPDATE SET app_version = excluded.app_version, "
        "reported_at = excluded.reported_at",
        (device_id, header, when),
    )


def list_centres(conn: Connection) -> list[dict]:
    """Centres with their devices, oldest first."""
    centres = [
        dict(row._mapping) | {"devices": []}
        for row in conn.execute(sa.select(db.centres).order_by(db.centres.c.created_at, db.centres.c.name))
    ]
    by_id = {centre["id"]: centre for centre in centres}
    for device in conn.execute(sa.select(db.devices).order_by(db.devices.c.enrolled_at)):
        by_id[device.centre_id]["devices"].append(dict(device._mapping) | {"token_hash": None})
    for centre in centres:
        syncs = [d["last_sync_at"] for d in centre["devices"] if d["last_sync_at"]]
        centre["last_sync"] = max(syncs) if syncs else None
    return centres


def event_counts(conn: Connection, centre_id: str | None = None) -> dict[str, dict[str, int]]:
    """centre id -> {event type: count}, from the rollup kept at ingest."""
    c = db.event_counts.c
    query = sa.select(c.centre_id, c.type, c.events)
    if centre_id is not None:
        query = query.where(c.centre_id == centre_id)
    counts: dict[str, dict[str, int]] = {}
    for centre, kind, n in conn.execute(query):
        counts.setdefault(centre, {})[kind] = int(n)
    return counts


def stats(conn: Connection) -> dict:
    """The monitoring figures of `federation stats --json`."""
    counts = event_counts(conn)
    volunteering = volunteering_totals(conn)
    voice = voice_held(conn)
    households = households_held(conn)
    outreach = outreach_held(conn)
    situations = situations_held(conn)
    centres = []
    for centre in list_centres(conn):
        events = dict(sorted(counts.get(centre["id"], {}).items()))
        centres.append(
            {
                "id": centre["id"],
                "name": centre["name"],
                "events": events,
                "events_total": sum(events.values()),
                "last_sync": centre["last_sync"],
                "volunteering": volunteering.get(centre["id"], _no_volunteering()),
                "voice": voice.get(centre["id"], _no_voice()),
                "families": households.get(centre["id"], dict.fromkeys(_FAMILY_FIGURES, 0)),
                "outreach": outreach.get(centre["id"], dict.fromkeys(_OUTREACH_FIGURES, 0)),
                "situations": situations.get(centre["id"], _no_situations()),
            }
        )
    return {
        "centres": centres,
        "events_total": sum(c["events_total"] for c in centres),
        "voice": {
            "ideas": {key: sum(c["voice"]["ideas"][key] for c in centres) for key in _IDEA_FIGURES},
            "faces": {
                face: sum(c["voice"]["faces"][face] for c in centres) for face in protocol.FEEDBACK_FACES
            },
        },
        "families": {key: sum(c["families"][key] for c in centres) for key in _FAMILY_FIGURES},
        "outreach": {key: sum(c["outreach"][key] for c in centres) for key in _OUTREACH_FIGURES},
        "situations": {
            question: {code: sum(c["situations"][question][code] for c in centres) for code in codes}
            for question, codes in _no_situations().items()
        },
        "volunteering": {
            "volunteers": sum(c["volunteering"]["volunteers"] for c in centres),
            "minutes": sum(c["volunteering"]["minutes"] for c in centres),
            "by_kind": {
                kind: {
                    "volunteers": sum(c["volunteering"]["by_kind"][kind]["volunteers"] for c in centres),
                    "minutes": sum(c["volunteering"]["by_kind"][kind]["minutes"] for c in centres),
                }
                for kind in protocol.VOLUNTEERING_KINDS
            },
        },
    }


#: what `federation stats --json` says of each centre's itinerant events (outreach_held)
_OUTREACH_FIGURES = ("events", "visits", "new_members")


def outreach_held(conn: Connection) -> dict[str, dict[str, int]]:
    """Each centre's events held « hors les murs » as the hub holds them,
    whatever the period: the events, the visits recorded at one and the
    members registered at one (their event arrived or not)."""
    held: dict[str, dict[str, int]] = {}
    for key, table in zip(
        _OUTREACH_FIGURES, (db.p_outreach, db.p_outreach_visits, db.p_outreach_members), strict=True
    ):
        for centre_id, n in conn.execute(
            sa.select(table.c.centre_id, sa.func.count()).group_by(table.c.centre_id)
        ):
            held.setdefault(centre_id, dict.fromkeys(_OUTREACH_FIGURES, 0))[key] = int(n)
    return held


def _no_situations() -> dict[str, dict[str, int]]:
    return {
        "employment": dict.fromkeys([*protocol.EMPLOYMENT_SITUATIONS, "none"], 0),
        "education": dict.fromkeys([*protocol.EDUCATION_LEVELS, "none"], 0),
    }


def situations_held(conn: Connection) -> dict[str, dict[str, dict[str, int]]]:
    """Each centre's members (not erased) by the FSE+ situation the hub holds
    now, whatever the period: each answer, and ``none`` for no answer (the
    FSE+ table's « non renseigné »). Counts only."""
    m = db.p_members.c
    held: dict[str, dict[str, dict[str, int]]] = {}
    for question, column in (("employment", m.employment), ("education", m.education)):
        query = (
            sa.select(m.centre_id, column, sa.func.count())
            .where(m.erased_at.is_(None))
            .group_by(m.centre_id, column)
        )
        for centre_id, code, n in conn.execute(query):
            held.setdefault(centre_id, _no_situations())[question][code or "none"] += int(n)
    return held


#: what `federation stats --json` says of each centre's ideas (voice_held)
_IDEA_FIGURES = ("received", "answered", "done", "initiative")


def _no_voice() -> dict:
    return {"ideas": dict.fromkeys(_IDEA_FIGURES, 0), "faces": dict.fromkeys(protocol.FEEDBACK_FACES, 0)}


def voice_held(conn: Connection) -> dict[str, dict]:
    """Each centre's residents' voice as the hub holds it, whatever the
    period: ideas received, answered, realised and become a supported
    initiative, and the faces given after workshops. Counts only."""
    held: dict[str, dict] = {}
    i = db.p_ideas.c
    query = sa.select(
        i.centre_id,
        sa.func.count(i.received_day),
        sa.func.count(i.answered_day),
        sa.func.count(i.done_day),
        sa.func.count(i.initiative_day),
    ).group_by(i.centre_id)
    for centre_id, *counts in conn.execute(query):
        held.setdefault(centre_id, _no_voice())["ideas"] = dict(
            zip(_IDEA_FIGURES, map(int, counts), strict=True)
        )
    f = db.p_feedback.c
    for centre_id, face, n in conn.execute(
        sa.select(f.centre_id, f.face, sa.func.count()).group_by(f.centre_id, f.face)
    ):
        held.setdefault(centre_id, _no_voice())["faces"][face] = int(n)
    return held


#: what `federation stats --json` says of each centre's households (households_held)
_FAMILY_FIGURES = ("households", "people", "members_without_household")


def households_held(conn: Connection) -> dict[str, dict[str, int]]:
    """Each centre's households as the hub holds them now, whatever the
    period: ``households`` known, the ``people`` in them, and the members
    (not erased) in none, ``members_without_household``. A centre with no
    member is left out."""
    m = db.p_members.c
    query = sa.select(
        m.centre_id,
        sa.func.count(sa.distinct(m.household_id)),
        sa.func.count(m.household_id),
        sa.func.count().filter(sa.and_(m.household_id.is_(None), m.erased_at.is_(None))),
    ).group_by(m.centre_id)
    return {
        centre_id: dict(zip(_FAMILY_FIGURES, (int(known), int(people), int(none)), strict=True))
        for centre_id, known, people, none in conn.execute(query)
    }


def _no_volunteering() -> dict:
    return {
        "volunteers": 0,
        "minutes": 0,
        "by_kind": {kind: {"volunteers": 0, "minutes": 0} for kind in protocol.VOLUNTEERING_KINDS},
    }


def volunteering_totals(conn: Connection) -> dict[str, dict]:
    """Each centre's volunteers' time ever held (stretches at their latest
    version, removed ones left out): distinct volunteers and minutes, in all
    and by kind. A volunteer counts once in all however many kinds."""
    c = db.p_volunteering.c
    totals: dict[str, dict] = {}
    people: dict[str, set[str]] = {}
    for centre_id, volunteer_id, kind, minutes in conn.execute(
        sa.select(c.centre_id, c.volunteer_id, c.kind, sa.func.sum(c.minutes))
        .where(sa.not_(c.removed))
        .group_by(c.centre_id, c.volunteer_id, c.kind)
    ):
        if not minutes:
            continue
        figures = totals.setdefault(centre_id, _no_volunteering())
        figures["minutes"] += int(minutes)
        figures["by_kind"][kind]["volunteers"] += 1
        figures["by_kind"][kind]["minutes"] += int(minutes)
        people.setdefault(centre_id, set()).add(volunteer_id)
    for centre_id, who in people.items():
        totals[centre_id]["volunteers"] = len(who)
    return totals


def device_status(conn: Connection, device: Device) -> dict:
    """What the hub holds of a device's centre (GET /api/v1/status)."""
    c = db.event_counts.c
    first, last = conn.execute(
        sa.select(sa.func.min(c.first_occurred_at), sa.func.max(c.last_occurred_at)).where(
            c.centre_id == device.centre_id
        )
    ).one()
    by_type = dict(sorted(event_counts(conn, device.centre_id).get(device.centre_id, {}).items()))
    last_sync = conn.execute(
        sa.select(db.devices.c.last_sync_at).where(db.devices.c.id == device.id)
    ).scalar()
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "centre_id": device.centre_id,
        "centre_name": device.centre_name,
        "device_id": device.id,
        "events_total": sum(by_type.values()),
        "events_by_type": by_type,
        "first_occurred_at": first,
        "last_occurred_at": last,
        "last_sync_at": last_sync,
        "events_parked": set_aside(conn, db.parked, device.centre_id),
        "conflicts": set_aside(conn, db.conflicts, device.centre_id),
    }


def set_aside(conn: Connection, table: sa.Table, centre_id: str | None = None) -> int:
    """Events a centre's devices sent that the hub keeps aside, not among
    its events: parked (dated outside the window) or conflicts."""
    query = sa.select(sa.func.count()).select_from(table)
    if centre_id is not None:
        query = query.where(table.c.centre_id == centre_id)
    return int(conn.execute(query).scalar_one())
