"""Login limits: failed logins per username and per address get 429 with Retry-After, a
locked account refuses even the right password, locks are audited once, and in
production the password check runs off the event loop (a real ``novbe serve``)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server import create_app
from server.config import TestConfig
from server.models import AuditEntry

from . import factories

PREFIX = "/api/v1"
WRONG = "wrong-password-123"


def log_in(client, username="alice", password=WRONG, route="token", address=None):
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post(
        f"{PREFIX}/auth/{route}",
        json={"username": username, "password": password},
        environ_base=environ,
    )


def assert_locked(response) -> int:
    """The refusal's shape; returns its Retry-After in seconds."""
    assert response.status_code == 429, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "too_many_attempts"
    retry_after = error["details"]["retry_after"]
    assert response.headers["Retry-After"] == str(retry_after)
    assert "too many failed logins" in error["message"]
    assert "try again in" in error["message"]
    return retry_after


def lock_entries(db) -> list[dict]:
    with db.read() as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "login_locked").order_by(AuditEntry.id)
        )
        return [{c.name: getattr(e, c.name) for c in AuditEntry.__table__.columns} for e in entries]


@pytest.fixture
def alice(db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        factories.make_staff(s, "bob")
        factories.make_staff(s, "maria", role="manager")
    return "alice"


def test_wrong_passwords_get_429_after_five_with_retry_after(client, alice):
    for _ in range(5):
        response = log_in(client)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "bad_credentials"
    refused = log_in(client)
    retry_after = assert_locked(refused)
    assert 1 <= retry_after <= 61
    message = refused.get_json()["error"]["message"]
    assert message.endswith(f"for this username; try again in {retry_after} seconds")


def test_the_right_password_is_refused_while_locked(client, alice):
    for _ in range(5):
        assert log_in(client, route="token").status_code == 401
    # Both routes share the counts: the lock earned on /token holds on /session too.
    assert_locked(log_in(client, password=factories.PASSWORD, route="session"))
    assert_locked(log_in(client, password=factories.PASSWORD, route="token"))
    assert client.get(f"{PREFIX}/auth/session").status_code == 401  # no cookie was set


def test_one_username_locked_leaves_another_from_the_same_address_alone(client, alice):
    for _ in range(6):
        log_in(client)
    assert log_in(client).status_code == 429
    assert log_in(client, "bob", factories.PASSWORD).status_code == 201
    assert log_in(client, "bob", WRONG).status_code == 401  # counted for bob, not refused


def test_the_address_tier_locks_every_username_from_that_address_only(app, client, alice):
    app.config["LOGIN_LIMITS_PER_ADDRESS"] = "3/minute"
    for username in ("nobody-1", "nobody-2", "nobody-3"):
        assert log_in(client, username, address="192.0.2.7").status_code == 401
    refused = log_in(client, "alice", factories.PASSWORD, address="192.0.2.7")
    assert_locked(refused)
    assert "from this address" in refused.get_json()["error"]["message"]
    assert log_in(client, "alice", factories.PASSWORD, address="192.0.2.8").status_code == 201


def test_an_ipv6_clients_whole_slash_64_is_one_address(app, client, alice):
    """A host holds a /64 and can pick any address in it: new addresses from it are the
    same client; the next /64 is another."""
    app.config["LOGIN_LIMITS_PER_ADDRESS"] = "3/minute"
    for n, username in enumerate(("nobody-1", "nobody-2", "nobody-3"), start=1):
        assert log_in(client, username, address=f"2001:db8:1:2::{n}").status_code == 401
    assert_locked(log_in(client, "alice", factories.PASSWORD, address="2001:db8:1:2::ffff"))
    assert log_in(client, "alice", factories.PASSWORD, address="2001:db8:1:3::1").status_code == 201


def test_successful_logins_are_not_counted(client, alice):
    for _ in range(8):
        assert log_in(client, password=factories.PASSWORD).status_code == 201
    assert log_in(client).status_code == 401


def test_tiers_make_the_delay_grow(app, client, alice):
    app.config["LOGIN_LIMITS_PER_USERNAME"] = "2/second;3/hour"
    assert log_in(client).status_code == 401
    assert log_in(client).status_code == 401
    assert assert_locked(log_in(client)) <= 2
    time.sleep(2.1)  # the 2-a-second tier frees up; the hour tier has one failure left
    assert log_in(client).status_code == 401
    refused = log_in(client, password=factories.PASSWORD)
    assert assert_locked(refused) > 3000  # now the hour tier: most of an hour
    assert "minutes" in refused.get_json()["error"]["message"]


def test_a_lock_is_audited_once_in_the_accounts_center(client, db, center, alice):
    for _ in range(5):
        log_in(client)
    for _ in range(4):
        assert log_in(client).status_code == 429
    [entry] = lock_entries(db)
    assert (entry["center_id"], entry["entity_type"], entry["entity_id"]) == (
        center.id,
        "staff",
        "alice",
    )
    assert entry["username"] == "127.0.0.1"  # who tried: the client's address
    assert entry["staff_id"] is None
    assert entry["after"]["locked"] == "username"
    assert entry["after"]["limits"] == ["5 per 1 minute"]

    # Managers see it in the center's audit log.
    with db.write() as s:
        token = factories.staff_token(s, "maria")
    audit = client.get(
        f"{PREFIX}/centers/baku-1/audit", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert [e["action"] for e in audit["entries"]].count("login_locked") == 1


def test_locks_of_unknown_usernames_and_of_addresses_have_no_center(app, client, db, alice):
    app.config["LOGIN_LIMITS_PER_ADDRESS"] = "7/minute"
    for _ in range(5):
        log_in(client, "ghost")  # the username tier fills at 5 ...
    log_in(client, "ghost-2")
    log_in(client, "ghost-3")  # ... and the address tier at 7
    assert log_in(client, "ghost-4").status_code == 429
    entries = lock_entries(db)
    assert [(e["after"]["locked"], e["entity_id"], e["center_id"]) for e in entries] == [
        ("username", "ghost", None),
        ("address", "ghost-3", None),
    ]


def test_redis_storage_shares_the_counts_between_server_processes(database_url, app, db):
    """Two apps on one Redis stand for two server processes: a lock earned on one holds
    on the other."""
    import hashlib

    import redis

    username = f"r-{secrets.token_hex(4)}"  # keys of its own, whoever else uses the Redis
    with db.write() as s:
        factories.make_staff(s, username, center_code=factories.make_center(s).code)
    config = type(
        "Config",
        (TestConfig,),
        {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/3"},
    )
    try:
        first = create_app(config).test_client()
        for _ in range(5):
            assert log_in(first, username).status_code == 401
        second = create_app(config).test_client()
        assert_locked(log_in(second, username, factories.PASSWORD))
    finally:
        store = redis.Redis.from_url("redis://127.0.0.1:6379/3")
        key = hashlib.sha256(username.encode()).hexdigest()[:32]
        for pattern in (f"*{key}*", "*login-address*"):
            for name in store.scan_iter(pattern):
                store.delete(name)


# --- against a real server process (gunicorn, one gevent worker) -------------------------


def test_live_burst_of_wrong_logins_gets_429(live_server, live_center):
    statuses = []
    for _ in range(8):
        response = live_server.api(
            "POST",
            "/auth/token",
            json={"username": live_center.staff_username, "password": WRONG},
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429] * 3
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "too_many_attempts"


def _thread_cpu(pid: int) -> dict[int, int]:
    """CPU clock ticks (user + system) of each thread of process ``pid``."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        ticks[int(task.name)] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def test_live_password_checks_run_off_the_event_loop(live_server):
    """Behaviour, not timing: the CPU of the password checks is spent in threads other
    than the worker's main thread (where gevent's event loop serves every request), and
    health checks sent meanwhile all answer."""
    master = live_server.process.pid
    [worker] = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    worker = int(worker)
    before = _thread_cpu(worker)
    run = secrets.token_hex(3)
    statuses: list[int] = []
    health: list[int] = []

    def post_wrong(n: int) -> None:
        for k in range(2):  # distinct unknown usernames: no username tier gets in the way
            response = live_server.api(
                "POST", "/auth/token", json={"username": f"x-{run}-{n}-{k}", "password": WRONG}
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post_wrong, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        health.append(requests.get(f"{live_server.url}/healthz", timeout=10).status_code)
    for t in threads:
        t.join()
    after = _thread_cpu(worker)

    assert statuses == [401] * 8  # every one was a real password check
    assert health and set(health) == {200}
    main = after[worker] - before.get(worker, 0)
    others = sum(cpu - before.get(tid, 0) for tid, cpu in after.items() if tid != worker)
    assert others > main, f"password CPU ran on the event loop: main {main}, others {others}"
