"""Volunteers' time on the kiosk: « Je commence » / « Je termine », hours
entered afterwards by staff, corrections, a forgotten « Je termine » that
closes itself and waits in « À vérifier », every bound refused in French,
and what the hub is told (a pseudonym, a day, minutes; a new event for
each version)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kiosk.core.review import Review
from kiosk.core.volunteering import Volunteering, parse_duration
from sync import protocol
from tests.dbstate import add_staff, dump, events


@pytest.fixture
def time(store):
    return Volunteering(store)


@pytest.fixture
def martine(store):
    return add_staff(store, "Martine Dupuis", "volunteer")


@pytest.fixture
def claire(store):
    return add_staff(store, "Claire Martin", "staff")


def sent(store) -> list[dict]:
    return [event["data"] for event in events(store, "volunteering.recorded")]


def test_je_commence_then_je_termine_sends_the_stretch_with_a_pseudonym(store, clock, time, martine):
    stretch = time.start(martine, "activity")
    assert stretch["open"] and stretch["start"] == "09:00"  # 8:00 UTC is 9:00 in Paris
    assert sent(store) == []  # an open stretch has no hours to tell
    held = time.current(martine)
    assert (held["id"], held["start"], held["open"]) == (stretch["id"], "09:00", True)
    clock.advance(hours=2, minutes=30, seconds=40)
    done = time.finish(martine)
    assert (done["minutes"], done["start"], done["end"], done["open"]) == (150, "09:00", "11:30", False)
    assert time.current(martine) is None
    (data,) = sent(store)
    pseudonym = store.one("SELECT pseudonym FROM volunteer_pseudonyms")["pseudonym"]
    assert data == {
        "stretch_id": stretch["id"],
        "volunteer_id": pseudonym,
        "kind": "activity",
        "day": "2026-12-01",
        "minutes": 150,
        "version": 1,
        "auto_closed": False,
        "removed": False,
    }
    # the hub never learns the staff id nor the name
    assert pseudonym != martine["id"] and "Martine" not in json_of(events(store))


def json_of(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_a_volunteer_cannot_start_twice_nor_finish_without_starting(time, martine, clock):
    with pytest.raises(NotFound) as error:
        time.finish(martine)
    assert error.value.message_fr == "Vous n'avez pas commencé : touchez « Je commence »."
    time.start(martine, "governance")
    clock.advance(minutes=10)
    with pytest.raises(Conflict) as error:
        time.start(martine, "activity")
    assert error.value.message_fr == "Vous avez déjà commencé à 09:00."


def test_only_a_volunteer_counts_their_own_time_and_the_kind_is_one_of_two(time, martine, claire):
    with pytest.raises(InvalidInput) as error:
        time.start(claire, "activity")
    assert error.value.field == "actor"
    with pytest.raises(InvalidInput) as error:
        time.start(martine, "holiday")
    assert error.value.message_fr == "Choisissez : activités ou gouvernance."
    with pytest.raises(InvalidInput):
        time.start({"id": "someone", "role": "volunteer", "name": "X"}, "activity")


def test_a_stretch_of_less_than_a_minute_is_dropped_and_never_sent(store, time, martine, clock):
    time.start(martine, "activity")
    clock.advance(seconds=40)
    assert time.finish(martine)["minutes"] == 0
    assert store.query("SELECT * FROM volunteer_stretches") == [] and sent(store) == []


def test_a_forgotten_je_termine_closes_at_closing_time_and_waits_to_be_checked(
    store, time, martine, claire, clock
):
    time.start(martine, "activity")  # 9:00 in Paris
    clock.advance(days=1)  # the next morning
    assert time.current(martine) is None
    (item,) = time.to_review()
    assert (item["start"], item["end"], item["minutes"], item["to_review"]) == ("09:00", "19:00", 600, True)
    (data,) = sent(store)
    assert data["auto_closed"] and data["minutes"] == 600 and data["day"] == "2026-12-01"
    (kind, items) = Review(store).pending()[0]
    assert kind.code == "volunteering" and kind.correct_screen == "staff_volunteering"
    assert items[0].text() == ("Martine Dupuis : Activités, de 09:00 à 19:00. « Je termine » oublié ?")
    # staff correct it: checked, a new version with a new event id
    fixed = time.correct(claire, item["id"], "activity", "2026-12-01", "09:00", "12:15")
    assert (fixed["minutes"], fixed["to_review"]) == (195, False)
    first, second = events(store, "volunteering.recorded")
    assert first["id"] != second["id"]
    assert second["data"] | {} == {**first["data"], "minutes": 195, "version": 2, "auto_closed": False}
    assert Review(store).pending() == []


def test_a_stretch_begun_after_closing_time_closes_at_23_59(store, time, martine, clock):
    clock.set(datetime(2026, 12, 1, 19, 30, tzinfo=UTC))  # 20:30 in Paris
    time.start(martine, "governance")
    clock.advance(hours=12)
    (item,) = time.to_review()
    assert (item["end"], item["minutes"]) == ("23:59", 209)


def test_staff_confirm_a_stretch_that_closed_itself(store, time, martine, claire, clock):
    time.start(martine, "activity")
    clock.advance(days=1)
    (item,) = time.to_review()
    Review(store).confirm("volunteering", item["id"], claire)
    assert time.to_review() == []
    assert [d["auto_closed"] for d in sent(store)] == [True, False]
    with pytest.raises(Conflict):
        time.confirm(claire, item["id"])
    with pytest.raises(InvalidInput):  # a volunteer cannot check their own hours
        time.confirm(martine, item["id"])


def test_staff_enter_hours_afterwards_by_times_or_by_a_duration(store, time, martine, claire):
    by_times = time.enter(claire, martine["id"], "governance", "27/11/2026", "18:00", "20:30")
    assert (by_times["minutes"], by_times["day"], by_times["start"]) == (150, "2026-11-27", "18:00")
    by_length = time.enter(claire, martine["id"], "activity", "2026-11-28", minutes="2h15")
    assert (by_length["minutes"], by_length["starts_at"]) == (135, None)
    assert [(d["kind"], d["minutes"], d["version"]) for d in sent(store)] == [
        ("governance", 150, 1),
        ("activity", 135, 1),
    ]
    listed = time.between("2026-11-01", "2026-11-30")
    assert [row["id"] for row in listed] == [by_length["id"], by_times["id"]]
    assert time.between("2026-11-01", "2026-11-30", volunteer_id=claire["id"]) == []


FUTURE = "Cette date est à venir : on ne compte que le temps passé."
OLD = "Cette date a plus d'un an : elle ne peut plus être saisie."
NOT_A_DATE = "Cette date n'est pas valable : écrivez-la jj/mm/aaaa."
LENGTH = "La durée doit aller de 1 minute à 24 heures."
NOT_A_DURATION = "Cette durée n'est pas valable : écrivez-la 2h30."
BACKWARDS = "L'heure de fin doit venir après l'heure de début."
BOTH = "Donnez l'heure de début et l'heure de fin, ou seulement une durée."
NOT_A_TIME = "Cette heure n'est pas valable : écrivez-la 14:30."
NOT_YET = "Cette heure n'est pas encore passée."
NOTHING = "Donnez l'heure de début et l'heure de fin, ou une durée."


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (("activity", "2026-12-02", None, None, 60), "day", FUTURE),
        (("activity", "2025-11-01", None, None, 60), "day", OLD),
        (("activity", "31/02/2026", None, None, 60), "day", NOT_A_DATE),
        (("activity", "2026-11-30", None, None, -30), "minutes", LENGTH),
        (("activity", "2026-11-30", None, None, 0), "minutes", LENGTH),
        (("activity", "2026-11-30", None, None, "25h"), "minutes", LENGTH),
        (("activity", "2026-11-30", None, None, "beaucoup"), "minutes", NOT_A_DURATION),
        (("activity", "2026-11-30", None, None, 1500), "minutes", LENGTH),
        (("activity", "2026-11-30", "14:00", "13:00", None), "end", BACKWARDS),
        (("activity", "2026-11-30", "14:00", None, None), "end", BOTH),
        (("activity", "2026-11-30", "25:00", "26:00", None), "start", NOT_A_TIME),
        (("activity", "2026-12-01", "08:00", "10:00", None), "end", NOT_YET),
        (("activity", "2026-11-30", None, None, None), "minutes", NOTHING),
    ],
)
def test_bad_hours_are_refused_naming_what_is_wrong_and_nothing_is_stored(
    store, time, martine, claire, args, field, message
):
    before = dump(store)
    with pytest.raises(DomainError) as error:
        time.enter(claire, martine["id"], *args)
    assert (error.value.field, error.value.message_fr) == (field, message)
    after = dump(store)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


def test_no_overlap_and_no_more_than_24_hours_a_day(store, time, martine, claire):
    time.enter(claire, martine["id"], "activity", "2026-11-30", "09:00", "12:00")
    with pytest.raises(Conflict) as error:
        time.enter(claire, martine["id"], "governance", "2026-11-30", "11:30", "13:00")
    assert (
        error.value.message_fr == "Ces heures chevauchent une autre présence de cette personne (09:00–12:00)."
    )
    time.enter(claire, martine["id"], "governance", "2026-11-30", "12:00", "13:00")  # touching is fine
    time.enter(claire, martine["id"], "activity", "2026-11-30", minutes=20 * 60)  # 24 h that day
    with pytest.raises(InvalidInput) as error:
        time.enter(claire, martine["id"], "activity", "2026-11-30", minutes=60)
    assert error.value.message_fr == "Cela ferait plus de 24 heures ce jour-là pour cette personne."


def test_a_correction_is_checked_like_an_entry_without_counting_itself(time, martine, claire):
    held = time.enter(claire, martine["id"], "activity", "2026-11-30", "09:00", "12:00")
    moved = time.correct(claire, held["id"], "activity", "2026-11-30", "10:00", "13:00")
    assert moved["minutes"] == 180
    with pytest.raises(InvalidInput):
        time.correct(claire, held["id"], "activity", "2026-11-30", minutes=-5)
    assert time.get(held["id"])["start"] == "10:00"


def test_removing_a_stretch_tells_the_hub_only_if_it_heard_of_it(store, time, martine, claire, clock):
    open_one = time.start(martine, "activity")
    time.remove(claire, open_one["id"])  # never sent: nothing to tell
    assert sent(store) == [] and time.current(martine) is None
    entered = time.enter(claire, martine["id"], "activity", "2026-11-30", minutes=90)
    time.remove(claire, entered["id"])
    assert [(d["removed"], d["version"]) for d in sent(store)] == [(False, 1), (True, 2)]
    assert time.between("2026-11-01", "2026-12-01") == []
    with pytest.raises(NotFound):
        time.correct(claire, entered["id"], "activity", "2026-11-30", minutes=60)


def test_every_version_is_a_valid_event_of_the_protocol(store, time, martine, claire, clock):
    time.start(martine, "activity")
    clock.advance(hours=1)
    done = time.finish(martine)
    time.correct(claire, done["id"], "governance", "2026-12-01", minutes=45)
    for event in events(store, "volunteering.recorded"):
        assert protocol.validate_event(event) == event
    assert len({e["data"]["volunteer_id"] for e in events(store, "volunteering.recorded")}) == 1


@pytest.mark.parametrize(
    ("text", "minutes"), [("2h30", 150), ("2:30", 150), ("2h", 120), ("3", 180), ("45 min", 45), (90, 90)]
)
def test_durations_as_people_write_them(text, minutes):
    assert parse_duration(text) == minutes


def test_the_day_is_the_paris_day_across_midnight_utc(store, time, martine, clock):
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # 0:30 on 1 December in Paris
    stretch = time.start(martine, "activity")
    assert stretch["day"] == "2026-12-01"
    clock.advance(minutes=45)
    assert time.finish(martine)["minutes"] == 45
    assert timedelta(minutes=45) == timedelta(minutes=sent(store)[0]["minutes"])
