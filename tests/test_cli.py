"""The ``novbe`` command against a temporary SQLite database: in process with Click's
runner, and ``novbe serve`` as the real process it is."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from server import create_app
from server.auth import check_login, device_actor
from server.cli import main
from server.db import Database
from server.demo.setup import CENTER_FILE
from server.extensions import db as app_db
from server.migrate import alembic_config
from server.models import (
    AuditEntry,
    Base,
    Center,
    Counter,
    Device,
    Service,
    ServiceCategory,
    StaffUser,
    Ticket,
    utcnow,
)
from server.queue import issue_ticket

from . import factories

SERVE_TIMEOUT_S = 60
NEW_PASSWORD = "a-long-enough-secret"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return "sqlite:///" + str(tmp_path / "novbe.db")


@pytest.fixture
def novbe(db_url, tmp_path, monkeypatch):
    """Run ``novbe ARGS`` in process in tmp_path, against db_url; returns Click's Result.
    The database is named only in the command's environment, which the command reads
    when it runs (not when server.config was imported)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        try:
            return runner.invoke(main, list(args), input=input, env={"NOVBE_DATABASE_URL": db_url})
        finally:
            app_db.dispose()  # the command's connections, as its process exit would

    return run


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def ready_db(novbe):
    """A migrated, empty database."""
    ok(novbe("init-db"))


def _no_crash(result: Result) -> None:
    """An exception the command did not turn into a message fails the test with its own
    traceback (a user would have seen that traceback)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception


def ok(result: Result) -> str:
    _no_crash(result)
    assert result.exit_code == 0, result.output
    return result.stdout


def failed(result: Result) -> str:
    """A clean failure: non-zero exit, an "Error: ..." line, no traceback."""
    _no_crash(result)
    assert result.exit_code != 0, result.output
    assert "Error:" in result.stderr
    return result.stderr


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def write_center(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- init-db ------------------------------------------------------------------------


def test_init_db_creates_the_schema_at_head_and_can_run_twice(novbe, db_url, engine):
    for _ in range(2):
        assert ok(novbe("init-db")).strip() == f"database ready: {db_url}"
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head]


# --- import-center --------------------------------------------------------------------


def test_import_center_creates_then_updates(novbe, ready_db, tmp_path, engine):
    spec = factories.center_spec("cli-1")
    path = write_center(tmp_path / "center.yaml", spec)
    out = ok(novbe("import-center", str(path)))
    assert out.strip() == ("created center cli-1: 2 categories, 4 services, 3 counters, 2 devices")
    with Session(engine) as s:
        center = s.scalar(select(Center).where(Center.code == "cli-1"))
        assert center.name["en"] == "Center cli-1"
        assert [c.label for c in center.counters] == ["1", "2", "3"]
        assert {d.name for d in s.scalars(select(Device))} == {"kiosk-1", "hall"}

    spec["name"]["en"] = "Renamed center"
    spec["categories"][0]["services"][0]["target_wait_min"] = 25
    write_center(path, spec)
    out = ok(novbe("import-center", "center.yaml"))  # relative to the working directory
    assert out.startswith("updated center cli-1:")
    with Session(engine) as s:
        assert s.scalar(select(Center.name).where(Center.code == "cli-1"))["en"] == (
            "Renamed center"
        )
        assert s.scalar(select(Service.target_wait_min).where(Service.code == "pension-new")) == 25
        # Audited as the importer's: the two changes, after the first import's creations.
        updates = s.execute(
            select(AuditEntry.username, AuditEntry.entity_type, AuditEntry.entity_id)
            .where(AuditEntry.action == "update")
            .order_by(AuditEntry.id)
        ).all()
        assert updates == [
            ("import-center", "center", "cli-1"),
            ("import-center", "service", "pension-new"),
        ]
    assert (count(engine, Center), count(engine, Service), count(engine, Counter)) == (1, 4, 3)


def test_import_center_refuses_a_bad_file_and_writes_nothing(novbe, ready_db, tmp_path, engine):
    spec = factories.center_spec("cli-1")
    spec["counters"][2]["services"] = ["job-seeker", "passports"]
    path = write_center(tmp_path / "bad.yaml", spec)
    err = failed(novbe("import-center", str(path)))
    assert "counters[2].services" in err and "unknown service 'passports'" in err
    assert count(engine, Center) == count(engine, Service) == count(engine, Device) == 0

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "code: cli-1\nname: {az: a, ru: b, en: c}\ncategories:\n  - code: [x\n    name: y\n",
        encoding="utf-8",
    )
    err = failed(novbe("import-center", str(broken)))
    assert re.search(r"broken\.yaml: line \d+:", err), err
    assert count(engine, Center) == 0

    # A bad re-import leaves the existing center exactly as it was.
    ok(
        novbe(
            "import-center",
            str(write_center(tmp_path / "good.yaml", factories.center_spec("cli-1"))),
        )
    )
    spec = factories.center_spec("cli-1")
    spec["name"]["en"] = "Should not stick"
    spec["categories"][1]["services"][0]["prefix"] = "toolong"
    err = failed(novbe("import-center", str(write_center(path, spec))))
    assert "categories[1].services[0].prefix" in err
    with Session(engine) as s:
        assert s.scalar(select(Center.name))["en"] == "Center cli-1"

    err = failed(novbe("import-center", str(tmp_path / "missing.yaml")))
    assert "cannot read file" in err


# --- create-user ------------------------------------------------------------------------


@pytest.fixture
def imported(novbe, ready_db, tmp_path):
    path = write_center(tmp_path / "center.yaml", factories.center_spec("cli-1"))
    ok(novbe("import-center", str(path)))


def test_create_user_reads_the_password_from_stdin_and_stores_a_hash(novbe, imported, engine):
    out = ok(
        novbe(
            "create-user",
            "alice",
            "--role",
            "manager",
            "--center",
            "cli-1",
            "--password-stdin",
            input=NEW_PASSWORD + "\n",
        )
    )
    assert out.strip() == "created manager alice at cli-1"
    with Session(engine) as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == "alice"))
        assert (user.role, user.center.code, user.active) == ("manager", "cli-1", True)
        assert NEW_PASSWORD not in user.password_hash
        assert check_login(s, "alice", NEW_PASSWORD).id == user.id  # the real login check


def test_create_user_fails_cleanly_on_unknown_center_and_short_password(novbe, imported, engine):
    err = failed(
        novbe("create-user", "bob", "--center", "nowhere", "--password-stdin", input=NEW_PASSWORD)
    )
    assert "unknown center 'nowhere'" in err
    err = failed(
        novbe("create-user", "bob", "--center", "cli-1", "--password-stdin", input="short")
    )
    assert "at least 8 characters" in err
    err = failed(novbe("create-user", "bob", "--role", "staff", "--password-stdin", input="x" * 9))
    assert "need a center" in err
    # Bytes that are not UTF-8 arrive as lone surrogates, which no database can store.
    err = failed(
        novbe(
            "create-user",
            os.fsdecode(b"bob\xff"),
            "--center",
            "cli-1",
            "--password-stdin",
            input=NEW_PASSWORD,
        )
    )
    assert "username must not contain an unpaired surrogate" in err
    assert count(engine, StaffUser) == 0


# --- device-token -----------------------------------------------------------------------


@contextmanager
def web(db_url: str) -> Iterator[FlaskClient]:
    """The web app over db_url, as the server would run it once the command is done."""
    app = create_app({"DATABASE_URL": db_url, "TESTING": True, "SECRET_KEY": "test"})
    try:
        yield app.test_client()
    finally:
        app_db.dispose()


def test_device_token_works_as_bearer_and_rotating_revokes_the_old(novbe, imported, db_url, engine):
    first = ok(novbe("device-token", "cli-1", "kiosk-1")).strip()
    assert re.fullmatch(r"dv_[A-Za-z0-9_-]{40,}", first), first
    with Session(engine) as s:
        stored = s.scalar(select(Device.token_hash).where(Device.name == "kiosk-1"))
    assert stored == hashlib.sha256(first.encode()).hexdigest()

    def status(client: FlaskClient, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return client.get("/api/v1/centers/cli-1/services", headers=headers).status_code

    with web(db_url) as client:
        assert status(client, first) == 200
        issued = client.post(
            "/api/v1/centers/cli-1/tickets",
            json={"service": "pension-new", "language": "en"},
            headers={"Authorization": f"Bearer {first}"},
        )
        assert issued.status_code == 201  # a kiosk token may issue tickets

    second = ok(novbe("device-token", "cli-1", "kiosk-1")).strip()
    assert second.startswith("dv_") and second != first
    with web(db_url) as client:
        assert status(client, second) == 200
        assert status(client, first) == 401

    err = failed(novbe("device-token", "cli-1", "no-such-kiosk"))
    assert "no device 'no-such-kiosk' at center 'cli-1'" in err


# --- expire-tickets -----------------------------------------------------------------------


def test_expire_tickets_prints_how_many_it_expired(novbe, imported, db_url, engine):
    yesterday = utcnow() - timedelta(days=1)
    database = Database(db_url)
    try:
        with database.write() as s:
            center = s.scalar(select(Center).where(Center.code == "cli-1"))
            kiosk = device_actor(factories.device(s, center, "kiosk-1"))
            for service in ("pension-new", "job-seeker"):
                issue_ticket(s, "cli-1", service, "az", None, kiosk, now=yesterday)
    finally:
        database.dispose()
    assert ok(novbe("expire-tickets")).strip() == "expired 2 tickets"
    with Session(engine) as s:
        assert s.scalars(select(Ticket.status)).all() == ["expired", "expired"]
    assert ok(novbe("expire-tickets")).strip() == "expired 0 tickets"


# --- demo ----------------------------------------------------------------------------------


def test_demo_no_serve_sets_up_the_demo_center_and_prints_logins(novbe, engine):
    assert CENTER_FILE.exists(), f"{CENTER_FILE} is missing"
    out = ok(novbe("demo", "--no-serve"))
    assert "Staff logins" in out and "manager" in out
    tokens = re.findall(r"\bdv_[A-Za-z0-9_-]+", out)
    with Session(engine) as s:
        center = s.scalar(select(Center))
        assert center is not None and center.code in out
        categories = s.scalars(select(ServiceCategory)).all()
        services = s.scalars(select(Service).where(Service.active)).all()
        assert len(categories) == 4
        assert len(services) >= 12
        assert {svc.category_id for svc in services} == {c.id for c in categories}
        assert len(center.counters) == 7  # the 7th a reserve desk, closed
        assert [c.state for c in center.counters if c.label == "7"] == ["closed"]
        devices = s.scalars(select(Device)).all()
        assert {d.kind for d in devices} >= {"kiosk", "display"}
        # Every device's printed token is the one now stored (as its SHA-256).
        assert sorted(hashlib.sha256(t.encode()).hexdigest() for t in tokens) == sorted(
            d.token_hash for d in devices
        )
        users = s.scalars(select(StaffUser)).all()
        assert len(users) == 9  # a manager, reception, and one login per counter
        password = re.search(r"password for all: (\S+)\)", out).group(1)
        for user in users:
            assert user.username in out
            assert check_login(s, user.username, password).id == user.id
        assert s.scalar(select(func.count()).select_from(Ticket)) > 0  # a morning queue
    # Running it again keeps the users and hands out fresh device tokens.
    again = re.findall(r"\bdv_[A-Za-z0-9_-]+", ok(novbe("demo", "--no-serve")))
    assert len(again) == len(tokens) and not set(again) & set(tokens)
    assert count(engine, StaffUser) == 9


# --- serve ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_runs_gunicorn_with_gevent_and_answers(ready_db, db_url, tmp_path):
    """The real process: gunicorn, its gevent worker and a graceful stop on SIGTERM."""
    env = dict(os.environ, NOVBE_DATABASE_URL=db_url)
    env.pop("WEB_CONCURRENCY", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so cleanup reaches the worker too
    )
    try:
        health = None
        deadline = time.monotonic() + 30  # readiness poll, not a timing assertion
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.RequestException:  # refused, or a worker still booting (time-out)
                time.sleep(0.2)
        log.seek(0)
        output = log.read()
        assert health is not None, f"server did not answer (exit {server.poll()}):\n{output}"
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert "gevent" in output  # gunicorn names its worker class when it boots one
        spec = requests.get(f"{base}/api/v1/openapi.json", timeout=5)
        assert spec.status_code == 200
        assert spec.json()["openapi"].startswith("3.1")
        assert "/tickets/{tracking_token}" in spec.json()["paths"]

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=SERVE_TIMEOUT_S) == 0  # a graceful gunicorn shutdown exits 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
