"""The public page's snapshot at connect, shared by the connections of one moment.

Anyone may open the public page's live connection, so its snapshot (the queue
figures, today's service level and approval rate: several aggregate queries, about
10 ms of CPU) must not be computed once per connection: a crowd, or a flood, of
connects would cost the worker that much each. It is kept per center for at most
``PUBLIC_SNAPSHOT_MAX_AGE_S`` and dropped whenever a process commits a change to it, so
a snapshot given out is never older than that bound and never predates a change made
here (with several server processes, a change made in another one is seen within the
bound). Only the changed centers' snapshots are dropped: the others are still true. 0
switches the sharing off (the tests' config).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Center
from ..public import public_center_json


class PublicSnapshots:
    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._kept: dict[str, tuple[float, int, dict]] = {}  # code -> (when, center id, body)
        self._lock = threading.Lock()

    def get(self, s: Session, center_code: str) -> tuple[int, dict] | None:
        """(center id, snapshot) of the center with this code; None if there is none."""
        now = time.monotonic()
        kept = self._kept.get(center_code)
        if kept is not None and now - kept[0] < self.max_age_s:
            return kept[1], kept[2]
        center = s.scalar(select(Center).where(Center.code == center_code))
        if center is None:
            return None
        snapshot = {"kind": "public", **public_center_json(s, center)}
        if self.max_age_s > 0:
            with self._lock:
                self._kept[center_code] = (now, center.id, snapshot)
        return center.id, snapshot

    def forget(self, center_ids: set[int] | None = None) -> None:
        """Drop the kept snapshots of these centers, or all (None, or a set holding 0: a
        change that did not say its center); called after each committed change."""
        with self._lock:
            if center_ids is None or 0 in center_ids:
                self._kept.clear()
                return
            for code, (_, center_id, _) in list(self._kept.items()):
                if center_id in center_ids:
                    del self._kept[code]
