"""What travels with a visit and an audit line between a centre's devices:
the itinerant event a visit was recorded at (« hors les murs »), and which
device wrote an audit line. Two replicating databases, sealed blobs handed
from one to the other as the relay would."""

from __future__ import annotations

from kiosk.core import replication
from tests.dbstate import add_staff
from tests.test_duplicates import devices, send

__all__ = ["devices"]  # the fixture, shared with the duplicates' tests


def test_a_visit_recorded_at_an_itinerant_event_carries_it_to_the_other_devices(devices):
    laptop, reception = devices
    staff = add_staff(laptop.store)
    event = laptop.outreach.start("Fête de quartier", "Place du marché", actor=staff)
    aicha = laptop.members.register(first_name="Aïcha", last_name="Benali", consent_data=True)
    at_event = laptop.visits.check_in("accueil", member_id=aicha["id"])
    laptop.outreach.end(actor=staff)
    back_home = laptop.visits.check_in("accueil", member_id=aicha["id"])
    send(laptop, reception)
    for centre in (laptop, reception):
        got = dict(centre.store.conn.execute("SELECT id, outreach_id FROM visits").fetchall())
        assert got == {at_event["id"]: event["id"], back_home["id"]: None}, centre
        (count,) = centre.store.conn.execute(
            "SELECT count(*) FROM visits WHERE outreach_id = ?", (event["id"],)
        ).fetchone()
        assert count == 1


def test_an_audit_line_says_which_device_wrote_it(devices):
    laptop, reception = devices
    replication.add_peer(
        reception.store,
        replication.device_id(laptop.store),
        bytes(replication.keys(laptop.store).verify_key),
        label="Portable hors les murs",
    )
    staff = add_staff(laptop.store, "Claire Martin")
    laptop.outreach.start("Fête de quartier", "Place du marché", actor=staff)
    reception.store.audit(add_staff(reception.store, "Nadia Ferhat"), "staff.login")
    send(laptop, reception)
    laptop_replica = laptop.store.one("SELECT replica_id FROM replication_device")["replica_id"]
    lines = {line["action"]: line for line in reception.staff.audit_log()}
    assert (lines["outreach.start"]["device"], lines["outreach.start"]["device_label"]) == (
        laptop_replica,
        "Portable hors les murs",
    )
    assert (lines["staff.login"]["device"], lines["staff.login"]["device_label"]) == (None, None)
    # on the device that wrote it, the line is its own
    (own,) = [line for line in laptop.staff.audit_log() if line["action"] == "outreach.start"]
    assert own["device"] is None
