"""The hub's jobs run on their own threads while it serves
(federation.background): the upkeep, the send to the parent hub, the kept
figures. A job that fails is logged and run again; the thread lives on."""

import logging
import threading

import pytest

from federation import background, parent_sync, retention
from federation.parent_sync import NOT_LINKED, OK, REVOKED, Result
from sync import client


def test_the_wait_before_each_run_follows_the_failures_in_a_row(tmp_path):
    outcomes = iter([False, False, True, False])  # False: failed, having said why
    waits: list[int] = []
    done = threading.Event()

    def job(engine):
        went_well = next(outcomes, None)
        if went_well is None:
            done.set()
        return went_well

    def delay(failures: int) -> float:
        waits.append(failures)
        return 0.01

    periodic = background.Periodic(
        f"sqlite:///{tmp_path / 'hub.db'}",
        job,
        delay,
        name="test-periodic",
        log=logging.getLogger("federation"),
        failed="the test job failed",
    ).start()
    try:
        assert done.wait(10)
    finally:
        periodic.stop()
    assert waits[:5] == [0, 1, 2, 0, 1]


def test_the_upkeep_outlives_any_failure_logged_with_its_traceback(tmp_path, monkeypatch, caplog):
    runs: list[object] = []
    again = threading.Event()

    def upkeep(engine, policy):
        runs.append(policy)
        if len(runs) == 1:
            raise RuntimeError("a bug in the upkeep, not the database")
        again.set()

    monkeypatch.setattr(retention, "upkeep", upkeep)
    monkeypatch.setattr(retention, "FIRST_RUN_S", 0.01)
    monkeypatch.setattr(retention, "DAY_S", 0.01)
    upkeeping = retention.Background(f"sqlite:///{tmp_path / 'hub.db'}", None)
    with caplog.at_level(logging.ERROR, logger="federation"):
        upkeeping.start()
        try:
            assert again.wait(10), "the thread died with the first failure"
        finally:
            upkeeping.stop()
    [failure] = [r for r in caplog.records if r.getMessage().startswith("events upkeep failed")]
    assert failure.exc_info and failure.exc_info[0] is RuntimeError


@pytest.mark.parametrize(
    ("code", "went_well", "level"),
    [
        (OK, True, logging.INFO),
        (NOT_LINKED, True, None),
        (REVOKED, True, None),
        (client.BUSY, True, None),
        (client.UNREACHABLE, False, logging.WARNING),
        (client.REFUSED, False, logging.WARNING),
    ],
)
def test_the_parent_sync_backs_off_after_a_failed_send_alone(code, went_well, level, monkeypatch, caplog):
    monkeypatch.setattr(parent_sync, "sync_parent", lambda engine: Result(code, sent=3))
    with caplog.at_level(logging.DEBUG, logger="federation.parent"):
        assert parent_sync.Background._send(None) is went_well
    assert [r.levelno for r in caplog.records if r.name == "federation.parent"] == ([level] if level else [])


def test_the_parent_sync_waits_twice_as_long_after_each_failure_up_to_an_hour():
    sender = parent_sync.Background(None, 10)
    assert sender._backoff(0) == 10
    assert 40 <= sender._backoff(3) <= 80
    assert 1800 <= sender._backoff(20) <= sender.MAX_BACKOFF_S
