"""Operations: /readyz, /metrics, JSON log lines and ``novbe backup`` (server/operations/,
server/logs.py, server/backup.py). In-process tests run on SQLite and PostgreSQL; the
live ones against a real ``novbe serve`` and real Socket.IO clients."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

from server import create_app, queue
from server.config import TestConfig
from server.extensions import db as app_db
from server.logs import configure_logging
from server.models import Ticket, utcnow

from . import factories
from .engine_helpers import quick_staff
from .live import start_live_server

CLOSED_PORT_REDIS = "redis://:hunter2-secret@127.0.0.1:1/0"
REDIS_URL = os.environ.get("NOVBE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
NAMESPACE = "/live"
CLI_TIMEOUT_S = 120


def make_app(database_url: str, **settings):
    return create_app(type("Config", (TestConfig,), {"DATABASE_URL": database_url, **settings}))


def scrape(client, path: str = "/metrics", **kwargs) -> dict[tuple, float]:
    """``{(sample name, ((label, value), ...)): value}`` from a /metrics answer."""
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict[tuple, float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def noon_timezone(now: datetime) -> str:
    """An Etc/GMT zone in which ``now`` is between 12:00 and 13:00, so that "ten minutes
    ago" is surely today there and "a day ago" surely yesterday, at any hour of the run."""
    offset = 12 - now.hour  # hours east of UTC
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted


# ---- /readyz ----------------------------------------------------------------------------


def test_readyz_is_ready_with_the_database_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "message_queue": "not used"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_a_message_queue_that_is_down(database_url):
    app = make_app(database_url, SOCKETIO_MESSAGE_QUEUE=CLOSED_PORT_REDIS)
    try:
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        app_db.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["message_queue"].startswith("ConnectionError: ")
    assert "127.0.0.1:1" in body["checks"]["message_queue"]
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text
    assert elapsed < 10  # a refused port answers at once; never the client's defaults


def test_readyz_pings_a_message_queue_that_is_up(database_url):
    app = make_app(database_url, SOCKETIO_MESSAGE_QUEUE=REDIS_URL)
    try:
        client = app.test_client()
        first, second = client.get("/readyz"), client.get("/readyz")
    finally:
        app_db.dispose()
    for response in (first, second):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["checks"] == {"database": "ok", "message_queue": "ok"}


def test_readyz_names_a_database_that_is_down():
    # Nothing listens on port 1: the connection is refused.
    app = make_app("postgresql+psycopg://novbe:s3cret-pw@127.0.0.1:1/novbe")
    try:
        response = app.test_client().get("/readyz")
    finally:
        app_db.dispose()
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"].startswith("OperationalError: "), checks
    assert checks["message_queue"] == "not used"
    assert "s3cret-pw" not in response.get_data(as_text=True)
    assert "\n" not in checks["database"]


# ---- /metrics: the queues -----------------------------------------------------------------


def test_metrics_report_each_services_queue_from_the_database(db, client):
    now = utcnow()
    with db.write() as s:
        center = factories.make_center(s, "ops-a", timezone=noon_timezone(now))
        factories.make_center(s, "ops-b")  # nothing issued: zeros, not missing series
        kiosk = factories.kiosk_actor(s, center)
        staff = quick_staff(s, center, "ops-staff")
        counters = {label: factories.counter(s, center, label).id for label in ("1", "3")}

    def issue(service: str, at: datetime) -> Ticket:
        with db.write() as s:
            return queue.issue_ticket(s, "ops-a", service, "az", None, kiosk, now=at).ticket

    oldest = issue("pension-new", now - timedelta(minutes=10))
    issue("pension-new", now - timedelta(minutes=1))
    printing = [issue("pension-new", now), issue("job-seeker", now)]
    issue("pension-recalc", now - timedelta(days=1))  # yesterday's, still waiting
    first = issue("job-seeker", now)
    issue("job-seeker", now)
    with db.write() as s:
        assert queue.call_next(s, counters["3"], staff).id == printing[1].id
        # Back into the line of counter 1 by name: waiting, in that counter's own queue.
        queue.transfer(s, printing[1].id, staff, counter_id=counters["1"])
        assert queue.call_next(s, counters["3"], staff).id == first.id
        for ticket in printing:
            s.get(Ticket, ticket.id).print_state = "pending"

    samples = scrape(client)
    assert value(samples, "novbe_database_up") == 1

    def figures(service: str, center: str = "ops-a") -> tuple:
        labels = {"center": center, "service": service}
        return tuple(
            value(samples, name, **labels)
            for name in (
                "novbe_waiting_tickets",
                "novbe_tickets_issued_today",
                "novbe_tickets_called_today",
            )
        )

    # (waiting, issued today, called today)
    assert figures("pension-new") == (3, 3, 0)
    assert figures("job-seeker") == (2, 3, 2)  # one waits for counter 1 by name
    assert figures("pension-recalc") == (1, 0, 0)  # issued yesterday, the center's time
    assert figures("unemployment") == (0, 0, 0)
    for service in ("pension-new", "pension-recalc", "job-seeker", "unemployment"):
        assert figures(service, "ops-b") == (0, 0, 0)
        assert value(samples, "novbe_longest_wait_seconds", center="ops-b", service=service) == 0

    longest = value(samples, "novbe_longest_wait_seconds", center="ops-a", service="pension-new")
    waited = (utcnow() - oldest.issued_at).total_seconds()
    assert 600 <= longest <= waited + 1
    yesterday = value(
        samples, "novbe_longest_wait_seconds", center="ops-a", service="pension-recalc"
    )
    assert yesterday >= 24 * 3600
    assert value(samples, "novbe_longest_wait_seconds", center="ops-a", service="unemployment") == 0
    assert value(samples, "novbe_print_pending", center="ops-a") == 2
    assert value(samples, "novbe_print_pending", center="ops-b") == 0

    # Called from the other counter and served: the figures follow at the next scrape.
    with db.write() as s:
        called = queue.call_next(s, counters["1"], staff)
    assert called.id == printing[1].id  # its own counter's visitor goes first
    samples = scrape(client)
    assert figures("job-seeker") == (1, 3, 2)


def test_metrics_can_leave_the_queue_figures_out(center, client):
    client.get("/healthz")
    full = scrape(client)
    light = scrape(client, "/metrics?queues=0")
    queue_names = {"novbe_waiting_tickets", "novbe_database_up", "novbe_print_pending"}
    assert queue_names <= {name for name, _ in full}
    assert not queue_names & {name for name, _ in light}
    assert value(light, "novbe_live_connections", kind="device") == 0
    assert any(name == "process_resident_memory_bytes" for name, _ in light)


# ---- /metrics: this process -----------------------------------------------------------------


def test_request_latency_is_counted_by_route_and_status_class(center, client):
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert client.post("/healthz").status_code == 405
    assert client.open("/healthz", method="BREW").status_code == 405
    assert client.get("/api/v1/centers/baku-1/services").status_code == 401  # no login
    samples = scrape(client)

    def count(**labels) -> float | None:
        return value(samples, "novbe_http_request_duration_seconds_count", **labels)

    assert count(method="GET", endpoint="/healthz", status="2xx") == 2
    assert count(method="GET", endpoint="<unmatched>", status="4xx") == 1
    assert count(method="POST", endpoint="<unmatched>", status="4xx") == 1
    assert count(method="other", endpoint="<unmatched>", status="4xx") == 1
    services = "/api/v1/centers/<center_code>/services"
    assert count(method="GET", endpoint=services, status="4xx") == 1
    # The route's rule, never the path: a center's code is no label.
    endpoints = {
        dict(labels)["endpoint"]
        for name, labels in samples
        if name == "novbe_http_request_duration_seconds_count"
    }
    assert not any("baku-1" in endpoint for endpoint in endpoints), endpoints
    assert any(endpoint.startswith("/api/v1/centers/<") for endpoint in endpoints), endpoints
    buckets = [
        (dict(labels)["le"], sample)
        for (name, labels), sample in samples.items()
        if name == "novbe_http_request_duration_seconds_bucket"
        and dict(labels)["endpoint"] == "/healthz"
    ]
    assert ("+Inf", 2) in buckets

    client.get("/healthz")
    assert value(
        scrape(client), "novbe_http_request_duration_seconds_count",
        method="GET", endpoint="/healthz", status="2xx",
    ) == 3  # fmt: skip


def test_every_app_has_its_own_registry(database_url):
    """create_app runs many times in one process: no metric is registered twice, and one
    app's requests are not counted in another's."""
    first, second = make_app(database_url), make_app(database_url)
    try:
        first.test_client().get("/healthz")
        seen = scrape(second.test_client())
    finally:
        app_db.dispose()
    assert (
        value(seen, "novbe_http_request_duration_seconds_count",
              method="GET", endpoint="/healthz", status="2xx") is None
    )  # fmt: skip


# ---- /metrics: who may read it ----------------------------------------------------------------


def test_metrics_answer_only_allowed_addresses(client):
    unknown = client.get("/no-such-page")
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert refused.status_code == 404
    assert refused.get_data() == unknown.get_data()  # as if there were no such page
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::2"}).status_code == 404


def test_the_allowed_networks_are_a_setting(database_url):
    app = make_app(database_url, METRICS_ALLOW=" 10.0.0.0/8 , 192.168.5.7")
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 404  # loopback is no longer in
        for address in ("10.200.0.1", "192.168.5.7"):
            response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
            assert response.status_code == 200
        assert (
            client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.5.8"}).status_code == 404
        )
    finally:
        app_db.dispose()


def test_behind_a_trusted_proxy_the_forwarded_client_decides(database_url):
    app = make_app(database_url, TRUSTED_PROXIES=1)
    try:
        client = app.test_client()
        # Through the proxy on this machine, for a client elsewhere: refused.
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        assert client.get("/metrics", headers=forwarded).status_code == 404
        # Prometheus on this machine, straight to the process's port: answered.
        assert client.get("/metrics").status_code == 200
    finally:
        app_db.dispose()


def test_a_bad_allowed_network_is_a_clear_error(database_url):
    with pytest.raises(ValueError, match=r"NOVBE_METRICS_ALLOW: '10\.0\.0\.0/33'"):
        make_app(database_url, METRICS_ALLOW="127.0.0.0/8,10.0.0.0/33")
    app_db.dispose()


# ---- /metrics on a real server: live connections by kind ------------------------------------


# What Prometheus sends (it prefers OpenMetrics; the classic text format is what it gets).
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
}


def live_samples(live_server, query: str = "") -> dict[tuple, float]:
    response = requests.get(
        f"{live_server.url}/metrics{query}", headers=PROMETHEUS_HEADERS, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["Content-Encoding"] == "gzip"  # requests has unpacked it
    return parse(response.text)


def connections(live_server) -> dict[str, float]:
    samples = live_samples(live_server, "?queues=0")
    return {
        kind: value(samples, "novbe_live_connections", kind=kind)
        for kind in ("device", "staff", "visitor", "public", "agent")
    }


def wait_for_connections(live_server, expected: dict[str, float]) -> dict[str, float]:
    deadline = time.monotonic() + 10
    while True:
        seen = connections(live_server)
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


@pytest.fixture
def own_server(tmp_path):
    """A server of this test's own: no other test's connections come and go in it."""
    server = start_live_server(tmp_path)
    yield server
    server.stop()


def test_live_connections_are_counted_by_kind(own_server):
    live_server, live_center = own_server, own_server.new_center()
    ticket = live_server.issue(live_center, "pension-new")
    before = connections(live_server)
    assert before == dict.fromkeys(before, 0)
    auths = {
        "device": {"token": live_center.display_token},
        "staff": {"token": live_center.staff_token, "counter": live_center.counters["1"]},
        "visitor": {"ticket": ticket["tracking_token"]},
        "public": {"public": live_center.code},
        "agent": {"token": live_center.kiosk_token, "agent": "printer"},
    }
    clients = []
    try:
        for auth in auths.values():
            client = socketio.SimpleClient()
            client.connect(
                live_server.url, namespace=NAMESPACE, auth=auth, transports=["websocket"]
            )
            clients.append(client)
        expected = {kind: before[kind] + 1 for kind in auths}
        assert wait_for_connections(live_server, expected) == expected
        # The manager's dashboard (no counter) counts as staff too.
        manager = socketio.SimpleClient()
        manager.connect(
            live_server.url,
            namespace=NAMESPACE,
            auth={"token": live_center.manager_token},
            transports=["websocket"],
        )
        clients.append(manager)
        expected["staff"] += 1
        assert wait_for_connections(live_server, expected) == expected
    finally:
        for client in clients:
            client.disconnect()
    assert wait_for_connections(live_server, before) == before


def test_a_live_server_reports_its_queues_and_readiness(live_server, live_center):
    for _ in range(3):
        live_server.issue(live_center, "job-seeker")
    live_server.call_next(live_center, "3")
    samples = live_samples(live_server)
    labels = {"center": live_center.code, "service": "job-seeker"}
    assert value(samples, "novbe_waiting_tickets", **labels) == 2
    assert value(samples, "novbe_tickets_issued_today", **labels) == 3
    assert value(samples, "novbe_tickets_called_today", **labels) == 1
    ready = requests.get(f"{live_server.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


# ---- JSON log lines ---------------------------------------------------------------------------


@pytest.fixture
def restore_logging():
    """configure_logging changes process-wide loggers: put them back afterwards."""
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    saved = [
        (logger, list(logger.handlers), [h.formatter for h in logger.handlers])
        for logger in loggers
        if isinstance(logger, logging.Logger)
    ]
    yield
    for logger, handlers, formatters in saved:
        logger.handlers[:] = handlers
        for handler, formatter in zip(handlers, formatters, strict=True):
            handler.setFormatter(formatter)


def test_json_log_lines_carry_the_exception(database_url, restore_logging):
    app = make_app(database_url, LOG_FORMAT="json", PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("the printer caught fire\nsecond line")

    stream = io.StringIO()
    try:
        configure_logging(app, stream)
        assert app.test_client().get("/boom").status_code == 500
        logging.getLogger("engineio.server").error("engine trouble")
        logging.getLogger("server.test").warning("plain %s", "warning")
        logging.getLogger("server.test").info("below the level: not written")
    finally:
        app_db.dispose()
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(entries) == 3, lines  # each once: no plain copy beside the JSON one
    crash, engine, plain = entries
    assert crash["level"] == "ERROR" and crash["logger"] == app.name
    assert crash["message"] == "Exception on /boom [GET]"
    assert "Traceback" in crash["exception"]
    assert "RuntimeError: the printer caught fire\nsecond line" in crash["exception"]
    assert (engine["logger"], engine["message"]) == ("engineio.server", "engine trouble")
    assert "exception" not in plain and plain["message"] == "plain warning"
    assert plain["pid"] == os.getpid()
    stamp = datetime.fromisoformat(plain["time"].replace("Z", "+00:00"))
    assert plain["time"].endswith("Z") and stamp.tzinfo == UTC
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_text_is_the_default_and_other_formats_are_refused(database_url, restore_logging):
    try:
        assert configure_logging(make_app(database_url)) is None
        with pytest.raises(ValueError, match="NOVBE_LOG_FORMAT must be one of text, json"):
            configure_logging(make_app(database_url, LOG_FORMAT="xml"))
    finally:
        app_db.dispose()


def test_a_live_server_logs_json_lines(tmp_path):
    server = start_live_server(tmp_path, env={"NOVBE_LOG_FORMAT": "json"})
    try:
        # A proxy header with no trusted proxy configured: the app warns once.
        requests.get(f"{server.url}/healthz", headers={"X-Forwarded-For": "10.0.0.1"}, timeout=10)
        # Not HTTP: gunicorn's worker warns (its own logger, which does not propagate).
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            raw.recv(4096)
        deadline = time.monotonic() + 10
        while "Invalid request" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    warning = next(e for e in entries if "X-Forwarded-For" in e["message"])
    assert (warning["level"], warning["logger"]) == ("WARNING", "server.connections.middleware")
    invalid = next(e for e in entries if "Invalid request" in e["message"])
    assert (invalid["level"], invalid["logger"]) == ("WARNING", "gunicorn.error")
    for line in log.splitlines():  # each once, and only as JSON
        if "X-Forwarded-For" in line or "Invalid request" in line:
            assert line.startswith("{"), line
    assert "Booting worker" in log  # gunicorn's master process stays plain text


# ---- novbe backup -----------------------------------------------------------------------------


def novbe(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NOVBE_DATABASE_URL=database_url)
    env.pop("NOVBE_MESSAGE_QUEUE", None)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def failed(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Error:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_backup_of_a_live_database_while_tickets_are_issued(live_server, live_center, tmp_path):
    issued: list[int] = []
    stop = threading.Event()
    errors: list[str] = []

    def keep_issuing() -> None:
        while not stop.is_set():
            try:
                issued.append(live_server.issue(live_center, "pension-new")["id"])
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(repr(error))
                return

    writer = threading.Thread(target=keep_issuing, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(issued) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        committed = list(issued)  # answered 201: committed before the backup starts
        assert len(committed) >= 20, errors
        result = novbe("backup", "copy.db", database_url=live_server.database_url, cwd=tmp_path)
        during = len(issued) - len(committed)
    finally:
        stop.set()
        writer.join(30)
    assert not errors, errors
    assert result.returncode == 0, result.stderr
    assert during > 0  # the server kept issuing while the copy was made
    copy_path = tmp_path / "copy.db"
    match = re.search(r"to (\S+): (\d+) bytes, (\d+) tickets, integrity check ok", result.stdout)
    assert match, result.stdout
    assert Path(match[1]).resolve() == copy_path.resolve()
    assert int(match[2]) == copy_path.stat().st_size
    copy = sqlite3.connect(copy_path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        assert int(match[3]) == copy.execute("SELECT count(*) FROM tickets").fetchone()[0]
        ids = {row[0] for row in copy.execute("SELECT id FROM tickets")}
        assert set(committed) <= ids
        # One consistent moment: each day's last number given is the last ticket's.
        gaps = copy.execute(
            "SELECT s.prefix, s.last_number, max(t.number) FROM ticket_sequences s "
            "JOIN tickets t ON t.center_id = s.center_id AND t.prefix = s.prefix "
            "AND t.business_day = s.business_day "
            "GROUP BY s.center_id, s.prefix, s.business_day "
            "HAVING s.last_number != max(t.number)"
        ).fetchall()
        assert gaps == []
    finally:
        copy.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]  # no temporary left


def test_backup_refuses_to_overwrite_unless_forced(live_server, tmp_path):
    existing = tmp_path / "novbe.db.bak"
    existing.write_bytes(b"yesterday's backup")
    refused = novbe("backup", str(existing), database_url=live_server.database_url, cwd=tmp_path)
    assert "exists" in failed(refused) and "--force" in refused.stderr
    assert existing.read_bytes() == b"yesterday's backup"
    forced = novbe(
        "backup", str(existing), "--force", database_url=live_server.database_url, cwd=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(existing) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["novbe.db.bak"]


def test_backup_refuses_the_database_itself_and_a_missing_one(live_server, tmp_path):
    source = live_server.database_url.removeprefix("sqlite:///")
    itself = novbe("backup", source, "--force", database_url=live_server.database_url, cwd=tmp_path)
    assert "is the database itself" in failed(itself)
    missing = novbe(
        "backup", "copy.db", database_url=f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path
    )
    assert "there is no database at" in failed(missing)
    assert not (tmp_path / "none.db").exists()  # not created by looking for it
    assert not (tmp_path / "copy.db").exists()


def test_backup_of_postgresql_names_pg_dump(tmp_path):
    url = "postgresql+psycopg://novbe:s3cret-pw@db.example:5433/novbe_prod"
    stderr = failed(novbe("backup", "novbe.dump", database_url=url, cwd=tmp_path))
    assert "pg_dump" in stderr
    assert "--host=db.example" in stderr and "--port=5433" in stderr
    assert "--username=novbe" in stderr and "novbe_prod" in stderr
    assert "s3cret-pw" not in stderr
    assert not (tmp_path / "novbe.dump").exists()
