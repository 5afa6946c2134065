"""Batches checked in a worker process, beside the process that writes them.

Checking a batch — gunzip, JSON parse, validation against sync.protocol,
the events' INSERT parameters and the reporting tables' plan — is Python
work that holds the interpreter lock: in one process, the checks of the next
batch and the writes of this one take turns on one core, however many
batches are in flight. A ``Checker`` runs the checks in worker processes
(spawned at the server's start), so they use another core while this
process writes (bench_sync: ~40,000 -> ~48,000 events/s with four batches
in flight).

Only the usual batch comes back, as ``ingest.Ready`` (~0.5 MB for 1,000
events, pickled as one text a column: ~0.2 ms to pickle, ~0.5 to unpickle
in the server). Anything else — a body over the limits, bad
JSON, a refused event, an odd value — comes back as None, and the server
takes its in-process path, which decides and words every answer as before.
A worker that dies is replaced; meanwhile batches are checked in process.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from federation import ingest

log = logging.getLogger("federation")

#: worker processes checking batches, per server process (0: check in process)
DEFAULT_WORKERS = 1


class Checker:
    """A pool of worker processes checking batches (``check``), started by
    ``start`` and stopped by ``stop``; with no workers, or before ``start``,
    ``check`` answers None and the caller checks in process."""

    def __init__(self, workers: int = DEFAULT_WORKERS):
        if workers < 0:
            raise ValueError(f"checker workers must be 0 or more, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()

    def start(self) -> "Checker":
        if self.workers:
            with self._guard:
                self._pool = self._new_pool()
        return self

    def stop(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def check(self, raw: bytes, encoding: str, centre_id: str, device_id: str | None, received_at: str,
              max_events: int, max_decoded_bytes: int,
              window: ingest.Window = ingest.DEFAULT_WINDOW) -> ingest.Ready | None:
        """The batch as ``ingest.Ready`` when it is the usual one, else None
        (then check it in process: the answer is worded there)."""
        pool = self._pool
        if pool is None:
            return None
        try:
            return pool.submit(check_batch, raw, encoding, centre_id, device_id, received_at,
                               max_events, max_decoded_bytes, window).result()
        except BrokenProcessPool:
            log.warning("a batch checker process died: starting another one")
            with self._guard:
                if self._pool is pool:
                    self._pool = self._new_pool()
            return None

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: a fresh interpreter, never a fork of this one's threads and
        # sockets; its first task imports the modules, so it is warmed now
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        for future in [pool.submit(_warm) for _ in range(self.workers)]:
            future.result()
        return pool


def _warm() -> None:
    importlib.import_module("federation.api")  # what check_batch needs, imported before the first batch


def check_batch(raw: bytes, encoding: str, centre_id: str, device_id: str | None, received_at: str,
                max_events: int, max_decoded_bytes: int,
                window: ingest.Window = ingest.DEFAULT_WINDOW) -> ingest.Ready | None:
    """In a worker: the usual batch as Ready, anything else None."""
    from federation import api

    try:
        text = api.decode_body(raw, encoding, max_decoded_bytes)
    except api.HubError:
        return None
    prepared = ingest.prepare_plain(text, centre_id, device_id, received_at, max_events, window)
    return None if prepared is None else prepared.ready()
