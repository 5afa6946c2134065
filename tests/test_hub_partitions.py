"""The events by month on PostgreSQL (schema 13: partitions, event_keys),
and the retention of pseudonymised events on both engines: exactly-once
holds across months, through the conversion and after old events go."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, retention, store
from sync import clock, protocol
from tests.conftest_hub import run_federation

WIDE = ingest.Window(past_years=10, future_days=3650)


def month_start(months_ago: int, now: datetime) -> datetime:
    """The first of the month ``months_ago`` before ``now``'s, at 10:00 UTC."""
    index = now.year * 12 + now.month - 1 - months_ago
    return datetime(index // 12, index % 12 + 1, 1, 10, tzinfo=UTC)


def visit(at: datetime, event_id: str | None = None, reason: str = "accueil") -> dict:
    return {
        "id": event_id or protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": protocol.utc_iso(at),
        "data": {"visit_id": protocol.new_id(), "member_id": None, "reason": reason, "recorded_by": "staff"},
    }


def send(engine, centre_id: str, events: list[dict], window: ingest.Window = WIDE) -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(
            conn, {"protocol": "1.0", "events": events}, centre_id, None, store.utc_now_iso(), window=window
        )


def new_centre(engine) -> str:
    with store.writer(engine) as conn, conn.begin():
        return centres.add_centre(conn, "Centre social Les Tilleuls")[0]


def rows(engine, table: str, order: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}")]


def held_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(store.events.c.event_id)).scalars())


def partition_of(engine, event_id: str) -> str:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT tableoid::regclass::text FROM events WHERE event_id = %s", (event_id,)
        ).scalar_one()


# ---------------------------------------------------------------- exactly-once across months


def test_an_id_sent_again_in_another_month_is_a_conflict_and_stored_once(hub_db_url):
    engine = store.open_engine(hub_db_url)
    centre_id = new_centre(engine)
    now = clock.utc_now()
    first = visit(month_start(3, now))
    moved = dict(first, occurred_at=protocol.utc_iso(month_start(1, now)))
    assert send(engine, centre_id, [first]).stored == [first["id"]]
    answer = send(engine, centre_id, [moved])
    assert answer.stored == [] and answer.duplicates == []
    assert [rejected["id"] for rejected in answer.rejected] == [first["id"]]
    assert send(engine, centre_id, [first]).duplicates == [first["id"]]
    with engine.connect() as conn:
        [(occurred_at,)] = conn.execute(sa.select(store.events.c.occurred_at)).all()
        visits = conn.execute(sa.select(sa.func.sum(store.p_visit_counts.c.visits))).scalar()
    assert occurred_at == first["occurred_at"] and visits == 1
    engine.dispose()


# ---------------------------------------------------------------- schema 13


def at_version(url: str, version: int) -> sa.Engine:
    engine = store.create_engine(url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in range(1, version + 1):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
    return engine


@pytest.mark.postgres
def test_step_13_moves_every_held_event_into_its_month_with_nothing_lost(postgres_url):
    engine = at_version(postgres_url, 12)
    now = clock.utc_now()
    c1, c2 = protocol.new_id(), protocol.new_id()
    held = [
        (c1, visit(datetime(2019, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))),
        (c1, visit(datetime(2020, 1, 1, tzinfo=UTC))),
        (c2, visit(month_start(1, now))),
        (c2, visit(now - timedelta(minutes=5))),
    ]
    member = protocol.new_id()
    created = {
        "id": protocol.new_id(),
        "type": "member.created",
        "occurred_at": protocol.utc_iso(month_start(2, now)),
        "data": {"member_id": member, "age_band": "25-54"},
    }
    held.append((c1, created))
    with engine.begin() as conn:
        for centre in (c1, c2):
            conn.execute(store.centres.insert().values(id=centre, name=centre, created_at="x"))
        conn.execute(
            store.events.insert(),
            [
                {
                    "centre_id": centre,
                    "event_id": event["id"],
                    "type": event["type"],
                    "occurred_at": event["occurred_at"],
                    "received_at": protocol.utc_iso(now),
                    "device_id": None,
                    "member_id": event["data"].get("member_id")
                    if event["type"].startswith("member.")
                    else None,
                    "body": protocol.canonical_json(event),
                    "content_hash": protocol.content_hash(event),
                }
                for centre, event in held
            ],
        )
        # a time no kiosk of today could send, left by an early hub: kept, in the DEFAULT partition
        conn.exec_driver_sql(
            "INSERT INTO events (centre_id, event_id, type, occurred_at, received_at, body, content_hash) "
            f"VALUES ('{c2}', '{protocol.new_id()}', 'visit.recorded', 'not a time', 'x', '{{}}', 'h')"
        )
    before = rows(engine, "events", "seq")
    assert store.migrate(engine) == store.LATEST_VERSION

    assert rows(engine, "events", "seq") == before
    assert sorted(rows(engine, "event_keys", "centre_id, event_id")) == sorted(
        (row[1], row[2], row[9]) for row in before
    )
    with engine.connect() as conn:
        months = store.event_partitions(conn)
    ahead = [month_start(-n, now).strftime("%Y-%m") for n in range(store.PARTITIONS_AHEAD + 1)]
    assert {
        "2019-12",
        "2020-01",
        month_start(1, now).strftime("%Y-%m"),
        month_start(2, now).strftime("%Y-%m"),
    } | set(ahead) == set(months)
    assert partition_of(engine, held[0][1]["id"]) == "events_2019_12"
    assert partition_of(engine, held[1][1]["id"]) == "events_2020_01"
    assert [row[4] for row in rows(engine, "events_default", "seq")] == ["not a time"]

    # the hub goes on as before: the numbering follows, replays and conflicts are known
    answer = send(engine, c2, [held[3][1], dict(held[2][1], data=dict(held[2][1]["data"], reason="autre"))])
    assert answer.duplicates == [held[3][1]["id"]]
    assert [rejected["id"] for rejected in answer.rejected] == [held[2][1]["id"]]
    fresh = visit(now - timedelta(minutes=1))
    assert send(engine, c2, [fresh]).stored == [fresh["id"]]
    with engine.connect() as conn:
        seq = conn.execute(
            sa.select(store.events.c.seq).where(store.events.c.event_id == fresh["id"])
        ).scalar()
    assert seq > max(row[0] for row in before)
    engine.dispose()


@pytest.mark.postgres
def test_the_hub_makes_the_months_ahead_and_moves_a_month_out_of_the_default(postgres_url, monkeypatch):
    engine = store.open_engine(postgres_url)
    centre_id = new_centre(engine)
    now = clock.utc_now()
    later = visit(month_start(-6, now))  # beyond the months made ahead
    assert send(engine, centre_id, [later]).stored == [later["id"]]
    assert partition_of(engine, later["id"]) == "events_default"

    monkeypatch.setattr(clock, "utc_now", lambda: month_start(-5, now))
    retention.upkeep(engine, None)
    month = month_start(-6, now).strftime("%Y_%m")
    assert partition_of(engine, later["id"]) == f"events_{month}"
    assert rows(engine, "events_default", "seq") == []
    with engine.connect() as conn:
        months = store.event_partitions(conn)
    assert month_start(-5 - store.PARTITIONS_AHEAD, now).strftime("%Y-%m") in months
    assert send(engine, centre_id, [later]).duplicates == [later["id"]]
    engine.dispose()


# ---------------------------------------------------------------- retention


def figures(engine) -> list:
    return [
        rows(engine, "p_visit_counts", "centre_id, day, reason, recorded_by"),
        rows(engine, "p_visit_categories", "centre_id, day, cra_theme, domain"),
        rows(engine, "event_counts", "centre_id, type"),
    ]


def test_retention_removes_the_old_months_keeps_the_figures_and_parks_replays(hub_db_url, monkeypatch):
    engine = store.open_engine(hub_db_url)
    centre_id = new_centre(engine)
    now = clock.utc_now()
    sent = [visit(month_start(ago, now)) for ago in (30, 25, 13, 13, 12, 11, 2) for _ in range(2)]
    sent.append(visit(now - timedelta(hours=1)))
    assert len(send(engine, centre_id, sent).stored) == len(sent)
    retention.upkeep(
        engine, None
    )  # PostgreSQL: the months a new hub got in its DEFAULT partition have theirs
    before = figures(engine)

    policy = retention.Policy(12, ingest.Window(past_years=1))
    first_kept = policy.first_kept()
    gone = {event["id"] for event in sent if event["occurred_at"] < first_kept}
    kept = {event["id"] for event in sent} - gone
    assert len(gone) == 8
    planned = retention.plan(engine, policy)
    assert planned.events == len(gone)
    monkeypatch.setattr(retention, "CHUNK", 3)  # several chunks
    done = retention.apply(engine, policy)
    assert done.as_json() == planned.as_json()

    assert held_ids(engine) == kept
    assert figures(engine) == before  # the dashboard's figures for old periods stay
    if engine.dialect.name == "postgresql":
        assert set(done.partitions) == {month_start(ago, now).strftime("%Y-%m") for ago in (30, 25, 13)}
        with engine.connect() as conn:
            assert min(store.event_partitions(conn)) >= first_kept
            assert set(conn.execute(sa.select(store.event_keys.c.event_id)).scalars()) == kept
    else:
        assert done.rows == len(gone)

    # a kiosk replaying what retention removed: parked, not stored nor counted again
    old = next(event for event in sent if event["id"] in gone)
    answer = send(engine, centre_id, [old, sent[-1]], policy.window)
    assert answer.stored == [] and len(answer.duplicates) == 1
    assert [rejected["field"] for rejected in answer.rejected] == ["occurred_at"]
    assert held_ids(engine) == kept and figures(engine)[:2] == before[:2]
    assert retention.plan(engine, policy).events == 0
    engine.dispose()


def test_a_retention_shorter_than_the_window_is_refused():
    with pytest.raises(ValueError, match="shorter than the ingest window of 10 years"):
        retention.Policy(36)
    assert retention.Policy(36, ingest.Window(past_years=3)).months == 36
    assert (
        retention.Policy(1, ingest.Window(past_years=0)).first_kept(datetime(2026, 1, 5, tzinfo=UTC))
        == "2025-12"
    )


def test_the_retention_command_says_what_would_go_then_removes_it(hub_db_url):
    engine = store.open_engine(hub_db_url)
    centre_id = new_centre(engine)
    now = clock.utc_now()
    old, recent = visit(month_start(40, now)), visit(now - timedelta(hours=1))
    send(engine, centre_id, [old, recent])
    engine.dispose()

    with pytest.raises(subprocess.CalledProcessError) as refused:
        run_federation("retention", "--months", "24", db_url=hub_db_url)
    assert "shorter than the ingest window" in refused.value.stderr
    looked = json.loads(
        run_federation(
            "retention", "--months", "36", "--window-past-years", "3", "--json", db_url=hub_db_url
        ).stdout
    )
    assert looked["applied"] is False and looked["first_kept"] == month_start(36, now).strftime("%Y-%m")
    assert looked["rows"] + sum(looked["partitions"].values()) == 1
    engine = store.create_engine(hub_db_url)
    assert held_ids(engine) == {old["id"], recent["id"]}
    said = run_federation(
        "retention", "--months", "36", "--window-past-years", "3", "--apply", db_url=hub_db_url
    )
    assert said.stdout.startswith("Removed 1 events that occurred before")
    assert held_ids(engine) == {recent["id"]}
    engine.dispose()


def test_serve_refuses_a_retention_shorter_than_its_window(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with pytest.raises(subprocess.CalledProcessError) as refused:
        run_federation("serve", "--retention-months", "60", "--window-past-years", "6", db_url=url)
    assert refused.value.returncode == 2
    assert "retention: 60 months is shorter than the ingest window of 6 years" in refused.value.stderr


@pytest.mark.postgres
def test_retention_waits_for_a_busy_events_table_only_so_long_then_goes_on_at_the_next_run(postgres_url):
    engine = store.open_engine(postgres_url)
    centre_id = new_centre(engine)
    now = clock.utc_now()
    old, recent = visit(month_start(40, now)), visit(now - timedelta(hours=1))
    send(engine, centre_id, [old, recent])
    retention.upkeep(engine, None)  # the old month gets its partition
    apply = ("retention", "--months", "36", "--window-past-years", "3", "--apply")
    with engine.connect() as reader, reader.begin():
        reader.execute(sa.select(store.events.c.seq).limit(1)).all()  # a dashboard's read, still open
        with pytest.raises(subprocess.CalledProcessError) as refused:
            run_federation(*apply, db_url=postgres_url)
    assert refused.value.returncode == 1 and "the events are busy" in refused.value.stderr
    assert held_ids(engine) == {old["id"], recent["id"]}
    said = run_federation(*apply, db_url=postgres_url)
    assert said.stdout.startswith("Removed 1 events that occurred before")
    assert held_ids(engine) == {recent["id"]}
    with engine.connect() as conn:
        assert month_start(40, now).strftime("%Y-%m") not in store.event_partitions(conn)
    assert send(engine, centre_id, [recent]).duplicates == [recent["id"]]
    engine.dispose()
