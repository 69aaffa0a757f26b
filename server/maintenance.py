"""Background upkeep for a serving process: tickets left waiting after closing expire."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from .extensions import db
from .queue import expire_all_centers

log = logging.getLogger(__name__)
INTERVAL_S = 60


def run_maintenance_once() -> int:
    with db.write() as session:
        return expire_all_centers(session)


def start_maintenance_loop(app: Flask, interval_s: float = INTERVAL_S) -> threading.Thread:
    """Run upkeep now and then every ``interval_s`` seconds (a green thread under gevent).

    Safe with several worker processes: expiring is idempotent."""

    def loop() -> None:
        while True:
            try:
                with app.app_context():
                    expired = run_maintenance_once()
                if expired:
                    log.info("expired %d tickets left waiting after closing", expired)
            except Exception:  # keep the loop alive; the next round retries
                log.exception("maintenance round failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=loop, name="novbe-maintenance", daemon=True)
    thread.start()
    return thread
