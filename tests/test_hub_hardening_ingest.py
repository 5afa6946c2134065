"""What a hostile device can send the hub, and what the hub keeps of it.

Against a real `federation serve` on SQLite and on PostgreSQL: personal
field names anywhere refuse the event; unknown fields are dropped, named in
the answer, never stored; strings that are not storable text, times out of
range and a NUL get a clear refusal (never a 5xx) while the good events of
the batch are stored; events dated outside the hub's window are parked, not
stored; the version string and the gzip body are read strictly; what an
older hub stored is cleaned by the schema step; the kiosk's client parks
what the hub refused and marks sent only what it holds.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import ingest
from federation import store as db
from sync import client, outbox, protocol
from tests.conftest_hub import start_hub

NOW = datetime.now(UTC).replace(microsecond=0)
NAME = "Aïcha"


def visit(at: datetime = NOW, **data) -> dict:
    return {
        "id": protocol.new_id(),
        "type": "visit.recorded",
        "occurred_at": protocol.utc_iso(at),
        "data": {
            "visit_id": protocol.new_id(),
            "member_id": None,
            "reason": "accueil",
            "recorded_by": "resident",
        }
        | data,
    }


def member(kind: str, member_id: str, at: datetime = NOW) -> dict:
    return {
        "id": protocol.new_id(),
        "type": kind,
        "occurred_at": protocol.utc_iso(at),
        "data": {
            "member_id": member_id,
            "age_band": "25-54",
            "gender": "woman",
            "commune": "Lyon",
            "neighbourhood": "Les Minguettes",
            "qpv": True,
        },
    }


def batch(*events: dict, **envelope) -> dict:
    return {"protocol": protocol.PROTOCOL_VERSION, "events": list(events)} | envelope


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request, tmp_path_factory):
    """One hub for the module, on each database."""
    folder = tmp_path_factory.mktemp("hub")
    url = (
        f"sqlite:///{folder / 'federation.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_cluster").new_database()
    )
    server = start_hub(url, folder, rate_limit=0, pre_auth_rate_limit=0)
    server.engine = db.create_engine(url)
    yield server
    server.engine.dispose()
    server.stop()


@pytest.fixture
def device(served) -> dict:
    return served.new_device()


@pytest.fixture
def api(served, device):
    with served.client(device["device_token"]) as http:
        yield http


def post(api, body: object, raw: bytes | None = None, **headers) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return api.post(
        "/api/v1/batches", content=content, headers={"Content-Type": "application/json", **headers}
    )


def send(api, *events: dict) -> dict:
    response = post(api, batch(*events))
    assert response.status_code == 200, response.text
    return response.json()


def held(served, table: sa.Table, centre_id: str) -> list[dict]:
    with served.engine.connect() as conn:
        return [
            dict(row._mapping) for row in conn.execute(sa.select(table).where(table.c.centre_id == centre_id))
        ]


def every_text(engine) -> str:
    """Every value of every table of the hub's database, as one text."""
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in tables.sorted_tables for row in conn.execute(sa.select(table))
        )


def rejected_fields(answer: dict) -> dict[str, str]:
    return {item["id"]: item["field"] for item in answer["rejected"]}


# ---------------------------------------------------------------- personal data and unknown fields

PERSONAL = [
    ("first_name", lambda e: e.update(first_name=NAME)),
    ("phone", lambda e: e.update(phone="0601020304")),
    ("data.Last_Name", lambda e: e["data"].update(Last_Name=NAME)),
    ("data.nom", lambda e: e["data"].update(nom=NAME)),
    ("data.prenom", lambda e: e["data"].update(prenom=NAME)),
    ("data.telephone", lambda e: e["data"].update(telephone="0601020304")),
    ("data.courriel", lambda e: e["data"].update(courriel="aicha@example.org")),
    ("data.Prénom", lambda e: e["data"].update({"Prénom": NAME})),
    ("data.member.first_name", lambda e: e["data"].update(member={"first_name": NAME})),
    (
        "data.notes[1].dateDeNaissance",
        lambda e: e["data"].update(notes=[1, {"dateDeNaissance": "1990-01-01"}]),
    ),
    ("extra.contact.EMAIL", lambda e: e.update(extra={"contact": {"EMAIL": "aicha@example.org"}})),
]


def test_a_personal_field_anywhere_refuses_its_event_naming_the_field(served, api, device):
    good = visit()
    bad = []
    for _field, damage in PERSONAL:
        event = visit()
        damage(event)
        bad.append(event)
    answer = send(api, good, *bad)
    assert answer["stored"] == [good["id"]]
    assert rejected_fields(answer) == {
        event["id"]: field for event, (field, _) in zip(bad, PERSONAL, strict=True)
    }
    assert all("personal data" in item["reason"] for item in answer["rejected"])
    assert NAME not in every_text(served.engine) and "0601020304" not in every_text(served.engine)


def test_unknown_fields_are_dropped_named_and_never_stored(served, api, device):
    event = visit()
    event["data"]["note"] = "x" * 1000
    event["source"] = {"app": "future kiosk"}
    answer = send(api, event)
    assert answer["stored"] == [event["id"]]
    assert answer["dropped"] == [{"id": event["id"], "index": 0, "fields": ["source", "data.note"]}]
    [row] = held(served, db.events, device["centre_id"])
    clean = dict(event, data={k: v for k, v in event["data"].items() if k != "note"})
    del clean["source"]
    assert row["body"] == protocol.canonical_json(clean)
    # sent again with its extras: a replay of what was stored, not a conflict
    again = send(api, event)
    assert again["duplicates"] == [event["id"]] and again["rejected"] == []


def test_a_small_gzip_request_cannot_store_a_large_body_nor_fill_the_conflicts(served, api, device):
    """30 kB of gzip that used to store a 31 MB event body; then variants of
    one id, each 6 MB, that were all kept among the conflicts."""
    event = visit()
    event["data"]["padding"] = "A" * (31 * 1024 * 1024)
    raw = gzip.compress(json.dumps(batch(event)).encode())
    assert len(raw) < 64 * 1024
    response = post(api, None, raw=raw, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["stored"] == [event["id"]]
    for reason in ("autre", "atelier", "permanence", "demarches", "ordinateur"):
        variant = dict(event, data=dict(event["data"], reason=reason, padding="B" * (6 * 1024 * 1024)))
        answer = post(
            api, None, raw=gzip.compress(json.dumps(batch(variant)).encode()), **{"Content-Encoding": "gzip"}
        ).json()
        assert rejected_fields(answer) == {event["id"]: "id"}  # a conflict
    kept = held(served, db.events, device["centre_id"]) + held(served, db.conflicts, device["centre_id"])
    assert len(kept) == 6 and max(len(row["body"]) for row in kept) < 1000


def test_conflicts_and_parked_events_are_kept_up_to_a_limit_a_device(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_KEPT_PER_DEVICE", 3)
    engine = db.open_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    from federation import centres

    with db.writer(engine) as conn, conn.begin():
        centre_id, _code = centres.add_centre(conn, "Centre")
    received = protocol.utc_iso(NOW)
    first = visit()
    variants = [dict(first, data=dict(first["data"], reason=f"r{n}")) for n in range(6)]
    future = [visit(NOW + timedelta(days=400)) for _ in range(6)]
    with db.writer(engine) as conn, conn.begin():
        ingest.ingest(conn, batch(first), centre_id, "device-1", received)
        for variant in variants:
            answer = ingest.ingest(conn, batch(variant), centre_id, "device-1", received)
            assert answer.rejected[0]["field"] == "id"
        answer = ingest.ingest(conn, batch(*future), centre_id, "device-1", received)
        assert [item["field"] for item in answer.rejected] == ["occurred_at"] * 6  # every one answered
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (db.conflicts, db.parked)
        ]
    assert counts == [3, 3]
    engine.dispose()


def test_an_erasure_redacts_the_parked_copies_of_the_member_s_events_too(hub_db_url):
    from federation import centres

    engine = db.open_engine(hub_db_url)
    with db.writer(engine) as conn, conn.begin():
        centre_id, _code = centres.add_centre(conn, "Centre")
    received = protocol.utc_iso(NOW)
    before, after = protocol.new_id(), protocol.new_id()
    with db.writer(engine) as conn, conn.begin():
        ingest.ingest(
            conn, batch(member("member.created", before, NOW + timedelta(days=5))), centre_id, "d", received
        )
        ingest.ingest(
            conn,
            batch(member("member.erased", before), member("member.erased", after)),
            centre_id,
            "d",
            received,
        )
        ingest.ingest(
            conn, batch(member("member.updated", after, NOW + timedelta(days=5))), centre_id, "d", received
        )
    with engine.connect() as conn:
        parked = [json.loads(body) for body in conn.execute(sa.select(db.parked.c.body)).scalars()]
    assert sorted(event["data"]["member_id"] for event in parked) == sorted([before, after])
    assert all(
        event["data"] == {"member_id": event["data"]["member_id"], "redacted": True} for event in parked
    )
    assert "Minguettes" not in every_text(engine)
    engine.dispose()


# ---------------------------------------------------------------- never a 5xx


@pytest.mark.parametrize(
    "where", ["data.reason", "data.commune", "title", "unknown", "type", "occurred_at", "id"]
)
def test_a_lone_surrogate_anywhere_is_refused_or_dropped_never_a_500(served, api, device, where):
    good = visit()
    if where in ("data.reason", "unknown", "type", "occurred_at", "id"):
        event = visit()
        if where == "data.reason":
            event["data"]["reason"] = "ok\ud800"
        elif where == "unknown":
            event["data"]["note\udfff"] = "ok\ud800"
        else:
            event[where] = "ok\ud800"
    elif where == "data.commune":
        event = member("member.created", protocol.new_id())
        event["data"]["commune"] = "Lyon\ud800"
    else:
        event = {
            "id": protocol.new_id(),
            "type": "workshop.created",
            "occurred_at": protocol.utc_iso(NOW),
            "data": {"workshop_id": protocol.new_id(), "title": "Café\udc00", "theme": "accueil"},
        }
    # json.dumps writes the lone surrogates as \ud800 escapes, as an attacker would
    response = post(api, batch(good, event))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert good["id"] in answer["stored"]
    if where == "unknown":
        assert answer["stored"] == [good["id"], event["id"]] and answer["dropped"][0]["fields"] == [
            "data.note?"
        ]
    else:
        [item] = answer["rejected"]
        assert item["index"] == 1 and item["field"] == ("data.title" if where == "title" else where)
    assert {row["event_id"] for row in held(served, db.events, device["centre_id"])} == set(answer["stored"])


@pytest.mark.parametrize(
    "field,value",
    [
        ("occurred_at", "9999-12-31T23:59:59.999Z"),
        ("occurred_at", "0001-01-01T00:00:00+01:00"),
        ("occurred_at", "0001-01-01T00:00:00.000Z"),
        ("data.starts_at", "9999-12-31T23:59:59.999Z"),
        ("data.ends_at", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_times_out_of_range_are_refused_naming_them(served, api, device, field, value):
    session = {
        "id": protocol.new_id(),
        "type": "session.created",
        "occurred_at": protocol.utc_iso(NOW),
        "data": {
            "session_id": protocol.new_id(),
            "workshop_id": protocol.new_id(),
            "starts_at": protocol.utc_iso(NOW),
            "ends_at": protocol.utc_iso(NOW + timedelta(hours=2)),
            "capacity": 12,
        },
    }
    if field == "occurred_at":
        session["occurred_at"] = value
    else:
        session["data"][field.split(".")[1]] = value
    good = visit()
    answer = send(api, good, session)
    assert answer["stored"] == [good["id"]]
    assert rejected_fields(answer) == {session["id"]: field}
    status = httpx.get(f"{served.url}/api/v1/status", headers=api.headers).json()
    assert status["last_occurred_at"] < "2100"


def test_a_nul_in_a_stored_string_is_refused_and_in_an_unknown_field_dropped(served, api, device):
    with_nul = member("member.created", protocol.new_id())
    with_nul["data"]["neighbourhood"] = "Les\x00Minguettes"
    extra = visit(note="a\x00b")
    answer = send(api, with_nul, extra)
    assert answer["stored"] == [extra["id"]]
    assert rejected_fields(answer) == {with_nul["id"]: "data.neighbourhood"}


@pytest.mark.parametrize("label", ["Borne\x00accueil", "Borne\ud800", "Borne\naccueil"])
def test_an_enrolment_label_that_cannot_be_stored_is_refused_naming_it(served, label):
    _centre, code = served.add_centre()
    response = httpx.post(
        f"{served.url}/api/v1/enrol",
        content=json.dumps({"code": code, "label": label}),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "label"
    # the code was not spent on the refusal
    assert served.enrol(code)["device_token"]


def test_reasons_are_codes(served, api, device):
    formula = visit(reason='=HYPERLINK("http://x","clic")')
    spaced = visit(reason="Rendez vous")
    good = visit(reason="rendez_vous")
    answer = send(api, formula, spaced, good)
    assert answer["stored"] == [good["id"]]
    assert rejected_fields(answer) == {formula["id"]: "data.reason", spaced["id"]: "data.reason"}


# ---------------------------------------------------------------- dates held to sense


def test_events_outside_the_window_are_parked_with_the_reason_not_stored(served, api, device):
    good = visit(NOW - timedelta(days=30))
    late = [
        visit(datetime(2100, 1, 1, tzinfo=UTC)),
        visit(NOW + timedelta(days=2)),
        visit(NOW - timedelta(days=365 * 11)),
    ]
    answer = send(api, good, *late)
    assert answer["stored"] == [good["id"]]
    assert rejected_fields(answer) == {event["id"]: "occurred_at" for event in late}
    assert all("window" in item["reason"] for item in answer["rejected"])
    parked = held(served, db.parked, device["centre_id"])
    assert sorted(row["event_id"] for row in parked) == sorted(event["id"] for event in late)
    assert all("window" in row["reason"] and row["device_id"] == device["device_id"] for row in parked)
    assert [row["event_id"] for row in held(served, db.events, device["centre_id"])] == [good["id"]]
    # sent again: still refused, parked once
    assert rejected_fields(send(api, *late)) == {event["id"]: "occurred_at" for event in late}
    status = httpx.get(f"{served.url}/api/v1/status", headers=api.headers).json()
    assert status["events_total"] == 1 and status["events_parked"] == 3
    assert status["last_occurred_at"] == good["occurred_at"]


def test_the_centre_page_counts_its_parked_events(served, api, device):
    from federation import users
    from tests.hub_sample import sign_in

    email = f"{protocol.new_id()}@federation.example"
    users.add_user(served.engine, email, "un mot de passe solide")
    send(api, visit(NOW + timedelta(days=3)), visit(NOW + timedelta(days=4)))
    with httpx.Client(base_url=served.url, timeout=30) as browser:
        assert sign_in(browser, email, "un mot de passe solide").status_code == 303
        page = browser.get(f"/centres/{device['centre_id']}")
    assert page.status_code == 200
    assert "2 événement(s) mis de côté" in page.text


# ---------------------------------------------------------------- the envelope, read strictly


@pytest.mark.parametrize("version", ["١.٠", "1.0\n", "1.0 ", "+1.0", "1." + "0" * 5000])
def test_the_version_string_is_ascii_digits_only(api, version):
    response = post(api, batch(visit(), protocol=version))
    assert response.status_code == 400 and response.json()["field"] == "protocol"


@pytest.mark.parametrize("tail", [b"garbage", b"\x00", "second member"])
def test_bytes_after_the_first_gzip_member_are_refused(served, api, device, tail):
    body = json.dumps(batch(visit())).encode()
    tail = gzip.compress(body) if tail == "second member" else tail
    response = post(api, None, raw=gzip.compress(body) + tail, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400 and response.json()["field"] == "body"
    assert "after its end" in response.json()["error"]
    assert held(served, db.events, device["centre_id"]) == []


# ---------------------------------------------------------------- the kiosk's side of a refusal


def test_the_kiosk_parks_what_the_hub_refused_and_marks_sent_only_what_it_holds(served, store):
    """A kiosk whose outbox holds events the hub refuses (a personal field,
    a date outside the window) pushes the rest; the refused ones are parked
    on the kiosk with the hub's reason, never marked sent, never blocking
    the events recorded after them."""
    device = served.new_device()
    token = device["device_token"]
    named, future = visit(), visit(NOW + timedelta(days=30))
    named["data"]["prenom"] = NAME
    with store.transaction():
        first = store.emit("visit.recorded", visit()["data"], NOW)
        for event in (named, future):
            # queued as a tampered kiosk would: past its own validator
            store.conn.execute(
                "INSERT INTO outbox (event_id, type, occurred_at, body) VALUES (?, ?, ?, ?)",
                (event["id"], event["type"], event["occurred_at"], protocol.canonical_json(event)),
            )
        last = store.emit("visit.recorded", visit()["data"], NOW)
    result = client.push(store.conn, served.url, token, timeout=(5, 30))
    assert result.stored == 2 and result.parked == 2
    assert outbox.counts(store.conn)["pending"] == 0
    reasons = dict(
        store.conn.execute("SELECT event_id, parked_reason FROM outbox WHERE state = 'parked'").fetchall()
    )
    assert set(reasons) == {named["id"], future["id"]}
    assert reasons[named["id"]].startswith("data.prenom: personal data")
    assert "window" in reasons[future["id"]]
    sent = {row[0] for row in store.conn.execute("SELECT event_id FROM outbox WHERE state = 'sent'")}
    assert {first, last} <= sent or outbox.sent_through(store.conn) > 0
    with store.transaction():
        later = store.emit("visit.recorded", visit()["data"], NOW)
    again = client.push(store.conn, served.url, token, timeout=(5, 30))
    assert again.stored == 1 and again.parked == 0
    assert {row["event_id"] for row in held(served, db.events, device["centre_id"])} == {first, last, later}
    assert NAME not in every_text(served.engine)


# ---------------------------------------------------------------- what an older hub stored


def test_schema_5_cleans_what_an_older_hub_stored(hub_db_url):
    """Events and conflicts an older hub stored with extra fields (names
    among them, nested too) are rebuilt from the allow-list; one dated 9999
    is parked and the counts no longer reach it; a replay of an event that
    had an unknown field is still a replay; an erasure then leaves no name."""
    from tests.test_hub_store import at_version

    engine = at_version(hub_db_url, 3)
    centre_id, device_id, member_id = protocol.new_id(), protocol.new_id(), protocol.new_id()
    named = visit(first_name=NAME, member={"first_name": NAME})
    named["phone"] = "0601020304"
    noted = visit(note="from a newer kiosk")
    created = member("member.created", member_id)
    created["data"]["nom"] = NAME
    far = visit(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))
    other = dict(named, data=dict(named["data"], reason="autre"))
    received = protocol.utc_iso(NOW)
    with engine.begin() as conn:
        conn.execute(db.centres.insert().values(id=centre_id, name="Centre", created_at=received))
        conn.execute(
            db.events.insert(),
            [
                {
                    "centre_id": centre_id,
                    "event_id": event["id"],
                    "type": event["type"],
                    "occurred_at": event["occurred_at"],
                    "received_at": received,
                    "device_id": device_id,
                    "member_id": event["data"]["member_id"] if event["type"].startswith("member.") else None,
                    "body": protocol.canonical_json(event),
                    "content_hash": protocol.content_hash(event),
                }
                for event in (named, noted, created, far)
            ],
        )
        conn.execute(
            db.conflicts.insert().values(
                centre_id=centre_id,
                event_id=other["id"],
                device_id=device_id,
                received_at=received,
                body=protocol.canonical_json(other),
                content_hash=protocol.content_hash(other),
                stored_hash=protocol.content_hash(named),
            )
        )
    assert db.migrate(engine) == db.LATEST_VERSION
    assert NAME not in every_text(engine) and "0601020304" not in every_text(engine)
    with engine.connect() as conn:
        bodies = {
            row.event_id: (json.loads(row.body), row.content_hash)
            for row in conn.execute(sa.select(db.events))
        }
        [parked] = conn.execute(sa.select(db.parked)).all()
        counts = conn.execute(sa.select(db.event_counts)).all()
    assert set(bodies) == {named["id"], noted["id"], created["id"]}
    allowed = protocol.allowed_fields("visit.recorded")
    assert bodies[named["id"]][0] == {
        "id": named["id"],
        "type": named["type"],
        "occurred_at": named["occurred_at"],
        "data": {k: v for k, v in named["data"].items() if k in allowed},
    }
    for body, digest in bodies.values():
        assert body.keys() == {"id", "type", "occurred_at", "data"}
        assert body["data"].keys() <= protocol.allowed_fields(body["type"])
        assert digest == protocol.content_hash(body)
    assert parked.event_id == far["id"] and "window" in parked.reason
    assert max(row.last_occurred_at for row in counts) < "2100"
    assert sum(row.events for row in counts) == 3
    with db.writer(engine) as conn, conn.begin():
        replay = ingest.ingest(conn, batch(noted), centre_id, device_id, received)
        erased = ingest.ingest(
            conn, batch(member("member.erased", member_id)), centre_id, device_id, received
        )
    assert replay.duplicates == [noted["id"]] and erased.stored and not erased.rejected
    assert NAME not in every_text(engine) and "Minguettes" not in every_text(engine)
    engine.dispose()


# ---------------------------------------------------------------- any JSON in any field

#: any JSON value: strings with any code point, lone surrogates and NUL included
_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _ANY_TEXT
    | st.sampled_from(
        [
            "",
            "accueil",
            "2026-11-26T09:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "0001-01-01T00:00:00+01:00",
            "١.٠",
            "a\x00b",
            "ok\ud800",
            "=SUM(1)",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_ANY_TEXT | st.sampled_from(sorted(protocol.FORBIDDEN_FIELDS)), inner, max_size=3)
    ),
    max_leaves=8,
)


def _valid_data(kind: str, draw) -> dict:
    """Every field of ``kind`` filled with a value it accepts."""
    samples = {
        "_uuid": lambda: protocol.new_id(),
        "_timestamp": lambda: protocol.utc_iso(NOW),
        "_bool": lambda: True,
        "_count": lambda: 12,
        "_code": lambda: "accueil",
        "_year": lambda: 1985,
        "_day": lambda: "2026-11-26",
        "_minutes": lambda: 90,
    }
    data = {}
    for field, (check, _required) in protocol.EVENT_TYPES[kind].items():
        check = getattr(check, "inner", check)
        if hasattr(check, "choices"):
            data[field] = draw(st.sampled_from(sorted(check.choices)))
        elif hasattr(check, "max_len"):
            data[field] = "Lyon 8e"
        else:
            data[field] = samples[check.__name__]()
    return data


@st.composite
def hostile_events(draw) -> dict:
    """A valid event whose fields, any of them, may hold any JSON value, with
    any extra fields, at the top or in its data."""
    kind = draw(st.sampled_from(sorted(protocol.EVENT_TYPES)))
    event = {
        "id": protocol.new_id(),
        "type": kind,
        "occurred_at": protocol.utc_iso(NOW - timedelta(minutes=draw(st.integers(0, 10_000)))),
        "data": _valid_data(kind, draw),
    }
    fields = [(event, "id"), (event, "type"), (event, "occurred_at")] + [
        (event["data"], f) for f in event["data"]
    ]
    for _ in range(draw(st.integers(0, 2))):  # a field's value replaced by any JSON value
        holder, field = draw(st.sampled_from(fields))
        holder[field] = draw(_JSON)
    for _ in range(draw(st.integers(0, 2))):  # a field added, at the top or in the data
        key = draw(_ANY_TEXT | st.sampled_from(["note", "source", "Nom", "member", "redacted"]))
        draw(st.sampled_from([event, event["data"]]))[key] = draw(_JSON)
    if draw(st.integers(0, 7)) == 0:
        event["data"] = draw(_JSON)
    return event


def _walk_stored(engine) -> int:
    """Check every stored body (events, conflicts, parked) against the
    allow-list; return how many there are."""
    seen = 0
    with engine.connect() as conn:
        for table in (db.events, db.conflicts, db.parked):
            for (body,) in conn.execute(sa.select(table.c.body)):
                event = json.loads(body)
                assert event.keys() == {"id", "type", "occurred_at", "data"}, body
                if event["data"].get("redacted") is True:  # an erased member's event
                    assert event["data"].keys() == {"member_id", "redacted"}, body
                else:
                    assert protocol.check_event(event) == (event, []), body
                seen += 1
    return seen


@pytest.fixture
def in_process_hub(hub_db_url):
    from fastapi.testclient import TestClient

    from federation import app as hub_app
    from federation import centres

    app = hub_app.create_app(hub_db_url, pre_auth_per_minute=0)
    with db.writer(app.state.engine) as conn, conn.begin():
        _centre, code = centres.add_centre(conn, "Centre social Les Tilleuls")
        token = centres.enrol(conn, code, "Borne")["device_token"]
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http, app.state.engine
    app.state.engine.dispose()


def test_any_json_in_any_field_never_fails_the_hub_nor_stores_what_is_not_allowed(in_process_hub, hub_db_url):
    http, engine = in_process_hub
    stored_ever = []

    @given(st.lists(hostile_events(), min_size=1, max_size=3))
    @settings(
        max_examples=150 if hub_db_url.startswith("sqlite") else 60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(events):
        response = http.post(
            "/api/v1/batches",
            content=json.dumps(batch(*events)).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            answer = response.json()
            placed = (
                set(answer["stored"]) | set(answer["duplicates"]) | {r["index"] for r in answer["rejected"]}
            )
            for index, event in enumerate(events):
                event_id = event.get("id") if isinstance(event, dict) else None
                assert (type(event_id) is str and event_id in placed) or index in placed
            stored_ever.extend(answer["stored"])
        else:
            assert response.json()["error"]
        _walk_stored(engine)

    run()
    assert stored_ever  # the generator also makes events the hub takes
