"""« Doublons possibles » (kiosk/core/duplicates.py): finding the same person
registered twice, staff saying a pair is not one person, and the merge, on
one device and between two devices of a centre (sealed blobs handed from
one database to the other, as the relay would)."""

from __future__ import annotations

import pytest

from kiosk.core import duplicates, replication
from kiosk.core.centre import Centre
from kiosk.core.duplicates import Pair, find_pairs, normalise
from kiosk.core.errors import InvalidInput, NotFound
from kiosk.core.privacy import Privacy
from kiosk.core.settings import Settings
from kiosk.core.store import Store
from sync import protocol
from tests.dbstate import add_staff, events


@pytest.fixture
def centre(store):
    return Centre(store)


@pytest.fixture
def claire(store):
    return add_staff(store)


def person(centre, first, last, year=1985, **extra):
    return centre.members.register(
        first_name=first, last_name=last, birth_year=year, consent_data=True, **extra
    )


def rows(*people):
    return [(f"id{n}", first, last, year) for n, (first, last, year) in enumerate(people)]


# ---------------------------------------------------------------- finding


def test_names_compare_without_case_accents_spaces_or_hyphens():
    assert normalise("Marie-Thérèse") == normalise("MARIE THERESE") == "marietherese"
    assert normalise("N'Diaye") == normalise("ndiaye")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("Aïcha", "Benali", 1985), ("aicha", "BENALI", 1985)),  # case and accents
        (("Aïcha", "Benali", 1985), ("Aicha", "Benalli", 1985)),  # a letter too many
        (("Jean-Pierre", "Dupont", 1970), ("Jean Pierre", "Dupond", 1970)),  # a space, a letter
        (("Mohamed", "Ould Ahmed", 1990), ("Mohammed", "Ould-Ahmed", 1990)),
        (("Aïcha", "Benali", 1985), ("Benali", "Aicha", 1985)),  # first and last swapped
        (("Christophe", "Lemaire", 1962), ("Cristophe", "Lemiare", 1962)),  # a missing and a swapped letter
    ],
)
def test_the_same_person_with_typos_is_a_possible_duplicate(one, other):
    assert find_pairs(rows(one, other), set()) == [Pair("id0", "id1")]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("Aïcha", "Benali", 1985), ("Aïcha", "Benali", 1986)),  # another year of birth
        (("Aïcha", "Benali", 1985), ("Amina", "Benali", 1985)),  # a sister
        (("Léo", "Martin", 2015), ("Léa", "Martin", 2015)),  # a short name allows no typo
        (("Aïcha", "Benali", 1985), ("Aïcha", "Bensaïd", 1985)),
        (("Aïcha", "Benali", None), ("Aïcha", "Benali", None)),  # no year: not enough to say
    ],
)
def test_different_people_are_not_offered(one, other):
    assert find_pairs(rows(one, other), set()) == []


def test_a_dismissed_pair_is_left_out():
    found = rows(("Aïcha", "Benali", 1985), ("Aicha", "Benali", 1985))
    assert find_pairs(found, {Pair("id0", "id1")}) == []


def test_the_centre_lists_its_possible_duplicates_with_where_each_record_was_made(centre, store):
    aicha = person(centre, "Aïcha", "Benali")
    again = person(centre, "Aicha", "Benalli")
    person(centre, "Amina", "Benali")
    (pair,) = centre.duplicates.pairs()
    assert {pair.member_a, pair.member_b} == {aicha["id"], again["id"]}
    side = centre.duplicates.side(aicha["id"])
    assert side["origin"] == "this_device" and side["card_code"] == aicha["card_code"]
    assert centre.review.count() == 1  # « À vérifier » says there is something to look at


# ---------------------------------------------------------------- dismissing


def test_not_the_same_person_never_comes_back(centre, store, claire):
    aicha, again = person(centre, "Aïcha", "Benali"), person(centre, "Aicha", "Benali")
    centre.duplicates.dismiss(again["id"], aicha["id"], claire)
    assert centre.duplicates.pairs() == []
    assert Centre(store).duplicates.pairs() == []  # kept in the database, not in memory
    (line,) = store.query("SELECT detail FROM audit_log WHERE action = 'member.not_duplicate'")
    assert aicha["id"] in line["detail"]


def test_only_staff_merge_or_dismiss(centre, store):
    volunteer = add_staff(store, "Nadia", role="volunteer")
    aicha, again = person(centre, "Aïcha", "Benali"), person(centre, "Aicha", "Benali")
    with pytest.raises(InvalidInput, match="actor"):
        centre.duplicates.merge(aicha["id"], again["id"], volunteer)
    with pytest.raises(InvalidInput, match="actor"):
        centre.duplicates.dismiss(aicha["id"], again["id"], None)
    assert len(centre.duplicates.pairs()) == 1


# ---------------------------------------------------------------- merging, on one device


def session(centre, capacity):
    workshop = centre.workshops.create_workshop(title="Couture", theme="autre")
    return centre.workshops.add_session(
        workshop["id"],
        starts_at="2030-01-10T14:00:00.000Z",
        ends_at="2030-01-10T16:00:00.000Z",
        capacity=capacity,
    )


def test_a_merge_keeps_one_person_with_everything_theirs(centre, store, claire):
    aicha = person(centre, "Aïcha", "Benali")
    again = person(centre, "Aicha", "Benalli", phone="0612345678", neighbourhood=None)
    visit = centre.visits.check_in("accueil", member_id=again["id"])
    both = session(centre, capacity=2)
    only_other = session(centre, capacity=2)
    centre.workshops.register(both["id"], aicha["id"])
    centre.workshops.register(both["id"], again["id"])
    centre.workshops.register(only_other["id"], again["id"])
    assert centre.duplicates.preview(aicha["id"], again["id"]) == {"phone": "+33612345678"}

    kept = centre.duplicates.merge(aicha["id"], again["id"], claire)

    assert kept["phone"] == "+33612345678" and kept["first_name"] == "Aïcha"
    gone = store.one("SELECT * FROM members WHERE id = ?", (again["id"],))
    assert gone["merged_into"] == aicha["id"] and gone["erased_at"] is not None
    assert gone["first_name"] is None and gone["phone"] is None and gone["card_code"] is None
    with pytest.raises(NotFound):
        centre.members.get(again["id"])
    assert centre.members.count() == 1 and centre.duplicates.pairs() == []
    assert [m["id"] for m in centre.members.search("Benalli")] in ([], [aicha["id"]])
    # visits, registrations (one a session), the card follow the kept person
    assert store.one("SELECT member_id FROM visits WHERE id = ?", (visit["id"],))["member_id"] == aicha["id"]
    regs = store.query("SELECT session_id, member_id, status FROM registrations ORDER BY session_id")
    assert sorted((r["session_id"], r["member_id"]) for r in regs) == sorted(
        [(both["id"], aicha["id"]), (only_other["id"], aicha["id"])]
    )
    assert centre.members.by_card(again["card_code"])["id"] == aicha["id"]
    # the hub hears two pseudonyms, nothing else
    (merged,) = events(store, "member.merged")
    assert merged["data"] == {"member_id": again["id"], "into_member_id": aicha["id"]}
    assert protocol.validate_event(merged) == merged
    (line,) = store.query("SELECT detail FROM audit_log WHERE action = 'member.merge'")
    assert again["id"] in line["detail"] and "phone" in line["detail"]


def test_the_kept_person_takes_the_other_card_when_they_had_none(centre, store, claire):
    aicha, again = person(centre, "Aïcha", "Benali"), person(centre, "Aicha", "Benali")
    with store.transaction():
        store.conn.execute("UPDATE members SET card_code = NULL WHERE id = ?", (aicha["id"],))
    kept = centre.duplicates.merge(aicha["id"], again["id"], claire)
    assert kept["card_code"] == again["card_code"]
    assert centre.members.by_card(again["card_code"])["id"] == aicha["id"]


def test_erasing_the_kept_person_leaves_no_name_of_either_record(devices):
    reception, _tablet = devices
    staff = add_staff(reception.store)
    aicha, again = person(reception, "Aïcha", "Benali"), person(reception, "Aicha", "Benalli")
    reception.duplicates.merge(aicha["id"], again["id"], staff)
    reception.privacy.erase(aicha["id"], staff)
    log = reception.store.query("SELECT fields FROM replication_log WHERE tbl = 'members'")
    assert log and not any("Aicha" in row["fields"] or "Benal" in row["fields"] for row in log)


def test_a_record_already_merged_cannot_be_merged_again(centre, claire):
    aicha, again = person(centre, "Aïcha", "Benali"), person(centre, "Aicha", "Benali")
    centre.duplicates.merge(aicha["id"], again["id"], claire)
    with pytest.raises(NotFound):
        centre.duplicates.merge(again["id"], aicha["id"], claire)


# ---------------------------------------------------------------- between two devices

CENTRE = "01900000-0000-7000-8000-000000000001"


@pytest.fixture
def devices(tmp_path, clock):
    """Two replicating devices of one centre, as `kiosk join` leaves them."""
    paths = [str(tmp_path / "reception.db"), str(tmp_path / "tablet.db")]
    stores = [Store.open(p, clock=clock) for p in paths]
    ring = None
    for n, kiosk in enumerate(stores):
        Settings(kiosk).set("centre_id", CENTRE)
        replication.set_up(kiosk, keyring=ring, device_id=f"01900000-0000-7000-8000-00000000000{n + 2}")
        ring = replication.keyring(kiosk)
        with kiosk.transaction():
            kiosk.conn.execute("UPDATE replication_device SET baseline = 0")
    for kiosk in stores:
        for other in stores:
            if other is not kiosk:
                replication.add_peer(
                    kiosk, replication.device_id(other), bytes(replication.keys(other).verify_key)
                )
    yield [Centre(kiosk) for kiosk in stores]
    for kiosk in stores:
        kiosk.close()


def send(sender: Centre, receiver: Centre) -> None:
    """What the relay does between two devices: every sealed blob, in order."""
    replication.seal_pending(sender.store, CENTRE)
    erase = Privacy(receiver.store, receiver.settings).erase_replicated
    for seq, blob in replication.outgoing(sender.store):
        replication.receive(receiver.store, blob, CENTRE, erase)
        replication.mark_stored(sender.store, seq)


def test_a_merge_on_one_device_is_the_same_on_the_other(devices, clock):
    reception, tablet = devices
    staff = add_staff(reception.store)
    aicha = person(reception, "Aïcha", "Benali")
    again = person(tablet, "Aicha", "Benalli", phone="0612345678")
    send(reception, tablet)
    send(tablet, reception)
    # each device saw the person on its own before the merge
    tablet.visits.check_in("accueil", member_id=again["id"])
    one_session = session(reception, capacity=1)
    send(reception, tablet)
    reception.workshops.register(one_session["id"], aicha["id"])
    tablet.workshops.register(one_session["id"], again["id"])  # waiting: the seat is known taken
    send(reception, tablet)
    send(tablet, reception)
    assert len(reception.duplicates.pairs()) == len(tablet.duplicates.pairs()) == 1

    reception.duplicates.merge(aicha["id"], again["id"], staff)
    send(reception, tablet)
    send(tablet, reception)

    for centre in (reception, tablet):
        kept = centre.members.get(aicha["id"])
        assert kept["phone"] == "+33612345678"
        gone = centre.store.one("SELECT * FROM members WHERE id = ?", (again["id"],))
        assert gone["merged_into"] == aicha["id"] and gone["first_name"] is None
        assert centre.duplicates.pairs() == [] and centre.members.count() == 1
        regs = centre.store.query("SELECT member_id, status FROM registrations")
        assert regs == [{"member_id": aicha["id"], "status": "booked"}], centre
    # the tablet's own visit follows the kept person there
    (visit,) = tablet.store.query("SELECT member_id FROM visits")
    assert visit["member_id"] == aicha["id"]
    # only the device that merged tells the hub
    assert len(events(reception.store, "member.merged")) == 1
    assert events(tablet.store, "member.merged") == []


def test_a_pair_dismissed_on_one_device_is_not_offered_on_the_other(devices):
    reception, tablet = devices
    staff = add_staff(reception.store)
    aicha, again = person(reception, "Aïcha", "Benali"), person(reception, "Aicha", "Benali")
    send(reception, tablet)
    assert len(tablet.duplicates.pairs()) == 1
    reception.duplicates.dismiss(aicha["id"], again["id"], staff)
    send(reception, tablet)
    assert tablet.duplicates.pairs() == []


def test_an_erasure_on_one_device_wins_over_a_merge_on_the_other(devices):
    reception, tablet = devices
    staff_here, staff_there = add_staff(reception.store), add_staff(tablet.store)
    aicha, again = person(reception, "Aïcha", "Benali"), person(reception, "Aicha", "Benali")
    send(reception, tablet)
    reception.duplicates.merge(aicha["id"], again["id"], staff_here)
    tablet.privacy.erase(again["id"], staff_there)  # the tablet did not know of the merge yet
    send(reception, tablet)
    send(tablet, reception)
    for centre in (reception, tablet):
        for member_id in (aicha["id"], again["id"]):
            row = centre.store.one("SELECT first_name, erased_at FROM members WHERE id = ?", (member_id,))
            assert row["first_name"] is None and row["erased_at"] is not None
        assert centre.members.count() == 0
    assert duplicates.MAX_PAIRS > 0


# ---------------------------------------------------------------- the same session twice


def booked_then_waiting(first: Centre, second: Centre, sync) -> tuple[dict, dict, dict, dict]:
    """Aïcha books the last seat on ``first``; on ``second`` Carole, then
    Aïcha's second record, queue. Returns (aicha, again, carole, session)."""
    aicha = person(first, "Aïcha", "Benali")
    seat = session(first, capacity=1)
    first.workshops.register(seat["id"], aicha["id"])
    sync()
    carole = person(second, "Carole", "Petit", year=1970)
    again = person(second, "Aicha", "Benalli")
    assert second.workshops.register(seat["id"], carole["id"])["status"] == "waitlisted"
    assert second.workshops.register(seat["id"], again["id"])["status"] == "waitlisted"
    sync()
    return aicha, again, carole, seat


def seats(centre: Centre, seat: dict) -> dict[str, str]:
    rows = centre.store.query(
        "SELECT member_id, status FROM registrations WHERE session_id = ?", (seat["id"],)
    )
    return {row["member_id"]: row["status"] for row in rows}


def test_a_merge_never_gives_a_booked_seat_away_for_the_other_records_waiting_place(devices):
    reception, tablet = devices
    staff = add_staff(reception.store)

    def sync():
        send(reception, tablet)
        send(tablet, reception)

    aicha, again, carole, seat = booked_then_waiting(reception, tablet, sync)
    (waiting,) = tablet.store.query(
        "SELECT id FROM registrations WHERE member_id = ? AND session_id = ?", (again["id"], seat["id"])
    )
    reception.duplicates.merge(aicha["id"], again["id"], staff)
    sync()
    expected = {aicha["id"]: "booked", carole["id"]: "waitlisted"}
    assert seats(reception, seat) == seats(tablet, seat) == expected
    # the dropped registration ends cancelled at the hub: its figures count the person once
    dropped = [e["data"] for e in events(reception.store, "registration.changed")][-1]
    assert dropped == {
        "registration_id": waiting["id"],
        "session_id": seat["id"],
        "member_id": aicha["id"],
        "status": "cancelled",
    }
    assert events(tablet.store, "member.merged") == []
    # a later cancellation of the kept seat is not undone by the dropped one
    tablet.workshops.cancel_registration(seat["id"], aicha["id"])
    sync()
    assert seats(reception, seat) == seats(tablet, seat) == {aicha["id"]: "cancelled", carole["id"]: "booked"}


def test_a_device_alone_keeps_the_same_registration_as_replicating_ones(store, claire):
    centre = Centre(store)
    aicha, again, carole, seat = booked_then_waiting(centre, centre, lambda: None)
    centre.duplicates.merge(again["id"], aicha["id"], claire)  # whichever record staff keep
    assert seats(centre, seat) == {again["id"]: "booked", carole["id"]: "waitlisted"}
    cancelled = [
        e["data"] for e in events(store, "registration.changed") if e["data"]["status"] == "cancelled"
    ]
    assert [(e["member_id"], e["session_id"]) for e in cancelled] == [(again["id"], seat["id"])]


def test_a_merge_keeps_the_presence_and_a_later_absence_stays_on_every_device(devices):
    reception, tablet = devices
    staff = add_staff(reception.store)

    def sync():
        send(reception, tablet)
        send(tablet, reception)

    aicha, again = person(reception, "Aïcha", "Benali"), person(reception, "Aicha", "Benalli")
    workshop = reception.workshops.create_workshop(title="Couture", theme="autre")
    soon = reception.workshops.add_session(
        workshop["id"], starts_at="2026-12-01T08:30:00.000Z", ends_at="2026-12-01T10:00:00.000Z", capacity=5
    )
    for member in (aicha, again):
        reception.workshops.register(soon["id"], member["id"])
    sync()
    reception.workshops.mark_attendance(soon["id"], again["id"], True)
    (first,) = reception.store.query("SELECT id FROM attendance")
    tablet.workshops.mark_attendance(soon["id"], aicha["id"], True)  # later, on the tablet
    sync()
    (second,) = tablet.store.query("SELECT id FROM attendance WHERE id != ?", (first["id"],))

    def marks(centre):
        return centre.store.query(
            "SELECT member_id, present FROM attendance WHERE session_id = ?", (soon["id"],)
        )

    reception.duplicates.merge(aicha["id"], again["id"], staff)
    sync()
    assert marks(reception) == marks(tablet) == [{"member_id": aicha["id"], "present": 1}]
    assert reception.store.one("SELECT id FROM attendance")["id"] == first["id"]  # the earlier presence
    # the hub counts one presence: the dropped mark is told absent
    dropped = [e["data"] for e in events(reception.store, "attendance.taken")][-1]
    assert (dropped["attendance_id"], dropped["member_id"], dropped["present"]) == (
        second["id"],
        aicha["id"],
        False,
    )
    reception.workshops.mark_attendance(soon["id"], aicha["id"], False)
    sync()
    assert marks(reception) == marks(tablet) == [{"member_id": aicha["id"], "present": 0}]
