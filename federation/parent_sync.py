"""A child hub's side of the roll-up: link to a parent hub, and send it the
figures of federation.rollup_figures, exactly once whatever the network does.

    link_parent(engine, "https://region.example", "ABCD-EFGH-JKMN")
    result = sync_parent(engine)
    print(result.summary())

How "exactly once" holds, as in the kiosks' sync:

* A set of figures (one centre, period, dimension) is *replaced* at the
  parent, never added to; each computation carries the child's next
  ``generation``, and the parent keeps a set only if it holds none from a
  later generation. So a batch sent twice, a late copy of an old one, a day
  recomputed after late kiosk events: the parent ends with the latest figures.
* The child records a set as acknowledged (a hash of its figures, in
  ``parent_acked``) only after the parent's answer names the batch stored,
  and sends again every set whose figures differ from the acknowledged ones.
* Which days to recompute: every day touched by an event stored since the
  last acknowledged cursor (``events.seq``), widened to whole months (and
  their years, for the distinct counts). Events that change older days are
  followed there: a member's update or erasure reaches every day from the
  member's first to last visit, a registration or attendance the day of its
  session. The cursor moves only once a run has sent everything, so an
  interrupted run is resumed from where its acknowledgements stopped, and a
  child offline for a month sends the month when it is back.
* A hub that is itself a parent forwards its children's sets as received,
  each centre under the name of the child federation that holds it.

One process sends at a time: a lease in ``parent_link`` (``lease_holder``,
``lease_until``), taken with one conditional UPDATE, so `federation serve
--workers N` and `federation sync-parent` from a timer never send together.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from federation import background, reports, rollup_figures
from federation import store as db
from federation.projections import dialect_insert, paris_day
from federation.rollup_figures import FigureSet
from sync import client, protocol
from sync.clock import utc_now

log = logging.getLogger("federation.parent")

API = "/api/v1/network"
#: sets in one request: far below the parent's limit (federation.network.MAX_SETS)
SETS_PER_BATCH = 500
#: how long a lease holds without renewal: a process killed mid-run
#: blocks the others no longer than this
LEASE = timedelta(minutes=5)
#: events with a seq this far below the cursor are read again if they came
#: in after the last scan began (on PostgreSQL a batch that took its seq
#: earlier may commit after a later one)
SEQ_MARGIN = 50_000
SCAN_SLACK = timedelta(minutes=10)
SCAN_CHUNK = 5_000
#: how often a serving hub sends by itself (`federation serve --parent-interval`)
DEFAULT_INTERVAL_S = 300.0
TIMEOUT: client.Timeout = (5.0, 60.0)

# results: sync.client's codes where they mean the same, and ours
OK = "ok"
NOT_LINKED = "not_linked"
REVOKED = "revoked"
_SUMMARIES = {
    NOT_LINKED: "this hub has no parent: link it with `federation link-parent`",
    REVOKED: "the parent hub refused this hub's token (revoked): nothing more is sent "
    "until it is linked again with a new code (`federation link-parent`)",
    client.BUSY: "another process of this hub is sending to the parent now",
    client.LOST_LOCK: "another process took over the sending; this run stopped",
    client.UNREACHABLE: "the parent hub cannot be reached",
    client.NOT_HUB: "the answer did not come from an Accueil hub (a proxy or a portal?)",
    client.HUB_BUSY: "the parent hub is busy",
    client.REFUSED: "the parent hub refused the figures",
}


@dataclass
class Result:
    code: str
    sent: int = 0
    stored: int = 0
    stale: int = 0
    dropped: int = 0
    centres: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.code == OK

    def summary(self) -> str:
        """One English sentence for the operator (the CLI, the logs)."""
        if self.ok:
            if not self.sent:
                return "Parent hub up to date: no figure changed since the last send."
            return (
                f"Sent {self.sent} figure sets of {self.centres} centres to the parent hub: "
                f"{self.stored} stored, {self.stale} already newer there, {self.dropped} not kept by it."
            )
        text = _SUMMARIES.get(self.code, self.code)
        sent = f" ({self.sent} sets sent before that, kept)" if self.sent else ""
        return f"Not sent: {text}{sent}." + (f" Detail: {self.detail}" if self.detail else "")


# ---------------------------------------------------------------- linking


def link_parent(
    engine: Engine, parent_url: str, code: str, session: requests.Session | None = None
) -> dict[str, Any]:
    """Trade a code from the parent's `federation add-child` for this hub's
    token, and keep the link (replacing any earlier one). Raises
    client.SyncError; returns the parent's answer without the token."""
    parent_url = parent_url.strip().rstrip("/")
    if not parent_url.startswith(("http://", "https://")) or len(parent_url) > 500:
        raise ValueError("--parent: the parent hub's address, http(s)://…, at most 500 characters")
    session = session or client.make_session(retries=2)
    response = client._request(
        session, "POST", parent_url + API + "/link", json={"code": code}, timeout=TIMEOUT
    )
    if response.status_code in (401, 403, 404) and response.headers.get(protocol.HUB_HEADER) == "1":
        try:
            detail = response.json().get("error", "")
        except ValueError:
            detail = ""
        raise client.SyncError(
            client.REFUSED, f"the parent refused the code ({response.status_code}): {detail}"
        )
    answer = client._hub_json(response)
    if not (protocol.is_id(answer.get("child_id")) and isinstance(answer.get("token"), str)):
        raise client.SyncError(client.NOT_HUB, "the link answer lacks child_id or token")
    protocol.check_version(answer.get("protocol"))
    now = db.utc_now_iso()
    with db.writer(engine) as conn, conn.begin():
        held = conn.execute(sa.select(db.parent_link.c.generation).where(db.parent_link.c.id == 1)).scalar()
        conn.execute(db.parent_link.delete())
        # a new link starts afresh (the parent holds nothing of this child
        # id yet); the generation keeps growing all the same
        conn.execute(db.parent_acked.delete())
        conn.execute(
            db.parent_link.insert().values(
                id=1,
                parent_url=parent_url,
                child_id=answer["child_id"],
                token=answer["token"],
                name=str(answer.get("name", ""))[:200],
                linked_at=now,
                generation=held or 0,
            )
        )
    return {key: value for key, value in answer.items() if key != "token"}


def link_status(conn: Connection) -> dict[str, Any] | None:
    """The link as stored, without its token; None when there is none."""
    row = conn.execute(sa.select(db.parent_link).where(db.parent_link.c.id == 1)).first()
    if row is None:
        return None
    return {key: value for key, value in row._mapping.items() if key != "token"}


# ---------------------------------------------------------------- the lease


def _take_lease(conn: Connection, holder: str, child_id: str | None = None) -> bool:
    """Take or renew the lease; with ``child_id``, only while the link is
    still that one (a `link-parent` meanwhile replaced it: a run of the old
    link must not go on under the new one)."""
    now = utc_now()
    c = db.parent_link.c
    query = db.parent_link.update().where(
        c.id == 1,
        sa.or_(c.lease_until.is_(None), c.lease_until < protocol.utc_iso(now), c.lease_holder == holder),
    )
    if child_id is not None:
        query = query.where(c.child_id == child_id)
    return bool(
        conn.execute(query.values(lease_holder=holder, lease_until=protocol.utc_iso(now + LEASE))).rowcount
    )


def _renew_lease(conn: Connection, holder: str, child_id: str) -> None:
    if not _take_lease(conn, holder, child_id):
        raise client.SyncError(client.LOST_LOCK, "the lease went to another process, or the link changed")


def _release_lease(engine: Engine, holder: str) -> None:
    c = db.parent_link.c
    with db.writer(engine) as conn, conn.begin():
        conn.execute(
            db.parent_link.update()
            .where(c.id == 1, c.lease_holder == holder)
            .values(lease_holder=None, lease_until=None)
        )


# ---------------------------------------------------------------- sending


def sync_parent(
    engine: Engine,
    session: requests.Session | None = None,
    progress: Callable[[Result], None] | None = None,
    resend_all: bool = False,
) -> Result:
    """Send the parent every set of figures that changed since it last
    acknowledged them; with ``resend_all``, every set of the whole history
    (for a parent restored from an older backup). Never raises for the
    network or the parent's answers: the Result says what happened."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:  # a read first: an unlinked hub never takes the write lock
        link = conn.execute(sa.select(db.parent_link).where(db.parent_link.c.id == 1)).first()
    if link is None:
        return Result(NOT_LINKED)
    if link.revoked_at is not None:
        return Result(REVOKED, detail=link.last_result or "")
    with db.writer(engine) as conn, conn.begin():
        link = conn.execute(sa.select(db.parent_link).where(db.parent_link.c.id == 1)).first()
        if link is None:
            return Result(NOT_LINKED)
        if not _take_lease(conn, holder):
            return Result(client.BUSY)
        generation = link.generation + 1
        values: dict[str, Any] = {"generation": generation, "last_attempt_at": db.utc_now_iso()}
        if resend_all:  # as on the first run: nothing acknowledged, no cursor
            conn.execute(db.parent_acked.delete())
            values |= {"cursor_seq": None, "forward_cursor": None}
        conn.execute(db.parent_link.update().where(db.parent_link.c.id == 1).values(**values))
        link = conn.execute(sa.select(db.parent_link).where(db.parent_link.c.id == 1)).one()
    result = Result(OK)
    try:
        _send_changes(
            engine, link, generation, holder, session or client.make_session(retries=3), result, progress
        )
    except client.SyncError as error:
        result.code, result.detail = (
            (REVOKED if error.code == client.UNAUTHORIZED else error.code),
            str(error),
        )
    finally:
        _finish(engine, holder, result)
    return result


def _finish(engine: Engine, holder: str, result: Result) -> None:
    values: dict[str, Any] = {
        "last_result": result.summary()[:500],
        "lease_holder": None,
        "lease_until": None,
    }
    if result.code == REVOKED:
        values["revoked_at"] = db.utc_now_iso()
        log.warning("parent hub: %s", result.summary())
    c = db.parent_link.c
    with db.writer(engine) as conn, conn.begin():
        conn.execute(db.parent_link.update().where(c.id == 1, c.lease_holder == holder).values(**values))


def _send_changes(
    engine: Engine,
    link: Any,
    generation: int,
    holder: str,
    session: requests.Session,
    result: Result,
    progress: Callable[[Result], None] | None,
) -> None:
    scan_started = db.utc_now_iso()
    with engine.connect() as conn:
        top_seq = conn.execute(sa.select(sa.func.max(db.events.c.seq))).scalar() or 0
        ranges = dirty_ranges(conn, link.cursor_seq, link.scanned_at)
        names = reports.centre_names(conn)
        forward_top = conn.execute(sa.select(sa.func.max(db.child_figure_sets.c.received_at))).scalar()
    sender = _Sender(engine, link, generation, holder, session, result, progress)
    for centre_id, (first, last) in sorted(ranges.items()):
        if centre_id not in names:
            continue
        with engine.connect() as conn:
            sets = list(rollup_figures.centre_sets(conn, centre_id, first, last))
        sender.send(sets, {centre_id: (names[centre_id], "")})
        sender.keep_lease()
    for centres, sets in _forwarded(engine, link.forward_cursor):
        sender.send(sets, centres)
        sender.keep_lease()
    sender.flush()
    if not result.sent:
        # nothing to send: ask the parent what it holds all the same, so a
        # revocation or an unreachable parent is known now, not at the next change
        _check_in(session, link)
    with db.writer(engine) as conn, conn.begin():
        moved = conn.execute(
            db.parent_link.update()
            .where(
                db.parent_link.c.id == 1,
                db.parent_link.c.lease_holder == holder,
                db.parent_link.c.child_id == link.child_id,
            )
            .values(
                cursor_seq=top_seq,
                scanned_at=scan_started,
                forward_cursor=forward_top or link.forward_cursor,
                last_success_at=db.utc_now_iso(),
            )
        ).rowcount
    if not moved:
        raise client.SyncError(client.LOST_LOCK, "the lease went to another process, or the link changed")


def figures_hash(values: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Sender:
    """Keeps the changed sets and sends them SETS_PER_BATCH at a time."""

    def __init__(
        self,
        engine: Engine,
        link: Any,
        generation: int,
        holder: str,
        session: requests.Session,
        result: Result,
        progress: Callable[[Result], None] | None,
    ):
        self.engine, self.link, self.generation, self.holder = engine, link, generation, holder
        self.session, self.result, self.progress = session, result, progress
        self.pending: list[FigureSet] = []
        self.centres: dict[str, tuple[str, str]] = {}
        self.renewed = time.monotonic()

    def keep_lease(self) -> None:
        """Renew the lease now and then while computing, between requests."""
        if time.monotonic() - self.renewed > LEASE.total_seconds() / 5:
            with db.writer(self.engine) as conn, conn.begin():
                _renew_lease(conn, self.holder, self.link.child_id)
            self.renewed = time.monotonic()

    def send(self, sets: list[FigureSet], centres: dict[str, tuple[str, str]]) -> None:
        changed = self._changed(sets)
        if changed:
            self.result.centres += len({fs.centre_id for fs in changed})
        for figure_set in changed:
            self.pending.append(figure_set)
            self.centres[figure_set.centre_id] = centres[figure_set.centre_id]
            if len(self.pending) >= SETS_PER_BATCH:
                self.flush()

    def _changed(self, sets: list[FigureSet]) -> list[FigureSet]:
        if not sets:
            return []
        a = db.parent_acked.c
        acked: dict[tuple[str, str, str], str] = {}
        with self.engine.connect() as conn:
            for centre_id in {fs.centre_id for fs in sets}:
                periods = [fs.period for fs in sets if fs.centre_id == centre_id]
                query = sa.select(a.period, a.dimension, a.hash).where(
                    a.centre_id == centre_id, a.period.between(min(periods), max(periods))
                )
                acked.update({(centre_id, p, d): h for p, d, h in conn.execute(query)})
        return [
            fs
            for fs in sets
            if acked.get(fs.key) != figures_hash(fs.values) and (fs.values or fs.key in acked)
        ]

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        centres = {fs.centre_id: self.centres[fs.centre_id] for fs in batch}
        self.centres = {}
        answer = _post(self.session, self.link, self.generation, centres, batch)
        # acknowledged under the lease, in one transaction: never recorded for a link that changed
        with db.writer(self.engine) as conn, conn.begin():
            _renew_lease(conn, self.holder, self.link.child_id)
            _record_acked(conn, batch)
        self.renewed = time.monotonic()
        self.result.sent += len(batch)
        self.result.stored += int(answer.get("stored", 0))
        self.result.stale += int(answer.get("stale", 0))
        self.result.dropped += len(answer.get("dropped", ()))
        if self.progress is not None:
            self.progress(self.result)


def _post(
    session: requests.Session,
    link: Any,
    generation: int,
    centres: dict[str, tuple[str, str]],
    sets: list[FigureSet],
) -> dict[str, Any]:
    batch_id = protocol.new_id()
    body = {
        "protocol": protocol.PROTOCOL_VERSION,
        "batch_id": batch_id,
        "generation": generation,
        "centres": [
            {"id": centre_id, "name": name, "federation": federation}
            for centre_id, (name, federation) in sorted(centres.items())
        ],
        "figures": [
            {"centre_id": fs.centre_id, "period": fs.period, "dimension": fs.dimension, "values": fs.values}
            for fs in sets
        ],
    }
    response = client._request(
        session,
        "POST",
        link.parent_url + API + "/figures",
        data=gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=1),
        headers={
            "Authorization": f"Bearer {link.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        timeout=TIMEOUT,
    )
    answer = client._hub_json(response)
    counted = int(answer.get("stored", -1)) + int(answer.get("stale", -1)) + len(answer.get("dropped", ()))
    if answer.get("batch_id") != batch_id or counted != len(sets):
        raise client.SyncError(client.NOT_HUB, "the parent's answer does not account for the batch sent")
    return answer


def _check_in(session: requests.Session, link: Any) -> dict[str, Any]:
    response = client._request(
        session,
        "GET",
        link.parent_url + API + "/status",
        headers={"Authorization": f"Bearer {link.token}"},
        timeout=TIMEOUT,
    )
    return client._hub_json(response)


def _record_acked(conn: Connection, sets: list[FigureSet]) -> None:
    insert = dialect_insert(conn, db.parent_acked)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["centre_id", "period", "dimension"], set_={"hash": insert.excluded.hash}
        ),
        [
            {"centre_id": fs.centre_id, "period": fs.period, "dimension": fs.dimension}
            | {"hash": figures_hash(fs.values)}
            for fs in sets
        ],
    )


# ---------------------------------------------------------------- which days changed


def dirty_ranges(
    conn: Connection, cursor_seq: int | None, scanned_at: str | None
) -> dict[str, tuple[date, date]]:
    """centre id -> (first, last) day whose figures may have changed since
    the cursor: on the first run, each centre's whole history."""
    days: dict[str, set[str]] = {}
    if cursor_seq is None:
        c = db.event_counts.c
        query = sa.select(
            c.centre_id, sa.func.min(c.first_occurred_at), sa.func.max(c.last_occurred_at)
        ).group_by(c.centre_id)
        for centre_id, first, last in conn.execute(query):
            days.setdefault(centre_id, set()).update((paris_day(first), paris_day(last)))
        s = db.p_sessions.c
        for centre_id, first, last in conn.execute(
            sa.select(s.centre_id, sa.func.min(s.starts_at), sa.func.max(s.starts_at)).group_by(s.centre_id)
        ):
            if first and last:
                days.setdefault(centre_id, set()).update((paris_day(first), paris_day(last)))
    else:
        _scan_events(conn, cursor_seq, scanned_at, days)
    ranges = {}
    for centre_id, touched in days.items():
        kept = sorted(
            day for day in touched if reports.FIRST_DAY.isoformat() <= day <= reports.LAST_DAY.isoformat()
        )
        if kept:
            ranges[centre_id] = (date.fromisoformat(kept[0]), date.fromisoformat(kept[-1]))
    return ranges


def _scan_events(
    conn: Connection, cursor_seq: int, scanned_at: str | None, days: dict[str, set[str]]
) -> None:
    e = db.events.c
    since = protocol.utc_iso(
        datetime.fromisoformat(scanned_at.replace("Z", "+00:00")) - SCAN_SLACK if scanned_at else utc_now()
    )
    members: dict[str, set[str]] = {}
    sessions: dict[str, set[str]] = {}
    last = cursor_seq - SEQ_MARGIN
    while True:
        chunk = conn.execute(
            sa.select(e.seq, e.centre_id, e.occurred_at, e.member_id, e.body)
            .where(e.seq > last, sa.or_(e.seq > cursor_seq, e.received_at >= since))
            .order_by(e.seq)
            .limit(SCAN_CHUNK)
        ).all()
        if not chunk:
            break
        last = chunk[-1].seq
        for _seq, centre_id, occurred_at, member_id, body in chunk:
            touched = days.setdefault(centre_id, set())
            touched.add(paris_day(occurred_at))
            data = _data(body)
            touched.update(_days_named(data))
            if member_id:
                members.setdefault(centre_id, set()).add(member_id)
            session_id = data.get("session_id")
            if isinstance(session_id, str):
                sessions.setdefault(centre_id, set()).add(session_id)
    _follow_members(conn, members, days)
    _follow_sessions(conn, sessions, days)


def _data(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def _days_named(data: dict[str, Any]) -> Iterator[str]:
    """The days an event's data names: a ``day``, or a time such as a
    session's ``starts_at`` (its Paris day)."""
    for name, value in data.items():
        if not isinstance(value, str):
            continue
        if name == "day" and len(value) == 10:
            yield value
        elif name.endswith("_at") and protocol.UTC_ISO_RE.fullmatch(value):
            yield paris_day(value)


def _chunks(items: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    items = sorted(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _follow_members(conn: Connection, members: dict[str, set[str]], days: dict[str, set[str]]) -> None:
    """A member's update or erasure changes the participants of every month
    the member came in (r_member_months), and the new members of the day
    it was created."""
    m, r = db.p_members.c, db.r_member_months.c
    for centre_id, ids in members.items():
        for chunk in _chunks(ids):
            query = sa.select(m.created_day).where(m.centre_id == centre_id, m.member_id.in_(chunk))
            days[centre_id].update(day for (day,) in conn.execute(query) if day)
            query = sa.select(r.month).where(r.centre_id == centre_id, r.member_id.in_(chunk)).distinct()
            days[centre_id].update(f"{month}-01" for (month,) in conn.execute(query))


def _follow_sessions(conn: Connection, sessions: dict[str, set[str]], days: dict[str, set[str]]) -> None:
    """A registration, attendance or cancellation counts on its session's day."""
    s = db.p_sessions.c
    for centre_id, ids in sessions.items():
        for chunk in _chunks(ids):
            query = sa.select(s.starts_at).where(s.centre_id == centre_id, s.session_id.in_(chunk))
            days[centre_id].update(paris_day(starts) for (starts,) in conn.execute(query) if starts)


# ---------------------------------------------------------------- forwarding a child's figures


def _forwarded(
    engine: Engine, since: str | None
) -> Iterator[tuple[dict[str, tuple[str, str]], list[FigureSet]]]:
    """The sets this hub received from its own children since ``since``
    (all of them the first time), a centre at a time, with the centre named
    under the child federation that holds it."""
    s, f, c, h = db.child_figure_sets.c, db.child_figures.c, db.child_centres.c, db.child_hubs.c
    with engine.connect() as conn:
        query = sa.select(s.child_id, s.centre_id).distinct()
        if since:
            slack = datetime.fromisoformat(since.replace("Z", "+00:00")) - SCAN_SLACK
            query = query.where(s.received_at >= protocol.utc_iso(slack))
        touched = conn.execute(query.order_by(s.child_id, s.centre_id)).all()
    for child_id, centre_id in touched:
        with engine.connect() as conn:
            named = conn.execute(
                sa.select(h.name, c.name, c.federation)
                .select_from(db.child_centres.join(db.child_hubs, h.id == c.child_id))
                .where(c.child_id == child_id, c.centre_id == centre_id)
            ).first()
            if named is None:
                continue
            child_name, centre_name, below = named
            values: dict[tuple[str, str], dict[str, int]] = {}
            for period, dimension in conn.execute(
                sa.select(s.period, s.dimension).where(s.child_id == child_id, s.centre_id == centre_id)
            ):
                values[(period, dimension)] = {}
            for period, dimension, key, value in conn.execute(
                sa.select(f.period, f.dimension, f.key, f.value).where(
                    f.child_id == child_id, f.centre_id == centre_id
                )
            ):
                values.setdefault((period, dimension), {})[key] = int(value)
        federation = f"{child_name} / {below}" if below else child_name
        sets = [FigureSet(centre_id, p, d, v) for (p, d), v in sorted(values.items())]
        yield {centre_id: (centre_name, federation[:300])}, sets


# ---------------------------------------------------------------- in the serving process


class Background(background.Periodic):
    """Sends by itself while the hub serves: every ``interval`` seconds, and
    after a failure waits longer each time (doubling, up to MAX_BACKOFF_S,
    with jitter). Sends nothing while no parent is linked or after a refusal
    of the token (until the hub is linked again). Each of several worker
    processes runs one; the lease lets one send at a time."""

    MAX_BACKOFF_S = 3600.0

    def __init__(self, db_url: str | None, interval: float):
        self.interval = interval
        super().__init__(
            db_url,
            self._send,
            self._backoff,
            name="parent-sync",
            log=log,
            failed="parent hub: the send failed on this hub",
        )

    @staticmethod
    def _send(engine: Engine) -> bool:
        """Whether the send went well: no parent linked, the token refused
        and another process holding the lease are not failures to back off
        from."""
        result = sync_parent(engine)
        if result.code in (OK, NOT_LINKED, REVOKED, client.BUSY):
            if result.ok and result.sent:
                log.info("parent hub: %s", result.summary())
            return True
        log.warning("parent hub: %s", result.summary())
        return False

    def _backoff(self, failures: int) -> float:
        if not failures:
            return self.interval
        backoff = min(self.MAX_BACKOFF_S, self.interval * 2**failures)
        return backoff * random.uniform(0.5, 1.0)
