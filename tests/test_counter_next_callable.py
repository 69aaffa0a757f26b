"""Call-next with nobody callable (issue 15): the engine's ``next_callable`` says when
the next waiting ticket of the counter becomes callable and how many wait for their
check-in, and call-next with ``explain`` answers it instead of a bare 204; on SQLite
and PostgreSQL.

Test center (factories.center_spec, hours 09-18 Baku): A = pension-new, B =
pension-recalc, C = job-seeker; counter 1 serves A then B, counter 3 C and D. Minute 0
is 10:00 in Baku (engine_helpers.at).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server import queue
from server.appointments import checkin, remote
from server.models import Center, utcnow
from server.queue import NextCallable, next_callable

from .api_helpers import PREFIX, issue, setup_api
from .arrival_helpers import book, remote_env
from .engine_helpers import Env, at
from .test_appointments_listing import book as book_row
from .test_appointments_listing import check_in as check_in_row


@pytest.fixture
def env(db) -> Env:
    return remote_env(db)


def test_nobody_waiting_says_nothing_is_coming(db, env):
    with db.write() as s:
        assert queue.call_next(s, env.c1, env.alice, now=at(0)) is None
        assert next_callable(s, env.c1, at(0)) == NextCallable(None, 0)


def test_an_early_booking_and_a_remote_ticket_are_counted_not_called(db, env):
    with db.write() as s:
        book(s, env.center_id, at(40), code="EARLY7")
        book(s, env.center_id, at(60), code="LATER4")
        checkin.check_in(s, env.center_code, "EARLY7", env.kiosk, now=at(15))  # callable 38
        checkin.check_in(s, env.center_code, "LATER4", env.kiosk, now=at(31))  # callable 58
        remote.join_from_home(s, env.center_code, "pension-new", "en", client="10.0.0.1", now=at(1))
        assert queue.call_next(s, env.c1, env.alice, now=at(32)) is None
        # The earliest slot minus the lead; the remote ticket has no time, only a count.
        assert next_callable(s, env.c1, at(32)) == NextCallable(at(38), 1)
        # Counter 3 serves neither A nor B: nothing of these is its business.
        assert next_callable(s, env.c3, at(32)) == NextCallable(None, 0)
        # Once the first is callable, call-next takes it and the next time is the later one.
        assert queue.call_next(s, env.c1, env.alice, now=at(38)).kind == "appointment"
        queue.start(s, queue.current_ticket(s, env.c1).id, env.alice, now=at(38))
        assert queue.call_next(s, env.c1, env.alice, now=at(39)) is None
        assert next_callable(s, env.c1, at(39)) == NextCallable(at(58), 1)


def test_a_ticket_sent_to_the_counter_by_name_counts(db, env):
    with db.write() as s:
        book(s, env.center_id, at(40), code="TYNT23")
        ticket = checkin.check_in(s, env.center_code, "TYNT23", env.kiosk, now=at(15)).issued.ticket
        ticket.target_counter_id = env.c3  # as a transfer to counter 3 would leave it
        s.flush()
        assert next_callable(s, env.c3, at(20)) == NextCallable(at(38), 0)
        assert next_callable(s, env.c1, at(20)) == NextCallable(None, 0)


# --- the API ---------------------------------------------------------------------------


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def post(client, api, body=None):
    return client.post(
        f"{PREFIX}/counters/{api.counters['1']}/call-next", json=body, headers=api.staff
    )


def test_call_next_explains_who_waits_when_nobody_is_callable(client, db, api, center):
    slot = (utcnow() + timedelta(minutes=30)).replace(microsecond=0)
    with db.write() as s:
        row = s.scalar(select(Center).where(Center.id == center.id))
        service = next(x for x in row.services if x.code == "pension-new")
        check_in_row(s, row, book_row(s, row, service, "WAYT34", slot), utcnow())
    # Without "explain": the 204 every other client knows.
    r = post(client, api)
    assert (r.status_code, r.get_data()) == (204, b"")
    r = post(client, api, {"explain": True})
    assert r.status_code == 200
    expected = (slot - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    assert r.get_json() == {"ticket": None, "next_callable_at": expected, "not_checked_in": 0}
    # Somebody callable: the ticket, as ever.
    issue(client, api, "pension-recalc")
    r = post(client, api, {"explain": True})
    assert (r.status_code, r.get_json()["number"]) == (200, "B001")


def test_explain_with_nobody_at_all(client, api):
    r = post(client, api, {"explain": True})
    assert r.get_json() == {"ticket": None, "next_callable_at": None, "not_checked_in": 0}
    assert post(client, api, {"explain": "yes"}).status_code == 422
