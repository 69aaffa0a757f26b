"""Joining the line from home (server/appointments/remote.py): the ticket holds its place
from joining, is not callable before its check-in at a kiosk (its QR), is passed over
while absent, keeps its place for the center's hold time, then is a no-show (upkeep);
daily caps, the per-address limit and the center's switch; the HTTP routes.

Test center (factories.center_spec): A = pension-new (target 15 min); counter 1 serves
A and B. The center's hold time is 15 minutes (the default).
"""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from server import queue
from server.appointments import checkin, remote, upkeep
from server.appointments.booking import TooManyBookings
from server.errors import Conflict, NotFound
from server.models import ABSENT, Center, Ticket, TicketEvent
from server.serializers import public_ticket_json

from .api_helpers import PREFIX, assert_error, setup_api
from .arrival_helpers import remote_env, remote_on, service
from .engine_helpers import Env, at, issue, make_env


@pytest.fixture
def env(db) -> Env:
    return remote_env(db)


def join(s, env: Env, minute: float, service_code="pension-new", client=None, **kw) -> Ticket:
    return remote.join_from_home(
        s, env.center_code, service_code, "ru", client=client, now=at(minute), **kw
    ).ticket


def check_in(s, env: Env, ticket: Ticket, minute: float) -> checkin.CheckIn:
    url = f"https://novbe.example/t/{ticket.tracking_token}"  # what a scanner types
    return checkin.check_in(s, env.center_code, url, env.kiosk, now=at(minute))


def call(s, env: Env, minute: float) -> str | None:
    ticket = queue.call_next(s, env.c1, env.alice, now=at(minute))
    if ticket is None:
        return None
    queue.start(s, ticket.id, env.alice, now=at(minute))
    return ticket.display_number


def test_a_remote_ticket_holds_its_place_but_is_not_called_before_check_in(db, env):
    with db.write() as s:
        mine = join(s, env, minute=0)
        assert (mine.kind, mine.status, mine.callable_at) == ("remote", "waiting", ABSENT)
        assert mine.due_at == at(15) and mine.language == "ru"
        walk_in = issue(s, env, minute=1)
        assert queue.estimate(s, walk_in).position == 2  # the absent ticket is ahead
        assert call(s, env, minute=20) == walk_in.display_number
        assert call(s, env, minute=21) is None


def test_passed_over_it_keeps_its_place_for_the_hold_then_is_a_no_show(db, env):
    with db.write() as s:
        mine = join(s, env, minute=0)
        issue(s, env, minute=1)
        assert upkeep.release_absent(s, now=at(19)) == 0 and mine.passed_at is None
        call(s, env, minute=20)  # a later ticket is called: it was passed over
        assert upkeep.release_absent(s, now=at(21)) == 0
        assert mine.passed_at == at(20) and mine.status == "waiting"
        payload = public_ticket_json(s, mine)
        assert payload["absent"] == {
            "passed_at": "2024-03-11T06:20:00Z",
            "hold_until": "2024-03-11T06:35:00Z",
        }
        assert upkeep.release_absent(s, now=at(34.9)) == 0
        with pytest.raises(Conflict) as refused:  # the hold is over, the upkeep not yet
            check_in(s, env, mine, minute=35)
        assert refused.value.code == "place_released" and mine.status == "waiting"
        assert upkeep.release_absent(s, now=at(35)) == 1
        assert upkeep.release_absent(s, now=at(36)) == 0  # once
        assert (mine.status, mine.ended_at) == ("no_show", at(35))
        event = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == mine.id)).all()[-1]
        assert (event.action, event.reason, event.from_status) == (
            "no_show",
            "not_checked_in",
            "waiting",
        )
        with pytest.raises(Conflict) as refused:
            check_in(s, env, mine, minute=36)
        assert refused.value.code == "place_released"


def test_check_in_within_the_hold_puts_it_back_at_its_old_place(db, env):
    with db.write() as s:
        mine = join(s, env, minute=0)  # due 15
        first = issue(s, env, minute=1)  # due 16
        third = issue(s, env, minute=2)  # due 17
        assert call(s, env, minute=20) == first.display_number
        upkeep.release_absent(s, now=at(21))
        assert mine.passed_at == at(20)
        done = check_in(s, env, mine, minute=25)
        assert done.kind == "remote" and not done.issued.created and done.issued.ticket is mine
        assert mine.callable_at is None and mine.checked_in_at == at(25)
        assert public_ticket_json(s, mine)["absent"] is None
        assert public_ticket_json(s, mine)["checked_in"] is True
        assert call(s, env, minute=26) == mine.display_number  # ahead of the later walk-in
        assert call(s, env, minute=27) == third.display_number
        assert upkeep.release_absent(s, now=at(60)) == 0


def test_check_in_refusals(db, env):
    with db.write() as s:
        other = make_env(s, "ganja-1")
        remote_on(s, other, "pension-new")
        theirs = join(s, other, minute=0)
        walk_in = issue(s, env, minute=0)
        mine = join(s, env, minute=0)
        check_in(s, env, mine, minute=1)
        for ticket, code in (
            (theirs, "wrong_center"),
            (walk_in, "already_checked_in"),
            (mine, "already_checked_in"),
        ):
            with pytest.raises(Conflict) as refused:
                check_in(s, env, ticket, minute=2)
            assert refused.value.code == code
        with pytest.raises(NotFound) as missing:
            checkin.check_in(s, env.center_code, "https://x/t/" + "a" * 22, env.kiosk, now=at(2))
        assert missing.value.code == "ticket_not_found"


def test_daily_cap_per_service(db, env):
    with db.write() as s:
        service(s, env.center_id, "pension-new").remote_daily_cap = 2
        join(s, env, 0)
        join(s, env, 1)
        with pytest.raises(Conflict) as refused:
            join(s, env, 2)
        assert refused.value.code == "remote_cap_reached"
        issue(s, env, minute=3)  # walk-ins are not capped by it


def test_per_client_address_limit(db, env):
    with db.write() as s:
        for minute in range(3):
            join(s, env, minute, client="203.0.113.9", secret="k")
        with pytest.raises(TooManyBookings) as refused:
            join(s, env, 4, client="203.0.113.9", secret="k")
        assert refused.value.code == "client_limit" and refused.value.status == 429
        join(s, env, 5, client="198.51.100.7", secret="k")  # another address
        # The address is kept only as a keyed digest, in the issue event's details.
        details = s.scalars(select(TicketEvent.details).where(TicketEvent.action == "issue"))
        assert all("203.0.113.9" not in str(d) for d in details)


def test_switches_and_closed_hours(db, env):
    with db.write() as s:
        mine = join(s, env, 0)
        s.get(Center, env.center_id).remote_joining = False  # the center's switch: at once
        with pytest.raises(Conflict) as refused:
            join(s, env, 1)
        assert refused.value.code == "remote_joining_off"
        assert mine.status == "waiting" and queue.estimate(s, mine).position == 1  # kept
        s.get(Center, env.center_id).remote_joining = True
        with pytest.raises(Conflict) as refused:
            join(s, env, 1, service_code="pension-recalc")  # the service never opted in
        assert refused.value.code == "remote_joining_off"
        with pytest.raises(Conflict) as refused:
            join(s, env, 9 * 60)  # 19:00 in Baku: closed
        assert refused.value.code == "center_closed"


# --- HTTP -----------------------------------------------------------------------------


@pytest.fixture
def api(db, center):
    api = setup_api(db, center)
    with db.write() as s:
        center = s.get(Center, center.id)
        center.remote_joining = True
        # Open all day: these tests run at the real time.
        center.opens_at, center.closes_at = time(0, 0), time(23, 59, 59)
        service(s, center.id, "pension-new").remote_joining = True
    return api


def post_join(client, service_code="pension-new", center="baku-1", **extra):
    body = {"service": service_code, "language": "az", **extra}
    return client.post(f"{PREFIX}/public/centers/{center}/remote-tickets", json=body)


def test_http_join_then_check_in_at_the_kiosk(app, client, db, api):
    from .api_helpers import call_next

    response = post_join(client)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["kind"] == "remote" and body["checked_in"] is False and body["position"] == 1
    assert body["absent"] == {"passed_at": None, "hold_until": None}
    assert body["tracking_url"] == f"http://localhost/t/{body['tracking_token']}"
    assert response.headers["Cache-Control"] == "no-store"
    public = client.get(f"{PREFIX}/tickets/{body['tracking_token']}").get_json()
    assert public["kind"] == "remote" and public["absent"] is not None
    assert call_next(client, api).get_json() is None  # absent: not called
    checked = client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": body["tracking_url"]}, headers=api.kiosk
    )
    assert checked.status_code == 200, checked.get_json()
    answer = checked.get_json()
    assert answer["kind"] == "remote" and answer["checked_in"] is True and answer["absent"] is None
    assert answer["appointment"] is None and answer["number"] == body["number"]
    assert call_next(client, api).get_json()["number"] == body["number"]


def test_http_refusals(app, client, db, api):
    assert_error(post_join(client, "pension-recalc"), 409, "remote_joining_off")
    assert_error(post_join(client, "nothing"), 404, "service_not_found", field="service")
    assert_error(post_join(client, center="nowhere"), 404, "center_not_found")
    assert_error(post_join(client, language="de"), 422, "invalid_input", field="language")
    assert_error(post_join(client, extra=True), 422, "invalid_input")
    app.config["REMOTE_TICKETS_PER_CLIENT_PER_DAY"] = 1
    assert post_join(client).status_code == 201
    assert_error(post_join(client), 429, "client_limit")


def test_the_daily_cap_holds_when_many_join_at_once(db, env):
    """The service row is locked (PostgreSQL) or the write lock serializes (SQLite)."""
    import threading

    from server.errors import NovbeError

    with db.write() as s:
        service(s, env.center_id, "pension-new").remote_daily_cap = 2
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def phone() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                join(s, env, 0)
            outcomes.append("joined")
        except NovbeError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=phone) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["joined"] * 2 + ["remote_cap_reached"] * 4


def test_one_address_joining_several_services_at_once_gets_only_its_limit(db, env):
    """The per-client limit counts over every service of the center: joins of one
    address take turns (each service's own lock alone let all of them through)."""
    import threading

    from server.errors import NovbeError

    services = ("pension-new", "pension-recalc", "job-seeker")
    with db.write() as s:
        remote_on(s, env, *services)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def phone(code: str) -> None:
        barrier.wait()
        try:
            with db.write() as s:
                join(s, env, 0, code, client="10.1.2.3", per_client=3)
            outcomes.append("joined")
        except NovbeError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=phone, args=(services[i % 3],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["client_limit"] * 3 + ["joined"] * 3
