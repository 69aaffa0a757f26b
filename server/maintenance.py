"""Background upkeep for a serving process: tickets left waiting after closing expire
(once per installation: the process holding the cluster's ``maintenance`` lease does
it, and another takes over within two rounds if that one dies), and memory freed since
the last round goes back to the system (every process, for itself).

Why the second: a burst of live connections (a crowd, or a flood, of them; each holds
about 70 KB) is freed when they close, but glibc's allocator keeps freed memory in the
middle of its heap until the top is free too, so the worker's resident size stayed at
its peak (about +55 MB after 2,500 connections closed). ``malloc_trim(0)`` hands those
pages back (milliseconds). What it cannot return is CPython's own small-object arenas
that still hold a live object each (about +60 MB after 2,500): they are reused by the
next burst, so the resident size tops out at the peak burst's, it does not grow.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, current_app

from .appointments.upkeep import mark_no_show_bookings, release_absent
from .cluster import cluster_of
from .extensions import db
from .ledger import seal_log, signing_key
from .ledger.seal import seal_closed_days, seal_json
from .notify.contacts import erase_finished
from .notify.outbox import purge_outbox
from .queue import expire_all_centers

log = logging.getLogger(__name__)
INTERVAL_S = 60


def run_maintenance_once() -> int:
    """Expire what is left after closing, then seal the days that are over (in an app
    context). Returns the tickets expired."""
    with db.write() as session:
        expired = expire_all_centers(session)
    with db.write() as session:
        # Bookings not checked in by start + grace, absent tickets passed over and held.
        run_appointment_upkeep(session)
        erase_finished(session)  # visitors' contacts no longer needed (docs/notifications.md)
        purge_outbox(session, current_app.config)  # finished messages past OUTBOX_KEEP_DAYS
    seals = seal_log(current_app)
    with db.write() as session:
        # After expiring, so a day's seal covers its tickets' last events.
        sealed = seal_closed_days(session, signing_key(current_app), seals)
    seals.append(seal_json(seal) for seal in sealed)  # committed: now it must not vanish
    for seal in sealed:
        log.info(
            "sealed the ledger of %s for %s: %d entries", seal.center_code, seal.day, seal.entries
        )
    return expired


def run_appointment_upkeep(session) -> None:
    no_shows = mark_no_show_bookings(session)
    released = release_absent(session)
    if no_shows or released:
        log.info("%d bookings not checked in, %d absent tickets released", no_shows, released)


def _malloc_trim() -> Callable[[], None] | None:
    """glibc's ``malloc_trim(0)``, or None on a C library without it (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library linked into Python
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


release_free_memory = _malloc_trim() or (lambda: None)


def start_maintenance_loop(app: Flask, interval_s: float = INTERVAL_S) -> threading.Thread:
    """Run upkeep now and then every ``interval_s`` seconds (a green thread under gevent).

    With several server processes one of them expires tickets (expiring is idempotent
    anyway: two at once would do no harm, only double work)."""
    cluster = cluster_of(app)

    def loop() -> None:
        while True:
            try:
                if cluster.lease("maintenance", 2 * interval_s):
                    with app.app_context():
                        expired = run_maintenance_once()
                    if expired:
                        log.info("expired %d tickets left waiting after closing", expired)
                release_free_memory()
            except Exception:  # keep the loop alive; the next round retries
                log.exception("maintenance round failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=loop, name="novbe-maintenance", daemon=True)
    thread.start()
    return thread
