"""Every seal the installation made, also kept outside the database: a JSON-lines file
beside the signing key (``ledger-seals.jsonl``).

Why: the server seals whatever chain the database holds. Someone with the database alone
could rewrite a sealed day, recompute its hashes, delete its seals, and let the next
upkeep round sign the forgery with the real key. With this log the server refuses:
a seal it made that is gone from the database, or a sealed head the chain no longer
holds, stops sealing for that center (logged), and ``verify-ledger`` says so.

* Appended after the seal's transaction commits (``O_APPEND``, an exclusive ``flock``,
  ``fsync``): a process that dies in between leaves a seal in the database that the log
  lacks; signed with the installation's key, it cannot be a forgery, and the next
  seal of that center adds it to the log.
* Like the key, one file for every process and machine of the installation.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path


class SealLog:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def seals(self, center_code: str) -> list[dict]:
        """The center's seals, in the order they were made."""
        if not self.path.exists():
            return []
        found = []
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    seal = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash mid-append: the seal is in the database
                if isinstance(seal, dict) and seal.get("center") == center_code:
                    found.append(seal)
        return found

    def append(self, seals: Iterable[dict]) -> None:
        """Add the seals the log does not hold yet (sealing an unchanged head again
        returns its old seal)."""
        seals = list(seals)
        if not seals:
            return
        held = {s["signature"] for code in {s["center"] for s in seals} for s in self.seals(code)}
        text = "".join(
            json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n"
            for s in seals
            if s["signature"] not in held
        )
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
