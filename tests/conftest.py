"""Fixtures shared by every test: real database files in tmp_path, a clock
that tests can move."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.core.store import Store

# The `kiosk` command words its messages in the locale's language: the tests
# read them in French, whatever the machine's own locale (tests/helpers.py
# does the same for a command run as a process; a test of another language
# passes its own LANG).
for _name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"

pytest_plugins = ["tests.conftest_hub"]  # hub_server, hub, postgres_cluster, hub_db_url


class FakeClock:
    """A clock the test moves by hand: ``clock.advance(minutes=5)``."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock() -> FakeClock:
    # a Tuesday morning, 9:00 in Paris
    return FakeClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "kiosk.db"


@pytest.fixture
def store(db_path, clock):
    store = Store.open(db_path, clock=clock)
    yield store
    store.close()
