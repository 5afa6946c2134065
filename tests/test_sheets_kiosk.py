"""Workshop sheets at the centre, through a real hub process: a sheet the
federation published reaches the kiosk at its sync, adopting it makes a
local workshop whose events name the sheet, and the hub's « diffusion »
counts the centre, its sessions and participants; a centre offers one of
its workshops and the hub holds it as a draft; a withdrawn sheet leaves the
kiosk's list but the workshop made from it stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from people import add_member, add_staff, events

from federation import sheet_figures, sheets
from federation import store as hub_store
from kiosk import syncing
from kiosk.core.centre import Centre
from kiosk.core.errors import Conflict, NotFound
from kiosk.core.sheets import Sheets
from kiosk.core.store import Store
from kiosk.core.workshops import Workshops
from tests.faultproxy import FaultProxy
from tests.test_publications import kiosk
from tests.test_sheets import sheet

pytest_plugins = ["tests.conftest_hub"]


def on_hub(hub, change):
    engine = hub_store.create_engine(hub.db_url)
    try:
        with hub_store.writer(engine) as conn, conn.begin():
            return change(conn)
    finally:
        engine.dispose()


def test_a_published_sheet_is_adopted_and_its_diffusion_reaches_the_hub(shared_hub, tmp_path):
    sheet_id = on_hub(shared_hub, lambda conn: sheets.create(conn, sheet(title="Réparer son vélo")))
    on_hub(shared_hub, lambda conn: sheets.publish(conn, sheet_id))
    path, centre_id = kiosk(shared_hub, tmp_path / "k.db", "Centre de Wimereux")
    syncing.pull_publications(path)
    with Store.open(path) as store:
        actor = add_staff(store)
        found = Sheets(store, Workshops(store))
        [held] = [s for s in found.published() if s["id"] == sheet_id]
        assert (held["title"], held["capacity"], held["adopted"]) == ("Réparer son vélo", 10, None)
        workshop = found.adopt(sheet_id, actor)
        assert workshop["title"] == "Réparer son vélo"
        assert workshop["description"] == sheet()["description"]
        assert found.get(sheet_id)["adopted"] == workshop["id"]
        with pytest.raises(Conflict):
            found.adopt(sheet_id, actor)  # once is enough: its workshop is there
        assert events(store, "workshop.created")[-1]["sheet"] == sheet_id
        # the centre schedules its sessions as for any workshop, and takes the roll call
        workshops = Workshops(store)
        start = store.now() + timedelta(minutes=30)
        session = workshops.add_session(workshop["id"], start, start + timedelta(hours=2), 8, actor=actor)
        member_id = add_member(store)
        workshops.register(session["id"], member_id, actor=actor)
        workshops.mark_attendance(session["id"], member_id, True, actor=actor)
    assert syncing.sync_once(path)["last_result"]["ok"]
    rows = on_hub(shared_hub, sheet_figures.diffusion)
    [row] = [r for r in rows if r.sheet_id == sheet_id]
    assert (row.centres, row.workshops, row.sessions, row.participants) == (1, 1, 1, 1)
    # withdrawn: gone from the kiosk's list, the centre's workshop stays
    on_hub(shared_hub, lambda conn: sheets.withdraw(conn, sheet_id))
    syncing.pull_publications(path)
    with Store.open(path) as store:
        assert sheet_id not in {s["id"] for s in Sheets(store, Workshops(store)).published()}
        with pytest.raises(NotFound):
            Sheets(store, Workshops(store)).adopt(sheet_id, add_staff(store, "Léa Roux", pin="1357"))
        assert Workshops(store).get_workshop(workshop["id"])["title"] == "Réparer son vélo"


def test_a_centre_offers_a_workshop_once_and_the_hub_holds_a_draft(shared_hub, tmp_path):
    path, centre_id = kiosk(shared_hub, tmp_path / "k.db", "Centre du Portel")
    with Store.open(path) as store:
        actor = add_staff(store)
        centre = Centre(store)
        workshop = centre.workshops.create_workshop(
            "Jardin partagé", "pouvoir_d_agir", description="On jardine.", facilitator="Karim", actor=actor
        )
        offers = Sheets(store, centre.workshops)
        offers.offer(workshop["id"], 90, 8, actor)
        assert offers.offered_at(workshop["id"])
        with pytest.raises(Conflict):
            offers.offer(workshop["id"], 90, 8, actor)
        [data] = events(store, "sheet.offered")
        assert "Karim" not in str(data)  # what the workshop is, never who runs it
    assert syncing.sync_once(path)["last_result"]["ok"]
    drafts = on_hub(shared_hub, sheets.listing)
    [draft] = [s for s in drafts if s["offered_by"] == centre_id]
    assert (draft["title"], draft["status"], draft["duration_minutes"], draft["capacity"]) == (
        "Jardin partagé",
        "draft",
        90,
        8,
    )
    # nothing reaches the kiosks before the federation publishes it
    syncing.pull_publications(path)
    with Store.open(path) as store:
        assert draft["id"] not in {s["id"] for s in Sheets(store, Workshops(store)).published()}
    on_hub(shared_hub, lambda conn: sheets.publish(conn, draft["id"]))
    syncing.pull_publications(path)
    with Store.open(path) as store:
        assert Sheets(store, Workshops(store)).get(draft["id"])["offered_by"] == "Centre du Portel"


def test_a_sheet_is_adopted_while_the_hub_is_unreachable_and_counted_once_it_is_back(shared_hub, tmp_path):
    sheet_id = on_hub(shared_hub, lambda conn: sheets.create(conn, sheet(title="Cuisine du monde")))
    on_hub(shared_hub, lambda conn: sheets.publish(conn, sheet_id))
    with FaultProxy(("127.0.0.1", int(shared_hub.url.rsplit(":", 1)[1]))) as proxy:
        path, _centre = kiosk(shared_hub, tmp_path / "k.db", "Centre d'Outreau", url=proxy.url)
        syncing.pull_publications(path)
        proxy.plan([], default="reset")  # the network is down from here
        with Store.open(path) as store:  # the last copy received is what staff adopt from
            Sheets(store, Workshops(store)).adopt(sheet_id, add_staff(store))
        assert not syncing.sync_once(path)["last_result"]["ok"]
        assert not [r for r in on_hub(shared_hub, sheet_figures.diffusion) if r.sheet_id == sheet_id]
        proxy.plan([], default="pass")  # back
        assert syncing.sync_once(path)["last_result"]["ok"]
        assert syncing.sync_once(path)["last_result"]["ok"]  # again: nothing counted twice
    [row] = [r for r in on_hub(shared_hub, sheet_figures.diffusion) if r.sheet_id == sheet_id]
    assert (row.centres, row.workshops) == (1, 1)
