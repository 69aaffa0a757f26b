"""Visitor approval: rating a done ticket through the public API (once, final), the
constraints in the database, and the approval rate computed in SQL, checked against
figures worked out by hand on seeded ratings."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server import queue, ratings
from server.errors import Conflict, InvalidInput
from server.models import Rating, Service, Ticket

from .api_helpers import PREFIX, assert_error
from .engine_helpers import Env, at, issue, make_env
from .test_openapi import check, spec  # noqa: F401  (the spec fixture)


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def served(s, env: Env, service: str, staff, counter: int, minute: float) -> Ticket:
    """A ticket of ``service`` issued at ``minute``, called and served by ``staff`` at
    ``counter`` and done 5 minutes later."""
    ticket = issue(s, env, service, minute=minute)
    queue.call_ticket(s, counter, ticket.id, "other", staff, now=at(minute + 1))
    queue.start(s, ticket.id, staff, now=at(minute + 2))
    return queue.complete(s, ticket.id, staff, now=at(minute + 6))


def done_ticket(db, env: Env) -> str:
    with db.write() as s:
        return served(s, env, "pension-new", env.alice, env.c1, 0).tracking_token


def rating_url(token: str) -> str:
    return f"{PREFIX}/tickets/{token}/rating"


def stored(db) -> list[tuple[int, int]]:
    with db.read() as s:
        return [(r.ticket_id, r.score) for r in s.scalars(select(Rating).order_by(Rating.id))]


# --- the API ---------------------------------------------------------------------------


def test_a_done_ticket_is_rated_once_and_the_second_rating_is_refused(client, db, env, spec):  # noqa: F811
    token = done_ticket(db, env)
    path = "/tickets/{tracking_token}/rating"

    r = client.get(rating_url(token))  # no credentials: the token is the credential
    assert r.status_code == 200
    assert check(spec, r, "GET", path) == {"can_rate": True, "rating": None}

    r = client.post(rating_url(token), json={"score": 4})
    assert r.status_code == 201, r.get_json()
    assert check(spec, r, "POST", path)["score"] == 4
    with db.read() as s:
        ticket_id = s.scalar(select(Ticket.id).where(Ticket.tracking_token == token))
    assert stored(db) == [(ticket_id, 4)]

    r = client.post(rating_url(token), json={"score": 1})
    error = assert_error(r, 409, "already_rated")
    check(spec, r, "POST", path)
    assert error["details"]["score"] == 4  # names the rating already given
    assert stored(db) == [(ticket_id, 4)]  # final: the first one stays

    r = client.get(rating_url(token))
    body = check(spec, r, "GET", path)
    assert body["can_rate"] is False and body["rating"]["score"] == 4


@pytest.mark.parametrize("status", ["waiting", "called", "serving", "cancelled"])
def test_only_done_tickets_can_be_rated(client, db, env, spec, status):  # noqa: F811
    with db.write() as s:
        ticket = issue(s, env)
        if status != "waiting":
            if status == "cancelled":
                queue.cancel(s, ticket.id, env.alice, now=at(1))
            else:
                queue.call_next(s, env.c1, env.alice, now=at(1))
                if status == "serving":
                    queue.start(s, ticket.id, env.alice, now=at(2))
        token = ticket.tracking_token
    r = client.post(rating_url(token), json={"score": 5})
    error = assert_error(r, 409, "ticket_not_done")
    check(spec, r, "POST", "/tickets/{tracking_token}/rating")
    assert error["details"]["status"] == status
    assert status in error["message"]
    assert client.get(rating_url(token)).get_json() == {"can_rate": False, "rating": None}
    assert stored(db) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": -1}, "score"),
        ({"score": 4.5}, "score"),
        ({"score": "5"}, "score"),
        ({"score": True}, "score"),
        ({}, "score"),
        ({"score": 5, "comment": "slow"}, "comment"),
    ],
)
def test_bad_scores_are_refused_with_422(client, db, env, spec, body, field):  # noqa: F811
    token = done_ticket(db, env)
    r = client.post(rating_url(token), json=body)
    assert_error(r, 422, "invalid_input", field=field)
    check(spec, r, "POST", "/tickets/{tracking_token}/rating")
    assert stored(db) == []
    # A refused score does not use up the ticket's one rating.
    assert client.post(rating_url(token), json={"score": 5}).status_code == 201


def test_an_unknown_token_is_not_found(client, db, env, spec):  # noqa: F811
    done_ticket(db, env)
    r = client.post(rating_url("no-such-ticket"), json={"score": 5})
    assert_error(r, 404, "ticket_not_found")
    check(spec, r, "POST", "/tickets/{tracking_token}/rating")
    r = client.get(rating_url("no-such-ticket"))
    assert_error(r, 404, "ticket_not_found")
    check(spec, r, "GET", "/tickets/{tracking_token}/rating")
    assert stored(db) == []


def test_the_engine_function_refuses_like_the_api(db, env):
    token = done_ticket(db, env)
    with pytest.raises(InvalidInput), db.write() as s:
        ratings.rate_ticket(s, token, 9)
    with db.write() as s:
        rating = ratings.rate_ticket(s, token, 2, now=at(30))
    assert (rating.score, rating.created_at) == (2, at(30))
    with pytest.raises(Conflict) as refused, db.write() as s:
        ratings.rate_ticket(s, token, 5)
    assert refused.value.code == "already_rated"


# --- the table's own guarantees (migration 0003) ----------------------------------------


def test_the_database_refuses_a_second_rating_and_an_out_of_range_score(db, env):
    token = done_ticket(db, env)
    with db.read() as s:
        ticket_id = s.scalar(select(Ticket.id).where(Ticket.tracking_token == token))
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(Rating(ticket_id=ticket_id, score=6, created_at=at(20)))
    with db.write() as s:
        s.add(Rating(ticket_id=ticket_id, score=5, created_at=at(20)))
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(Rating(ticket_id=ticket_id, score=3, created_at=at(21)))
    assert stored(db) == [(ticket_id, 5)]


# --- the approval rate, by hand ----------------------------------------------------------


@pytest.fixture
def seeded(db, env):
    """Six rated tickets at baku-1 and one at ganja-1, rated at known instants:

    | ticket | service        | served by | score | rated at |
    |--------|----------------|-----------|-------|----------|
    | 1      | pension-new    | alice     | 5     | 60       |
    | 2      | pension-new    | alice     | 4     | 61       |
    | 3      | pension-new    | bob       | 2     | 62       |
    | 4      | job-seeker     | bob       | 3     | 63       |
    | 5      | job-seeker     | alice     | 5     | 64       |
    | 6      | pension-recalc | bob       | 1     | 120      |
    | ganja  | pension-new    | its alice | 1     | 65       |
    """
    rows = [
        ("pension-new", env.alice, env.c1, 5, 60),
        ("pension-new", env.alice, env.c1, 4, 61),
        ("pension-new", env.bob, env.c1, 2, 62),
        ("job-seeker", env.bob, env.c3, 3, 63),
        ("job-seeker", env.alice, env.c3, 5, 64),
        ("pension-recalc", env.bob, env.c1, 1, 120),
    ]
    with db.write() as s:
        for minute, (service, staff, counter, score, rated_at) in enumerate(rows):
            ticket = served(s, env, service, staff, counter, minute * 7)
            ratings.rate_ticket(s, ticket.tracking_token, score, now=at(rated_at))
        other = make_env(s, "ganja-1")
        ticket = served(s, other, "pension-new", other.alice, other.c1, 0)
        ratings.rate_ticket(s, ticket.tracking_token, 1, now=at(65))
        services = {
            code: s.scalar(
                select(Service.id).where(Service.center_id == env.center_id, Service.code == code)
            )
            for code in ("pension-new", "job-seeker", "pension-recalc")
        }
    return services


def test_approval_rate_is_the_share_of_4_and_5(db, env, seeded):
    c = env.center_id
    with db.read() as s:
        # Tickets 1-5 in [0, 90): 5, 4 and 5 approve, 2 and 3 do not.
        assert ratings.approval_rate(s, c, at(0), at(90)) == (pytest.approx(3 / 5), 5)
        # With ticket 6 (a 1): 3 of 6.
        assert ratings.approval_rate(s, c, at(0), at(200)) == (pytest.approx(0.5), 6)
        # Per service.
        new, seeker, recalc = seeded["pension-new"], seeded["job-seeker"], seeded["pension-recalc"]
        assert ratings.approval_rate(s, c, at(0), at(200), service_id=new) == (
            pytest.approx(2 / 3),
            3,
        )
        assert ratings.approval_rate(s, c, at(0), at(200), service_id=seeker) == (0.5, 2)
        assert ratings.approval_rate(s, c, at(0), at(200), service_id=recalc) == (0.0, 1)
        # Per staff member (who served the ticket).
        assert ratings.approval_rate(s, c, at(0), at(200), staff_id=env.alice.staff_id) == (1.0, 3)
        assert ratings.approval_rate(s, c, at(0), at(200), staff_id=env.bob.staff_id) == (0.0, 3)
        assert ratings.approval_rate(
            s, c, at(0), at(200), service_id=new, staff_id=env.bob.staff_id
        ) == (0.0, 1)
        # Every center: ganja-1's 1 joins tickets 1-5.
        assert ratings.approval_rate(s, None, at(0), at(90)) == (0.5, 6)


def test_the_period_is_half_open_and_an_empty_one_has_no_rate(db, env, seeded):
    c = env.center_id
    with db.read() as s:
        # until is excluded: ticket 5 (rated at 64) is not in [0, 64).
        assert ratings.approval_rate(s, c, at(0), at(64)) == (0.5, 4)
        # since is included: exactly ticket 5.
        assert ratings.approval_rate(s, c, at(64), at(65)) == (1.0, 1)
        assert ratings.approval_rate(s, c, at(200), at(300)) == (None, 0)
        assert ratings.approval_rate(s, c, at(0), at(200), staff_id=999_999) == (None, 0)
