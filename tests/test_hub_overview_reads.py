"""The overview's figures come from the projections, never from the raw
events: every SQL statement the overview runs (period_figures.overview_from, and
the dashboard's overview page) is recorded on SQLite and PostgreSQL and
none reads the events table (nor, on PostgreSQL, one of its partitions).
The events table grows by millions of rows a year; the projections by the
days, centres and dimensions only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import centres, ingest, period_figures, reports, store, users
from sync import protocol
from tests import hub_sample

#: the events table and its PostgreSQL partitions
EVENTS = re.compile(r"events(_default|_[0-9]{4}_[0-9]{2})?", re.IGNORECASE)
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_ONE = r'"?(\w+)"?(?:\s+(?:AS\s+)?"?\w+"?)?'
_FROM = re.compile(rf"\bFROM\s+({_ONE}(?:\s*,\s*{_ONE})*)", re.IGNORECASE)
_JOIN = re.compile(r'\bJOIN\s+"?(\w+)"?', re.IGNORECASE)


def tables_read(statement: str) -> set[str]:
    """The tables a statement names after FROM (a list of them too) or JOIN."""
    text = _QUOTED.sub("''", statement)
    found = {name.lower() for name in _JOIN.findall(text)}
    for listed in _FROM.finditer(text):
        for item in listed.group(1).split(","):
            found.add(item.strip().split()[0].strip('"').lower())
    return found


class Recorder:
    """Every statement an engine runs, from any thread, while it listens."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.statements = engine, []

    def _record(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        self.statements.append(statement)

    def __enter__(self) -> Recorder:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def tables(self) -> set[str]:
        return set().union(*(tables_read(statement) for statement in self.statements))

    def reading_events(self) -> list[str]:
        return [s for s in self.statements if any(EVENTS.fullmatch(t) for t in tables_read(s))]


def test_the_reader_of_statements_finds_every_table_named():
    assert tables_read('SELECT a.x FROM "events" AS a JOIN p_members m ON 1') == {"events", "p_members"}
    assert tables_read("SELECT events FROM event_counts, centres c WHERE x = 'FROM events'") == {
        "event_counts",
        "centres",
    }
    assert tables_read("SELECT 1 FROM (SELECT seq FROM events_2026_03) AS s") == {"events_2026_03"}


@pytest.fixture
def sample(hub_db_url):
    """The sample federation's projections, and real events ingested beside them."""
    url, engine = hub_sample.make_db(hub_db_url, now=datetime.now(UTC))
    with store.writer(engine) as conn, conn.begin():
        centre_id = centres.add_centre(conn, "Centre social Les Tilleuls")[0]
        now = datetime.now(UTC)
        events = [
            {
                "id": protocol.new_id(),
                "type": "visit.recorded",
                "occurred_at": protocol.utc_iso(now - timedelta(days=n)),
                "data": {
                    "visit_id": protocol.new_id(),
                    "member_id": None,
                    "reason": "accueil",
                    "recorded_by": "staff",
                },
            }
            for n in range(20)
        ]
        answer = ingest.ingest(
            conn, {"protocol": "1.0", "events": events}, centre_id, None, store.utc_now_iso()
        )
        assert len(answer.stored) == 20
    yield url, engine
    engine.dispose()


def test_the_overview_for_a_year_reads_no_event(sample):
    _url, engine = sample
    with Recorder(engine) as recorder:
        with engine.connect() as conn:  # the recorder sees a statement that does read them
            conn.exec_driver_sql("SELECT count(*) FROM events")
        assert len(recorder.reading_events()) == 1
        recorder.statements.clear()
        for period in (
            reports.Period(hub_sample.MARCH[0], hub_sample.MARCH[1]),
            reports.Period(date(2026, 1, 1), date(2026, 12, 31)),
            reports.Period(date(2026, 1, 1), date(2026, 12, 31), hub_sample.A),
        ):
            view = period_figures.overview_from(engine, period)
            assert view.participants.total >= 0
    assert recorder.reading_events() == []
    # whole months: the additive figures by month, the participants by period
    assert {"r_visit_months", "r_participants", "p_members"} <= recorder.tables()


def test_a_year_s_visits_and_participants_are_read_from_the_rollups_alone(sample):
    """A calendar year over all centres reads no day nor member-day row: the
    visits from the months' rollups and the days' totals, the participants
    from the year's counts (the members only for those present at a session
    with no visit)."""
    _url, engine = sample
    with Recorder(engine) as recorder:
        view = period_figures.overview_from(engine, reports.Period(date(2026, 1, 1), date(2026, 12, 31)))
    assert view.visits > 0 and view.participants.total > 0
    assert {"r_visit_months", "r_category_months", "r_visit_days", "r_participants"} <= recorder.tables()
    assert not {"p_presence", "p_visit_counts", "p_visit_categories"} & recorder.tables()


def test_the_dashboard_s_overview_page_reads_no_event(sample):
    from fastapi.testclient import TestClient

    from federation import app as hub_app

    url, engine = sample
    users.add_user(engine, hub_sample.EMAIL, hub_sample.PASSWORD)
    app = hub_app.create_app(url, pre_auth_per_minute=0)
    try:
        with TestClient(app) as client:
            assert hub_sample.sign_in(client).status_code in (200, 303)
            with Recorder(app.state.engine) as recorder:
                for query in (
                    "",
                    "?from=2026-01-01&to=2026-12-31",
                    f"?from=2026-03-01&to=2026-03-31&centre={hub_sample.A}",
                ):
                    page = client.get("/" + query)
                    assert page.status_code == 200, page.text
    finally:
        app.state.engine.dispose()
    assert recorder.statements
    assert recorder.reading_events() == []
    assert "p_visit_counts" in recorder.tables()
