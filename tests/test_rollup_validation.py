"""The parent's validation of a child's figures (federation.network.validate),
fuzzed in-process: whatever JSON arrives, the answer is a checked batch or a
refusal naming a field, never another exception (which the hub would answer
with a 500)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from federation import network
from sync import protocol

CENTRE = "01900000-0000-7000-8000-000000000001"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def good() -> dict:
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "batch_id": protocol.new_id(),
        "generation": 3,
        "centres": [{"id": CENTRE, "name": "Centre 1", "federation": ""}],
        "figures": [
            {
                "centre_id": CENTRE,
                "period": "2026-03-02",
                "dimension": "visits.reason",
                "values": {"cafe": 2},
            },
            {
                "centre_id": CENTRE,
                "period": "2026",
                "dimension": "participants.senacs",
                "values": {"woman:60+": 1, ":unknown": 2},
            },
        ],
    }


def checked(body: object) -> network.Batch | None:
    try:
        return network.validate(body)
    except network.FiguresRefused as refused:
        assert refused.field and str(refused)
        return None


def test_a_good_batch_is_kept_whole():
    batch = network.validate(good())
    assert [fs.key for fs in batch.sets] == [
        (CENTRE, "2026-03-02", "visits.reason"),
        (CENTRE, "2026", "participants.senacs"),
    ]
    assert batch.centres == {CENTRE: ("Centre 1", "")} and batch.dropped == []


@settings(max_examples=300, deadline=None)
@given(body=json_values)
def test_any_json_is_a_batch_or_a_named_refusal(body):
    checked(body)


paths = st.sampled_from(
    [
        (),
        ("centres", 0),
        ("figures", 0),
        ("figures", 1),
        ("figures", 0, "values"),
        ("figures", 1, "values"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(path=paths, key=st.text(max_size=15), value=json_values, drop=st.booleans())
def test_a_good_batch_changed_anywhere_is_a_batch_or_a_named_refusal(path, key, value, drop):
    body = copy.deepcopy(good())
    target = body
    for step in path:
        target = target[step]
    if drop and target:
        target.pop(sorted(target)[0])
    else:
        target[key] = value
    batch = checked(body)
    if batch is not None:  # what passed holds only allowed keys and whole counts
        for figure_set in batch.sets:
            assert all(type(n) is int and n > 0 for n in figure_set.values.values())
            assert all(network.DIMENSIONS[figure_set.dimension].allows(k) for k in figure_set.values)
