"""A day's accuracy (server/forecast/accuracy.py): the waits promised at issue against
the real ones, and the breach warnings' scores; GET /centers/{c}/forecast/accuracy.

Test center (factories.center_spec, Asia/Baku, UTC+4): A = pension-new, 5 minutes a
visitor until it has served any; counter 1 serves A and B. T0 (engine_helpers) is
Monday 2024-03-11 10:00 in Baku; that local day starts at 2024-03-10 20:00 UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from server import queue
from server.forecast.accuracy import estimate_accuracy, warning_scores
from server.models import Center, ForecastWarning, Service, Ticket, utcnow
from server.queue.numbering import local_day

from .api_helpers import PREFIX, assert_error, call_next, setup_api
from .engine_helpers import T0, Env, at, issue, make_env

DAY = date(2024, 3, 11)
NOTHING = {"served": 0, "mae_s": None, "mean_wait_s": None, "mae_share": None, "within_25": None}


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        env = make_env(s)
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(-10))
        return env


def serve(s, env: Env, called: float, done: float) -> Ticket:
    """Counter 1 calls its next visitor at minute ``called``, serves them until ``done``."""
    ticket = queue.call_next(s, env.c1, env.alice, now=at(called))
    queue.start(s, ticket.id, env.alice, now=at(called))
    queue.complete(s, ticket.id, env.alice, now=at(done))
    return ticket


def test_estimates_of_a_day_against_the_real_waits(db, env):
    with db.write() as s:
        center = s.get(Center, env.center_id)
        earlier = issue(s, env, minute=-24 * 60)  # the day before, 10:00
        queue.call_next(s, env.c1, env.alice, now=at(-24 * 60 + 1))
        queue.start(s, earlier.id, env.alice, now=at(-24 * 60 + 1))
        queue.complete(s, earlier.id, env.alice, now=at(-24 * 60 + 2))
        # A's average is now that one minute: 0.5, 1.5, 2.5 visitors' work ahead.
        tickets = [issue(s, env, minute=0) for _ in range(3)]
        assert [s.get(Ticket, t.id).promised_wait_s for t in tickets] == [30, 90, 150]
        late = issue(s, env, "pension-recalc", minute=1)  # called, but promised nothing
        s.execute(update(Ticket).where(Ticket.id == late.id).values(promised_wait_s=None))
        queue.call_ticket(s, env.c2, late.id, "other", env.bob, now=at(1))
        issue(s, env, minute=3)  # never called: not measured
        order = [serve(s, env, called, done).id for called, done in ((1, 2), (2, 9), (10, 12))]
        assert order == [t.id for t in tickets]
        # real waits 60, 120, 600 s; errors 30, 30, 450; within max(25%, 60 s): 2 of 3
        assert estimate_accuracy(s, center, DAY) == {
            "served": 3,
            "mae_s": 170,
            "mean_wait_s": 260,
            "mae_share": round(170 / 260, 3),
            "within_25": round(2 / 3, 3),
        }
        before = estimate_accuracy(s, center, DAY - timedelta(days=1))
        assert before == {
            "served": 1,
            "mae_s": 90,  # promised 150 (5 minutes, half-way), waited 60 s
            "mean_wait_s": 60,
            "mae_share": 1.5,
            "within_25": 0.0,
        }
        assert estimate_accuracy(s, center, DAY + timedelta(days=1)) == NOTHING


def test_everyone_called_at_once_has_no_share(db, env):
    with db.write() as s:
        issue(s, env, minute=0)  # promised half of 5 minutes
        queue.call_next(s, env.c1, env.alice, now=at(0))
        assert estimate_accuracy(s, s.get(Center, env.center_id), DAY) == {
            "served": 1,
            "mae_s": 150,
            "mean_wait_s": 0,
            "mae_share": None,
            "within_25": 0.0,
        }


def warn(s, env: Env, raised_at: datetime, state: str, breached: bool | None, center_id=None):
    service_id = s.scalar(
        select(Service.id).where(
            Service.center_id == (center_id or env.center_id), Service.code == "pension-new"
        )
    )
    s.add(
        ForecastWarning(
            center_id=center_id or env.center_id,
            service_id=service_id,
            raised_at=raised_at,
            window_start=raised_at + timedelta(minutes=10),
            window_end=raised_at + timedelta(minutes=30),
            probability=0.7,
            predicted_wait_s=1200,
            target_wait_s=900,
            state=state,
            breached=breached,
        )
    )
    s.flush()


def test_warnings_of_a_local_day(db, env):
    with db.write() as s:
        other = make_env(s, "ganja-1")
        midnight = T0.replace(hour=20) - timedelta(days=1)  # 2024-03-11 00:00 in Baku
        warn(s, env, midnight + timedelta(minutes=1), "scored", True)
        warn(s, env, at(0), "scored", False)
        warn(s, env, at(30), "scored", True)
        warn(s, env, at(60), "cleared", None)
        warn(s, env, at(90), "open", None)
        warn(s, env, midnight - timedelta(minutes=1), "scored", True)  # 10 March, 23:59
        warn(s, env, at(0), "scored", True, center_id=other.center_id)
        center = s.get(Center, env.center_id)
        assert warning_scores(s, center, DAY) == {
            "raised": 5,
            "scored": 3,
            "right": 2,
            "precision": round(2 / 3, 3),
        }
        assert warning_scores(s, center, DAY - timedelta(days=1)) == {
            "raised": 1,
            "scored": 1,
            "right": 1,
            "precision": 1.0,
        }
        nothing = {"raised": 0, "scored": 0, "right": 0, "precision": None}
        assert warning_scores(s, center, DAY + timedelta(days=1)) == nothing


# --- HTTP ---------------------------------------------------------------------------


@pytest.fixture
def api(db, center):
    api = setup_api(db, center)
    with db.write() as s:
        queue.set_counter_state(s, api.counters["1"], "open", queue.SYSTEM)
    return api


def get(client, headers=None, **params):
    return client.get(
        f"{PREFIX}/centers/baku-1/forecast/accuracy", query_string=params, headers=headers or {}
    )


def test_http_today_by_default_and_a_given_day(client, api):
    issued = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "az"},
        headers=api.kiosk,
    )
    assert issued.status_code == 201
    assert issued.get_json()["estimated_wait_s"] == 150  # first in line: half of 5 min
    assert call_next(client, api).status_code == 200
    response = get(client, api.manager)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["day"] == local_day("Asia/Baku", utcnow()).isoformat()
    assert body["estimates"]["served"] == 1 and body["estimates"]["mae_s"] > 60
    assert body["estimates"]["within_25"] == 0.0  # promised 150 s, called at once
    assert body["warnings"] == {"raised": 0, "scored": 0, "right": 0, "precision": None}
    old = get(client, api.admin, day="2024-03-11").get_json()
    assert old == {
        "day": "2024-03-11",
        "estimates": NOTHING,
        "warnings": {"raised": 0, "scored": 0, "right": 0, "precision": None},
    }


def test_http_who_may_ask(client, api):
    assert_error(get(client), 401, "unauthorized")
    for headers in (api.staff, api.kiosk, api.display, api.other_manager, api.other_staff):
        assert get(client, headers).status_code == 403
    for headers in (api.manager, api.admin):
        assert get(client, headers).status_code == 200


@pytest.mark.parametrize("day", ["2024-13-01", "yesterday", "2024-3-1", ""])
def test_http_a_bad_day_is_refused_naming_it(client, api, day):
    assert_error(get(client, api.manager, day=day), 422, "invalid_input", field="day")


def test_http_unknown_parameters_are_refused(client, api):
    assert_error(get(client, api.manager, date="2024-03-11"), 422, "invalid_input", field="date")
