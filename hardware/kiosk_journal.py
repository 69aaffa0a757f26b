"""The kiosk print agent's journal: what happened to each print job, on disk, so that a
ticket is printed at most once across restarts (see :mod:`hardware.kiosk_agent`).

Invariants:

* A job is journalled "started" before it is printed and "printed" or "failed" after;
  each line is flushed and fsynced before the agent goes on. The last line of a job wins.
* A line cut short (a power loss mid-write) is skipped when the journal is read; lines
  older than :data:`JOURNAL_DAYS` are dropped at start, by writing a new file and renaming
  it over the old one.
* One agent per state directory: :func:`lock_state_dir` holds an exclusive lock for the
  process's life (two agents sharing a journal could print a ticket twice).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

JOURNAL_DAYS = 3  # journal lines older than this are dropped at start


class Journal:
    """What happened to each print job, kept on disk across restarts.

    One JSON object per line: ``{at, print_id, ticket, number, event, reason}`` with
    ``event`` "started", "printed" or "failed". The last line of a job wins."""

    def __init__(self, path: Path, keep_days: int = JOURNAL_DAYS) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._last: dict[str, dict] = {}
        self._load(keep_days)

    def _load(self, keep_days: int) -> None:
        if not self.path.exists():
            return
        cutoff = datetime.now(UTC) - timedelta(days=keep_days)
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                at = datetime.fromisoformat(entry["at"])
                print_id = str(entry["print_id"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a power loss
            if at >= cutoff:
                kept.append(entry)
                self._last[print_id] = entry
        # Rewrite without the old and broken lines (atomically: a new file, then rename).
        fresh = self.path.with_suffix(".tmp")
        with open(fresh, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in kept)
            out.flush()
            os.fsync(out.fileno())
        os.replace(fresh, self.path)

    def outcome(self, print_id: str) -> dict | None:
        """The job's last journal entry, or None if this agent never saw it."""
        with self._lock:
            return self._last.get(str(print_id))

    def record(self, job: dict, event: str, reason: str | None = None) -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "print_id": str(job["print_id"]),
            "ticket": job.get("ticket"),
            "number": job.get("number"),
            "event": event,
            "reason": reason,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
            self._last[entry["print_id"]] = entry


def lock_state_dir(state_dir: Path) -> TextIO:
    """Hold a lock on the state directory for the process's life: two agents sharing a
    journal could print a ticket twice. Returns the open lock file (keep it)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "agent.lock", "w")  # noqa: SIM115 - held until exit
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one agent per kiosk by convention
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise RuntimeError(
            f"another kiosk agent is running with the state directory {state_dir}"
        ) from exc
    return handle
