"""An invite's short code to type (« K7P4-QX9M »), against a real hub
process: the hub trades it for the invite, tells an unknown, an expired, a
used and a blocked code apart, counts wrong codes per invite (burnt after
``relay.MAX_SHORT_TRIES``) and per client address."""

from __future__ import annotations

import re

import sqlalchemy as sa

from federation import relay, store
from tests.test_hub_relay import Device, new_centre

pytest_plugins = ["tests.conftest_hub"]

SHORT = re.compile(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")
LOOKUP = "/api/v1/relay/invites/lookup"


def invite(device: Device) -> dict:
    made = device.http.post(
        "/api/v1/relay/invites", json={"verify_key": bytes(device.keys.verify_key).hex()}
    ).json()
    assert SHORT.fullmatch(made["short_code"]), made
    return made


def lookup(hub, code: str):
    with hub.client() as http:  # the new device has no token yet
        return http.post(LOOKUP, json={"code": code})


def wrong_code_in_its_slot(code: str) -> str:
    """The same first characters (the invite's slot), another ending."""
    last = "A" if code[-1] != "A" else "B"
    return code[:-1] + last


def test_a_short_code_names_the_invite_its_key_and_a_code_to_enrol_with(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    made = invite(reception)
    found = lookup(shared_hub, made["short_code"].lower().replace("-", " "))  # typed by a person
    assert found.status_code == 200, found.text
    answer = found.json()
    assert answer["invite_id"] == made["invite_id"] and answer["inviter_id"] == reception.id
    assert answer["inviter_key"] == bytes(reception.keys.verify_key).hex()
    assert answer["expires_at"] == made["expires_at"]
    newcomer = Device(shared_hub, shared_hub.enrol(answer["code"]), reception.keyring)
    assert newcomer.centre == reception.centre
    joined = newcomer.http.post(
        f"/api/v1/relay/invites/{made['invite_id']}/join",
        json={"verify_key": bytes(newcomer.keys.verify_key).hex()},
    )
    assert joined.status_code == 200
    # once a device joined, the code is used
    again = lookup(shared_hub, made["short_code"])
    assert again.status_code == 409 and again.json()["error"].startswith("used")


def test_wrong_codes_count_and_burn_the_invite(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    made = invite(reception)
    wrong = wrong_code_in_its_slot(made["short_code"])
    for _ in range(relay.MAX_SHORT_TRIES):
        refused = lookup(shared_hub, wrong)
        assert refused.status_code == 403 and refused.json()["error"].startswith("unknown")
    # the right code comes too late: the invite is burnt
    burnt = lookup(shared_hub, made["short_code"])
    assert burnt.status_code == 410 and burnt.json()["error"].startswith("burnt")
    # and a code of the wrong form is refused as such
    assert lookup(shared_hub, "K7P4-QX9").status_code == 400
    assert lookup(shared_hub, "O0I1-LQX9").status_code == 400


def test_an_expired_short_code_is_told_apart_from_an_unknown_one(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    made = invite(reception)
    engine = store.create_engine(shared_hub.db_url)
    with store.writer(engine) as conn, conn.begin():
        conn.execute(
            sa.update(store.relay_invites)
            .where(store.relay_invites.c.id == made["invite_id"])
            .values(expires_at="2020-01-01T00:00:00.000Z")
        )
    engine.dispose()
    late = lookup(shared_hub, made["short_code"])
    assert late.status_code == 410 and late.json()["error"].startswith("expired")


def test_a_client_guessing_codes_is_held_back(hub_server):
    hub = hub_server(pre_auth_rate_limit=3)
    (reception,) = new_centre(hub, devices=1)
    made = invite(reception)
    answers = [lookup(hub, wrong_code_in_its_slot(made["short_code"])).status_code for _ in range(4)]
    assert answers == [403, 403, 403, 429]
    # the invite holds no record of the guess held back at the door
    engine = store.create_engine(hub.db_url)
    with engine.connect() as conn:
        tries = conn.execute(
            sa.select(store.relay_invites.c.tries).where(store.relay_invites.c.id == made["invite_id"])
        ).scalar_one()
    engine.dispose()
    assert tries == 3


def test_the_hub_keeps_only_the_short_code_s_hash(shared_hub):
    (reception,) = new_centre(shared_hub, devices=1)
    made = invite(reception)
    engine = store.create_engine(shared_hub.db_url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(store.relay_invites).where(store.relay_invites.c.id == made["invite_id"])
        ).one()
    engine.dispose()
    code = made["short_code"].replace("-", "")
    assert code not in repr(tuple(row)) and row.short_slot == code[: relay.SHORT_SLOT]
