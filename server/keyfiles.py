"""Key files made on first use (the ledger's seal key, the Web Push VAPID key).

:func:`write_once` writes the file whole under a temporary name, readable by the
server's user only, then links it into place: several server processes starting
together end up with one key (the first link wins; the others read it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_once(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` (mode 600) unless it exists by the time we link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # theirs is as good as ours
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
