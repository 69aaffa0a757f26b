"""The hall's capacity (server/appointments/hall.py, queue/issuing.py): who counts as
present, walk-ins beyond the capacity get "outside" tickets that check in by their QR,
appointments are not refused; the HTTP answers.

Test center (factories.center_spec): A = pension-new (target 15 min), counter 1 serves
A and B.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server import queue
from server.appointments import checkin
from server.appointments.hall import hall_state
from server.models import ABSENT, Center, utcnow
from server.queue.numbering import local_day

from .api_helpers import PREFIX, act, assert_error, issue, setup_api
from .arrival_helpers import book, remote_on
from .engine_helpers import Env, at, make_env
from .engine_helpers import issue as issue_at


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s, hall_capacity=3)


def state(s, env: Env):
    return hall_state(s, env.center_id, local_day("Asia/Baku", at(0)), at(0))


def test_walk_ins_beyond_the_capacity_wait_outside(db, env):
    with db.write() as s:
        s.get(Center, env.center_id).hall_capacity = 3
        inside = [issue_at(s, env, minute=m) for m in range(3)]
        assert [t.kind for t in inside] == ["walk_in"] * 3
        assert state(s, env).present == 3 and state(s, env).full
        outside = issue_at(s, env, minute=3)
        assert (outside.kind, outside.callable_at) == ("outside", ABSENT)
        assert state(s, env).present == 3  # outside: not in the hall
        # Called and serving still count; done ones leave.
        ticket = queue.call_next(s, env.c1, env.alice, now=at(20))
        assert ticket.id == inside[0].id and state(s, env).present == 3
        queue.start(s, ticket.id, env.alice, now=at(20))
        assert state(s, env).present == 3
        queue.complete(s, ticket.id, env.alice, now=at(21))
        assert state(s, env).present == 2 and not state(s, env).full
        assert issue_at(s, env, minute=22).kind == "walk_in"
        # The outside ticket is passed over until its visitor comes in and checks in.
        assert queue.call_next(s, env.c1, env.alice, now=at(22)).id == inside[1].id
        url = f"http://kiosk/t/{outside.tracking_token}"
        done = checkin.check_in(s, env.center_code, url, env.kiosk, now=at(23))
        assert done.kind == "outside" and outside.callable_at is None
        assert state(s, env).present == 4  # checked in: inside, over the capacity
        queue.start(s, inside[1].id, env.alice, now=at(24))  # call-next completes it
        assert queue.call_next(s, env.c1, env.alice, now=at(24)).id == inside[2].id  # due 17
        queue.start(s, inside[2].id, env.alice, now=at(24))
        assert queue.call_next(s, env.c1, env.alice, now=at(25)).id == outside.id  # due 18


def test_no_capacity_no_limit(db):
    with db.write() as s:
        env = make_env(s)
        tickets = [issue_at(s, env, minute=m) for m in range(5)]
        assert {t.kind for t in tickets} == {"walk_in"}
        hall = state(s, env)
        assert (hall.capacity, hall.present, hall.full) == (None, 5, False)


def test_checked_in_appointments_and_remote_tickets_count_absent_ones_do_not(db, env):
    with db.write() as s:
        remote_on(s, env, "pension-new")
        from server.appointments import remote

        joined = remote.join_from_home(s, env.center_code, "pension-new", "en", now=at(0))
        assert state(s, env).present == 0
        for m in range(3):
            issue_at(s, env, minute=m)
        book(s, env.center_id, at(10), code="HALL22")
        done = checkin.check_in(s, env.center_code, "HALL22", env.kiosk, now=at(5))
        assert done.kind == "appointment"  # a full hall does not refuse a booking
        assert state(s, env).present == 4  # its ticket is callable later, but present
        url = f"/t/{joined.ticket.tracking_token}"
        checkin.check_in(s, env.center_code, url, env.kiosk, now=at(6))
        assert state(s, env).present == 5


def test_http_issue_says_wait_outside(client, db, center):
    api = setup_api(db, center)
    with db.write() as s:
        s.get(Center, center.id).hall_capacity = 1
    first = issue(client, api)
    assert first["kind"] == "walk_in"
    # Full hall: a wait of 10 minutes or less would be let in at once, so it is an
    # ordinary walk-in; a longer one waits outside.
    more = [issue(client, api) for _ in range(6)]
    assert [t["kind"] for t in more] == [
        "walk_in" if t["estimated_wait_s"] <= 600 else "outside" for t in more
    ]
    inside = [t for t in more if t["kind"] == "walk_in"]
    outside = [t for t in more if t["kind"] == "outside"]
    assert inside and len(outside) >= 2
    last = outside[-1]
    public = client.get(f"{PREFIX}/tickets/{last['tracking_token']}").get_json()
    assert public["kind"] == "outside" and public["absent"] == {
        "passed_at": None,
        "hold_until": None,
        "come_in_s": 600,
        "hall_room": False,
    }
    assert public["estimated_wait_s"] > 600

    def scan(ticket: dict, headers=None, **extra):
        body = {"code": f"https://example.org/t/{ticket['tracking_token']}", **extra}
        url = f"{PREFIX}/centers/baku-1/check-in"
        return client.post(url, json=body, headers=headers or api.kiosk)

    # Full hall, a long wait: not let in; the answer says why and the estimate.
    error = assert_error(scan(last), 409, "hall_full")
    assert error["details"] == {"estimated_wait_s": public["estimated_wait_s"], "come_in_s": 600}
    assert f"{1 + len(inside)}/1" in error["message"]
    # A priority class with a ticket's QR is refused, naming the field.
    assert_error(scan(last, api.staff, priority="disabled"), 422, "invalid_input", field="priority")
    # Still full (the first visitor stays), but the walk-ins ahead leave: the first
    # outside ticket's wait drops to 10 minutes or less and it comes in.
    for ticket in inside:
        assert act(client, api, ticket["id"], "cancel").status_code == 200
    soon = client.get(f"{PREFIX}/tickets/{outside[0]['tracking_token']}").get_json()
    assert soon["estimated_wait_s"] <= 600 and soon["absent"]["hall_room"] is False
    checked = scan(outside[0])
    assert checked.status_code == 200 and checked.get_json()["checked_in"] is True
    # The hall empties: room, the phone says so, and the long wait is let in too.
    for ticket in (first, outside[0]):
        assert act(client, api, ticket["id"], "cancel").status_code == 200
    public = client.get(f"{PREFIX}/tickets/{last['tracking_token']}").get_json()
    assert public["absent"]["hall_room"] is True and public["estimated_wait_s"] > 600
    checked = scan(last)
    assert checked.status_code == 200 and checked.get_json()["kind"] == "outside"
    assert checked.get_json()["checked_in"] is True
    with db.read() as s:
        hall = hall_state(s, center.id, local_day("Asia/Baku", utcnow()))
        assert (hall.capacity, hall.present, hall.full) == (1, 1, True)


def test_the_printed_ticket_says_wait_outside_or_the_appointment_time():
    """hardware/ticket.py's layout, from a print job as the kiosk agent reads it."""
    from hardware.kiosk_agent import ticket_from_job
    from hardware.ticket import Text, layout
    from server.i18n import catalog

    words = catalog(Path(__file__).resolve().parent.parent / "hardware" / "translations")
    job = {
        "center_name": "Center",
        "number": "A002",
        "service_name": "New pension",
        "language": "ru",
        "issued_at": "2024-03-11T06:00:00+00:00",
        "timezone": "Asia/Baku",
        "phone_url": "https://novbe.example/t/abc",
        "kind": "outside",
        "appointment_at": None,
    }

    def texts(job: dict) -> list[str]:
        return [block.text for block in layout(ticket_from_job(job)) if isinstance(block, Text)]

    assert words["ru"]["ticket.outside"] in texts(job)
    booked = {**job, "kind": "appointment", "appointment_at": "2024-03-11T06:30:00Z"}
    assert "Запись на 10:30" in texts(booked)  # the center's time
    plain = texts({**job, "kind": "walk_in"})
    assert words["ru"]["ticket.outside"] not in plain and not any("10:30" in t for t in plain)
    assert texts({k: v for k, v in job.items() if k not in ("kind", "appointment_at")}) == plain
