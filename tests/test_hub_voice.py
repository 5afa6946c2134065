"""The residents' voice at the hub: a demo kiosk's ideas and faces pushed
by the real sync client to a real hub process (SQLite and PostgreSQL). The
hub holds counts only — no idea's words, no answer, no first name or phone
left with an idea, anywhere in its database — and the figures agree between
the projections, `federation stats --json`, the SENACS export (CSV, PDF),
the dashboard's page and a centre's page."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from datetime import date, timedelta
from html import unescape

import httpx
import pypdf
import pytest
import sqlalchemy as sa

from federation import store as hub_store
from kiosk.core import demo
from kiosk.core.centre import Centre
from sync import client, protocol
from tests.conftest_hub import run_federation
from tests.hub_sample import EMAIL, PASSWORD, sign_in

TODAY = date.today()
FROM, TO = (TODAY - timedelta(days=4 * 365)).isoformat(), (TODAY + timedelta(days=1)).isoformat()


@pytest.fixture
def voice_hub(hub_server, hub_db_url, tmp_path):
    """A hub holding a demo centre's events, one more idea left with a
    contact, and the kiosk's file to compare with."""
    run_federation("add-user", EMAIL, db_url=hub_db_url, stdin=PASSWORD + "\n")
    server = hub_server(hub_db_url)
    device = server.new_device("Centre social de démonstration")
    kiosk_db = tmp_path / "demo.db"
    demo.build(kiosk_db, members=60, visits=300, seed=5)
    with Centre.open(kiosk_db) as centre:
        centre.voice.propose(
            "quartier",
            "Réparer le toboggan Zébulon",
            first_name="Philomène",
            phone="0677889900",
            consent=True,
        )
    result = client.push(str(kiosk_db), server.url, device["device_token"])
    assert result.ok and result.parked == 0, result
    return server, device, kiosk_db


def kiosk_secrets(kiosk_db) -> list[str]:
    """Every idea's words, answer and contact the kiosk holds."""
    conn = sqlite3.connect(kiosk_db)
    try:
        rows = conn.execute(
            "SELECT text, answer, contact_first_name, contact_phone, member_id FROM ideas"
        ).fetchall()
    finally:
        conn.close()
    secrets = {value for row in rows for value in row if value}
    phones = {value[-9:] for row in rows for value in row[3:4] if value}  # as typed or stored
    return sorted(secrets | phones)


def hub_text(db_url: str) -> str:
    """Every text value of every table of the hub's database."""
    engine = hub_store.create_engine(db_url)
    chunks = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    chunks += [str(value) for value in row if value is not None]
    finally:
        engine.dispose()
    return "\n".join(chunks)


def test_no_idea_s_words_nor_any_name_reaches_the_hub(voice_hub):
    server, _device, kiosk_db = voice_hub
    secrets = kiosk_secrets(kiosk_db)
    assert "Réparer le toboggan Zébulon" in secrets and "Philomène" in secrets and len(secrets) > 15
    held = hub_text(server.db_url)
    assert '"type":"idea.received"' in held  # the events are there…
    for secret in secrets:  # …without a word of what the kiosk keeps
        if len(secret) >= 5 and not protocol.is_id(secret):
            assert secret not in held, secret


def csv_rows(path) -> dict[tuple[str, str], str]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))
    return {(row[3], row[4]): row[5] for row in rows[1:]}


def test_the_figures_reconcile_with_the_kiosk_stats_and_every_export(voice_hub, tmp_path):
    server, device, kiosk_db = voice_hub
    conn = sqlite3.connect(kiosk_db)
    kiosk = dict(
        zip(
            ("received", "answered", "done", "initiative"),
            conn.execute(
                "SELECT count(*), count(answered_at), count(done_at), count(initiative_at) FROM ideas"
            ).fetchone(),
            strict=True,
        )
    )
    faces = dict(conn.execute("SELECT face, count(*) FROM feedback GROUP BY face").fetchall())
    conn.close()
    assert kiosk["done"] >= 3 and kiosk["initiative"] >= 2 and sum(faces.values()) >= 5

    stats = json.loads(run_federation("stats", "--json", db_url=server.db_url).stdout)
    (centre,) = [c for c in stats["centres"] if c["id"] == device["centre_id"]]
    assert centre["voice"]["ideas"] == kiosk == stats["voice"]["ideas"]
    assert centre["voice"]["faces"] == {face: faces.get(face, 0) for face in protocol.FEEDBACK_FACES}
    assert centre["events"]["idea.received"] == kiosk["received"]
    assert centre["events"]["feedback.given"] == sum(faces.values())

    for kind in ("csv", "pdf"):
        run_federation(
            "export",
            "--what",
            "senacs",
            "--from",
            FROM,
            "--to",
            TO,
            "--out",
            str(tmp_path / f"s.{kind}"),
            db_url=server.db_url,
        )
    senacs = csv_rows(tmp_path / "s.csv")
    section = "Initiatives d'habitants"
    assert int(senacs[(section, "Initiatives d'habitants soutenues")]) == kiosk["initiative"]
    assert int(senacs[(section, "Idées reçues (boîte à idées)")]) == kiosk["received"]
    assert int(senacs[(section, "Idées ayant reçu une réponse")]) == kiosk["answered"]
    assert int(senacs[(section, "Idées réalisées par le centre")]) == kiosk["done"]
    by_theme = {i: int(v) for (s, i), v in senacs.items() if s == "Idées reçues par sujet"}
    assert len(by_theme) == len(protocol.IDEA_THEMES) and sum(by_theme.values()) == kiosk["received"]
    assert by_theme["Quartier"] >= 3
    pdf = re.sub(r"\s", "", " ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "s.pdf").pages))
    assert f"Initiativesd'habitantssoutenues{kiosk['initiative']}" in pdf.replace("’", "'")

    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert sign_in(browser).status_code == 303
        for path in ("/", f"/centres/{device['centre_id']}"):
            page = browser.get(path, params={"from": FROM, "to": TO})
            assert page.status_code == 200
            section_html = unescape(page.text.split('id="voice"', 1)[1].split("</section>", 1)[0])
            shown = dict(re.findall(r"<strong>([\d\s\u202f\u00a0]+)</strong> ([^<]+)</li>", section_html))
            shown = {words.strip(): int(re.sub(r"\D", "", n)) for n, words in shown.items()}
            assert shown == {
                "idées reçues": kiosk["received"],
                "idées ayant reçu une réponse": kiosk["answered"],
                "idées réalisées": kiosk["done"],
                "initiatives d'habitants soutenues": kiosk["initiative"],
            }, path
            totals = re.findall(r"<tfoot>(.*?)</tfoot>", section_html, re.S)[1]
            cells = [int(re.sub(r"\D", "", n)) for n in re.findall(r'<td class="num">(.*?)</td>', totals)]
            assert cells == [faces.get(f, 0) for f in protocol.FEEDBACK_FACES] + [sum(faces.values())]


# ---------------------------------------------------------------- the figures on the sample federation


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sample_conn(request, tmp_path):
    from tests import hub_sample

    target = (
        tmp_path / "hub.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_cluster").new_database()
    )
    _url, engine = hub_sample.make_db(target)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def test_the_period_counts_each_step_on_its_own_day_and_faces_by_workshop_theme(sample_conn):
    from federation import funders, reports
    from tests import hub_sample

    march = reports.Period(*hub_sample.MARCH)
    voice = reports.voice_figures(sample_conn, march)
    assert (voice.received, voice.answered, voice.done, voice.initiatives) == (2, 2, 1, 1)
    assert dict(voice.ideas_by_theme()) == {
        "activites": 0,
        "sorties": 0,
        "quartier": 1,
        "numerique": 0,
        "famille": 1,
        "autre": 0,
    }
    assert voice.faces_by_theme() == [
        ("numerique", [("content", 2), ("moyen", 1), ("pas_content", 0)]),
        ("autre", [("content", 1), ("moyen", 0), ("pas_content", 0)]),
        ("parentalite", [("content", 0), ("moyen", 0), ("pas_content", 1)]),
    ]
    assert voice.faces_total() == 5 and voice.content_share == pytest.approx(0.6)
    one = reports.voice_figures(sample_conn, reports.Period(*hub_sample.MARCH, centre_id=hub_sample.B))
    assert (one.received, one.answered, one.faces_total()) == (1, 0, 1)
    view = reports.overview(sample_conn, march, now=hub_sample.NOW)
    rows = {(s, i): v for s, i, (v, _d) in funders.rows(view, "senacs")}
    assert rows[("Initiatives d'habitants", "Initiatives d'habitants soutenues")] == 1
    assert rows[("Idées reçues par sujet", "Quartier")] == 1


# ---------------------------------------------------------------- the projections, in any order


def test_an_idea_s_events_in_any_order_leave_its_latest_state_and_its_day(hub_db_url):
    from federation import projections

    engine = store_engine(hub_db_url)
    idea, session = protocol.new_id(), protocol.new_id()
    received = protocol.validate_event(
        {
            "id": protocol.new_id(),
            "type": "idea.received",
            "occurred_at": "2026-03-03T09:00:00.000Z",
            "data": {"idea_id": idea, "theme": "quartier"},
        }
    )

    def updated(at: str, **dates) -> dict:
        data = {
            "idea_id": idea,
            "theme": "quartier",
            "answered_at": None,
            "done_at": None,
            "initiative_at": None,
            **dates,
        }
        return protocol.validate_event(
            {"id": protocol.new_id(), "type": "idea.updated", "occurred_at": at, "data": data}
        )

    answered = updated("2026-03-05T10:00:00.000Z", answered_at="2026-03-05T10:00:00.000Z")
    done = updated(
        "2026-03-31T21:30:00.000Z", answered_at="2026-03-05T10:00:00.000Z", done_at="2026-03-31T21:30:00.000Z"
    )
    face = protocol.validate_event(
        {
            "id": protocol.new_id(),
            "type": "feedback.given",
            "occurred_at": "2026-03-05T16:10:00.000Z",
            "data": {"feedback_id": protocol.new_id(), "session_id": session, "face": "moyen"},
        }
    )
    with engine.begin() as conn:
        conn.execute(
            hub_store.centres.insert().values(id="c1", name="C", created_at="2026-01-01T00:00:00.000Z")
        )
        # the latest change first, then the idea itself, then an older change
        for event in (done, received, answered, face, face):
            projections.update(conn, "c1", [(event["occurred_at"], event)])
    with engine.connect() as conn:
        row = conn.execute(sa.select(hub_store.p_ideas)).one()._mapping
        faces = conn.execute(sa.select(hub_store.p_feedback.c.face, hub_store.p_feedback.c.day)).all()
    engine.dispose()
    # days in Paris: done at 23:30 on 31 March (summer time), received on 3 March
    assert (row["received_day"], row["answered_day"], row["done_day"], row["initiative_day"]) == (
        "2026-03-03",
        "2026-03-05",
        "2026-03-31",
        None,
    )
    assert faces == [("moyen", "2026-03-05")]


def store_engine(url: str):
    engine = hub_store.create_engine(url)
    hub_store.migrate(engine)
    return engine
