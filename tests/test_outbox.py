"""The outbox (server/notify/outbox.py): one row per key, a claim held by one worker, the
retry schedule with its jitter, dead after the last attempt, replay by hand, and nothing
written by a transaction that rolls back."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from server.models import DeliveryAttempt, OutboxMessage, utcnow
from server.notify import outbox, webhooks
from server.notify.outbox import BACKOFF_S, JITTER, MAX_ATTEMPTS, Outcome
from server.queue import issue_ticket

from . import factories


def enqueue(s, key: str, now=None) -> bool:
    return outbox.enqueue(
        s, key=key, channel="webhook", kind="webhook.ping", body={"type": "x"}, now=now
    )


def count(db, **where) -> int:
    with db.read() as s:
        query = select(func.count()).select_from(OutboxMessage)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return s.scalar(query)


def test_a_key_is_enqueued_once(db):
    with db.write() as s:
        assert enqueue(s, "w1:evt_a") is True
        assert enqueue(s, "w1:evt_a") is False  # the same transaction
    with db.write() as s:
        assert enqueue(s, "w1:evt_a") is False  # another one
        assert enqueue(s, "w1:evt_b") is True
    assert count(db) == 2


def test_a_claimed_message_is_no_other_workers_until_the_claim_lapses(db):
    now = utcnow()
    with db.write() as s:
        for n in range(5):
            enqueue(s, f"k{n}", now=now)
    with db.write() as s:
        first = [m.id for m in outbox.claim_due(s, "a", now, limit=3)]
    with db.write() as s:
        second = [m.id for m in outbox.claim_due(s, "b", now, limit=10)]
    with db.write() as s:
        assert outbox.claim_due(s, "b", now, limit=10) == []  # all held
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    # a's claim lapses (it died): b takes those, and a can no longer record them.
    later = now + timedelta(seconds=outbox.CLAIM_S + 1)
    with db.write() as s:
        taken = [m.id for m in outbox.claim_due(s, "b", later, limit=10)]
    assert sorted(taken) == sorted(first + second)  # b's own lapsed too
    with db.write() as s:
        assert outbox.record_attempt(s, first[0], "a", Outcome(ok=True), later) is None
        assert outbox.record_attempt(s, first[0], "b", Outcome(ok=True), later) is not None


def test_the_backoff_follows_the_schedule_within_its_jitter():
    rng = random.Random(7)
    for attempt, base in enumerate(BACKOFF_S, start=1):
        waits = [outbox.backoff(attempt, rng).total_seconds() for _ in range(200)]
        assert all(base * (1 - JITTER) <= w <= base * (1 + JITTER) for w in waits)
        assert max(waits) - min(waits) > base * JITTER  # it does spread them
    assert outbox.backoff(99, rng).total_seconds() <= BACKOFF_S[-1] * (1 + JITTER)


def test_a_message_is_dead_after_the_last_attempt_and_replay_sends_it_again(db):
    now = utcnow()
    with db.write() as s:
        enqueue(s, "k", now=now)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with db.write() as s:
            [message] = outbox.claim_due(s, "w", now)
            result = outbox.record_attempt(
                s, message.id, "w", Outcome(ok=False, status=500, error="HTTP 500"), now
            )
            due = result.next_attempt_at
            if attempt < MAX_ATTEMPTS:
                assert result.state == "pending"
                waits.append((due - now).total_seconds())
        if attempt < MAX_ATTEMPTS:
            with db.write() as s:  # not due before its wait
                assert outbox.claim_due(s, "x", now) == []
            now = due
    for wait, base in zip(waits, BACKOFF_S, strict=True):
        assert base * (1 - JITTER) <= wait <= base * (1 + JITTER) + 1
    with db.read() as s:
        message = s.scalar(select(OutboxMessage))
        assert (message.state, message.attempts) == ("dead", MAX_ATTEMPTS)
        assert message.last_error == "HTTP 500"
        message_id = message.id
        log = s.scalar(select(func.count()).select_from(DeliveryAttempt))
        assert log == MAX_ATTEMPTS
    with db.write() as s:
        assert outbox.claim_due(s, "w", now + timedelta(days=1)) == []  # dead stays dead
        outbox.replay(s, message_id, now)
    with db.write() as s:
        [again] = outbox.claim_due(s, "w", now)
        done = outbox.record_attempt(s, again.id, "w", Outcome(ok=True, status=204), now)
        assert (done.state, done.attempts) == ("sent", 1)  # the whole schedule again
        assert s.scalar(select(func.count()).select_from(DeliveryAttempt)) == MAX_ATTEMPTS + 1


def test_a_permanent_failure_is_dead_at_once(db):
    with db.write() as s:
        enqueue(s, "k")
    with db.write() as s:
        [message] = outbox.claim_due(s, "w")
        gone = Outcome(ok=False, status=410, error="gone", permanent=True)
        assert outbox.record_attempt(s, message.id, "w", gone).state == "dead"


def subscribe(app, db, center) -> None:
    with app.app_context(), db.write() as s:  # the app allows a loopback URL
        webhooks.create(s, url="http://127.0.0.1:9/", events=["*"], center_id=center.id)


def test_a_change_that_rolls_back_leaves_no_outbox_row(app, db, center):
    """The producer writes its row inside the change's transaction; a failure after it
    (here a later before-commit hook, as the ledger's writing could fail) takes both."""
    subscribe(app, db, center)
    written = []

    def fail_after_the_producers(session, changes):
        written.append(session.scalar(select(func.count()).select_from(OutboxMessage)))
        # A database error (a hook's own bug is logged and the change commits).
        session.execute(text("SELECT * FROM the_commit_failed_after_the_outbox_was_written"))

    db.before_commit(fail_after_the_producers)
    try:
        with pytest.raises(DBAPIError), db.write() as s:
            actor = factories.kiosk_actor(s, center)
            issue_ticket(s, center.code, "pension-new", "az", None, actor)
    finally:
        db._before_commit.remove(fail_after_the_producers)
    assert written == [1]  # it was written ...
    assert count(db) == 0  # ... and went with the ticket
    with db.write() as s:
        issue_ticket(s, center.code, "pension-new", "az", None, factories.kiosk_actor(s, center))
    assert count(db, kind="ticket.issued") == 1


def test_no_subscription_no_row_and_the_producer_asks_nothing_twice(app, db, center):
    statements = []
    from sqlalchemy import event

    engine = db.engine

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with db.write() as s:
        issue_ticket(s, center.code, "pension-new", "az", None, factories.kiosk_actor(s, center))
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with db.write() as s:
            issue_ticket(
                s, center.code, "pension-new", "az", None, factories.kiosk_actor(s, center)
            )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert count(db) == 0
    assert not [q for q in statements if "webhook_subscriptions" in q]  # the cached view


def test_the_worker_cancels_what_must_not_go(app, db, center):
    """An erased contact's message, and one for a channel the center has switched off,
    are cancelled without an attempt; no address is needed or shown for that."""
    from server.models import VisitorContact
    from server.notify.worker import deliver_due

    with db.write() as s:
        ticket = issue_ticket(
            s, center.code, "pension-new", "az", None, factories.kiosk_actor(s, center)
        ).ticket
        erased = VisitorContact(
            center_id=center.id,
            ticket_id=ticket.id,
            channel="sms",
            address=None,
            masked="+994 ** *** 45 67",
            language="az",
            erased_at=utcnow(),
        )
        live = VisitorContact(
            center_id=center.id,
            ticket_id=ticket.id,
            channel="sms",
            address="+994501234567",
            masked="+994 ** *** 45 67",
            language="az",
        )
        s.add_all([erased, live])
        s.flush()
        for contact in (erased, live):
            outbox.enqueue(
                s,
                key=f"t{ticket.id}:issued:sms:{contact.id}",
                channel="sms",
                kind="issued",
                body={"text": "A001", "language": "az"},
                center_id=center.id,
                ticket_id=ticket.id,
                contact_id=contact.id,
            )
    assert deliver_due(app, "test") == 0  # nothing sent
    with db.read() as s:
        rows = s.execute(
            select(OutboxMessage.state, OutboxMessage.attempts, OutboxMessage.last_error).order_by(
                OutboxMessage.id
            )
        ).all()
    assert [(state, attempts) for state, attempts, _ in rows] == [("cancelled", 0)] * 2
    assert rows[0].last_error == "the contact was erased"
    assert "switched off" in rows[1].last_error and "+994" not in rows[1].last_error
