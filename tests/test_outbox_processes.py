"""One outbox, two server processes (PostgreSQL, this machine's Redis): changes made
through either process reach a webhook receiver exactly once each, with no duplicate
``webhook-id``: the ``outbox`` lease lets one process send, and the claims would keep
two apart even without it."""

from __future__ import annotations

import os
import secrets
import time

import pytest

from .live import postgres_database, start_live_server
from .webhook_receiver import Receiver

POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/7"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def pair(tmp_path):
    channel = {"NOVBE_MESSAGE_CHANNEL": f"novbe-test-{secrets.token_hex(4)}"}
    with postgres_database(POSTGRES_URL) as url:
        servers = [
            start_live_server(tmp_path, url, message_queue=REDIS_URL, env=channel) for _ in range(2)
        ]
        yield servers
        for server in servers:
            server.stop()


def test_every_event_arrives_exactly_once(pair):
    first, second = pair
    center = first.new_center()
    receiver = Receiver().start()
    try:
        r = first.api(
            "POST",
            "/webhooks",
            center.manager_token,
            json={"url": receiver.url, "events": ["ticket.issued"], "center": center.code},
        )
        assert r.status_code == 201, r.text
        receiver.secrets = [r.json()["secret"]]
        time.sleep(0.5)  # the bus tells the second process of the new subscription
        numbers = [(first, second)[n % 2].issue(center, "pension-new")["number"] for n in range(20)]
        receiver.wait_for(lambda e: e.data["number"] == numbers[-1], timeout=30)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # anything sent twice would have come by now
        ids = [event.id for event in receiver.received]
        assert len(ids) == len(set(ids)) == 20, ids
        assert sorted(event.data["number"] for event in receiver.received) == sorted(numbers)
        assert receiver.refused == 0
    finally:
        receiver.stop()
