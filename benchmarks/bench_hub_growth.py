"""The growth curve: the dashboard's overview for a year, all centres, on
PostgreSQL, as a departmental hub fills up to 1, 10 and 50 million events.

The hub: ``--centres`` centres (300, a departmental federation), each
sending ``--per-day`` events a day (150) in bench_hub_dashboard's mix of
types, up to today. A size of N events is the hub after N / (centres x
per day) days: 1 M is its first three weeks, 10 M its first seven months,
50 M three years on. Each size is built in a database of its own with
PostgreSQL's COPY: the raw events (in their month's partition, their keys
in event_keys, as schema 13 keeps them) and the projections ingest would
have left from them (visit counts and categories, the days each member
came, members with their households, workshops, sessions,
registrations, attendance, event_counts), then volunteers' time and the
residents' voice with bench_hub_dashboard's builders. The tables are
vacuumed and analysed, as autovacuum has long done on a hub that took a
year to fill.

The rollups ingest keeps (schema 22) are then rebuilt from those
projections, as the schema step does on a hub that held them.

Prints, at each size, the median of ``--runs`` overviews for the calendar
year (read from the rollups) and for the last 365 days (any dates: whole
months from the rollups, the edges by day), all centres
(period_figures.overview_from, what the page and the exports call): with
the figures each centre's row keeps (as the hub keeps them), its ratio to
the 500 ms goal; with a tenth of the centres changed since (read again from
the projections, alone); with none kept; and the refresh's time. Then the
period's rows in the projections it reads, each
report query alone (bench_hub_dashboard's breakdown), and the disk used
(the events with their keys, the projections, the whole database); then
the load average (the machine may be shared).

    python benchmarks/bench_hub_growth.py                    # 1 and 10 million
    python benchmarks/bench_hub_growth.py --sizes 1,10,50    # and 50 million
    python benchmarks/bench_hub_growth.py --sizes 0.1 --runs 3
    python benchmarks/bench_hub_growth.py --db postgresql://postgres@127.0.0.1:5432/postgres

Without ``--db`` it starts a throwaway PostgreSQL (as the tests do) with
shared_buffers at a quarter of the RAM, up to 4 GB; with ``--db`` it makes
a database a size on that server (it must allow CREATE DATABASE), and drops
it after unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_hub_dashboard import (  # noqa: E402
    MIX,
    REASONS,
    RECORDERS,
    _households,
    _voice,
    _volunteers,
    change_centres,
    time_queries,
)

from federation import ages, period_figures, reports, store, taxonomies  # noqa: E402
from sync.protocol import AGE_BANDS, GENDERS, THEMES, utc_iso  # noqa: E402

GOAL_MS = 500
#: rows a COPY is given at once
FLUSH = 200_000
#: member events: created, the rest updated
CREATED_SHARE = 2 / 3


def uuid7(ms: int) -> str:
    """A time-ordered id as the kiosk makes them (sync.protocol.new_id), cheaper in bulk."""
    value = (ms << 80) | (0x7 << 76) | (random.getrandbits(12) << 64) | (0b10 << 62) | random.getrandbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def text_field(value) -> str:
    """A COPY text field: our values hold no tab, newline nor backslash."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def json_value(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    return f'"{value}"'


def body(event_id: str, kind: str, occurred_at: str, data: dict) -> str:
    """The canonical text (sync.protocol.canonical_json) of an event whose
    values need no escaping."""
    fields = ",".join(f'"{key}":{json_value(data[key])}' for key in sorted(data))
    return f'{{"data":{{{fields}}},"id":"{event_id}","occurred_at":"{occurred_at}","type":"{kind}"}}'


class Copier:
    """Rows for several tables, sent with COPY a FLUSH at a time."""

    def __init__(self, conn: psycopg.Connection):
        self.conn, self.rows, self.columns = conn, {}, {}

    def add(self, table: str, columns: tuple[str, ...], row: tuple) -> None:
        self.columns[table] = columns
        held = self.rows.setdefault(table, [])
        held.append("\t".join(map(text_field, row)) + "\n")
        if len(held) >= FLUSH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            lines = self.rows.get(name)
            if lines:
                with self.conn.cursor() as cursor:
                    with cursor.copy(f"COPY {name} ({', '.join(self.columns[name])}) FROM STDIN") as copy:
                        copy.write("".join(lines))
                self.rows[name] = []
        self.conn.commit()


EVENT_COLUMNS = (
    "centre_id",
    "event_id",
    "type",
    "occurred_at",
    "received_at",
    "device_id",
    "member_id",
    "body",
    "content_hash",
)


class Hub:
    """What a departmental hub holds after ``days`` days up to ``today``."""

    def __init__(self, copier: Copier, centres: list[str], devices: list[str]):
        self.out, self.centres, self.devices = copier, centres, devices
        self.members: dict[str, list[str]] = {c: [] for c in centres}
        self.member_rows: dict[str, dict] = {}
        self.workshops: dict[str, list[str]] = {c: [] for c in centres}
        self.sessions: dict[str, list[dict]] = {c: [] for c in centres}
        self.all_sessions: list[dict] = []
        self.visit_counts: dict[tuple, int] = {}
        self.event_counts: dict[tuple, list] = {}
        self.thresholds = []
        total = 0.0
        for kind, share in MIX.items():
            total += share
            self.thresholds.append((total, kind))

    def event(
        self, centre: str, device: str, kind: str, at: datetime, data: dict, member: str | None
    ) -> None:
        ms = int(at.timestamp() * 1000)
        event_id, occurred_at = uuid7(ms), utc_iso(at)
        text = body(event_id, kind, occurred_at, data)
        digest = hashlib.sha256(text.encode()).hexdigest()
        received = utc_iso(at + timedelta(minutes=5))
        self.out.add(
            "events",
            EVENT_COLUMNS,
            (centre, event_id, kind, occurred_at, received, device, member, text, digest),
        )
        self.out.add("event_keys", ("centre_id", "event_id", "content_hash"), (centre, event_id, digest))
        held = self.event_counts.get((centre, kind))
        if held is None:
            self.event_counts[(centre, kind)] = [1, occurred_at, occurred_at]
        else:
            held[0] += 1
            held[2] = occurred_at  # the days go forward

    def day(self, day: date, per_day: int) -> None:
        opening = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=7)
        day_text = day.isoformat()
        for centre, device in zip(self.centres, self.devices, strict=True):
            came: set[str] = set()
            for _ in range(per_day):
                at = opening + timedelta(seconds=random.randrange(11 * 3600))
                pick = random.random()
                kind = next((k for limit, k in self.thresholds if pick < limit), "visit")
                getattr(self, "_" + kind)(centre, device, at, day_text, came)

    def _visit(self, centre, device, at, day_text, came) -> None:
        pool = self.members[centre]
        member = random.choice(pool) if pool and random.random() < 0.7 else None
        reason, recorder = random.choice(REASONS), random.choice(RECORDERS)
        data = {"member_id": member, "reason": reason, "recorded_by": recorder, "visit_id": str(uuid.uuid4())}
        self.event(centre, device, "visit.recorded", at, data, None)
        key = (centre, day_text, reason, recorder)
        self.visit_counts[key] = self.visit_counts.get(key, 0) + 1
        if member is not None and member not in came:
            came.add(member)
            self.out.add("p_presence", ("centre_id", "member_id", "day"), (centre, member, day_text))

    def _member(self, centre, device, at, day_text, _came) -> None:
        pool = self.members[centre]
        if pool and random.random() > CREATED_SHARE:
            member, kind = random.choice(pool), "member.updated"
        else:
            member, kind = str(uuid.uuid4()), "member.created"
        band = random.choice(AGE_BANDS[:5])
        born = None if random.random() < 0.3 else at.year - int(random.triangular(3, 92, 38))
        gender, qpv = random.choice(GENDERS), random.random() < 0.3
        data = {"age_band": band, "commune": "Lyon", "gender": gender, "member_id": member, "qpv": qpv}
        if born is not None:
            data["year_born"] = born
        self.event(centre, device, kind, at, data, member)
        if kind == "member.created":
            pool.append(member)
            born_from, born_to = ages.born_span(band, born, at.year)
            self.member_rows[member] = {
                "centre_id": centre,
                "member_id": member,
                "age_band": band,
                "gender": gender,
                "commune": "Lyon",
                "neighbourhood": None,
                "qpv": qpv,
                "created_day": day_text,
                "erased_at": None,
                "as_of": utc_iso(at),
                "born_from": born_from,
                "born_to": born_to,
                "household_id": None,
            }

    def _workshop(self, centre, device, at, _day_text, _came) -> None:
        workshop, theme = str(uuid.uuid4()), random.choice(THEMES)
        title = f"Atelier {len(self.workshops[centre]) + 1}"
        data = {"place": None, "theme": theme, "title": title, "workshop_id": workshop}
        self.event(centre, device, "workshop.created", at, data, None)
        self.workshops[centre].append(workshop)
        self.out.add(
            "p_workshops",
            ("centre_id", "workshop_id", "title", "theme", "place", "as_of"),
            (centre, workshop, title, theme, None, utc_iso(at)),
        )

    def _session(self, centre, device, at, day_text, came) -> None:
        if not self.workshops[centre]:
            self._workshop(centre, device, at, day_text, came)
        workshop, session = random.choice(self.workshops[centre]), str(uuid.uuid4())
        starts = at + timedelta(days=random.randint(0, 14))
        starts_at, ends_at = utc_iso(starts), utc_iso(starts + timedelta(hours=2))
        data = {
            "capacity": 12,
            "ends_at": ends_at,
            "session_id": session,
            "starts_at": starts_at,
            "workshop_id": workshop,
        }
        self.event(centre, device, "session.created", at, data, None)
        row = {"centre_id": centre, "session_id": session, "starts_at": starts_at}
        self.sessions[centre].append(row)
        self.all_sessions.append(row)
        self.out.add(
            "p_sessions",
            (
                "centre_id",
                "session_id",
                "workshop_id",
                "starts_at",
                "ends_at",
                "capacity",
                "cancelled",
                "as_of",
            ),
            (centre, session, workshop, starts_at, ends_at, 12, random.random() < 0.05, utc_iso(at)),
        )

    def _with_session(self, centre, device, at, day_text, came) -> tuple[str, str | None]:
        if not self.sessions[centre]:
            self._session(centre, device, at, day_text, came)
        session = random.choice(self.sessions[centre][-50:])["session_id"]
        pool = self.members[centre]
        return session, random.choice(pool) if pool else None

    def _registration(self, centre, device, at, day_text, came) -> None:
        session, member = self._with_session(centre, device, at, day_text, came)
        if member is None:
            return
        registration, status = (
            str(uuid.uuid4()),
            random.choice(("booked", "booked", "waitlisted", "cancelled")),
        )
        data = {"member_id": member, "registration_id": registration, "session_id": session, "status": status}
        self.event(centre, device, "registration.changed", at, data, None)
        self.out.add(
            "p_registrations",
            ("centre_id", "registration_id", "session_id", "member_id", "status", "as_of"),
            (centre, registration, session, member, status, utc_iso(at)),
        )

    def _attendance(self, centre, device, at, day_text, came) -> None:
        session, member = self._with_session(centre, device, at, day_text, came)
        attendance, present, walk_in = str(uuid.uuid4()), random.random() < 0.85, random.random() < 0.1
        data = {
            "attendance_id": attendance,
            "member_id": member,
            "present": present,
            "session_id": session,
            "walk_in": walk_in,
        }
        self.event(centre, device, "attendance.taken", at, data, None)
        self.out.add(
            "p_attendance",
            ("centre_id", "attendance_id", "session_id", "member_id", "present", "walk_in", "as_of"),
            (centre, attendance, session, member, present, walk_in, utc_iso(at)),
        )

    def finish(self) -> None:
        """The projections kept whole until the last day: counts, members."""
        out = self.out
        categories: dict[tuple, int] = {}
        for (c, d, r, by), v in self.visit_counts.items():
            out.add(
                "p_visit_counts", ("centre_id", "day", "reason", "recorded_by", "visits"), (c, d, r, by, v)
            )
            key = (c, d, *taxonomies.categories({"reason": r}))
            categories[key] = categories.get(key, 0) + v
        for (c, d, cra, domain), v in categories.items():
            out.add(
                "p_visit_categories",
                ("centre_id", "day", "cra_theme", "domain", "visits"),
                (c, d, cra, domain, v),
            )
        rows = list(self.member_rows.values())
        _households(rows)
        columns = tuple(rows[0]) if rows else ()
        for row in rows:
            out.add("p_members", columns, tuple(row.values()))
        for (c, kind), (n, first, last) in self.event_counts.items():
            out.add(
                "event_counts",
                ("centre_id", "type", "events", "first_occurred_at", "last_occurred_at"),
                (c, kind, n, first, last),
            )
        out.flush()


def build(url: str, events: int, centres: int, per_day: int, today: date) -> tuple[int, date]:
    """Fill the database at ``url`` (migrated, empty); the events made and the first day."""
    random.seed(7)
    days = max(1, round(events / (centres * per_day)))
    first = today - timedelta(days=days - 1)
    engine = store.open_engine(url)
    with engine.begin() as conn:
        # the months a hub that ran these days made ahead, one by one
        month = first.strftime("%Y-%m")
        held = store.event_partitions(conn)
        while month <= today.strftime("%Y-%m"):
            if month not in held:
                conn.exec_driver_sql(
                    f"CREATE TABLE events_{month.replace('-', '_')} PARTITION OF events "
                    f"FOR VALUES FROM ('{month}') TO ('{store.month_after(month)}')"
                )
            month = store.month_after(month)
    started = time.perf_counter()
    centre_ids = [str(uuid.uuid4()) for _ in range(centres)]
    device_ids = [str(uuid.uuid4()) for _ in range(centres)]
    created = utc_iso(datetime.combine(first, datetime.min.time(), UTC))
    with psycopg.connect(store.normalise_url(url).replace("+psycopg", "")) as raw:
        out = Copier(raw)
        for i, c in enumerate(centre_ids):
            out.add("centres", ("id", "name", "created_at"), (c, f"Centre social n°{i + 1}", created))
        out.flush()
        for c, d in zip(centre_ids, device_ids, strict=True):
            last_sync = utc_iso(datetime.now(UTC) - timedelta(days=random.choice((0, 1, 2, 9))))
            out.add(
                "devices",
                ("id", "centre_id", "label", "token_hash", "enrolled_at", "last_sync_at"),
                (d, c, "Borne", uuid.uuid4().hex * 2, created, last_sync),
            )
        out.flush()
        hub = Hub(out, centre_ids, device_ids)
        for n in range(days):
            hub.day(first + timedelta(days=n), per_day)
            if n % 30 == 29:
                print(f"  {n + 1} of {days} days", flush=True)
        hub.finish()
    print(f"  events and projections copied in {time.perf_counter() - started:.0f} s", flush=True)
    all_days = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    with engine.begin() as conn:
        _volunteers(conn, centre_ids, all_days)
        _voice(conn, centre_ids, hub.all_sessions, all_days)
    # the rollups ingest keeps, made by schema 22's step from the projections
    # (what migrating a hub that held these does)
    started = time.perf_counter()
    with engine.begin() as conn:
        store.rebuild_rollups(conn)
    print(f"  rollups rebuilt from the projections in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()
    made = sum(n for n, _first, _last in hub.event_counts.values())
    return made, first


def vacuum(url: str) -> None:
    """What autovacuum has long done on a hub that took years to fill: the
    projections' visibility maps set (index-only scans) and every table analysed."""
    with psycopg.connect(store.normalise_url(url).replace("+psycopg", ""), autocommit=True) as raw:
        tables = [
            name
            for (name,) in raw.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'events%'"
            )
        ]
        for name in tables:
            raw.execute(f"VACUUM (ANALYZE) {name}")
        raw.execute("ANALYZE events")


def year_rows(engine, period: reports.Period) -> dict[str, int]:
    """The rows of the period in the projections and rollups the overview reads most."""
    first, last = period.first_day, period.last_day
    months = f"month BETWEEN '{first[:7]}' AND '{last[:7]}'"
    queries = {
        "p_visit_counts": f"SELECT count(*) FROM p_visit_counts WHERE day BETWEEN '{first}' AND '{last}'",
        "p_presence": f"SELECT count(*) FROM p_presence WHERE day BETWEEN '{first}' AND '{last}'",
        "p_members": "SELECT count(*) FROM p_members",
        "r_visit_months": f"SELECT count(*) FROM r_visit_months WHERE {months}",
        "r_visit_days": f"SELECT count(*) FROM r_visit_days WHERE day BETWEEN '{first}' AND '{last}'",
        "r_member_months": f"SELECT count(*) FROM r_member_months WHERE {months}",
        "r_participants (the year's)": f"SELECT count(*) FROM r_participants WHERE period = '{first[:4]}'",
    }
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(sql).scalar_one() for name, sql in queries.items()}


def disk(engine) -> dict[str, int]:
    with engine.connect() as conn:
        events = conn.exec_driver_sql(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = 'events'::regclass"
        ).scalar_one()
        keys = conn.exec_driver_sql("SELECT pg_total_relation_size('event_keys')").scalar_one()
        projections = conn.exec_driver_sql(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "AND (left(c.relname, 2) = 'p_' OR c.relname = 'event_counts')"
        ).scalar_one()
        rollups = conn.exec_driver_sql(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND left(c.relname, 2) = 'r_'"
        ).scalar_one()
        whole = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
    return {
        "events": events,
        "event_keys": keys,
        "projections": projections,
        "rollups": rollups,
        "database": whole,
    }


def time_overview(engine, period: reports.Period, runs: int) -> list[float]:
    """The overview as the pages read it: the figures kept where they are
    still true (the database's caches warmed once, as a used hub's are)."""
    period_figures.overview_from(engine, period)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        period_figures.overview_from(engine, period)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def gb(size: int) -> str:
    return f"{int(size) / 1e9:.1f} GB"


def measure(server_url: str, millions: float, args: argparse.Namespace) -> None:
    name = f"growth_{str(millions).replace('.', '_')}m"
    admin = store.normalise_url(server_url).replace("+psycopg", "")
    url = server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as raw:
        held = raw.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not (args.reuse and held):
            raw.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            raw.execute(f'CREATE DATABASE "{name}"')
    try:
        today = reports.paris_today()
        if args.reuse and held:
            # a database kept by an earlier run: the rollups made again by
            # this code (the schema step's rebuild), then measured
            engine = store.create_engine(url)
            started = time.perf_counter()
            with engine.begin() as conn:
                store.rebuild_rollups(conn)
                made = conn.exec_driver_sql("SELECT sum(events) FROM event_counts").scalar_one()
                first = date.fromisoformat(
                    conn.exec_driver_sql("SELECT min(day) FROM p_presence").scalar_one()
                )
            built_s = time.perf_counter() - started
            print(f"  reusing {name}: rollups rebuilt in {built_s:.0f} s", flush=True)
            engine.dispose()
        else:
            started = time.perf_counter()
            made, first = build(url, int(millions * 1_000_000), args.centres, args.per_day, today)
            built_s = time.perf_counter() - started
        started = time.perf_counter()
        vacuum(url)
        vacuum_s = time.perf_counter() - started
        engine = store.create_engine(url)
        # the calendar year (the funders' period: read from the rollups), and
        # the last 365 days (whole months from the rollups, the people from
        # the members' spans)
        periods = {
            f"the year {today.year}": reports.Period(date(today.year, 1, 1), date(today.year, 12, 31)),
            "the last 365 days": reports.Period(today - timedelta(days=364), today),
        }
        print(
            f"{made:,} events ({args.centres} centres from {first} to {today}; built in {built_s:.0f} s, "
            f"vacuumed in {vacuum_s:.0f} s)",
            flush=True,
        )
        with engine.begin() as conn:
            conn.execute(store.r_period_figures.delete())
        for label, period in periods.items():
            # nothing kept: every figure read from the projections and rollups
            cold = statistics.median(time_overview(engine, period, max(3, args.runs // 2)))
            started = time.perf_counter()
            kept = period_figures.refresh(engine, [period])
            refresh_s = time.perf_counter() - started
            # as the hub keeps them (its thread refreshes them every minute)
            timings = time_overview(engine, period, args.runs)
            median = statistics.median(timings)
            # some centres stored a batch since: read again, alone (a
            # departmental hub's 300 centres sync every quarter of an hour,
            # and the hub refreshes every 15 s: a few centres; a tenth)
            some = {}
            for share in (0.01, 0.1):
                changed = change_centres(engine, share)
                some[changed] = statistics.median(time_overview(engine, period, args.runs))
                period_figures.refresh(engine, [period])
            rows = year_rows(engine, period)
            breakdown = time_queries(engine, period, args.runs)
            print(
                f"  overview, {label}, all centres (in process, median of {args.runs}), the figures kept "
                f"as the hub keeps them: {median:.0f} ms"
                f"  -> {median / GOAL_MS:.2f} x the {GOAL_MS} ms goal  (runs: "
                + ", ".join(f"{t:.0f}" for t in timings)
                + ")\n    with "
                + ", ".join(f"{n} centres changed since (read again): {ms:.0f} ms" for n, ms in some.items())
                + "; "
                f"none kept (every figure read): {cold:.0f} ms; the refresh: {kept} rows in "
                f"{refresh_s:.1f} s\n"
                "    the period's rows: "
                + ", ".join(f"{table} {n:,}" for table, n in rows.items())
                + "\n    each query alone (ms, medians): "
                + ", ".join(f"{name} {ms:.0f}" for name, ms in breakdown.items()),
                flush=True,
            )
        used = disk(engine)
        engine.dispose()
        print("  disk: " + ", ".join(f"{part} {gb(size)}" for part, size in used.items()), flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as raw:
                raw.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def throwaway_server():
    """A PostgreSQL started as the tests start theirs, given memory like a hub's."""
    from tests.conftest_hub import PostgresCluster, postgres_bin_dir

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries: run scripts/system-deps.sh test")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    shared = min(4 << 30, ram // 4) >> 20
    with psycopg.connect(cluster.url(), autocommit=True) as raw:
        raw.execute(f"ALTER SYSTEM SET shared_buffers = '{shared}MB'")
        raw.execute(f"ALTER SYSTEM SET effective_cache_size = '{ram // 2 >> 20}MB'")
        raw.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        raw.execute("ALTER SYSTEM SET maintenance_work_mem = '512MB'")
    cluster._run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(cluster.data),
        "-l",
        str(cluster.root / "log"),
        "-m",
        "fast",
        "-w",
        "restart",
    )
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10", help="millions of events, comma-separated (default 1,10)")
    parser.add_argument("--centres", type=int, default=300)
    parser.add_argument("--per-day", type=int, default=150, help="events a centre a day (default 150)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", help="a PostgreSQL server's URL (default: a throwaway one)")
    parser.add_argument("--keep", action="store_true", help="keep each size's database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure a size's database kept by --keep (its rollups made again)",
    )
    args = parser.parse_args(argv)
    sizes = [float(size) for size in args.sizes.split(",")]
    cluster = None if args.db else throwaway_server()
    server_url = args.db or cluster.url()
    try:
        for millions in sizes:
            measure(server_url, millions, args)
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
