"""Group commit: kiosk requests that arrive while a ticket is being written share the
next write transaction, so one COMMIT (with SQLite's ``synchronous=FULL``, one fsync,
during which a gevent process can do nothing else) covers all of them.

Invariants:

* Each request's work runs in its own SAVEPOINT: its error (an unknown service, a
  quota, a reused Idempotency-Key, a lost race on PostgreSQL) undoes its own writes and
  its announced changes only, its ticket number included, and is raised in its own
  request; the others go on.
* No request gets its answer before the shared COMMIT has succeeded: a ticket a visitor
  holds is on disk. If the COMMIT fails, every request of the batch fails with it.
* The batch's changes reach the commit listeners (the live channel) once, after the
  COMMIT, from the request that ran the batch; only requests that came to the same
  address share a batch, since the listeners read that address (print jobs' links).
* Nobody waits for more than one batch after their own joins: the request that runs a
  batch hands the next one to the first request left waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ..db import PENDING_CHANGES, Database
from ..ledger.chain import drop_pending_after, pending_count

MAX_BATCH = 64


class _Request:
    __slots__ = ("done", "error", "leads", "result", "work")

    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        self.done = threading.Event()  # gevent's under ``novbe serve`` (patched)
        self.leads = False  # woken to run the next batch, not with an outcome
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Runs ``work(session)`` in a write transaction shared with the requests waiting
    at the same time. Make one per app, after gevent has patched threading."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Request]] = {}  # by address: see the invariants
        self._running: set[str] = set()

    def run(self, address: str, work: Callable[[Session], Any]) -> Any:
        request = _Request(work)
        with self._lock:
            self._waiting.setdefault(address, []).append(request)
            leads = address not in self._running
            self._running.add(address)
        if not leads:
            request.done.wait()
            if not request.leads:
                return request.outcome()
        time.sleep(0)  # let the requests that are ready to join this batch join it
        with self._lock:
            waiting = self._waiting[address]
            batch, self._waiting[address] = waiting[: self.max_batch], waiting[self.max_batch :]
        try:
            self._run_batch(batch)
        finally:
            self._hand_over(address)
        return request.outcome()

    def _hand_over(self, address: str) -> None:
        with self._lock:
            waiting = self._waiting.get(address)
            if waiting:
                waiting[0].leads = True
                waiting[0].done.set()
            else:
                self._waiting.pop(address, None)
                self._running.discard(address)

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            with self.db.write() as s:
                if len(batch) == 1:  # alone: the transaction is its savepoint
                    batch[0].result = batch[0].work(s)
                else:
                    for request in batch:
                        _run_in_savepoint(s, request)
        except BaseException as exc:
            for request in batch:
                if request.error is None:
                    request.result, request.error = None, exc
        finally:
            for request in batch:
                request.leads = False
                request.done.set()


def _run_in_savepoint(s: Session, request: _Request) -> None:
    announced = len(s.info.get(PENDING_CHANGES, ()))
    noted = pending_count(s)
    savepoint = s.connection().begin_nested()
    try:
        request.result = request.work(s)
    except Exception as exc:
        savepoint.rollback()
        del s.info.get(PENDING_CHANGES, [])[announced:]
        drop_pending_after(s, noted)
        request.error = exc
    else:
        savepoint.commit()
