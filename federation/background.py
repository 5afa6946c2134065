"""A job the hub runs again and again while it serves, on a thread of its own:
the send to the parent hub (federation.parent_sync), the daily upkeep
(federation.retention), the refresh of the kept figures
(federation.period_figures).

Each worker process runs its own thread with its own engine; the jobs take
their own locks where several processes must not run them at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

from sqlalchemy.engine import Engine

from federation import store as db


class Periodic:
    """Runs ``job(engine)`` on a daemon thread until ``stop()``, waiting
    ``delay(failures)`` seconds before each run (``first`` before the first
    one, if given), ``failures`` being the runs in a row that failed. A run
    fails when the job raises (logged on ``log`` as ``failed`` with the
    traceback, and the thread goes on) or returns False (the job has said
    why); anything else it returns is a run that went well."""

    def __init__(
        self,
        db_url: str | None,
        job: Callable[[Engine], object],
        delay: Callable[[int], float],
        *,
        name: str,
        log: logging.Logger,
        failed: str,
        first: float | None = None,
    ):
        self.db_url = db_url
        self._job, self._delay, self._first = job, delay, first
        self.log, self._failed = log, failed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        engine = db.create_engine(self.db_url)
        failures = 0
        delay = self._delay(0) if self._first is None else self._first
        try:
            while not self._stop.wait(delay):
                try:
                    went_well = self._job(engine) is not False
                except Exception:  # the thread must outlive a bad run
                    self.log.exception(self._failed)
                    went_well = False
                failures = 0 if went_well else failures + 1
                delay = self._delay(failures)
        finally:
            engine.dispose()
