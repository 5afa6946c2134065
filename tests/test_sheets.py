"""Workshop sheets at the hub, on SQLite and PostgreSQL: written, published
and withdrawn through the signed publications; a file imported whole or not
at all (`federation publish --sheets`), and the export read back; a centre's
offer (``sheet.offered``) landing as one draft; and the « diffusion » figure
from workshops that name their sheet (protocol 1.3) through a real ingest."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import cli, publications, sheet_figures, sheets
from federation import store as db
from sync import protocol
from sync import publications as wire
from sync.protocol import THEME_PICTOGRAMS
from sync.sheets import FIELDS, PICTOGRAMS, SheetError, check_sheet
from tests.test_hub_households import add_centre, push
from tests.test_hub_households import engine as engine

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def sheet(**changes) -> dict:
    fields = {
        "title": "Atelier couture",
        "theme": "pouvoir_d_agir",
        "pictogram": "palette",
        "description": "On répare ses vêtements ensemble.\nDébutants bienvenus.",
        "duration_minutes": 120,
        "capacity": 10,
        "bring": "Un vêtement à réparer",
        "animator_needs": "Deux machines à coudre",
    }
    return dict(fields, **changes)


def published(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {item["key"]: item["body"] for item in publications.held(conn, sheets.KIND)}


def test_a_sheet_is_a_draft_until_published_then_every_kiosk_gets_it(engine):
    with db.writer(engine) as conn, conn.begin():
        sheet_id = sheets.create(conn, sheet())
    assert published(engine) == {}
    with db.writer(engine) as conn, conn.begin():
        sheets.publish(conn, sheet_id, by="fede@example.org")
    body = published(engine)[sheet_id]
    assert body == dict(sheet(), offered_by="")
    # the kiosk's own check of the body accepts what the hub publishes
    assert wire.check_body("sheet", body) == body
    # an edit of a published sheet is published again
    with db.writer(engine) as conn, conn.begin():
        sheets.update(conn, sheet_id, sheet(capacity=14), by="fede@example.org")
    assert published(engine)[sheet_id]["capacity"] == 14
    with db.writer(engine) as conn, conn.begin():
        assert sheets.withdraw(conn, sheet_id)["status"] == "withdrawn"
    assert published(engine) == {}
    with engine.connect() as conn, pytest.raises(SheetError) as refused:
        sheets.withdraw(conn, sheet_id)
    assert refused.value.field == "status"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"theme": "cuisine"}, "theme"),
        ({"pictogram": "skull"}, "pictogram"),
        ({"capacity": 0}, "capacity"),
        ({"duration_minutes": 10_000}, "duration_minutes"),
        ({"description": "x" * 2001}, "description"),
        ({"bring": "a\x00b"}, "bring"),
        ({"speaker": "Mme Martin"}, "speaker"),
    ],
)
def test_a_bad_sheet_is_refused_naming_its_field(changes, field):
    with pytest.raises(SheetError) as refused:
        check_sheet(sheet(**changes))
    assert refused.value.field == field
    assert refused.value.message  # said in French for the form


def test_every_pictogram_is_one_the_kiosk_draws():
    from kiosk.ui.icons import CODEPOINTS

    assert set(PICTOGRAMS) <= set(CODEPOINTS)
    assert set(THEME_PICTOGRAMS.values()) <= set(PICTOGRAMS)


def test_a_file_with_one_bad_entry_imports_nothing_and_names_the_entry(engine):
    entries = [sheet(), sheet(title="Cuisine", capacity="douze")]
    with pytest.raises(sheets.SheetFileError) as refused:
        sheets.read_file(json.dumps(entries))
    assert (refused.value.index, refused.value.field) == (2, "capacity")
    assert str(refused.value) == "entry 2: capacity: must be a whole number from 1 to 500"
    with engine.connect() as conn:
        assert sheets.listing(conn) == []


def test_the_export_imports_back_updating_the_same_sheets(engine):
    with db.writer(engine) as conn, conn.begin():
        created = sheets.import_sheets(conn, sheets.read_file(json.dumps([sheet(), sheet(title="Cuisine")])))
        assert created == (2, 0)
        exported = sheets.export(conn)
    rows = json.loads(exported)
    assert sorted(row["title"] for row in rows) == ["Atelier couture", "Cuisine"]
    assert all(set(row) == {"id", *FIELDS} for row in rows)
    rows[0]["capacity"] = 20
    with db.writer(engine) as conn, conn.begin():
        assert sheets.import_sheets(conn, sheets.read_file(json.dumps(rows))) == (0, 2)
    assert published(engine)[rows[0]["id"]]["capacity"] == 20
    assert len(published(engine)) == 2


def test_federation_publish_imports_a_file_or_nothing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([sheet(), sheet(theme="cuisine")]), encoding="utf-8")
    assert cli.main(["publish", "--db", url, "--sheets", str(bad)]) == 2
    assert "entry 2: theme" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps([sheet(), sheet(title="Cuisine")]), encoding="utf-8")
    assert cli.main(["publish", "--db", url, "--sheets", str(good)]) == 0
    assert "2 sheet(s) created" in capsys.readouterr().out
    engine = db.open_engine(url)
    assert sorted(body["title"] for body in published(engine).values()) == ["Atelier couture", "Cuisine"]
    engine.dispose()


def offered(workshop_id: str, **changes) -> dict:
    data = {
        "workshop_id": workshop_id,
        "title": "Jardin partagé",
        "theme": "pouvoir_d_agir",
        "description": "On jardine au pied des immeubles.",
        "duration_minutes": 90,
        "capacity": 8,
    }
    return protocol.make_event("sheet.offered", dict(data, **changes), T0)


def test_a_centres_offer_lands_once_as_a_draft_the_federation_publishes(engine):
    centre = add_centre(engine, "Centre social du Portel")
    workshop = protocol.new_id()
    answer = push(engine, centre, [offered(workshop)], version="1.3")
    assert len(answer.stored) == 1
    push(engine, centre, [offered(workshop, title="Jardin, encore")], version="1.3")  # offered again
    with engine.connect() as conn:
        drafts = sheets.listing(conn)
    assert len(drafts) == 1
    draft = drafts[0]
    assert (draft["status"], draft["offered_by"], draft["title"]) == ("draft", centre, "Jardin partagé")
    assert draft["pictogram"] == THEME_PICTOGRAMS["pouvoir_d_agir"]
    assert published(engine) == {}
    with db.writer(engine) as conn, conn.begin():
        sheets.publish(conn, draft["id"])
    assert published(engine)[draft["id"]]["offered_by"] == "Centre social du Portel"


def test_an_offer_naming_a_person_is_refused():
    event = offered(protocol.new_id())
    event["data"]["facilitator_name"] = "Mme Martin"
    with pytest.raises(protocol.ProtocolError):
        protocol.validate_event(event)


def workshop(workshop_id: str, sheet_id: str | None) -> dict:
    data = {"workshop_id": workshop_id, "title": "Couture", "theme": "autre", "place": None}
    if sheet_id:
        data["sheet"] = sheet_id
    return protocol.make_event("workshop.created", data, T0)


def session(session_id: str, workshop_id: str, days: int) -> dict:
    start = T0 + timedelta(days=days)
    data = {
        "session_id": session_id,
        "workshop_id": workshop_id,
        "starts_at": protocol.utc_iso(start),
        "ends_at": protocol.utc_iso(start + timedelta(hours=2)),
        "capacity": 10,
    }
    return protocol.make_event("session.created", data, start)


def present(session_id: str, member_id: str | None) -> dict:
    data = {
        "attendance_id": protocol.new_id(),
        "session_id": session_id,
        "member_id": member_id,
        "present": True,
        "walk_in": member_id is None,
    }
    return protocol.make_event("attendance.taken", data, T0)


def test_diffusion_counts_centres_sessions_and_participants_of_each_sheet(engine):
    with db.writer(engine) as conn, conn.begin():
        sheet_id = sheets.create(conn, sheet())
        sheets.publish(conn, sheet_id)
    a, b = add_centre(engine, "A"), add_centre(engine, "B")
    wa, wb, own = protocol.new_id(), protocol.new_id(), protocol.new_id()
    s1, s2, s3, s4 = (protocol.new_id() for _ in range(4))
    ann, bob = protocol.new_id(), protocol.new_id()
    push(
        engine,
        a,
        [workshop(wa, sheet_id), session(s1, wa, 1), session(s2, wa, 8)]
        + [present(s1, ann), present(s2, ann), present(s1, bob), present(s1, None)]
        + [workshop(own, None), session(protocol.new_id(), own, 2)],
        version="1.3",
    )
    cancelled = protocol.make_event("session.cancelled", {"session_id": s4}, T0)
    push(engine, b, [workshop(wb, sheet_id), session(s3, wb, 3), session(s4, wb, 4), cancelled], "1.3")
    with engine.connect() as conn:
        rows = sheet_figures.diffusion(conn)
        content = sheet_figures.diffusion_csv(conn)
    assert [(r.title, r.centres, r.workshops, r.sessions, r.participants) for r in rows] == [
        # ann twice and bob at A, one walk-in; B's cancelled session not held
        ("Atelier couture", 2, 2, 3, 3)
    ]
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == sheet_figures.DIFFUSION_HEADER
    assert table[1][1:] == ["Atelier couture", "Pouvoir d'agir", "Publiée", "2", "2", "3", "3"]


def test_a_workshop_event_repeated_or_updated_counts_one_adoption(engine):
    centre = add_centre(engine)
    workshop_id, sheet_id = protocol.new_id(), protocol.new_id()
    push(engine, centre, [workshop(workshop_id, sheet_id)], "1.3")
    updated = workshop(workshop_id, sheet_id)
    updated["type"] = "workshop.updated"
    push(engine, centre, [updated], "1.3")
    with engine.connect() as conn:
        held = conn.execute(sa.select(db.sheet_adoptions)).all()
        rows = sheet_figures.diffusion(conn)
    assert len(held) == 1
    # a sheet this hub does not hold (another federation's file) keeps its id
    assert [(r.sheet_id, r.title, r.centres) for r in rows] == [(sheet_id, sheet_id, 1)]
