"""A merge of two records registered to one session, at a real hub: the
registration the merge dropped ends cancelled there too (``registration.changed``),
so the hub's registration and seat figures count the person once."""

from __future__ import annotations

import json
from datetime import date

from federation import reports
from federation import store as hub_store
from kiosk.core.centre import Centre
from sync import protocol
from tests.dbstate import add_staff

pytest_plugins = ["tests.conftest_hub"]

JANUARY = date(2030, 1, 1), date(2030, 1, 31)


def post_outbox(hub, token: str, kiosk, sent: set[int]) -> None:
    """What the kiosk's sync does: its outbox's events not yet sent, in order."""
    rows = kiosk.conn.execute("SELECT seq, body FROM outbox ORDER BY seq").fetchall()
    events = [json.loads(body) for seq, body in rows if seq not in sent]
    sent.update(seq for seq, _body in rows)
    with hub.client(token) as client:
        response = client.post(
            "/api/v1/batches", json={"protocol": protocol.PROTOCOL_VERSION, "events": events}
        )
    response.raise_for_status()


def figures(hub, centre_id: str) -> tuple[int, int]:
    engine = hub_store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            (row,) = reports.workshop_figures(conn, reports.Period(*JANUARY, centre_id))
    finally:
        engine.dispose()
    return row.booked, row.waitlisted


def test_the_hub_counts_one_registration_once_the_records_are_merged(shared_hub, store):
    centre_id, code = shared_hub.add_centre("Centre social des Inscrits")
    token = shared_hub.enrol(code)["device_token"]
    centre, sent = Centre(store), set()
    claire = add_staff(store)
    workshop = centre.workshops.create_workshop(title="Couture", theme="autre")
    seat = centre.workshops.add_session(
        workshop["id"], starts_at="2030-01-10T14:00:00.000Z", ends_at="2030-01-10T16:00:00.000Z", capacity=2
    )
    members = [
        centre.members.register(first_name=first, last_name=last, birth_year=1985, consent_data=True)
        for first, last in (("Aïcha", "Benali"), ("Aicha", "Benalli"))
    ]
    for member in members:
        assert centre.workshops.register(seat["id"], member["id"])["status"] == "booked"
    post_outbox(shared_hub, token, store, sent)
    assert figures(shared_hub, centre_id) == (2, 0)

    centre.duplicates.merge(members[0]["id"], members[1]["id"], claire)
    post_outbox(shared_hub, token, store, sent)
    assert figures(shared_hub, centre_id) == (1, 0)
