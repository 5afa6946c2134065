"""Visits by the national categories (CRA themes, administrative domains):
carried by 1.1 visits, the default reason's for 1.0 ones, through a real
ingest on SQLite and PostgreSQL; they add up to the visits `federation
stats` counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, reports, store
from sync import protocol

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARCH = reports.Period(date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture
def engine(hub_db_url):
    engine = store.open_engine(hub_db_url)
    yield engine
    engine.dispose()


def push(
    engine, centre_id: str, events: list[dict], version: str = protocol.PROTOCOL_VERSION
) -> ingest.Answer:
    with store.writer(engine) as conn, conn.begin():
        return ingest.ingest(
            conn, {"protocol": version, "events": events}, centre_id, None, centres.now_iso()
        )


def visit(reason: str, day: int = 1, **categories) -> dict:
    return protocol.make_event(
        "visit.recorded",
        {
            "visit_id": protocol.new_id(),
            "member_id": None,
            "reason": reason,
            "recorded_by": "resident",
            **categories,
        },
        T0 + timedelta(days=day),
    )


def test_visits_count_in_the_categories_they_carry_or_their_default_reason_s(engine):
    with engine.begin() as conn:
        centre = centres.add_centre(conn, "Centre social")[0]
    push(
        engine,
        centre,
        [
            visit("caf", cra_theme="demarches_administratives", domain="social_sante"),
            visit("caf", day=2, cra_theme="demarches_administratives", domain="social_sante"),
            visit("impots", cra_theme="demarches_administratives", domain="argent_impots"),
            visit("accueil", cra_theme=None, domain=None),
            # a 1.1 kiosk whose centre mapped « demarches » to nothing: what it says holds
            visit("demarches", cra_theme=None, domain=None),
        ],
    )
    push(engine, centre, [visit("demarches"), visit("permanence"), visit("ordinateur")], version="1.0")
    with engine.connect() as conn:
        view = reports.overview(conn, MARCH)
        stats = centres.stats(conn)
    themes, domains = dict(view.by_cra_theme), dict(view.by_domain)
    assert themes["demarches_administratives"] == 4 and themes[""] == 4
    assert view.accompaniments == 4
    assert domains["social_sante"] == 3 and domains["argent_impots"] == 1 and domains[""] == 4
    assert sum(themes.values()) == sum(domains.values()) == view.visits == 8
    (held,) = [c["events"]["visit.recorded"] for c in stats["centres"] if c["id"] == centre]
    assert held == view.visits
    # every code of each taxonomy is listed, in its order, then « none »
    assert [code for code, _n in view.by_cra_theme][:2] == [
        "diagnostic_numerique",
        "prendre_en_main_materiel",
    ]
    assert len(view.by_domain) == len(protocol.ADMIN_DOMAINS) + 1


def test_step_7_gives_the_visits_held_their_default_reason_s_categories(hub_db_url):
    engine = store.create_engine(hub_db_url)
    with store.writer(engine) as conn, conn.begin():
        store.schema_version.create(conn)
        for step in range(1, 7):
            store.MIGRATIONS[step](conn)
            conn.execute(store.schema_version.insert().values(version=step, applied_at=store.utc_now_iso()))
        conn.execute(sa.text("INSERT INTO centres (id, name, created_at) VALUES ('c1', 'C', 'x')"))
        conn.execute(
            sa.text(
                "INSERT INTO p_visit_counts (centre_id, day, reason, recorded_by, visits) VALUES "
                "('c1', '2026-03-02', 'demarches', 'resident', 3), "
                "('c1', '2026-03-02', 'demarches', 'staff', 2), "
                "('c1', '2026-03-02', 'permanence', 'staff', 4), "
                "('c1', '2026-03-02', 'accueil', 'resident', 5), "
                "('c1', '2026-03-03', 'autre', 'resident', 1)"
            )
        )
    assert store.migrate(engine) == store.LATEST_VERSION
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT day, cra_theme, domain, visits FROM p_visit_categories ORDER BY 1, 2, 3")
        ).all()
        view = reports.overview(conn, MARCH)
    assert [tuple(row) for row in rows] == [
        ("2026-03-02", "", "", 5),
        ("2026-03-02", "", "social_sante", 4),
        ("2026-03-02", "demarches_administratives", "", 5),
        ("2026-03-03", "", "", 1),
    ]
    assert sum(n for _code, n in view.by_cra_theme) == view.visits == 15
    engine.dispose()
