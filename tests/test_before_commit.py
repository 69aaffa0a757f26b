"""Database.before_commit: what hooks write commits with the change; a hook's fault never
costs the change (a visitor's ticket), a database error still rolls everything back."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select, text

from server.models import OutboxMessage, Ticket
from server.notify import outbox
from server.queue import issue_ticket

from . import factories


def _count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def _issue(db, center) -> None:
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        issue_ticket(s, center.code, "pension-new", "az", None, kiosk)


def test_a_hook_writes_with_the_change(db, center):
    def hook(session, changes):
        for change in changes:
            outbox.enqueue(session, key=f"hook-{change.id}", channel="webhook", kind="x", body={})

    db.before_commit(hook)
    _issue(db, center)
    assert (_count(db, Ticket), _count(db, OutboxMessage)) == (1, 1)


def test_a_failing_hook_costs_the_visitor_nothing(db, center, caplog):
    def broken(session, changes):
        outbox.enqueue(session, key="half-done", channel="webhook", kind="x", body={})
        raise KeyError("a setting an older version stored")

    db.before_commit(broken)
    with caplog.at_level(logging.ERROR, logger="server.db"):
        _issue(db, center)
    assert _count(db, Ticket) == 1  # the ticket stands
    assert "before-commit hook" in caplog.text and "KeyError" in caplog.text


def test_a_database_error_in_a_hook_rolls_the_change_back(db, center):
    def broken(session, changes):
        session.execute(text("SELECT * FROM no_such_table"))

    db.before_commit(broken)
    with pytest.raises(Exception, match="no_such_table"):
        _issue(db, center)
    assert (_count(db, Ticket), _count(db, OutboxMessage)) == (0, 0)
