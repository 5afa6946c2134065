"""How fast the hub's dashboard overview answers with a year of data from 50 centres.

Builds, directly in the reporting projections (bulk inserts, no ingest), what
1,000,000 events leave there: visits (most of them: their counts, and the
days members came), members (a third in
households), workshops, sessions, registrations and attendance, volunteers'
time, residents' ideas and their faces after sessions, spread over the last
365 days, and the rollups ingest keeps from them. Then
starts a real `federation serve`, signs in and times the overview page for the
default period (the last three months, all centres): with no figures kept,
then with each centre's figures kept as the hub keeps them
(federation.period_figures), then with a tenth of the centres changed since;
and, kept, for one centre and each funder's page, CSV and PDF.

Prints the median of several runs and the kept page's ratio to the baseline,
the 300 ms goal; then the report queries alone, in process, and the load average (the
machine may be shared). Without federation.reports' indexes the participants
query takes minutes at this size, so that is not run as a baseline.

    python benchmarks/bench_hub_dashboard.py                 # 1,000,000 events, SQLite
    python benchmarks/bench_hub_dashboard.py --events 100000 --runs 5
    python benchmarks/bench_hub_dashboard.py --db postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from federation import ages, funders, period_figures, projections, reports, store, taxonomies, users  # noqa: E402
from sync.protocol import AGE_BANDS, FEEDBACK_FACES, GENDERS, IDEA_THEMES, THEMES, utc_iso  # noqa: E402
from tests.conftest_hub import start_hub  # noqa: E402
from tests.hub_sample import EMAIL, PASSWORD, sign_in  # noqa: E402

GOAL_MS = 300
REASONS = ("accueil", "demarches", "rendez_vous", "atelier", "ordinateur", "permanence", "autre")
RECORDERS = ("resident", "volunteer", "staff")
#: share of the events by type (what a year of kiosk use looks like)
MIX = {
    "visit": 0.80,
    "member": 0.06,
    "workshop": 0.0005,
    "session": 0.015,
    "registration": 0.07,
    "attendance": 0.0545,
}
CHUNK = 20_000


def ids(n: int) -> list[str]:
    # time-ordered like the kiosk's (sync.protocol.new_id), cheaper to make in bulk
    return [
        str(uuid.UUID(int=(i << 80) | random.getrandbits(64) | (0x7 << 76) | (0b10 << 62))) for i in range(n)
    ]


def insert(conn, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])


def build(engine, events: int, centres: int, today: date, seed: int = 7) -> dict[str, int]:
    random.seed(seed)
    count = {kind: int(events * share) for kind, share in MIX.items()}
    days = [(today - timedelta(days=d)).isoformat() for d in range(365)]
    centre_ids = ids(centres)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        insert(
            conn,
            store.centres,
            [
                {"id": c, "name": f"Centre social n°{i + 1}", "created_at": "2025-01-01T00:00:00.000Z"}
                for i, c in enumerate(centre_ids)
            ],
        )
        insert(
            conn,
            store.devices,
            [
                {
                    "id": d,
                    "centre_id": c,
                    "label": "Borne",
                    "token_hash": uuid.uuid4().hex * 2,
                    "enrolled_at": "2025-01-02T00:00:00.000Z",
                    "last_sync_at": utc_iso(now - timedelta(days=random.choice((0, 1, 2, 9)))),
                }
                for d, c in zip(ids(centres), centre_ids, strict=True)
            ],
        )
        members = _members(conn, centre_ids, count["member"], days)
        _visits(conn, centre_ids, members, count["visit"], days)
        sessions = _workshops(conn, centre_ids, members, count, today)
        _volunteers(conn, centre_ids, days)
        _voice(conn, centre_ids, sessions, days)
        # the rollups ingest would have kept, from the projections just filled
        projections.refresh_rollups(conn)
    return count


def _members(conn, centre_ids, n, days) -> list[tuple[str, str]]:
    """Members as ingest keeps them: most with the year of birth a 1.1 kiosk
    sends, some with a 1.0 band only, a few with neither."""
    members = [(random.choice(centre_ids), m) for m in ids(n)]
    rows = []
    for c, m in members:
        born = None if random.random() < 0.3 else 2026 - int(random.triangular(3, 92, 38))
        band = "unknown" if random.random() < 0.08 else random.choice(AGE_BANDS[:5])
        born_from, born_to = ages.born_span(band, born, 2026)
        rows.append(
            {
                "centre_id": c,
                "member_id": m,
                "age_band": band,
                "gender": random.choice(GENDERS),
                "commune": "Lyon",
                "neighbourhood": None,
                "qpv": random.random() < 0.3,
                "created_day": random.choice(days),
                "erased_at": None,
                "as_of": "2026-01-01T00:00:00.000Z",
                "born_from": born_from,
                "born_to": born_to,
                "household_id": None,
            }
        )
    _households(rows)
    insert(conn, store.p_members, rows)
    return members


def _households(rows: list[dict]) -> None:
    """A third of each centre's members in households of two to five, as
    the demo links them."""
    by_centre: dict[str, list[dict]] = {}
    for row in rows:
        by_centre.setdefault(row["centre_id"], []).append(row)
    for members in by_centre.values():
        linked = members[: len(members) // 3]
        while linked:
            size = random.randint(2, 5)
            household = str(uuid.uuid4())
            for row in linked[:size]:
                row["household_id"] = household
            linked = linked[size:]


def _visits(conn, centre_ids, members, n, days) -> None:
    """Visit counts, and the days members came, as ingest leaves them
    (federation.projections._project_visits)."""
    by_centre: dict[str, list[str]] = {}
    for c, m in members:
        by_centre.setdefault(c, []).append(m)
    presence, counts = set(), {}
    for _ in range(n):
        centre, day = random.choice(centre_ids), random.choice(days)
        reason, recorder = random.choice(REASONS), random.choice(RECORDERS)
        member = random.choice(by_centre[centre]) if random.random() < 0.7 and by_centre.get(centre) else None
        if member is not None:
            presence.add((centre, member, day))
        key = (centre, day, reason, recorder)
        counts[key] = counts.get(key, 0) + 1
    insert(
        conn, store.p_presence, [{"centre_id": c, "member_id": m, "day": d} for c, m, d in sorted(presence)]
    )
    insert(
        conn,
        store.p_visit_counts,
        [
            {"centre_id": c, "day": d, "reason": r, "recorded_by": by, "visits": v}
            for (c, d, r, by), v in counts.items()
        ],
    )
    categories: dict[tuple, int] = {}
    for (c, d, r, _by), v in counts.items():  # the default reasons' national categories
        key = (c, d, *taxonomies.categories({"reason": r}))
        categories[key] = categories.get(key, 0) + v
    insert(
        conn,
        store.p_visit_categories,
        [
            {"centre_id": c, "day": d, "cra_theme": cra, "domain": domain, "visits": v}
            for (c, d, cra, domain), v in categories.items()
        ],
    )


def _workshops(conn, centre_ids, members, count, today) -> None:
    workshops = [(random.choice(centre_ids), w) for w in ids(max(count["workshop"], 1))]
    insert(
        conn,
        store.p_workshops,
        [
            {
                "centre_id": c,
                "workshop_id": w,
                "title": f"Atelier {i}",
                "theme": random.choice(THEMES),
                "place": None,
                "as_of": "2026-01-01T00:00:00.000Z",
            }
            for i, (c, w) in enumerate(workshops)
        ],
    )
    start = datetime.combine(today - timedelta(days=365), datetime.min.time(), UTC)
    sessions = []
    for s in ids(count["session"]):
        c, w = random.choice(workshops)
        starts = start + timedelta(minutes=random.randrange(365 * 24 * 60))
        sessions.append(
            {
                "centre_id": c,
                "session_id": s,
                "workshop_id": w,
                "starts_at": utc_iso(starts),
                "ends_at": utc_iso(starts + timedelta(hours=2)),
                "capacity": 12,
                "cancelled": random.random() < 0.05,
                "as_of": "2026-01-01T00:00:00.000Z",
            }
        )
    insert(conn, store.p_sessions, sessions)
    member_ids = [m for _c, m in members]
    insert(
        conn,
        store.p_registrations,
        [
            {
                "centre_id": s["centre_id"],
                "registration_id": r,
                "session_id": s["session_id"],
                "member_id": random.choice(member_ids),
                "status": random.choice(("booked", "booked", "waitlisted", "cancelled")),
                "as_of": "2026-01-01T00:00:00.000Z",
            }
            for r, s in zip(ids(count["registration"]), _cycle(sessions), strict=False)
        ],
    )
    insert(
        conn,
        store.p_attendance,
        [
            {
                "centre_id": s["centre_id"],
                "attendance_id": a,
                "session_id": s["session_id"],
                "member_id": random.choice(member_ids),
                "present": random.random() < 0.85,
                "walk_in": random.random() < 0.1,
                "as_of": "2026-01-01T00:00:00.000Z",
            }
            for a, s in zip(ids(count["attendance"]), _cycle(sessions), strict=False)
        ],
    )
    return sessions


def _volunteers(conn, centre_ids, days) -> None:
    """Fifteen volunteers a centre, each giving a stretch most weeks (an
    activity, or the board and commissions one time in five)."""
    rows = []
    for c in centre_ids:
        for volunteer in ids(15):
            for week in range(0, len(days), 7):
                if random.random() < 0.7:
                    rows.append(
                        {
                            "centre_id": c,
                            "stretch_id": str(uuid.uuid4()),
                            "volunteer_id": volunteer,
                            "kind": "governance" if random.random() < 0.2 else "activity",
                            "day": days[week + random.randrange(min(7, len(days) - week))],
                            "minutes": random.choice((60, 90, 120, 180, 240)),
                            "auto_closed": False,
                            "removed": False,
                            "version": 1,
                            "as_of": "2026-01-01T00:00:00.000Z",
                        }
                    )
    insert(conn, store.p_volunteering, rows)


def _voice(conn, centre_ids, sessions, days) -> None:
    """A hundred ideas a centre a year (some answered, realised, become an
    initiative), and a face after a session from a few of those who came."""
    ideas = []
    for c in centre_ids:
        for idea in ids(100):
            received = random.choice(days)
            answered = received if random.random() < 0.6 else None
            done = answered if answered and random.random() < 0.3 else None
            ideas.append(
                {
                    "centre_id": c,
                    "idea_id": idea,
                    "theme": random.choice(IDEA_THEMES),
                    "received_day": received,
                    "answered_day": answered,
                    "done_day": done,
                    "initiative_day": done if done and random.random() < 0.5 else None,
                    "as_of": "2026-01-01T00:00:00.000Z",
                }
            )
    insert(conn, store.p_ideas, ideas)
    faces = []
    for session in sessions:
        for _ in range(random.randint(0, 4)):
            faces.append(
                {
                    "centre_id": session["centre_id"],
                    "feedback_id": str(uuid.uuid4()),
                    "session_id": session["session_id"],
                    "face": random.choice(FEEDBACK_FACES),
                    "day": session["starts_at"][:10],
                }
            )
    insert(conn, store.p_feedback, faces)


def _cycle(items):
    while True:
        yield random.choice(items)


# ---------------------------------------------------------------- timing


def time_page(client: httpx.Client, path: str, runs: int, warm: bool = True) -> list[float]:
    if warm:
        client.get(path).raise_for_status()  # warm the caches once, as a used hub is
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return timings


def time_in_process(engine, period: reports.Period, runs: int) -> tuple[list[float], list[float]]:
    """The overview's queries one after the other on one connection, every
    figure read from the projections, and as the pages run them
    (``overview_from``: the figures kept, if they are)."""
    one, parallel = [], []
    with engine.connect() as conn:
        reports.overview(conn, period)
        for _ in range(runs):
            started = time.perf_counter()
            reports.overview(conn, period)
            one.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            period_figures.overview_from(engine, period)
            parallel.append((time.perf_counter() - started) * 1000)
    return one, parallel


def change_centres(engine, share: float) -> int:
    """A batch stored for ``share`` of the centres, as far as the kept
    figures know: their version (event_counts) raised, so the pages read
    them again from the projections. The centres changed."""
    with engine.begin() as conn:
        ids = sorted(conn.execute(sa.select(store.centres.c.id)).scalars())
        chosen = ids[: max(1, round(len(ids) * share))]
        for centre_id in chosen:
            counts = store.event_counts.c
            raised = conn.execute(
                store.event_counts.update()
                .where(counts.centre_id == centre_id, counts.type == "visit.recorded")
                .values(events=counts.events + 1)
            ).rowcount
            if not raised:
                at = utc_iso(datetime.now(UTC))
                conn.execute(
                    store.event_counts.insert().values(
                        centre_id=centre_id,
                        type="visit.recorded",
                        events=1,
                        first_occurred_at=at,
                        last_occurred_at=at,
                    )
                )
    return len(chosen)


def time_queries(engine, period: reports.Period, runs: int) -> dict[str, float]:
    """Each report query of the overview alone (median ms): where the time goes."""
    queries = {
        "visits by day": lambda conn: reports.visits_by_day(conn, period),
        "visits by reason": lambda conn: reports.visits_by_reason(conn, period),
        "visits by centre": lambda conn: reports.visits_by_centre(conn, period),
        "visits by national category": lambda conn: reports.visits_by_category(conn, period),
        "workshops": lambda conn: reports.workshop_figures(conn, period),
        "new members": lambda conn: reports.new_members(conn, period),
        "participants": lambda conn: reports.participants(conn, period),
        "FSE+ situations": lambda conn: reports.situations(conn, period),
        "families": lambda conn: reports.families(conn, period),
        "volunteers": lambda conn: reports.volunteer_figures(conn, period),
        "residents' voice": lambda conn: reports.voice_figures(conn, period),
        "centres": lambda conn: reports.centre_statuses(conn),
    }
    medians = {}
    with engine.connect() as conn:
        for name, query in queries.items():
            query(conn)
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                query(conn)
                timings.append((time.perf_counter() - started) * 1000)
            medians[name] = statistics.median(timings)
    return medians


def _run(args: argparse.Namespace, workdir: Path) -> None:
    url = args.db or f"sqlite:///{workdir / 'federation.db'}"
    engine = store.open_engine(url)
    with engine.connect() as conn:
        filled = conn.execute(sa.select(sa.func.count()).select_from(store.centres)).scalar_one()
    if filled and args.reuse:
        print(f"reusing the data already in {url}")
    else:
        started = time.perf_counter()
        count = build(engine, args.events, args.centres, reports.paris_today())
        print(
            f"built {sum(count.values()):,} events' projections from {args.centres} centres "
            f"in {time.perf_counter() - started:.1f} s: {count}"
        )
        users.add_user(engine, EMAIL, PASSWORD)
    if engine.dialect.name == "postgresql":
        # a hub that took a year to fill has had its tables analysed by
        # autovacuum long ago; a bulk load of a minute has not yet
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    period = reports.parse_period(None, None)
    with engine.connect() as conn:
        centre = reports.centre_statuses(conn)[0].id

    # the hub's own refresh is left to the benchmark, which times the page
    # with no figures kept, then as the hub keeps them, then with a tenth of
    # the centres changed since (a batch stored: read again, alone)
    os.environ[period_figures.INTERVAL_VARIABLE] = "0"
    with engine.begin() as conn:
        conn.execute(store.r_period_figures.delete())
    hub = start_hub(url, workdir)
    try:
        with httpx.Client(base_url=hub.url, timeout=60) as client:
            if sign_in(client).status_code != 303:
                raise SystemExit("could not sign in to the hub")
            cold = time_page(client, "/", args.runs, warm=False)
            started = time.perf_counter()
            kept = period_figures.refresh(engine, period_figures.kept_periods(reports.paris_today()))
            refresh_ms = (time.perf_counter() - started) * 1000
            overview = time_page(client, "/", args.runs)
            changed = change_centres(engine, 0.1)
            some_changed = time_page(client, "/", args.runs, warm=False)
            period_figures.refresh(engine, period_figures.kept_periods(reports.paris_today()))
            one_centre = time_page(client, f"/?centre={centre}", args.runs)
            pdf = time_page(client, "/exports/report.pdf", max(3, args.runs // 3))
            # each funder's page, CSV and PDF (the same figures as the overview's)
            funder_files = {
                f"{what} {kind}": statistics.median(time_page(client, path, max(3, args.runs // 3)))
                for what in funders.FUNDERS
                for kind, path in (
                    ("page", f"/funders/{what}"),
                    ("CSV", f"/exports/funders/{what}.csv"),
                    ("PDF", f"/exports/funders/{what}.pdf"),
                )
            }
    finally:
        hub.stop()
    in_process = time_in_process(engine, period, args.runs)
    breakdown = time_queries(engine, period, args.runs)
    engine.dispose()  # close the files before the work folder goes

    median = statistics.median(overview)
    print(
        f"overview page, all centres, {period.days()} days (HTTP, median of {args.runs}), the figures kept "
        f"as the hub keeps them: {median:.0f} ms  -> {median / GOAL_MS:.2f} x the {GOAL_MS} ms goal"
    )
    print(
        f"  with {changed} centres of {args.centres} changed since (read again): "
        f"{statistics.median(some_changed):.0f} ms; none kept (every figure read): "
        f"{statistics.median(cold):.0f} ms; the refresh of every kept period: {kept} rows "
        f"in {refresh_ms:.0f} ms"
    )
    print(f"overview page, one centre (HTTP, median): {statistics.median(one_centre):.0f} ms")
    print(f"PDF report, all centres (HTTP, median): {statistics.median(pdf):.0f} ms")
    print(
        "funders' exports, all centres (HTTP, medians): "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in funder_files.items())
        + " (ms)"
    )
    print(
        "report queries alone, in process (median of "
        f"{args.runs}): {statistics.median(in_process[0]):.0f} ms "
        f"one after the other, {statistics.median(in_process[1]):.0f} ms as the pages run them"
    )
    print("  " + ", ".join(f"{name} {ms:.0f}" for name, ms in breakdown.items()) + " (ms, medians)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--centres", type=int, default=50)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="if --db already holds a benchmark's data, time it again without rebuilding",
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-hub-dashboard-"))
    try:
        _run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # a million events take ~0.5 GB
    return 0


if __name__ == "__main__":
    sys.exit(main())
