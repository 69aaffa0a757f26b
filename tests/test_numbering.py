"""Issuing tickets: numbers per center, per prefix and per local day; quotas; refused
requests naming what is wrong; idempotent retries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from server import queue
from server.errors import Conflict, InvalidInput, NotFound
from server.models import (
    LANE_NORMAL,
    LANE_PRIORITY,
    Center,
    IdempotencyKey,
    Service,
    Ticket,
    TicketEvent,
)

from . import factories
from .engine_helpers import T0, Env, at, issue, make_env


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def issue_at(s, env: Env, when: datetime, service: str = "pension-new", **kwargs) -> Ticket:
    return queue.issue_ticket(
        s, env.center_code, service, "en", None, env.kiosk, now=when, **kwargs
    ).ticket


def ticket_count(s) -> int:
    return s.scalar(select(func.count()).select_from(Ticket))


def test_numbers_count_up_per_prefix(db, env):
    with db.write() as s:
        numbers = [issue(s, env, minute=m).display_number for m in range(3)]
        numbers += [issue(s, env, "pension-recalc", minute=3).display_number]
        numbers += [issue(s, env, minute=4).display_number]
        numbers += [issue(s, env, "pension-recalc", minute=5).display_number]
    assert numbers == ["A001", "A002", "A003", "B001", "A004", "B002"]


def test_numbers_are_zero_padded_to_three_digits(db, env):
    with db.write() as s:
        numbers = [issue(s, env, "job-seeker", minute=m / 100).display_number for m in range(100)]
    assert numbers[:2] == ["C001", "C002"]
    assert numbers[8:10] == ["C009", "C010"]
    assert numbers[98:] == ["C099", "C100"]


def test_numbers_are_per_center(db, env):
    with db.write() as s:
        other = make_env(s, "baku-2")
        assert issue(s, env, minute=0).display_number == "A001"
        assert issue(s, env, minute=1).display_number == "A002"
        assert issue(s, other, minute=2).display_number == "A001"
        assert issue(s, env, minute=3).display_number == "A003"
        assert issue(s, other, minute=4).display_number == "A002"


# --- the business day ------------------------------------------------------------------


def test_numbering_resets_at_the_centers_local_midnight(db, env):
    """Asia/Baku is UTC+4: 19:59 UTC is 23:59 local, 20:01 UTC is 00:01 the next day."""
    day = datetime(2024, 3, 11, tzinfo=UTC)
    with db.write() as s:
        first = issue_at(s, env, day + timedelta(hours=10))
        before_midnight = issue_at(s, env, day + timedelta(hours=19, minutes=59))
        after_midnight = issue_at(s, env, day + timedelta(hours=20, minutes=1))
        later = issue_at(s, env, day + timedelta(hours=20, minutes=2))
        other_prefix = issue_at(s, env, day + timedelta(hours=20, minutes=3), "pension-recalc")
    assert [t.display_number for t in (first, before_midnight, after_midnight, later)] == [
        "A001",
        "A002",
        "A001",
        "A002",
    ]
    assert other_prefix.display_number == "B001"
    assert before_midnight.business_day == date(2024, 3, 11)
    assert after_midnight.business_day == date(2024, 3, 12)
    with db.read() as s:  # old days keep their numbers
        rows = s.execute(
            select(Ticket.business_day, Ticket.number)
            .where(Ticket.prefix == "A")
            .order_by(Ticket.id)
        ).all()
    assert rows == [
        (date(2024, 3, 11), 1),
        (date(2024, 3, 11), 2),
        (date(2024, 3, 12), 1),
        (date(2024, 3, 12), 2),
    ]


def test_numbering_follows_each_centers_own_timezone(db, env):
    """A center west of UTC changes day later: New York is UTC-4 in March 2024."""
    with db.write() as s:
        west = make_env(s, "nyc-1", timezone="America/New_York")
        baku_a = issue_at(s, env, datetime(2024, 3, 12, 3, 59, tzinfo=UTC))
        ny_a = issue_at(s, west, datetime(2024, 3, 12, 3, 59, tzinfo=UTC))  # 23:59 on the 11th
        ny_b = issue_at(s, west, datetime(2024, 3, 12, 4, 1, tzinfo=UTC))  # 00:01 on the 12th
        baku_b = issue_at(s, env, datetime(2024, 3, 12, 4, 1, tzinfo=UTC))
    assert (ny_a.business_day, ny_a.display_number) == (date(2024, 3, 11), "A001")
    assert (ny_b.business_day, ny_b.display_number) == (date(2024, 3, 12), "A001")
    assert (baku_a.business_day, baku_a.display_number) == (date(2024, 3, 12), "A001")
    assert (baku_b.business_day, baku_b.display_number) == (date(2024, 3, 12), "A002")


def test_business_day_accepts_any_aware_instant(db, env):
    with db.read() as s:
        center = s.get(Center, env.center_id)
        assert queue.business_day(center, datetime(2024, 3, 11, 19, 59, tzinfo=UTC)) == date(
            2024, 3, 11
        )
        assert queue.business_day(center, datetime(2024, 3, 11, 20, 0, tzinfo=UTC)) == date(
            2024, 3, 12
        )


# --- no gaps ---------------------------------------------------------------------------


def test_a_failed_issue_gives_its_number_back(db, env):
    with db.write() as s:
        issue(s, env, minute=0)
    with pytest.raises(RuntimeError), db.write() as s:
        assert issue(s, env, minute=1).display_number == "A002"
        raise RuntimeError("printer on fire")  # the transaction rolls back
    with pytest.raises(InvalidInput), db.write() as s:
        queue.issue_ticket(s, "baku-1", "pension-new", "az", "royalty", env.kiosk, now=at(2))
    with db.write() as s:
        assert issue(s, env, minute=3).display_number == "A002"
        assert ticket_count(s) == 2


# --- quota and inactive services -------------------------------------------------------


def test_daily_quota_refuses_the_ticket_after_it(db, env):
    with db.write() as s:
        numbers = [issue(s, env, "unemployment", minute=m).display_number for m in range(3)]
    assert numbers == ["D001", "D002", "D003"]
    with pytest.raises(Conflict) as refused, db.write() as s:
        issue(s, env, "unemployment", minute=4)
    assert refused.value.code == "quota_reached"
    assert refused.value.status == 409
    assert "unemployment" in refused.value.message
    assert "daily quota of 3" in refused.value.message
    with db.write() as s:
        assert ticket_count(s) == 3
        # other services are not affected, and the quota is per day
        assert issue(s, env, "job-seeker", minute=5).display_number == "C001"
        tomorrow = issue_at(s, env, T0 + timedelta(days=1), "unemployment")
        assert (tomorrow.display_number, tomorrow.business_day) == ("D001", date(2024, 3, 12))


def test_inactive_service_is_refused(db, env):
    with db.write() as s:
        s.scalar(select(Service).where(Service.code == "pension-recalc")).active = False
    with pytest.raises(Conflict) as refused, db.write() as s:
        issue(s, env, "pension-recalc")
    assert refused.value.code == "service_inactive"
    assert "pension-recalc" in refused.value.message
    with db.read() as s:
        assert ticket_count(s) == 0


# --- refused requests name what is wrong -----------------------------------------------


def test_unknown_service_is_refused_naming_it(db, env):
    with pytest.raises(NotFound) as refused, db.write() as s:
        issue(s, env, "passport-renewal")
    assert refused.value.code == "service_not_found"
    assert "passport-renewal" in refused.value.message


def test_a_service_of_another_center_is_unknown_here(db, env):
    only_there = {"code": "only-there", "prefix": "Z", "name": factories.names("Only there")}
    with db.write() as s:
        factories.make_center(
            s,
            "baku-2",
            categories=[{"code": "x", "name": factories.names("X"), "services": [only_there]}],
            counters=[{"label": "1", "services": ["only-there"]}],
        )
    with pytest.raises(NotFound) as refused, db.write() as s:
        issue(s, env, "only-there")
    assert refused.value.code == "service_not_found"
    assert "only-there" in refused.value.message


def test_unknown_center_is_refused(db, env):
    with pytest.raises(NotFound) as refused, db.write() as s:
        queue.issue_ticket(s, "ganja-7", "pension-new", "az", None, env.kiosk, now=at(0))
    assert refused.value.code == "center_not_found"
    assert "ganja-7" in refused.value.message


@pytest.mark.parametrize("priority", ["royalty", "", "Elderly"])
def test_unknown_priority_class_is_refused_naming_the_field(db, env, priority):
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.issue_ticket(s, "baku-1", "pension-new", "az", priority, env.kiosk, now=at(0))
    assert refused.value.details["field"] == "priority"
    assert "elderly" in refused.value.message  # lists the allowed classes
    with db.read() as s:
        assert ticket_count(s) == 0


@pytest.mark.parametrize("language", ["de", "", "AZ", "tr"])
def test_unknown_language_is_refused_naming_the_field(db, env, language):
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.issue_ticket(s, "baku-1", "pension-new", language, None, env.kiosk, now=at(0))
    assert refused.value.details["field"] == "language"
    assert "az, ru, en" in refused.value.message
    with db.read() as s:
        assert ticket_count(s) == 0


def test_an_issued_ticket_starts_waiting_in_its_lane(db, env):
    with db.write() as s:
        normal = queue.issue_ticket(s, "baku-1", "job-seeker", "ru", None, env.kiosk, now=at(0))
        elderly = queue.issue_ticket(
            s, "baku-1", "job-seeker", "en", "elderly", env.kiosk, now=at(1)
        )
    normal, elderly = normal.ticket, elderly.ticket
    assert (normal.status, normal.lane, normal.language, normal.priority) == (
        "waiting",
        LANE_NORMAL,
        "ru",
        None,
    )
    assert (elderly.lane, elderly.priority) == (LANE_PRIORITY, "elderly")
    assert (normal.issued_at, normal.waiting_since, normal.due_at) == (at(0), at(0), at(10))
    assert normal.called_at is normal.started_at is normal.ended_at is None
    assert normal.device_id == env.kiosk.id
    assert len(normal.tracking_token) >= 20
    assert normal.tracking_token != elderly.tracking_token


# --- idempotent retries ----------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_returns_the_same_ticket(db, env):
    with db.write() as s:
        first = queue.issue_ticket(
            s, "baku-1", "pension-new", "az", "veteran", env.kiosk, idempotency_key="k-1", now=at(0)
        )
    with db.write() as s:  # the kiosk did not get the answer and retries
        retry = queue.issue_ticket(
            s, "baku-1", "pension-new", "az", "veteran", env.kiosk, idempotency_key="k-1", now=at(1)
        )
        assert (first.created, retry.created) == (True, False)
        assert retry.ticket.id == first.ticket.id
        assert retry.ticket.display_number == "A001"
        # no number was used up by the retry, and nothing else was written
        assert issue(s, env, minute=2).display_number == "A002"
        assert ticket_count(s) == 2
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 2
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_idempotency_keys_are_per_client_and_per_key(db, env):
    with db.write() as s:

        def issue_with(actor, key):
            return queue.issue_ticket(
                s, "baku-1", "pension-new", "az", None, actor, idempotency_key=key, now=at(0)
            ).ticket

        a = issue_with(env.kiosk, "k-1")
        b = issue_with(env.kiosk, "k-2")
        c = issue_with(env.alice, "k-1")  # another client's key of the same name
        again = issue_with(env.kiosk, "k-1")
    assert [t.display_number for t in (a, b, c)] == ["A001", "A002", "A003"]
    assert again.id == a.id


def test_an_idempotency_key_reused_for_another_request_is_refused(db, env):
    with db.write() as s:
        queue.issue_ticket(
            s, "baku-1", "pension-new", "az", None, env.kiosk, idempotency_key="k-1", now=at(0)
        )
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.issue_ticket(
            s, "baku-1", "job-seeker", "az", None, env.kiosk, idempotency_key="k-1", now=at(1)
        )
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.details["field"] == "Idempotency-Key"
    with db.read() as s:
        assert ticket_count(s) == 1


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_a_malformed_idempotency_key_is_refused(db, env, key):
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.issue_ticket(
            s, "baku-1", "pension-new", "az", None, env.kiosk, idempotency_key=key, now=at(0)
        )
    assert refused.value.details["field"] == "Idempotency-Key"
