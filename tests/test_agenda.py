"""The federation's agenda, end to end: a session made at centre A's kiosk
reaches the hub in A's usual events, the hub publishes it signed with
nothing personal (federation/agenda.py), and centre B's kiosk shows it in
« Dans les autres centres » (kiosk/core/agenda.py), seats left following
A's registrations; offline, B keeps its last copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from federation import agenda as hub_agenda
from federation import store
from kiosk import syncing
from kiosk.core import agenda
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import client
from tests.conftest_hub import free_port

pytest_plugins = ["tests.conftest_hub"]


def enrolled_kiosk(hub, path, name: str) -> tuple[str, str]:
    centre_id, code = hub.add_centre(name)
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(path) as kiosk:
        syncing.save_enrolment(Settings(kiosk), hub.url, answer)
    return str(path), centre_id


def sync(path: str) -> dict:
    state = syncing.sync_once(path)
    assert state["last_result"] and state["last_result"]["ok"], state
    return state


def published(hub, session_id: str) -> list[str]:
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            p = store.publications.c
            return list(
                conn.execute(
                    sa.select(p.body).where(p.kind == "agenda", p.key == session_id, p.withdrawn.is_(False))
                ).scalars()
            )
    finally:
        engine.dispose()


def test_a_session_at_centre_a_appears_at_centre_b_with_its_seats_left(shared_hub, tmp_path):
    a, a_id = enrolled_kiosk(shared_hub, tmp_path / "a.db", "Centre social Outreau")
    b, _b_id = enrolled_kiosk(shared_hub, tmp_path / "b.db", "Centre social Le Portel")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with Centre.open(a) as centre:
        workshop = centre.workshops.create_workshop("Atelier couture", "autre", place="Salle 2")
        session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 3)
        far = centre.workshops.add_session(
            workshop["id"], start + timedelta(days=9), start + timedelta(days=9, hours=2), 3
        )
        member = centre.members.register("Yasmina", "Belkacemi", consent_data=True)
    sync(a)
    (body,) = published(shared_hub, session["id"])
    assert "Belkacemi" not in body and "Yasmina" not in body
    sync(b)
    with Store.open(b) as kiosk:
        shown = [item for item in agenda.week(kiosk) if item["centre_id"] == a_id]
        received = agenda.received_at(kiosk)
    assert [(item["session_id"], item["title"], item["place"], item["seats_left"]) for item in shown] == [
        (session["id"], "Atelier couture", "Salle 2", 3)
    ]  # the session in nine days is beyond the week
    assert shown[0]["centre_name"] == "Centre social Outreau" and shown[0]["theme"] == "autre"
    assert far["id"] not in {item["session_id"] for item in shown}
    # A's own kiosk does not list A's sessions among the other centres'
    sync(a)
    with Store.open(a) as kiosk:
        assert [item for item in agenda.week(kiosk) if item["centre_id"] == a_id] == []
    # a registration at A: B sees one seat fewer
    with Centre.open(a) as centre:
        centre.workshops.register(session["id"], member["id"])
    sync(a)
    sync(b)
    with Store.open(b) as kiosk:
        (seen,) = [item for item in agenda.week(kiosk) if item["centre_id"] == a_id]
    assert seen["seats_left"] == 2
    # B offline: the last copy stays, with when it came
    with Store.open(b) as kiosk:
        Settings(kiosk).set("hub_url", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(client.SyncError):
        syncing.pull_publications(b)
    with Store.open(b) as kiosk:
        assert [item["seats_left"] for item in agenda.week(kiosk) if item["centre_id"] == a_id] == [2]
        assert agenda.received_at(kiosk) >= received
        Settings(kiosk).set("hub_url", shared_hub.url)
    # cancelled at A: it leaves B's screen
    with Centre.open(a) as centre:
        centre.workshops.cancel_session(session["id"])
    sync(a)
    sync(b)
    with Store.open(b) as kiosk:
        assert [item for item in agenda.week(kiosk) if item["centre_id"] == a_id] == []


def test_a_session_that_started_leaves_the_agenda_at_the_daily_refresh(shared_hub, tmp_path):
    a, _a_id = enrolled_kiosk(shared_hub, tmp_path / "a.db", "Centre social Outreau")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with Centre.open(a) as centre:
        workshop = centre.workshops.create_workshop("Café des parents", "parentalite")
        session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=1), 10)
    sync(a)
    assert len(published(shared_hub, session["id"])) == 1
    engine = store.create_engine(shared_hub.db_url)
    try:
        # nothing changed: published again for nobody
        assert hub_agenda.refresh_all(engine, now=datetime.now(UTC)) == 0
        assert hub_agenda.refresh_all(engine, now=start + timedelta(minutes=5)) >= 1
    finally:
        engine.dispose()
    assert published(shared_hub, session["id"]) == []


def test_the_centre_s_commune_set_at_the_hub_shows_beside_its_name(shared_hub, tmp_path):
    from tests.conftest_hub import run_federation

    a, a_id = enrolled_kiosk(shared_hub, tmp_path / "a.db", "Centre social Audrey Bartier")
    b, _b_id = enrolled_kiosk(shared_hub, tmp_path / "b.db", "Centre social Le Portel")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with Centre.open(a) as centre:
        workshop = centre.workshops.create_workshop("Atelier numérique", "numerique")
        session = centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 8)
    sync(a)
    sync(b)
    with Store.open(b) as kiosk:
        (before,) = [item for item in agenda.week(kiosk) if item["session_id"] == session["id"]]
    assert not before.get("commune")
    # the federation says which town the centre is in: the agenda is published again with it
    said = run_federation("set-commune", a_id, "  Outreau ", db_url=shared_hub.db_url)
    assert "Outreau" in said.stdout
    sync(b)
    with Store.open(b) as kiosk:
        (after,) = [item for item in agenda.week(kiosk) if item["session_id"] == session["id"]]
    assert after["commune"] == "Outreau" and after["centre_name"] == "Centre social Audrey Bartier"
    # a bad commune is refused, naming the field, and nothing changes
    with pytest.raises(Exception) as refused:
        run_federation("set-commune", a_id, "x" * 81, db_url=shared_hub.db_url)
    assert "commune" in refused.value.stderr
    with pytest.raises(Exception) as unknown:
        run_federation("set-commune", "0" * 32, "Wimereux", db_url=shared_hub.db_url)
    assert "no centre" in unknown.value.stderr
    (body,) = published(shared_hub, session["id"])
    assert '"commune":"Outreau"' in body
