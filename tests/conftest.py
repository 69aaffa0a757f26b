"""Fixtures: every test runs against a real database, SQLite always, and PostgreSQL
too when NOVBE_TEST_POSTGRES_URL is set (``make test`` sets it on CI)."""

from __future__ import annotations

import os
import secrets
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from server import create_app
from server.config import TestConfig
from server.extensions import db as database
from server.migrate import upgrade
from server.models import Base

from . import factories

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


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "novbe.db")
        _reset_schema(url)
        yield url
        return
    schema = f"novbe_test_{os.getpid()}_{secrets.token_hex(4)}"
    url = _private_schema(POSTGRES_URL, schema)
    _reset_schema(url)
    yield url
    database.dispose()
    _drop_schema(POSTGRES_URL, schema)


def _empty_tables(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def app(database_url):
    _empty_tables(database_url)
    app = create_app(type("Config", (TestConfig,), {"DATABASE_URL": database_url}))
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
