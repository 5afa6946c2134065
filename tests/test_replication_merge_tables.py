"""The merge rules for the rest of the centre's working data (visits, staff
accounts, shared settings, the audit log), property-based: three devices
record visits (by residents and by volunteers), add staff and change their
PINs, change the centre's settings and write audit lines, among the members'
registrations, edits, merges and erasures of tests/test_replication_merge.py;
they exchange in random order, with duplicates and losses, one of them away
for a while. After every merge: every visit points at a living member, at
the member a merged one was merged into, or at nobody (an erased member's
visit is an anonymous count); no erased person's name is anywhere; audit
lines are each as written. Once everything has been sent again, every
device holds the same data, and every audit line and visit ever made."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import protocol
from sync.replication import SHARED_SETTINGS, Change, Replica, digest
from tests.test_replication_merge import ACTIONS as MEMBER_ACTIONS
from tests.test_replication_merge import Device, World

SETTING_KEYS = sorted(SHARED_SETTINGS)


def raw_fields(replica: Replica, table: str, row: str) -> dict:
    """A row's fields as written, each last writer winning, before any rule."""
    fields: dict = {}
    for change in sorted(
        (c for c in replica.changes.values() if c.table == table and c.row == row), key=Change.sort_key
    ):
        fields.update(change.fields)
    return fields


class Centre(World):
    """The members' world, with the centre's other data: every visit and
    audit line made is remembered, to find it on every device at the end."""

    def __init__(self, skews: list[int]):
        super().__init__(skews)
        self.visits: set[str] = set()
        self.audit: dict[str, dict] = {}

    def act(self, device: Device, kind: str, pick: random.Random) -> None:
        state = device.replica.state()
        when = protocol.utc_iso(datetime.fromtimestamp(self.now[0] / 1000, UTC))
        staff = sorted(state.rows["staff"])
        living = sorted(m for m in state.rows["members"] if m not in state.erased and m not in state.merged)
        if kind == "staff" or (kind in ("pin", "withdraw", "volunteer_visit") and not staff):
            device.make(
                "staff",
                protocol.new_id(),
                {
                    "name": f"Bénévole {self.fresh_name()}",
                    "role": pick.choice(["volunteer", "staff"]),
                    "pin_salt": f"{pick.getrandbits(128):032x}",
                    "pin_hash": f"{pick.getrandbits(256):064x}",
                    "pin_params": "scrypt:n=16384,r=8,p=1",
                    "active": 1,
                    "created_at": when,
                    "updated_at": when,
                },
            )
        elif kind == "pin":
            device.make(
                "staff",
                pick.choice(staff),
                {"pin_salt": f"{pick.getrandbits(128):032x}", "pin_hash": f"{pick.getrandbits(256):064x}"},
            )
        elif kind == "withdraw":
            device.make("staff", pick.choice(staff), {"active": 0, "updated_at": when})
        elif kind == "setting":
            key = pick.choice(SETTING_KEYS)
            device.make("settings", key, {"value": f'"{key}-{pick.randrange(1000)}"'})
        elif kind == "volunteer_visit":
            visit = protocol.new_id()
            member = pick.choice([None, *living])
            device.make(
                "visits",
                visit,
                {
                    "occurred_at": when,
                    "member_id": member,
                    "reason": "accueil",
                    "recorded_by_role": "volunteer",
                    "recorded_by": pick.choice(staff),
                },
            )
            self.visits.add(visit)
            self.audit_line(device, "visit.check_in", when, visit_id=visit, member_id=member)
        elif kind == "audit":
            self.audit_line(device, "staff.login", when)
        else:
            before = {c.id for c in device.replica.changes.values() if c.table == "visits"}
            super().act(device, kind, pick)
            self.visits |= {c.row for c in device.replica.changes.values() if c.table == "visits"} - {
                c.row for c in device.replica.changes.values() if c.id in before
            }

    def audit_line(self, device: Device, action: str, when: str, **detail: object) -> None:
        import json

        line = protocol.new_id()
        fields = {"at": when, "action": action, "detail": json.dumps(detail, sort_keys=True)}
        device.make("audit_log", line, fields)
        self.audit[line] = fields

    def check_more(self, device: Device) -> None:
        self.check_invariants(device)  # the members' world's: seats, erased names…
        replica = device.replica
        state = replica.state()
        for visit, values in state.rows["visits"].items():
            written = raw_fields(replica, "visits", visit).get("member_id")
            member = values["member_id"]
            if written is None or written in state.erased:
                assert member is None, "an erased member's visit still names them"
            else:  # the member written, or the one they were merged into: living
                assert member == state.merged.get(written, written)
                assert member in state.rows["members"] and member not in state.erased
                assert member not in state.merged
            recorder = values.get("recorded_by")
            assert recorder is None or recorder in state.rows["staff"]
        for line, values in state.rows["audit_log"].items():
            assert values == self.audit[line], "an audit line changed"
        assert set(state.rows["settings"]) <= SHARED_SETTINGS
        everything = repr(state.rows) + repr(replica.changes)
        for member in state.erased:
            for name in self.names.get(member, ()):
                assert name not in everything, f"an erased name is still held: {name}"


ACTIONS = (
    *MEMBER_ACTIONS,
    "staff",
    "pin",
    "withdraw",
    "setting",
    "volunteer_visit",
    "volunteer_visit",
    "audit",
)

act = st.tuples(st.just("act"), st.integers(0, 2), st.sampled_from(ACTIONS), st.integers(0, 2**32))
step = st.one_of(
    act,
    act,  # acts more often than sends: visits and erasures of the same people
    st.tuples(st.just("send"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2**32)),
    st.tuples(st.just("tick"), st.integers(0, 10_000), st.just(0), st.just(0)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    skews=st.lists(st.integers(-30_000, 30_000), min_size=3, max_size=3),
    steps=st.lists(step, min_size=30, max_size=100),
    away=st.tuples(st.integers(0, 100), st.integers(0, 100)),
)
def test_visits_staff_settings_and_audit_converge_whatever_the_delivery(skews, steps, away):
    world = Centre(skews)
    away_from, away_until = sorted(away)
    for index, (kind, one, two, seed) in enumerate(steps):
        # the step's place in the seed too: a seed hypothesis draws often (0)
        # would otherwise make every step the same choice
        pick = random.Random(f"{seed}-{index}")
        device_away = away_from <= index < away_until  # device c is out of reach
        if kind == "tick":
            world.now[0] += one
        elif kind == "act":
            world.now[0] += 1
            world.act(world.devices[one], two, pick)
        elif kind == "send" and one != two:
            if device_away and 2 in (one, two):
                continue
            sender, receiver = world.devices[one], world.devices[two]
            held = list(sender.replica.changes.values())
            sent = [c for c in held if pick.random() < 0.7]  # losses
            sent += pick.sample(sent, k=len(sent) // 3)  # duplicates
            pick.shuffle(sent)
            receiver.receive(sent)
            world.check_more(receiver)
    for _ in range(2):  # everyone back: everything sent again, to everyone
        for sender in world.devices:
            for receiver in world.devices:
                if sender is not receiver:
                    sent = list(sender.replica.changes.values())
                    random.Random(len(sent)).shuffle(sent)
                    receiver.receive(sent)
    states = [device.replica.state() for device in world.devices]
    for device in world.devices:
        world.check_more(device)
    assert states[0].comparable() == states[1].comparable() == states[2].comparable()
    assert len({digest(s) for s in states}) == 1
    # the union: every audit line ever written, every visit ever recorded
    # (shown, or held back only while its member's creation is missing: never here)
    assert set(states[0].rows["audit_log"]) == set(world.audit)
    assert set(states[0].rows["visits"]) == world.visits
