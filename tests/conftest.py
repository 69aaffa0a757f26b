"""Fixtures: every test runs against a real database, SQLite always, and PostgreSQL
too when NOVBE_TEST_POSTGRES_URL is set (``make test`` sets it on CI).

Every test is marked with its kind, from what it uses (``pytest_collection_modifyitems``):
``e2e`` (a real server process, Socket.IO over a real connection, a browser), else
``integration`` (a real database, the app in-process), else ``unit``. ``make test-fast``
(``pytest -m "not e2e"``) is the quick loop; ``make test`` runs everything. A test that
starts a server without being marked e2e fails, saying so (``_refuse_unmarked_servers``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import secrets
import sys
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool
from werkzeug.security import generate_password_hash

from server import auth, create_app
from server.config import TestConfig
from server.extensions import db as database
from server.migrate import upgrade
from server.models import Base

from . import factories

server_db = importlib.import_module("server.db")  # the module (``server.db`` is the Database)

POSTGRES_URL = os.environ.get("NOVBE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _reset_schema(url: str) -> None:
    """Drop everything we own and migrate from scratch (proves the migrations work)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    engine.dispose()


def _private_schema(url: str, schema: str) -> str:
    """The URL of ``schema`` in that database, so that concurrent test runs sharing one
    PostgreSQL database (a developer's and CI's) never empty each other's tables."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


# Each test's app connects a Database of its own, but over a session database they all
# share one engine: a new engine starts with an empty statement cache, and compiling
# every statement again in every test made the unit and integration tests ~1.7x slower.
_session_urls: set[str] = set()
_session_engines: dict[tuple[str, bool, str], Engine] = {}
_make_engine = server_db.make_engine


def _session_engine(url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL") -> Engine:
    if url not in _session_urls:
        return _make_engine(url, echo=echo, sqlite_synchronous=sqlite_synchronous)
    key = (url, echo, sqlite_synchronous.upper())
    if key not in _session_engines:
        _session_engines[key] = _make_engine(url, echo=echo, sqlite_synchronous=sqlite_synchronous)
    return _session_engines[key]


@pytest.fixture(scope="session", autouse=True)
def _one_engine_per_session_database() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_db, "make_engine", _session_engine)
        yield


# Passwords in in-process tests: the same scrypt as production with a small work factor.
# Production's (Werkzeug's default, ~100 ms of CPU a hash) is what makes guessing slow; a
# test checks that a password is hashed, checked, changed and refused, not how slowly, and
# the logins and password changes of the fast loop cost ~20 s more with it. Servers the
# e2e tests start run in their own processes with the real factor.
TEST_PASSWORD_METHOD = "scrypt:1024:8:1"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    def cheap(password: str, method: str = TEST_PASSWORD_METHOD, salt_length: int = 16) -> str:
        return generate_password_hash(password, method=method, salt_length=salt_length)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "generate_password_hash", cheap)
        auth._dummy_hash.cache_clear()
        yield
    auth._dummy_hash.cache_clear()


@contextmanager
def _session_database(url: str) -> Iterator[str]:
    _reset_schema(url)
    _session_urls.add(url)
    try:
        yield url
    finally:
        database.dispose()
        _session_urls.discard(url)
        for key in [key for key in _session_engines if key[0] == url]:
            _session_engines.pop(key).dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "novbe.db"
        with _session_database(f"sqlite:///{path}") as url:
            yield url
        return
    schema = f"novbe_test_{os.getpid()}_{secrets.token_hex(4)}"
    with _session_database(_private_schema(POSTGRES_URL, schema)) as url:
        yield url
    _drop_schema(POSTGRES_URL, schema)


TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]  # children first


def _empty_tables(url: str) -> None:
    """Delete every row and restart the ids. On PostgreSQL in one round trip, and not
    with TRUNCATE, which took ~60 ms per test where this takes ~7."""
    with _session_engine(url).begin() as conn:
        statements = [f"DELETE FROM {table}" for table in TABLES]
        if conn.dialect.name == "postgresql":
            sequences = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            ).scalars()
            statements += [f"ALTER SEQUENCE {sequence} RESTART" for sequence in sequences]
            conn.exec_driver_sql("; ".join(statements))
        else:  # SQLite runs one statement at a time
            for statement in statements:
                conn.exec_driver_sql(statement)


@pytest.fixture(autouse=True)
def ledger_key_file(tmp_path, monkeypatch) -> str:
    """The ledger's signing key, made on first use like a server's: one per test, as its
    database is, with the log of seals beside it (a log shared by tests whose fresh
    databases reuse center codes would, rightly, stop sealing). In the environment too,
    for the commands and servers a test starts."""
    path = str(tmp_path / "ledger" / "ledger-ed25519.pem")
    monkeypatch.setenv("NOVBE_LEDGER_KEY_FILE", path)
    return path


@pytest.fixture(autouse=True)
def vapid_key_file(tmp_path, monkeypatch) -> str:
    """The Web Push (VAPID) key, made on first use: one per test, never the instance
    folder's. In the environment too, for the commands and servers a test starts."""
    path = str(tmp_path / "vapid" / "vapid-p256.pem")
    monkeypatch.setenv("NOVBE_VAPID_KEY_FILE", path)
    return path


@pytest.fixture
def app(database_url, ledger_key_file, vapid_key_file):
    _empty_tables(database_url)
    settings = {
        "DATABASE_URL": database_url,
        "LEDGER_KEY_FILE": ledger_key_file,
        "VAPID_KEY_FILE": vapid_key_file,
    }
    app = create_app(type("Config", (TestConfig,), settings))
    yield app
    database.dispose()


@pytest.fixture
def db(app):
    """The app's Database: ``with db.write() as s:`` / ``with db.read() as s:``."""
    return database


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def center(db):
    """The default test center (see factories.center_spec), committed."""
    with db.write() as s:
        c = factories.make_center(s)
    return c


# End-to-end: a real server process, real Socket.IO clients, a real browser.

CHROMIUM = os.environ.get("NOVBE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """``novbe serve`` on a free port (see tests/live.py); one per test session."""
    from .live import start_live_server

    server = start_live_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture
def receiver():
    """A loopback webhook receiver that verifies signatures (tests/webhook_receiver.py)."""
    from .webhook_receiver import Receiver

    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def live_center(live_server):
    """A fresh center in the live server, so each test has queues of its own."""
    return live_server.new_center()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (``make test`` installs it; Playwright
    downloads no browser of its own)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """``new_page(width=..., height=..., **context_options)``: a page in a fresh context
    (its own storage), closed after the test."""
    contexts = []

    def make(width: int = 1280, height: int = 800, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# Test kinds. A test is e2e when it, its fixtures or the tests/ helpers they call (read
# from their code, transitively) use one of these; integration when they use the
# database; unit otherwise. A module whose every test is e2e says so itself
# (``pytestmark = pytest.mark.e2e``), which also covers servers started out of sight.

KINDS = ("unit", "integration", "e2e")
E2E_FIXTURES = {"live_server", "live_center", "browser", "new_page"}
E2E_NAMES = {"start_live_server", "start_cluster", "sync_playwright", "Popen"}
E2E_MARKS = {"browser", "fuzz"}
DATABASE_FIXTURES = {"app", "db", "client", "database_url"}
DATABASE_NAMES = {"create_app", "Database", "create_engine"}


def _ours(obj: object) -> bool:
    name = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", "")
    return isinstance(name, str) and (name == "tests" or name.startswith("tests."))


def _names(obj: object, seen: set[int]) -> set[str]:
    """The global and attribute names ``obj`` (a function or class of tests/) refers
    to, with those of the tests/ functions, classes and module attributes it names."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return set()
    obj = inspect.unwrap(obj)
    if id(obj) in seen or not _ours(obj):
        return set()
    seen.add(id(obj))
    if isinstance(obj, type):
        return set().union(*(_names(member, seen) for member in vars(obj).values()))
    code = getattr(obj, "__code__", None)
    if code is None:
        return set()
    names: set[str] = set()
    codes = [code]
    while codes:  # nested functions, lambdas and comprehensions too
        current = codes.pop()
        names.update(current.co_names)
        codes.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    found = set(names)
    for name in names:
        target = obj.__globals__.get(name)
        if isinstance(target, types.ModuleType):
            if _ours(target):
                for attribute in names:
                    found |= _names(getattr(target, attribute, None), seen)
        elif target is not None:
            found |= _names(target, seen)
    return found


def _kind(item: pytest.Item) -> str:
    if any(item.get_closest_marker(mark) for mark in E2E_MARKS):
        return "e2e"
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & E2E_FIXTURES:
        return "e2e"
    seen: set[int] = set()
    names = _names(getattr(item, "function", None), seen)
    definitions = getattr(item, "_fixtureinfo", None)
    for defs in definitions.name2fixturedefs.values() if definitions else ():
        for fixturedef in defs:
            names |= _names(fixturedef.func, seen)
    if names & E2E_NAMES:
        return "e2e"
    if fixtures & DATABASE_FIXTURES or names & DATABASE_NAMES:
        return "integration"
    return "unit"


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: Iterable[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in KINDS):
            item.add_marker(_kind(item))


# A server started by a test that is not marked e2e fails that test: the fast loop
# (``-m "not e2e"``) stays fast when the reading of the code above misses one.

_SERVER_PROGRAMS = {"gunicorn", "nginx", "chromium"}
_running: list[pytest.Item] = []


def _refuse_unmarked_servers(event: str, args: tuple) -> None:
    if event != "subprocess.Popen" or not _running or _running[-1].get_closest_marker("e2e"):
        return
    command = args[1]
    if isinstance(command, str | bytes | os.PathLike):
        argv = os.fsdecode(command).split()
    else:
        argv = [os.fsdecode(a) for a in command]
    if "serve" in argv or {os.path.basename(a) for a in argv} & _SERVER_PROGRAMS:
        raise RuntimeError(
            f"{_running[-1].nodeid} starts a server ({' '.join(argv)}) but is not marked "
            "e2e: add `pytestmark = pytest.mark.e2e` to its module (tests/conftest.py)"
        )


sys.addaudithook(_refuse_unmarked_servers)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()
