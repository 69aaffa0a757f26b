"""Who works at a counter, with two real ``novbe serve`` processes sharing PostgreSQL
and Redis: two staff members at one counter through different processes hear of each
other, the picker's API on either process names both, and one lost with a killed
process is forgotten (the heartbeat's sweep) and announced."""

from __future__ import annotations

import os
import secrets

import pytest

from server.auth import create_staff, issue_staff_token

from . import factories
from .live import postgres_database, start_live_server
from .test_several_processes import Listener

POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/7"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def names(presence: dict) -> list[str]:
    return [person["username"] for person in presence["staff"]]


def test_staff_at_one_counter_through_two_processes_see_each_other(tmp_path):
    channel = {"NOVBE_MESSAGE_CHANNEL": f"novbe-test-{secrets.token_hex(4)}"}
    with postgres_database(POSTGRES_URL) as url:
        first, second = (
            start_live_server(tmp_path, url, message_queue=REDIS_URL, env=channel) for _ in range(2)
        )
        clients: list[Listener] = []
        try:
            center = first.new_center()
            with first.db.write() as s:
                aylin = create_staff(
                    s, f"aylin-{center.code}", factories.PASSWORD, "staff", center.code
                )
                aylin_token = issue_staff_token(s, aylin, hours=1)[0]
                aylin_name = aylin.username
            counter = center.counters["1"]
            mine = Listener(first.url, {"token": center.staff_token, "counter": counter})
            clients.append(mine)
            mine.wait_for("counter.presence", lambda p: names(p) == [center.staff_username])
            theirs = Listener(second.url, {"token": aylin_token, "counter": counter})
            clients.append(theirs)
            both = [center.staff_username, aylin_name]
            for client in (mine, theirs):
                client.wait_for("counter.presence", lambda p: sorted(names(p)) == sorted(both))

            for server in (first, second):  # the picker, on either process
                listed = server.api("GET", f"/centers/{center.code}/counters", center.staff_token)
                by_id = {c["id"]: c for c in listed.json()["counters"]}
                assert sorted(p["username"] for p in by_id[counter]["staff"]) == sorted(both)

            mine.heard.clear()
            second.kill()  # no goodbye: the survivor's sweep forgets aylin and says so
            mine.wait_for(
                "counter.presence", lambda p: names(p) == [center.staff_username], timeout=40
            )
            listed = first.api("GET", f"/centers/{center.code}/counters", center.staff_token)
            by_id = {c["id"]: c for c in listed.json()["counters"]}
            assert [p["username"] for p in by_id[counter]["staff"]] == [center.staff_username]
        finally:
            for client in clients:
                client.sio.disconnect()
            first.stop()
            second.stop()
