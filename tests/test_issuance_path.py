"""The issuing hot path: the response built without the ORM matches ticket_json, a shared
COMMIT (server/api/group_commit.py) keeps each request's failure to itself, and the
bearer token cache forgets a revoked token at once in this process."""

from __future__ import annotations

from sqlalchemy import select

from server.api.group_commit import GroupCommit, _Request
from server.auth import TokenCache
from server.errors import InvalidInput, NotFound
from server.models import StaffUser, Ticket, TicketEvent
from server.printing import print_state_json
from server.queue import SYSTEM, issue_ticket
from server.queue.changes import ChangeKind
from server.serializers import ticket_json

from . import factories
from .api_helpers import PREFIX, assert_error, issue, setup_api

ISSUE_URL = f"{PREFIX}/centers/baku-1/tickets"


def test_the_issue_response_is_ticket_json_with_the_print_state(client, db, center):
    api = setup_api(db, center)
    issue(client, api, "pension-new")  # someone ahead, so the position is not trivially 1
    body = issue(client, api, "pension-new", "ru", "elderly")
    with db.read() as s:
        ticket = s.get(Ticket, body["id"])
        expected = ticket_json(s, ticket, with_token=True)
        expected["print"] = print_state_json(ticket)
    assert body == expected
    assert body["print"]["state"] == "e_ticket"  # set in the INSERT: no agent, no printer


def _issue_work(code: str, service: str, actor):
    def work(s):
        return issue_ticket(s, code, service, "az", None, actor).ticket.number

    return work


def _pending_changes_kept(db) -> list:
    """The changes the batch announced, caught at the commit listeners."""
    seen: list = []
    db.on_commit(seen.extend)
    return seen


def test_a_failing_request_in_a_shared_commit_undoes_only_its_own_writes(db, center):
    with db.read() as s:
        kiosk = factories.kiosk_actor(s, center)
    announced = _pending_changes_kept(db)
    batch = [
        _Request(_issue_work("baku-1", "pension-new", kiosk)),
        _Request(_issue_work("baku-1", "no-such-service", kiosk)),
        _Request(_issue_work("baku-1", "pension-new", kiosk)),
    ]
    GroupCommit(db)._run_batch(batch)

    assert [r.result for r in batch] == [1, None, 2]  # no gap where the failure was
    assert isinstance(batch[1].error, NotFound)
    assert all(r.done.is_set() for r in batch)
    with db.read() as s:
        numbers = s.scalars(select(Ticket.number).order_by(Ticket.number)).all()
        events = s.scalars(select(TicketEvent.action)).all()
    assert numbers == [1, 2]
    assert events == ["issue", "issue"]
    issued = [c for c in announced if c.kind == ChangeKind.TICKET]
    assert len(issued) == 2  # the failed one announced nothing


def test_a_request_fails_alone_whether_batched_or_not(db, center):
    with db.read() as s:
        kiosk = factories.kiosk_actor(s, center)

    def breaks_the_transaction(s):
        raise InvalidInput("boom")

    batch = [_Request(_issue_work("baku-1", "pension-new", kiosk))]
    batch.append(_Request(breaks_the_transaction))
    GroupCommit(db)._run_batch(batch)  # the failure is caught in its savepoint
    assert batch[0].result == 1 and isinstance(batch[1].error, InvalidInput)

    lonely = [_Request(breaks_the_transaction)]
    GroupCommit(db)._run_batch(lonely)
    assert isinstance(lonely[0].error, InvalidInput)


def test_run_returns_the_requests_own_outcome(db, center):
    with db.read() as s:
        kiosk = factories.kiosk_actor(s, center)
    commit = GroupCommit(db)
    assert commit.run("http://a/", _issue_work("baku-1", "pension-new", kiosk)) == 1
    assert commit.run("http://a/", _issue_work("baku-1", "pension-new", kiosk)) == 2
    assert not commit._running and not commit._waiting  # nothing left behind


def test_a_revoked_kiosk_token_fails_at_once_though_it_was_cached(client, db, center):
    api = setup_api(db, center)
    issue(client, api)  # the token is now in the cache
    with db.write() as s:
        factories.device_token(s, center, "kiosk-1")  # a new token: the old one is revoked
    r = client.post(ISSUE_URL, json={"service": "pension-new", "language": "az"}, headers=api.kiosk)
    assert_error(r, 401, "invalid_token")


def test_a_deactivated_staff_members_cached_token_fails_at_once(client, db, center):
    api = setup_api(db, center)
    assert issue(client, api, headers=api.staff)["status"] == "waiting"
    with db.write() as s:
        s.scalar(select(StaffUser).where(StaffUser.username == "alice")).active = False
    r = client.post(ISSUE_URL, json={"service": "pension-new", "language": "az"}, headers=api.staff)
    assert_error(r, 401, "invalid_token")


def test_a_cached_token_lives_no_longer_than_its_time():
    cache = TokenCache(ttl_s=60)
    cache.put("a", SYSTEM)
    cache.put("b", SYSTEM, valid_for_s=-1)  # a staff token already expired
    assert cache.get("a") is SYSTEM and cache.get("b") is None
    assert TokenCache(ttl_s=0).get("a") is None
