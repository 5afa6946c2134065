"""Seat requests between centres, end to end: a resident at centre B's kiosk
asks for a seat in a session of centre A; the request goes sealed to A's key
through a real hub (federation/seat_requests.py), which cannot read it; A's
staff accept it, which registers the resident there; the answer comes back
sealed to B's key (kiosk/core/seat_requests.py, kiosk.syncing)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from federation import store
from kiosk import syncing
from kiosk.core import replication, seat_requests
from kiosk.core.centre import Centre
from kiosk.core.errors import InvalidInput
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import client, envelope, protocol
from tests.faultproxy import FaultProxy

pytest_plugins = ["tests.conftest_hub"]

PERSON = {"first_name": "Yasmina", "last_name": "Belkacemi", "phone": "06 71 42 93 58"}
SECRETS = (b"Yasmina", b"Belkacemi", b"+33671429358")


def enrolled_kiosk(hub, path, name: str) -> tuple[str, str]:
    """A new centre at ``hub`` with a kiosk enrolled the real way: (db path, centre id)."""
    centre_id, code = hub.add_centre(name)
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(path) as kiosk:
        syncing.save_enrolment(Settings(kiosk), hub.url, answer)
    return str(path), centre_id


def staff_of(path: str) -> dict:
    with Centre.open(path) as centre:
        return centre.staff.add("Nadia Salah", "staff", "4826")


def a_session(path: str, capacity: int = 8) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with Centre.open(path) as centre:
        workshop = centre.workshops.create_workshop("Atelier couture", "autre", place="Salle 2")
        return centre.workshops.add_session(workshop["id"], start, start + timedelta(hours=2), capacity)


def entry_for(session: dict, centre_id: str, centre_name: str) -> dict:
    """What the agenda gives the kiosk of another centre's session."""
    return {
        "centre_id": centre_id,
        "centre_name": centre_name,
        "session_id": session["id"],
        "title": "Atelier couture",
        "place": "Salle 2",
        "starts_at": session["starts_at"],
    }


def ask(path: str, entry: dict) -> dict:
    with Store.open(path) as kiosk:
        return seat_requests.SeatRequests(kiosk).ask(entry, consent=True, **PERSON)


@pytest.fixture
def centres(shared_hub, tmp_path):
    """Centre A (holds the session) and centre B (its resident asks), one kiosk each."""
    a, a_id = enrolled_kiosk(shared_hub, tmp_path / "a.db", "Centre social Outreau")
    b, b_id = enrolled_kiosk(shared_hub, tmp_path / "b.db", "Centre social Le Portel")
    return a, a_id, b, b_id


def hub_rows(hub) -> list[dict]:
    engine = store.create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(store.seat_requests))]
    finally:
        engine.dispose()


def clear_in_hub(hub) -> list[str]:
    """Every text and blob column of every table of the hub's database that
    holds one of the resident's names or phone, exactly as typed."""
    engine = store.create_engine(hub.db_url)
    found = []
    try:
        with engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            for table in tables.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for column, value in row._mapping.items():
                        if isinstance(value, str | bytes | memoryview):
                            raw = value.encode() if isinstance(value, str) else bytes(value)
                            found += [f"{table.name}.{column}" for secret in SECRETS if secret in raw]
    finally:
        engine.dispose()
    return found


def test_a_request_goes_sealed_is_accepted_and_its_answer_comes_back(hub_server, hub_db_url, tmp_path):
    hub = hub_server(hub_db_url)
    a, a_id = enrolled_kiosk(hub, tmp_path / "a.db", "Centre social Outreau")
    b, _b_id = enrolled_kiosk(hub, tmp_path / "b.db", "Centre social Le Portel")
    nadia, session = staff_of(a), a_session(a)
    syncing.exchange_seat_requests(a)  # A's key reaches the hub
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    assert syncing.exchange_seat_requests(b)["sent"] == 1
    # on the hub, sealed: no name, no phone in any column of any table
    assert [row["id"] for row in hub_rows(hub)] == [request["id"]]
    assert clear_in_hub(hub) == []
    assert syncing.exchange_seat_requests(a)["received"] == 1
    assert hub_rows(hub)[0]["sealed"] is None  # taken: its content left the hub
    with Centre.open(a) as centre:
        (waiting,) = seat_requests.SeatRequests(centre.store).incoming()
        assert (waiting["first_name"], waiting["phone"]) == ("Yasmina", "+33671429358")
        assert waiting["from_centre_name"] == "Centre social Le Portel"
        outcome = seat_requests.SeatRequests(centre.store).accept(waiting["id"], nadia)
        assert outcome["outcome"] == "accepted"
        member = centre.members.get(outcome["member_id"])
        assert (member["last_name"], member["consent_data"]) == ("Belkacemi", True)
        (booked,) = centre.workshops.registrations(session["id"])
        assert (booked["member_id"], booked["status"]) == (outcome["member_id"], "booked")
    assert syncing.exchange_seat_requests(a)["answered"] == 1
    assert clear_in_hub(hub) == []
    assert syncing.exchange_seat_requests(b)["answers"] == 1
    assert hub_rows(hub) == []  # answered and delivered: nothing of it stays
    with Store.open(b) as kiosk:
        (told,) = seat_requests.SeatRequests(kiosk).outgoing()
        assert (told["id"], told["outcome"]) == (request["id"], "accepted")


def test_each_side_works_while_the_other_is_away(centres, shared_hub):
    a, a_id, b, _b_id = centres
    nadia, session = staff_of(a), a_session(a)
    # B asks before A ever reached the hub: the request waits on B for A's key
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    assert syncing.exchange_seat_requests(b) == {
        "sent": 0,
        "waiting": 1,
        "received": 0,
        "answered": 0,
        "answers": 0,
        "refused": 0,
    }
    syncing.exchange_seat_requests(a)  # A comes: its key
    assert syncing.exchange_seat_requests(b)["sent"] == 1
    # B goes away; A takes it and answers meanwhile
    syncing.exchange_seat_requests(a)
    with Store.open(a) as kiosk:
        seat_requests.SeatRequests(kiosk).decline(request["id"], nadia)
    syncing.exchange_seat_requests(a)
    assert [row["answer"] is not None for row in hub_rows(shared_hub) if row["id"] == request["id"]] == [True]
    # B comes back: the answer is there
    syncing.exchange_seat_requests(b)
    with Store.open(b) as kiosk:
        (told,) = seat_requests.SeatRequests(kiosk).outgoing()
        assert told["outcome"] == "declined"
        seat_requests.SeatRequests(kiosk).mark_told(told["id"], staff_of(b))
        assert seat_requests.SeatRequests(kiosk).outgoing() == []


def test_a_full_session_is_answered_full_and_nobody_is_registered(centres):
    a, a_id, b, _b_id = centres
    nadia, session = staff_of(a), a_session(a, capacity=1)
    with Centre.open(a) as centre:
        local = centre.members.register("Marc", "Petit", consent_data=True)
        centre.workshops.register(session["id"], local["id"])
    syncing.exchange_seat_requests(a)
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    syncing.exchange_seat_requests(b)
    syncing.exchange_seat_requests(a)
    with Centre.open(a) as centre:
        outcome = seat_requests.SeatRequests(centre.store).accept(request["id"], nadia)
        assert outcome == {"outcome": "full", "member_id": None, "registration_id": None}
        assert len(centre.workshops.registrations(session["id"])) == 1
        assert centre.members.search("Belkacemi") == []
    syncing.exchange_seat_requests(a)
    syncing.exchange_seat_requests(b)
    with Store.open(b) as kiosk:
        assert seat_requests.SeatRequests(kiosk).outgoing()[0]["outcome"] == "full"


def test_a_resident_already_a_member_there_is_not_registered_twice(centres):
    a, a_id, b, _b_id = centres
    nadia, session = staff_of(a), a_session(a)
    with Centre.open(a) as centre:
        known = centre.members.register("Yasmina", "BELKACEMI", phone="+33 6 71 42 93 58", consent_data=True)
    syncing.exchange_seat_requests(a)
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    syncing.exchange_seat_requests(b)
    syncing.exchange_seat_requests(a)
    with Centre.open(a) as centre:
        outcome = seat_requests.SeatRequests(centre.store).accept(request["id"], nadia)
        assert outcome["member_id"] == known["id"]
        assert centre.members.count() == 1


def test_only_the_target_centre_fetches_its_requests(centres, shared_hub):
    a, a_id, b, _b_id = centres
    c, _c_id = enrolled_kiosk(shared_hub, shared_hub_path(b, "c.db"), "Centre social Wimereux")
    session = a_session(a)
    syncing.exchange_seat_requests(a)
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    syncing.exchange_seat_requests(b)
    # centre C's device sees nothing, cannot take it nor answer it
    assert syncing.exchange_seat_requests(c)["received"] == 0
    with Store.open(c) as kiosk:
        token = Settings(kiosk).get("device_token")
    with shared_hub.client(token) as http:
        assert http.get("/api/v1/seat-requests/inbox").json() == {"requests": []}
        assert http.post(f"/api/v1/seat-requests/{request['id']}/received").status_code == 404
        sealed = base64.b64encode(b"x" * 64).decode()
        assert (
            http.post(f"/api/v1/seat-requests/{request['id']}/answer", json={"sealed": sealed}).status_code
            == 404
        )
    # nor B's own device, which sent it
    with Store.open(b) as kiosk:
        token = Settings(kiosk).get("device_token")
    with shared_hub.client(token) as http:
        assert http.get("/api/v1/seat-requests/inbox").json() == {"requests": []}
    assert syncing.exchange_seat_requests(a)["received"] == 1


def shared_hub_path(path: str, name: str) -> str:
    from pathlib import Path

    return str(Path(path).with_name(name))


def test_a_request_whose_answer_was_lost_on_the_way_is_sent_once(centres, shared_hub):
    a, a_id, b, _b_id = centres
    session = a_session(a)
    syncing.exchange_seat_requests(a)
    request = ask(b, entry_for(session, a_id, "Centre social Outreau"))
    port = int(shared_hub.url.rsplit(":", 1)[1])

    def submits(method: str, path: str) -> bool:
        return method == "POST" and path.endswith("/seat-requests")

    with FaultProxy(("127.0.0.1", port), applies_to=submits) as proxy:
        with Store.open(b) as kiosk:
            Settings(kiosk).set("hub_url", proxy.url)
        # the hub stores it, its answer never comes back, nor to the retries
        proxy.plan(["drop"] * 4)
        with pytest.raises(client.SyncError):
            syncing.exchange_seat_requests(b)
        assert proxy.counts["drop"] >= 2
        proxy.plan([])
        # sealed anew and sent again: the hub keeps the first, once
        assert syncing.exchange_seat_requests(b)["sent"] == 1
    assert [row["id"] for row in hub_rows(shared_hub) if row["id"] == request["id"]] == [request["id"]]
    assert syncing.exchange_seat_requests(a)["received"] == 1


def test_a_request_needs_the_resident_s_consent_and_a_phone(centres):
    _a, a_id, b, _b_id = centres
    entry = entry_for({"id": protocol.new_id(), "starts_at": "2030-01-01T10:00:00.000Z"}, a_id, "A")
    with Store.open(b) as kiosk:
        requests = seat_requests.SeatRequests(kiosk)
        with pytest.raises(InvalidInput) as refused:
            requests.ask(entry, consent=False, **PERSON)
        assert refused.value.field == "consent"
        with pytest.raises(InvalidInput) as refused:
            requests.ask(entry, consent=True, **{**PERSON, "phone": ""})
        assert refused.value.field == "phone"
        assert requests.to_send() == []


def test_what_another_centre_sealed_wrong_is_refused_and_leaves_the_hub(centres, shared_hub):
    a, a_id, b, b_id = centres
    syncing.exchange_seat_requests(a)
    with Store.open(a) as kiosk:
        a_key = seat_requests.public_key(kiosk)
    with Store.open(b) as kiosk:
        token = Settings(kiosk).get("device_token")
    # sealed to A's key, but claims to come from a centre that is not B
    forged = {
        "v": 1,
        "id": protocol.new_id(),
        "from_centre": a_id,
        "reply_key": "00" * 32,
        "session_id": protocol.new_id(),
        **PERSON,
        "consent_at": "2026-01-01T00:00:00.000Z",
    }
    sealed = base64.b64encode(envelope.seal_to_centre(forged, bytes.fromhex(a_key))).decode()
    with shared_hub.client(token) as http:
        filed = http.post(
            "/api/v1/seat-requests", json={"id": forged["id"], "to_centre": a_id, "sealed": sealed}
        )
        assert filed.status_code == 200, filed.text
    outcome = syncing.exchange_seat_requests(a)
    assert (outcome["received"], outcome["refused"]) == (0, 1)
    with Store.open(a) as kiosk:
        assert seat_requests.SeatRequests(kiosk).incoming() == []
    assert [row["sealed"] for row in hub_rows(shared_hub) if row["id"] == forged["id"]] == [None]
    assert b_id != a_id


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"id": "nope"}, 400, "id"),
        ({"to_centre": "x"}, 400, "to_centre"),
        ({"sealed": "not base64!"}, 400, "sealed"),
        ({"sealed": base64.b64encode(b"x" * 5000).decode()}, 413, "sealed"),
        ({"sealed": base64.b64encode(b"x" * 10).decode()}, 400, "sealed"),
    ],
)
def test_a_bad_request_is_refused_with_its_field(centres, shared_hub, body, status, field):
    a, a_id, b, _b_id = centres
    syncing.exchange_seat_requests(a)
    with Store.open(b) as kiosk:
        token = Settings(kiosk).get("device_token")
    sealed = base64.b64encode(b"x" * 64).decode()
    full = {"id": protocol.new_id(), "to_centre": a_id, "sealed": sealed, **body}
    with shared_hub.client(token) as http:
        answer = http.post("/api/v1/seat-requests", json=full)
    assert (answer.status_code, answer.json()["field"]) == (status, field), answer.text
    assert not [row for row in hub_rows(shared_hub) if row["id"] == full["id"]]


def test_a_centre_keeps_the_first_public_key_it_registered(centres, shared_hub):
    a, a_id, _b, _b_id = centres
    syncing.exchange_seat_requests(a)
    with Store.open(a) as kiosk:
        token, key = Settings(kiosk).get("device_token"), seat_requests.public_key(kiosk)
    with shared_hub.client(token) as http:
        assert http.put("/api/v1/centre-key", json={"public_key": key}).status_code == 200
        assert http.put("/api/v1/centre-key", json={"public_key": "ab" * 32}).status_code == 409
        assert http.get(f"/api/v1/centres/{a_id}/key").json()["public_key"] == key
    with httpx.Client(base_url=shared_hub.url) as anonymous:
        assert anonymous.get(f"/api/v1/centres/{a_id}/key").status_code == 401


def test_every_device_of_a_centre_opens_what_is_sealed_to_it(tmp_path):
    """The exchange key is in the keyring a joining device is handed; a
    keyring from before it existed derives the same key on every device."""
    ring = envelope.Keyring.new()
    handed = envelope.Keyring.from_json(ring.to_json())
    sealed = envelope.seal_to_centre({"v": 1}, envelope.centre_public_key(ring))
    assert envelope.open_for_centre(sealed, handed) == {"v": 1}
    old = envelope.Keyring(dict(ring.keys), ring.current)  # upgraded, on two devices apart
    again = envelope.Keyring.from_json(old.to_json())
    assert envelope.centre_public_key(old) == envelope.centre_public_key(again)
    assert envelope.centre_public_key(old) != envelope.centre_public_key(ring)
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_for_centre(sealed, old)
    with Store.open(tmp_path / "k.db") as kiosk:
        assert not seat_requests.available(kiosk)  # not enrolled: no centre keys
        replication.set_up(kiosk, keyring=ring, device_id=protocol.new_id())
        assert seat_requests.public_key(kiosk) == envelope.centre_public_key(ring).hex()


def test_the_centre_s_first_device_takes_its_requests_then_the_next_when_revoked(centres, shared_hub):
    from kiosk.core import replication
    from tests.conftest_hub import run_federation
    from tests.test_kiosk_replication import join, second_kiosk

    a, a_id, b, _b_id = centres
    # a tablet joins centre A later: requests still reach A's reception
    tablet = second_kiosk(shared_hub, a_id, shared_hub_path(a, "tablet.db"))
    join(a, tablet)
    session = a_session(a)
    syncing.exchange_seat_requests(a)
    ask(b, entry_for(session, a_id, "Centre social Outreau"))
    syncing.exchange_seat_requests(b)
    assert syncing.exchange_seat_requests(tablet)["received"] == 0
    assert syncing.exchange_seat_requests(a)["received"] == 1
    # the reception is revoked: the tablet takes the next request
    with Store.open(a) as kiosk:
        reception_id = replication.device_id(kiosk)
    run_federation("revoke-device", reception_id, db_url=shared_hub.db_url)
    ask(b, entry_for(session, a_id, "Centre social Outreau"))
    syncing.exchange_seat_requests(b)
    assert syncing.exchange_seat_requests(tablet)["received"] == 1
