"""Database engine and sessions, shared by the web app, the CLI and the tests.

The queue engine takes plain SQLAlchemy sessions. This module decides how those
sessions behave on each backend so that concurrent writers are safe:

* SQLite: WAL journal, a busy timeout, and every write transaction opened with
  ``BEGIN IMMEDIATE`` (the write lock is taken up front, so two kiosks or two
  counters never read the same state and then both write). Inside one process
  writers also queue on a lock, so a green thread waits cooperatively instead of
  blocking the whole process in SQLite's busy handler. ``synchronous=FULL`` by
  default: a commit is on disk before the kiosk prints, so a power cut cannot take
  back a ticket a visitor holds (and hand its number out again); NORMAL survives a
  process kill but not a power cut (docs/security.md, "Durability").
* PostgreSQL: READ COMMITTED; the engine claims rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from .ledger.chain import LABELS, Labels, write_pending

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL connections per process: 3 processes fit a max_connections of 100.
POOL_SIZE, POOL_OVERFLOW = 25, 5
# Compiled statements kept per engine (SQLAlchemy's default: 500). A network's counters
# take from queues of 1 to 60 services, each number its own statement; with the default
# the cache kept evicting them and a busy process spent a tenth of its time compiling.
QUERY_CACHE_SIZE = 2000
SQLITE_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
# session.info key where the queue engine lists what a transaction changed.
PENDING_CHANGES = "novbe_ticket_changes"


def make_engine(url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL") -> Engine:
    """Create an engine configured for safe concurrent writes on ``url``."""
    if url.startswith("sqlite"):
        synchronous = sqlite_synchronous.upper()
        if synchronous not in SQLITE_SYNCHRONOUS_MODES:
            raise ValueError(
                f"SQLite synchronous mode must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}, "
                f"not {sqlite_synchronous!r} (NOVBE_SQLITE_SYNCHRONOUS)"
            )
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            query_cache_size=QUERY_CACHE_SIZE,
        )
        _configure_sqlite(engine, synchronous)
        return engine
    # Connections kept open: up to POOL_SIZE + POOL_OVERFLOW per process, the overflow
    # ones closed on return. Under a network's load a gevent process has a session per
    # greenlet waiting on PostgreSQL; with 10 kept and 20 overflow, a tenth of a busy
    # process's CPU went to opening connections that were closed right after.
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        query_cache_size=QUERY_CACHE_SIZE,
    )


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    # The pysqlite "serializable" recipe from the SQLAlchemy docs: take over
    # BEGIN from the driver so we can choose IMMEDIATE for write transactions.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if connection.get_execution_options().get("novbe_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


class Database:
    """Holds the engine and hands out read and write sessions.

    One instance per application (see ``server.extensions.db``); tests and the
    CLI may build their own with :meth:`connect`.
    """

    def __init__(self, url: str | None = None) -> None:
        self.engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None
        self._write_lock: threading.Lock | None = None
        self._commit_listeners: list[Callable[[list], None]] = []
        self._before_commit: list[Callable[[Session, list], None]] = []
        # Put into every session's ``info`` (objects shared by all of them, such as
        # the queue engine's cache of service loads).
        self.session_info: dict = {}
        if url:
            self.connect(url)

    def init_app(self, app) -> None:
        self.connect(
            app.config["DATABASE_URL"],
            echo=app.config.get("SQL_ECHO", False),
            sqlite_synchronous=app.config.get("SQLITE_SYNCHRONOUS", "FULL"),
        )
        app.extensions["novbe_db"] = self

    def connect(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL") -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url, echo=echo, sqlite_synchronous=sqlite_synchronous)
        self._commit_listeners = []  # a new connection belongs to a new app
        self._before_commit = []
        # Created here, not at import, so that under gevent it is a patched (green) lock.
        self._write_lock = threading.Lock()
        writer = self.engine.execution_options(novbe_write=True)
        self.session_info = {LABELS: Labels()}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        self._write = sessionmaker(writer, expire_on_commit=False, info=self.session_info)

    @property
    def is_sqlite(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only; never commits."""
        assert self._read is not None, "Database is not connected"
        with self._read() as session:
            try:
                yield session
            finally:
                session.rollback()

    def on_commit(self, listener: Callable[[list], None]) -> None:
        """Call ``listener(changes)`` after each write transaction that changed tickets or
        counters commits (``changes``: the queue engine's ``audit.Change`` tuples).
        Nothing is announced for a transaction that rolled back."""
        self._commit_listeners.append(listener)

    def before_commit(self, hook: Callable[[Session, list], None]) -> None:
        """Call ``hook(session, changes)`` inside each write transaction that changed
        tickets or counters, just before it commits: what it writes commits with the
        change or not at all (the notification outbox, server/notify/).

        A hook's own fault (a bug, odd settings) must not cost a visitor their ticket:
        it is logged and the change commits without that hook's remaining work. A
        database error is raised (on PostgreSQL it has aborted the transaction; a
        savepoint per hook would cost every write two more round trips)."""
        self._before_commit.append(hook)

    def _run_before_commit(self, session: Session) -> None:
        changes = session.info.get(PENDING_CHANGES)
        if changes:
            for hook in self._before_commit:
                try:
                    hook(session, changes)
                except SQLAlchemyError:
                    raise
                except Exception:
                    log.exception("before-commit hook %s failed; the change commits", hook)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: commits on success, rolls back on any error."""
        assert self._write is not None, "Database is not connected"
        if self.is_sqlite:
            with self._write_lock, self._write.begin() as session:
                yield session
                self._run_before_commit(session)
                write_pending(session)  # the ledger's entries: their chains' locks last
                changes = session.info.pop(PENDING_CHANGES, None)
        else:
            with self._write.begin() as session:
                yield session
                self._run_before_commit(session)
                write_pending(session)
                changes = session.info.pop(PENDING_CHANGES, None)
        if changes:
            for listener in self._commit_listeners:
                listener(changes)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def null_pool_engine(url: str) -> Engine:
    """An engine without pooling, for one-shot admin work such as migrations."""
    return create_engine(url, poolclass=NullPool)
