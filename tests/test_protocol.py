import json
import os
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import protocol

WHEN = datetime(2026, 11, 26, 14, 3, 7, 123456, tzinfo=UTC)


def visit(**data):
    base = {"visit_id": protocol.new_id(), "member_id": None, "reason": "accueil", "recorded_by": "resident"}
    base.update(data)
    return base


def test_new_id_is_a_time_ordered_uuid7():
    ids = [protocol.new_id() for _ in range(1000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(p.version == 7 for p in parsed)
    assert all(p.variant == uuid.RFC_4122 for p in parsed)
    assert len(set(ids)) == 1000
    stamps = [p.int >> 80 for p in parsed]
    assert stamps == sorted(stamps)


def test_ids_made_in_one_millisecond_still_sort_in_making_order():
    # a thousand ids take well under a few milliseconds: many share one
    ids = [protocol.new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len({i[:13] for i in ids}) < len(ids)  # several per millisecond


def test_ids_are_the_text_uuid_writes_and_use_fresh_randomness_past_the_buffer():
    # new_id reads OS randomness 4 KiB at a time: ids past one buffer stay unique
    ids = [protocol.new_id() for _ in range(3000)]
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert len({i[-12:] for i in ids}) == len(ids)


def test_a_forked_child_does_not_repeat_its_parent_s_ids():
    protocol.new_id()  # the parent holds unread random bytes when it forks
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write_end, ",".join(protocol.new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write_end)
    parent = {protocol.new_id()[-17:] for _ in range(50)}
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child = {i[-17:] for i in pipe.read().split(",")}
    assert len(child) == 50 and not parent & child


def test_utc_iso_is_millisecond_z_and_parses_back():
    text = protocol.utc_iso(WHEN)
    assert text == "2026-11-26T14:03:07.123Z"
    assert protocol.parse_utc(text) == WHEN.replace(microsecond=123000)


def test_utc_iso_refuses_naive_times():
    with pytest.raises(ValueError):
        protocol.utc_iso(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T99:00:00.000Z",
        "2026-12-01T24:00:00.000Z",
        "2026-12-01T10:60:00.000Z",
        "2026-02-30T10:00:00.000Z",
        "2300-01-01T10:00:00.000Z",
        "1899-12-31T23:59:59.999Z",
        "2026-12-01T10:00:00Z ",
    ],
)
def test_utc_text_refuses_what_is_not_a_protocol_time(text):
    """The one reading of a time: the hub's copy of the pattern once took hour 99 as canonical text."""
    assert protocol.UTC_ISO_RE.fullmatch(text) is None or text.startswith("2026-02-30")
    with pytest.raises(ValueError):
        protocol.utc_text(text)
    # the validator reads times the same way
    event = {
        "id": protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": text,
        "data": {"visit_id": protocol.new_id(), "reason": "accueil", "recorded_by": "staff"},
    }
    with pytest.raises(protocol.ProtocolError, match="occurred_at"):
        protocol.check_event(event)


@pytest.mark.parametrize(
    "text,canonical",
    [
        ("2026-12-01T10:00:00.000Z", "2026-12-01T10:00:00.000Z"),
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00.000Z"),
        ("2026-12-01T11:00:00.000+01:00", "2026-12-01T10:00:00.000Z"),
        ("2026-12-01T00:30:00.000+01:00", "2026-11-30T23:30:00.000Z"),
    ],
)
def test_utc_text_writes_every_protocol_time_as_utc_iso(text, canonical):
    assert protocol.utc_text(text) == canonical


@pytest.mark.parametrize(
    "birth_year,band",
    [
        (2020, "0-15"),
        (2010, "16-24"),
        (2000, "25-54"),
        (1970, "55-64"),
        (1960, "65+"),
        (None, "unknown"),
    ],
)
def test_age_band(birth_year, band):
    assert protocol.age_band(birth_year, on=WHEN.date()) == band


def test_make_event_builds_a_valid_event():
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    assert event["type"] == "visit.recorded"
    assert event["occurred_at"] == "2026-11-26T14:03:07.123Z"
    assert protocol.validate_event(event) is event


@pytest.mark.parametrize("tail", ["\n", " ", "\r\n", "x"])
def test_an_id_with_anything_after_it_is_no_id(tail):
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.validate_event(dict(event, id=event["id"] + tail))
    assert refused.value.field == "id"
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.validate_event(
            dict(event, data=dict(event["data"], visit_id=event["data"]["visit_id"] + tail))
        )
    assert refused.value.field == "data.visit_id"
    assert protocol.is_id(event["id"]) and not protocol.is_id(event["id"] + tail)


@pytest.mark.parametrize(
    "data,field",
    [
        ({"reason": ""}, "data.reason"),
        ({"recorded_by": "robot"}, "data.recorded_by"),
        ({"member_id": "not-a-uuid"}, "data.member_id"),
        ({"first_name": "Aïcha"}, "data.first_name"),
        ({"phone": "0601020304"}, "data.phone"),
    ],
)
def test_bad_payloads_are_refused_naming_the_field(data, field):
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.make_event("visit.recorded", visit(**data), WHEN)
    assert error.value.field == field


def test_unknown_event_type_is_refused():
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.make_event("visit.teleported", visit(), WHEN)
    assert error.value.field == "type"


def test_canonical_json_is_stable_and_hash_tells_conflicts():
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    shuffled = json.loads(json.dumps(dict(reversed(list(event.items())))))
    assert protocol.canonical_json(event) == protocol.canonical_json(shuffled)
    other = dict(event, data=dict(event["data"], reason="autre"))
    assert protocol.content_hash(event) != protocol.content_hash(other)


def test_batch_from_texts_round_trips_through_validate_batch():
    events = [protocol.make_event("visit.recorded", visit(), WHEN) for _ in range(3)]
    body = json.loads(protocol.batch_from_texts([protocol.canonical_json(e) for e in events], "dev-1"))
    valid, rejected = protocol.validate_batch(body)
    assert valid == events and rejected == []
    assert body["device_id"] == "dev-1"


def test_validate_batch_rejects_bad_events_one_by_one():
    good = protocol.make_event("visit.recorded", visit(), WHEN)
    bad = dict(good, id=protocol.new_id(), type="nope")
    valid, rejected = protocol.validate_batch({"protocol": "1.0", "events": [good, bad, 42]})
    assert valid == [good]
    assert [r["index"] for r in rejected] == [1, 2]
    assert rejected[0]["id"] == bad["id"] and "unknown event type" in rejected[0]["reason"]


def test_a_repeated_event_in_one_batch_counts_once():
    good = protocol.make_event("visit.recorded", visit(), WHEN)
    valid, rejected = protocol.validate_batch({"protocol": "1.0", "events": [good, good]})
    assert valid == [good] and rejected == []


@pytest.mark.parametrize("version", ["2.0", "0.9", "one", None, 1])
def test_unknown_major_version_refuses_the_batch(version):
    with pytest.raises(protocol.UnsupportedVersion):
        protocol.validate_batch({"protocol": version, "events": []})


def test_a_newer_minor_version_is_accepted():
    valid, _ = protocol.validate_batch({"protocol": "1.7", "events": [], "new_field": 1})
    assert valid == []


def test_too_many_events_refuse_the_batch():
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.validate_batch({"protocol": "1.0", "events": [{}] * 11}, max_events=10)
    assert error.value.field == "events"


def test_validate_answer_requires_every_sent_id_accounted_for():
    a, b = protocol.new_id(), protocol.new_id()
    answer = {"protocol": "1.0", "stored": [a], "duplicates": [], "rejected": [{"id": b, "reason": "x"}]}
    assert protocol.validate_answer(answer, [a, b]) is answer
    with pytest.raises(protocol.ProtocolError):
        protocol.validate_answer({"protocol": "1.0", "stored": [a], "duplicates": [], "rejected": []}, [a, b])
    with pytest.raises(protocol.ProtocolError):
        protocol.validate_answer("<html>Portail wifi</html>", [a])


# ---------------------------------------------------------------- the batch fast path


_ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        1,
        -1,
        100_000,
        100_001,
        2**70,
        1.5,
        "",
        " ",
        "a\x00b",
        "accueil",
        "x" * 65,
        "x" * 201,
        "woman",
        "Woman",
        "25-54",
        "staff",
        [],
        {},
        ["accueil"],
        {"a": 1},
        "2026-11-26T09:00:00.000Z",
        "2026-02-30T09:00:00.000Z",
        "2026-11-26T24:00:00.000Z",
        "2026-11-26T09:00:00Z",
        "2026-11-26T09:00:00.000+01:00",
        "٢٠٢٦-11-26T09:00:00.000Z",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
        "0190a1b2c-3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5-",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5é",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
        "ok\ud800",
        "9999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00+01:00",
        "1899-12-31T23:59:59.999Z",
        "2199-12-31T23:59:59.999Z",
        "2200-01-01T00:00:00.000Z",
        "=HYPERLINK(1)",
        "a b",
        {"nom": "x"},
        [{"Prénom": 1}],
    ]
) | st.text(max_size=40)


def _sample_event(kind: str) -> dict:
    """A valid event of ``kind``, every field filled."""
    values = {
        "_uuid": protocol.new_id,
        "_timestamp": lambda: "2026-11-26T09:00:00.000Z",
        "_bool": lambda: True,
        "_count": lambda: 12,
        "_code": lambda: "accueil",
        "_year": lambda: 1985,
        "_day": lambda: "2026-11-26",
        "_minutes": lambda: 150,
    }
    data = {}
    for field, (check, _required) in protocol.EVENT_TYPES[kind].items():
        check = getattr(check, "inner", check)
        if hasattr(check, "choices"):
            data[field] = sorted(check.choices)[0]
        elif hasattr(check, "max_len"):
            data[field] = "Lyon 8e"
        else:
            data[field] = values[check.__name__]()
    return protocol.make_event(kind, data, WHEN)


@st.composite
def batches(draw):
    """Valid events of a few types, some of them then damaged: a field
    dropped, set to an odd value, added (forbidden or unknown), an id repeated."""
    kinds = draw(st.lists(st.sampled_from(sorted(protocol.EVENT_TYPES)), min_size=1, max_size=3))
    events = [_sample_event(draw(st.sampled_from(kinds))) for _ in range(draw(st.integers(1, 12)))]
    for _ in range(draw(st.integers(0, 3))):
        event = draw(st.sampled_from(events))
        how = draw(st.sampled_from(["drop", "odd", "add", "top", "repeat", "replace"]))
        if not (isinstance(event, dict) and isinstance(event.get("data"), dict)):
            continue  # damaged already
        if how == "drop":
            target = draw(st.sampled_from(["top", "data"]))
            holder = event if target == "top" else event["data"]
            if holder:
                holder.pop(draw(st.sampled_from(sorted(holder))))
        elif how == "odd":
            field = draw(st.sampled_from(sorted(event["data"]) + ["id", "type", "occurred_at"]))
            holder = event if field in ("id", "type", "occurred_at") else event["data"]
            holder[field] = draw(_ODD_VALUES)
        elif how == "add":
            event["data"][
                draw(st.sampled_from(sorted(protocol.FORBIDDEN_FIELDS) + ["extra", "Last_Name"]))
            ] = "x"
        elif how == "top":
            event[draw(st.sampled_from(["data", "extra"]))] = draw(_ODD_VALUES)
        elif how == "repeat":
            events.append(dict(event))
        else:
            events[events.index(event)] = draw(_ODD_VALUES)
    return events


@settings(max_examples=600, deadline=None)
@given(batches())
def test_a_batch_is_decided_event_by_event_by_check_event(events):
    """check_batch is check_event on each event (the one validator), the
    first copy of a repeated id kept, the others left out."""
    valid, rejected, dropped, seen = [], [], [], set()
    for index, event in enumerate(events):
        event_id = event.get("id") if isinstance(event, dict) else None
        try:
            clean, unknown = protocol.check_event(event)
        except protocol.ProtocolError as error:
            rejected.append(
                {
                    "id": protocol.answer_id(event_id),
                    "index": index,
                    "field": error.field,
                    "reason": str(error),
                }
            )
            continue
        if event_id in seen:
            continue
        seen.add(event_id)
        valid.append(clean)
        if unknown:
            dropped.append({"id": event_id, "index": index, "fields": unknown})
    assert protocol.check_batch({"protocol": "1.0", "events": events}) == (valid, rejected, dropped)


def test_the_usual_batches_are_valid_as_they_are():
    events = [_sample_event(kind) for kind in sorted(protocol.EVENT_TYPES) for _ in range(3)]
    assert protocol.check_batch({"protocol": "1.0", "events": events}) == (events, [], [])
    visits = [
        protocol.make_event("visit.recorded", visit(member_id=member), WHEN)
        for member in (None, protocol.new_id(), None)
    ]
    assert protocol.check_batch({"protocol": "1.0", "events": visits}) == (visits, [], [])


# ---------------------------------------------------------------- the allow-list


@pytest.mark.parametrize(
    "key",
    [
        "first_name",
        "Last_Name",
        "LASTNAME",
        "memberFirstName",
        "nom",
        "Prénom",
        "PRENOM",
        "téléphone",
        "telephone_portable",
        "courriel",
        "e-mail",
        "Adresse",
        "date de naissance",
        "dateOfBirth",
        "birth_year",
        "card_code",
        "phone_number",
        "nom_de_famille",
    ],
)
def test_personal_field_names_in_any_spelling_are_recognised(key):
    assert protocol.personal_field(key)


@pytest.mark.parametrize(
    "key",
    sorted(
        {f for fields in protocol.EVENT_TYPES.values() for f in fields}
        | {"id", "type", "occurred_at", "data", "note", "hotel", "nombre", "username", "place", "renamed"}
    ),
)
def test_allowed_and_harmless_field_names_are_not_taken_for_personal_ones(key):
    assert not protocol.personal_field(key)


def test_an_event_is_rebuilt_from_its_allowed_fields_and_names_what_it_dropped():
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    sent = dict(event, source="kiosk 2.0", data=dict(event["data"], note="x" * 10_000))
    clean, dropped = protocol.check_event(sent)
    assert clean == event and dropped == ["source", "data.note"]
    assert protocol.check_event(event) == (event, []) and protocol.check_event(event)[0] is event


def test_many_unknown_fields_are_named_up_to_a_bound():
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    sent = dict(event, data=dict(event["data"], **{f"x{n}": n for n in range(10_000)}))
    clean, dropped = protocol.check_event(sent)
    assert clean == event and len(dropped) == protocol.MAX_DROPPED_NAMED


def test_a_personal_field_nested_deeply_is_named_with_its_path():
    event = protocol.make_event("visit.recorded", visit(), WHEN)
    nested = {"a": [0, {"b": {"Nom": "Dupont"}}]}
    for _ in range(5000):  # deeper than Python's recursion limit
        nested = {"n": nested}
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.check_event(dict(event, data=dict(event["data"], extra=nested)))
    assert error.value.field == "…" + ("data.extra" + ".n" * 5000 + ".a[1].b.Nom")[-199:]


@pytest.mark.parametrize(
    "value,problem",
    [
        ("ok\ud800", "lone surrogate"),
        ("a\x00b", "control characters"),
    ],
)
def test_texts_a_database_cannot_hold_are_refused(value, problem):
    data = {"member_id": protocol.new_id(), "age_band": "25-54", "qpv": False, "commune": value}
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.make_event("member.created", data, WHEN)
    assert error.value.field == "data.commune" and problem in error.value.message


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00+01:00",
        "1899-12-31T23:59:59.999Z",
        "2200-01-01T00:00:00.000Z",
        "1900-01-01T00:30:00+01:00",
        "٢٠٢٦-11-26T09:00:00.000Z",
    ],
)
def test_times_outside_1900_to_2199_are_refused_without_overflow(text):
    event = dict(protocol.make_event("visit.recorded", visit(), WHEN), occurred_at=text)
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.validate_event(event)
    assert error.value.field == "occurred_at"


@pytest.mark.parametrize("version", ["١.٠", "1.0\n", "1.0 ", "1." + "0" * 5000, "1.0.0"])
def test_the_version_is_ascii_digits_a_dot_ascii_digits(version):
    with pytest.raises(protocol.UnsupportedVersion):
        protocol.check_version(version)


def member(**data):
    base = {"member_id": protocol.new_id(), "age_band": "25-54", "qpv": False}
    base.update(data)
    return {
        "id": protocol.new_id(),
        "type": "member.created",
        "occurred_at": "2026-11-26T14:03:07.123Z",
        "data": base,
    }


@pytest.mark.parametrize("year", [1900, 1985, 2026, None])
def test_a_member_event_may_carry_the_year_of_birth(year):
    event = member(year_born=year)
    clean, dropped = protocol.check_event(event)
    assert clean["data"]["year_born"] == year and dropped == []


@pytest.mark.parametrize("year", [1899, 2200, "1985", 1985.0, True, -1])
def test_a_year_of_birth_that_is_no_year_is_refused(year):
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.check_event(member(year_born=year))
    assert error.value.field == "data.year_born"


def test_a_1_0_hub_drops_the_year_of_birth_and_keeps_the_member(monkeypatch):
    """1.1 is a minor version: a hub that knows 1.0's allow-list only must
    store the event without the new field, not refuse it as personal data."""
    assert not protocol.personal_field("year_born")
    old = {kind: frozenset(fields - {"year_born"}) for kind, fields in protocol._ALLOWED.items()}
    monkeypatch.setattr(protocol, "_ALLOWED", old)
    clean, dropped = protocol.check_event(member(year_born=1985))
    assert "year_born" not in clean["data"] and clean["data"]["age_band"] == "25-54"
    assert dropped == ["data.year_born"]


@pytest.mark.parametrize(
    ("employment", "education"),
    [(code, level) for code in (*protocol.EMPLOYMENT_SITUATIONS, None) for level in ("isced_3_4", None)]
    + [(None, level) for level in protocol.EDUCATION_LEVELS],
)
def test_a_member_event_may_carry_the_fse_situation(employment, education):
    clean, dropped = protocol.check_event(member(employment=employment, education=education))
    assert (clean["data"]["employment"], clean["data"]["education"]) == (employment, education)
    assert dropped == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("employment", "handicap"), ("employment", "Employed"), ("employment", 1), ("education", "isced_9")],
)
def test_a_situation_outside_the_allow_list_is_refused(field, value):
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.check_event(member(**{field: value}))
    assert error.value.field == f"data.{field}"


def test_a_member_event_without_the_situation_is_still_accepted():
    """1.0 and 1.1 events, and a member who did not consent: no keys at all."""
    clean, dropped = protocol.check_event(member())
    assert "employment" not in clean["data"] and dropped == []
    assert not protocol.personal_field("employment") and not protocol.personal_field("education")


def test_a_date_of_birth_is_still_refused_whatever_its_spelling():
    for key in ("birth_year", "birthdate", "date_de_naissance", "dateOfBirth"):
        with pytest.raises(protocol.ProtocolError):
            protocol.check_event(member(**{key: 1985}))


def _stretch(**changes) -> dict:
    data = {
        "stretch_id": protocol.new_id(),
        "volunteer_id": protocol.new_id(),
        "kind": "governance",
        "day": "2026-11-26",
        "minutes": 120,
        "version": 1,
        "auto_closed": False,
        "removed": False,
    }
    data.update(changes)
    return {"id": protocol.new_id(), "type": "volunteering.recorded", "occurred_at": WHEN_TEXT, "data": data}


WHEN_TEXT = "2026-11-26T18:00:00.000Z"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("day", "2026-02-30"),
        ("day", "26/11/2026"),
        ("day", "2026-11-26\n"),
        ("minutes", -1),
        ("minutes", 1441),
        ("minutes", 90.5),
        ("minutes", True),
        ("kind", "holiday"),
        ("volunteer_id", "Martine Dupuis"),
    ],
)
def test_a_volunteers_stretch_is_refused_naming_its_bad_field(field, value):
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.validate_event(_stretch(**{field: value}))
    assert error.value.field == f"data.{field}"


def test_a_volunteers_stretch_carries_no_name_and_drops_what_it_does_not_name():
    event = _stretch()
    assert protocol.validate_event(event) == event
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.validate_event(_stretch(volunteer_name="Martine"))
    assert "personal data" in str(error.value)
    clean, dropped = protocol.check_event(_stretch(starts_at="2026-11-26T09:00:00.000Z"))
    assert dropped == ["data.starts_at"] and "starts_at" not in clean["data"]
