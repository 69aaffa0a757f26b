"""``novbe backup FILE``: a consistent copy of the embedded SQLite database, taken while
the server runs.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database in one
step, as one read transaction sees it: every transaction committed before the copy
began is in it, none is half in it, and the server's writers are not stopped (WAL
mode: readers and the writer do not block each other). The copy is written to a
temporary file next to FILE, switched to a rollback journal (so it is one
self-contained file), checked with ``PRAGMA integrity_check``, synced to disk and only
then renamed to FILE: a half-written backup never carries FILE's name. An existing
FILE is kept unless ``force``.

PostgreSQL is backed up with its own tool, ``pg_dump`` (docs/deploy.md): this refuses,
naming the command.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# How long to wait for the database's lock before giving up (a schema migration).
BUSY_TIMEOUT_S = 30


class BackupError(Exception):
    """A backup that could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    source: str  # the database URL, without a password
    file: Path
    size_bytes: int
    tickets: int

    def describe(self) -> str:
        return (
            f"backed up {self.source} to {self.file}: {self.size_bytes} bytes, "
            f"{self.tickets} tickets, integrity check ok"
        )


def backup_database(database_url: str, file: Path, *, force: bool = False) -> BackupResult:
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise BackupError(f"the database URL is not valid: {database_url!r}") from None
    if url.get_backend_name() == "postgresql":
        raise BackupError(pg_dump_hint(url, file))
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"novbe backup copies the embedded SQLite database; this one is "
            f"{url.get_backend_name()}: use its own backup tool"
        )
    source = sqlite_path(url)
    file = Path(file)
    _check_target(source, file, force)
    return _copy(url.render_as_string(hide_password=True), source, file, force)


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"{url} names no database file to back up")
    path = Path(url.database)
    if not path.is_file():
        raise BackupError(f"there is no database at {path.resolve()}: check NOVBE_DATABASE_URL")
    return path


def pg_dump_hint(url: URL, file: Path) -> str:
    """How to back this PostgreSQL database up; never the password (pg_dump reads it
    from ~/.pgpass or PGPASSWORD)."""
    parts = ["pg_dump", "--format=custom", f"--file={file}"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts.append(url.database or "DATABASE")
    return (
        "the database is PostgreSQL: novbe backup copies only the embedded SQLite database. "
        f"Back PostgreSQL up with pg_dump, e.g.: {' '.join(parts)} "
        "(the password from ~/.pgpass or PGPASSWORD; restore with pg_restore)"
    )


def _check_target(source: Path, file: Path, force: bool) -> None:
    if not file.parent.is_dir():
        raise BackupError(f"the folder {file.parent.resolve()} does not exist")
    if file.exists():
        if os.path.samefile(file, source):
            raise BackupError(f"{file} is the database itself: back it up to another file")
        if file.is_dir():
            raise BackupError(f"{file} is a folder: name the backup file")
        if not force:
            raise BackupError(f"{file} exists: choose another name, or overwrite it with --force")


def _copy(label: str, source: Path, file: Path, force: bool) -> BackupResult:
    fd, temp_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        # mode=rw: never creates a database. Not read-only: the last connection to
        # close removes the WAL files, and a read-only one would leave them, owned by
        # whoever ran the backup (run it as the server's user).
        src = sqlite3.connect(
            f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S
        )
        try:
            dst = sqlite3.connect(temp, timeout=BUSY_TIMEOUT_S)
            try:
                src.backup(dst)  # all pages in one step: one consistent snapshot
                # The copy carries the source's WAL mode: one self-contained file instead.
                dst.execute("PRAGMA journal_mode=DELETE")
                problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise BackupError(
                        "the copy failed its integrity check, nothing was written to "
                        f"{file}: {'; '.join(problems[:5])}"
                    )
                tickets = _count_tickets(dst, source)
            finally:
                dst.close()
        finally:
            src.close()
        with open(temp, "rb+") as copy:
            os.fsync(copy.fileno())
        _move(temp, file, force)
    except sqlite3.Error as error:
        raise BackupError(f"could not back up {source}: {error}") from None
    finally:
        for leftover in (temp, Path(f"{temp}-journal"), Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    _sync_folder(file.parent)
    return BackupResult(label, file.resolve(), file.stat().st_size, tickets)


def _count_tickets(copy: sqlite3.Connection, source: Path) -> int:
    found = copy.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tickets'")
    if found.fetchone() is None:
        raise BackupError(f"{source} is not a Növbə database (it has no tickets table)")
    return copy.execute("SELECT count(*) FROM tickets").fetchone()[0]


def _move(temp: Path, file: Path, force: bool) -> None:
    if force:
        os.replace(temp, file)
        return
    try:
        os.link(temp, file)  # fails if FILE appeared meanwhile: never overwrite it
    except FileExistsError:
        raise BackupError(
            f"{file} exists: choose another name, or overwrite it with --force"
        ) from None
    except OSError:  # no hard links on this file system
        if file.exists():
            raise BackupError(
                f"{file} exists: choose another name, or overwrite it with --force"
            ) from None
        os.replace(temp, file)


def _sync_folder(folder: Path) -> None:
    """The rename itself reaches the disk (a power cut right after keeps FILE)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
