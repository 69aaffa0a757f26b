"""The visitor triggers (server/notify/triggers.py) on the real queue engine and database:
which outbox rows a ticket's life writes, once each, in the ticket's language, inside
the transaction of their cause."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from server import queue
from server.db import PENDING_CHANGES
from server.models import Center, OutboxMessage, Ticket, VisitorContact
from server.notify import contacts, triggers

from .engine_helpers import Env, at, make_env

SMS = {"enabled": True, "url": "http://127.0.0.1:9/sms"}


def configure(db, env: Env, **wanted) -> None:
    with db.write() as s:
        center = s.get(Center, env.center_id)
        center.notifications = {"sms": SMS, "triggers": {"almost_minutes": 0, **wanted}}


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        env = make_env(s)
    configure(db, env)
    return env


def issue_many(db, env: Env, count: int, language: str = "az") -> list[Ticket]:
    with db.write() as s:
        return [
            queue.issue_ticket(
                s, env.center_code, "pension-new", language, None, env.kiosk, now=at(i)
            ).ticket
            for i in range(count)
        ]


def add_sms(db, ticket: Ticket, phone: str = "050 123 45 67") -> VisitorContact:
    with db.write() as s:
        return contacts.add_contact(
            s, s.get(Ticket, ticket.id), "sms", address=phone, now=at(10)
        ).contact


def outbox(db, ticket_id: int | None = None) -> list[SimpleNamespace]:
    """The outbox rows (of one ticket), oldest first, as plain values."""
    with db.read() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if ticket_id is not None:
            query = query.where(OutboxMessage.ticket_id == ticket_id)
        columns = OutboxMessage.__table__.columns
        return [
            SimpleNamespace(**{c.key: getattr(m, c.key) for c in columns}) for m in s.scalars(query)
        ]


def kinds(db, ticket_id: int) -> list[str]:
    return [m.kind for m in outbox(db, ticket_id)]


def call_next(db, env: Env, minute: float, *, start: bool = True) -> Ticket | None:
    with db.write() as s:
        return queue.call_next(s, env.c1, env.alice, start=start, now=at(minute))


def call_key(ticket_id: int, minute: float, contact_id: int) -> str:
    """A call's key: the call's time in epoch ms (unique per call, unlike recall_count)."""
    return f"t{ticket_id}:called{int(at(minute).timestamp() * 1000)}:sms:{contact_id}"


@pytest.fixture
def public_base(app):
    """NOVBE_PUBLIC_BASE_URL set, in the app's context (as in a request or the worker)."""
    app.config["PUBLIC_BASE_URL"] = "https://novbe.example.az"
    with app.app_context():
        yield "https://novbe.example.az"


def test_a_ticket_life_writes_issued_almost_once_called_recalled_and_rating(db, env, public_base):
    tickets = issue_many(db, env, 5, language="ru")
    fifth = tickets[4]
    contact = add_sms(db, fifth)
    assert kinds(db, fifth.id) == ["issued"]  # 5th in line: not almost yet

    call_next(db, env, 11)  # 1st called: the 5th is 4th
    assert kinds(db, fifth.id) == ["issued"]
    call_next(db, env, 12)  # 2nd called: the 5th is 3rd (almost_position 3)
    assert kinds(db, fifth.id) == ["issued", "almost"]
    almost = outbox(db, fifth.id)[1]
    assert re.fullmatch(
        r"Талон A005: перед вами 2, примерно \d+ мин\. Вернитесь в зал\.", almost.body["text"]
    )
    assert almost.key == f"t{fifth.id}:almost:sms:{contact.id}"
    assert almost.body["language"] == "ru" and almost.contact_id == contact.id

    call_next(db, env, 13)  # 2nd in line now: still the one "almost"
    call_next(db, env, 14)
    assert kinds(db, fifth.id) == ["issued", "almost"]
    assert call_next(db, env, 15, start=False).id == fifth.id
    called = outbox(db, fifth.id)[2]
    assert called.kind == "called"
    assert called.body["text"] == "Талон A005: пройдите к окну 1"

    with db.write() as s:
        queue.recall(s, fifth.id, env.alice, now=at(16))
    with db.write() as s:
        queue.start(s, fifth.id, env.alice, now=at(17))
        queue.complete(s, fifth.id, env.alice, now=at(20))
    messages = outbox(db, fifth.id)
    assert [m.kind for m in messages] == ["issued", "almost", "called", "called", "rating"]
    assert messages[2].key == call_key(fifth.id, 15, contact.id)
    assert messages[3].key == call_key(fifth.id, 16, contact.id)
    assert messages[4].body["url"] == f"https://novbe.example.az/t/{fifth.tracking_token}"
    assert messages[4].body["text"].endswith(f": https://novbe.example.az/t/{fifth.tracking_token}")
    # Nothing anywhere holds the number: the bodies are texts and links.
    assert all("501234567" not in repr(m.body) for m in outbox(db))
    # The others had no contact: no row of theirs.
    assert {m.ticket_id for m in outbox(db)} == {fifth.id}


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("az", "Bilet A001: 1 nömrəli masaya yaxınlaşın"),
        ("ru", "Талон A001: пройдите к окну 1"),
        ("en", "Ticket A001: please go to counter 1"),
    ],
)
def test_called_is_in_the_ticket_language_with_the_counter_label(db, env, language, text):
    (ticket,) = issue_many(db, env, 1, language=language)
    add_sms(db, ticket)
    call_next(db, env, 11, start=False)
    called = [m for m in outbox(db, ticket.id) if m.kind == "called"]
    assert [m.body["text"] for m in called] == [text]
    assert called[0].body["language"] == language


def test_almost_by_estimated_minutes(db, env):
    configure(db, env, almost_position=1, almost_minutes=240)
    tickets = issue_many(db, env, 4)
    add_sms(db, tickets[3])  # 4 ahead of nobody... 3 ahead, well within 240 minutes
    assert kinds(db, tickets[3].id) == ["issued", "almost"]
    assert "dəq" in outbox(db, tickets[3].id)[1].body["text"]


def test_switched_off_triggers_write_nothing(db, env):
    configure(db, env, issued=False, almost=False, called=False, rating=False)
    (ticket,) = issue_many(db, env, 1)
    add_sms(db, ticket)
    call_next(db, env, 11)
    call_next(db, env, 12)
    assert outbox(db) == []


def test_a_center_without_channels_gets_nothing_and_costs_one_query(db, env):
    with db.write() as s:
        s.get(Center, env.center_id).notifications = {}
    (ticket,) = issue_many(db, env, 1)
    with db.write() as s:  # a contact from before the channel was switched off
        s.add(
            VisitorContact(
                center_id=env.center_id,
                ticket_id=ticket.id,
                channel="sms",
                address="+994501234567",
                masked="+994 ** *** 45 67",
                language="az",
            )
        )
    call_next(db, env, 11)
    assert outbox(db) == []

    # A center with no live contact at all: one small query per transaction.
    with db.write() as s:
        for contact in s.scalars(select(VisitorContact)):
            contacts.erase(s, contact)
    issue_many(db, env, 2)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        call_next(db, env, 12)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    ours = [q for q in statements if "visitor_contacts" in q or "outbox" in q]
    assert len(ours) == 1 and "visitor_contacts" in ours[0], ours
    assert outbox(db) == []


def test_a_rolled_back_change_writes_no_outbox_row(db, env):
    tickets = issue_many(db, env, 2)
    add_sms(db, tickets[0])
    before = len(outbox(db))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.write() as s:
        queue.call_next(s, env.c1, env.alice, now=at(11))
        s.flush()
        raise Boom
    assert len(outbox(db)) == before
    assert call_next(db, env, 12, start=False).id == tickets[0].id
    assert kinds(db, tickets[0].id).count("called") == 1


def test_producing_twice_leaves_one_row(db, env):
    (ticket,) = issue_many(db, env, 1)
    add_sms(db, ticket)
    with db.write() as s:
        queue.call_next(s, env.c1, env.alice, now=at(11))
        changes = list(s.info[PENDING_CHANGES])
        triggers.produce_visitor_messages(s, changes)  # a retried change, a 2nd process
        triggers.produce_visitor_messages(s, changes)
    assert kinds(db, ticket.id) == ["issued", "almost", "called"]


# --- end to end: a real server, its outbox worker, a loopback SMS gateway ------------------


@pytest.mark.e2e
def test_a_visitor_gets_issued_almost_and_called_by_sms_once_each(live_server):
    from .notify_helpers import SmsGateway

    center = live_server.new_center()
    with SmsGateway() as gateway:
        with live_server.db.write() as s:
            row = s.scalar(select(Center).where(Center.code == center.code))
            row.notifications = {"sms": gateway.settings(), "triggers": {"almost_minutes": 0}}
        tickets = [live_server.issue(center, "pension-new") for _ in range(4)]
        mine = live_server.issue(center, "pension-new", language="ru")
        r = live_server.api(
            "POST",
            f"/tickets/{mine['tracking_token']}/contacts",
            json={"channel": "sms", "address": "050 765 43 21"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["masked"] == "+994 ** *** 43 21"
        for ticket in [*tickets, mine]:
            called = live_server.call_next(center, "1")
            assert called["id"] == ticket["id"]
            if ticket is not mine:
                r = live_server.api("POST", f"/tickets/{ticket['id']}/start", center.staff_token)
                assert r.status_code == 200, r.text
        got = gateway.wait_for(3, timeout=20)
        assert len(gateway.wait_for(4, timeout=3)) == 3  # and nothing more: once each
    sent = [request.json() for request in got]
    assert {message["to"] for message in sent} == {"+994507654321"}
    texts = [message["text"] for message in sent]
    number = mine["number"]
    # No NOVBE_PUBLIC_BASE_URL on the test server: no link (never the request's host).
    assert texts[0] == f"Талон {number}: сообщим, когда подойдёт ваша очередь."
    assert texts[1].startswith(f"Талон {number}: перед вами 2")
    assert texts[2] == f"Талон {number}: пройдите к окну 1"
    assert "507654321" not in live_server.log()


# --- review fixes: call keys, cost, junk settings, links ---------------------------------------


def test_a_call_after_a_transfer_and_a_recall_are_new_messages_with_their_counter(db, env):
    """A transfer resets recall_count: the second call must not reuse the first's key."""
    (ticket,) = issue_many(db, env, 1)
    contact = add_sms(db, ticket)
    call_next(db, env, 11, start=False)  # counter 1
    with db.write() as s:
        queue.transfer(s, ticket.id, env.alice, counter_id=env.c2, now=at(12))
    with db.write() as s:
        assert queue.call_next(s, env.c2, env.bob, now=at(13)).id == ticket.id
    with db.write() as s:
        queue.recall(s, ticket.id, env.bob, now=at(14))
    called = [m for m in outbox(db, ticket.id) if m.kind == "called"]
    assert [m.body["text"] for m in called] == [
        "Bilet A001: 1 nömrəli masaya yaxınlaşın",
        "Bilet A001: 2 nömrəli masaya yaxınlaşın",
        "Bilet A001: 2 nömrəli masaya yaxınlaşın",
    ]
    assert [m.key for m in called] == [
        call_key(ticket.id, minute, contact.id) for minute in (11, 13, 14)
    ]


def count_statements(db, action) -> list[str]:
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return [q for q in statements if "visitor_contacts" in q or "outbox" in q]


def test_unreachable_contacts_cost_one_query_and_almost_looks_at_touched_services(db, env):
    (ticket,) = issue_many(db, env, 1)
    with db.write() as s:  # a Telegram contact never linked: nobody to write to
        s.add(
            VisitorContact(
                center_id=env.center_id,
                ticket_id=ticket.id,
                channel="telegram",
                address=None,
                masked="Telegram",
                language="az",
            )
        )
    ours = count_statements(db, lambda: issue_many(db, env, 1))
    assert len(ours) == 1 and "visitor_contacts" in ours[0], ours

    add_sms(db, ticket)  # a reachable contact in pension-new, first in line: "almost" sent
    assert kinds(db, ticket.id) == ["issued", "almost"]

    def issue_elsewhere() -> None:
        with db.write() as s:
            queue.issue_ticket(s, env.center_code, "job-seeker", "az", None, env.kiosk, now=at(12))

    ours = count_statements(db, issue_elsewhere)  # job-seeker only: pension-new not looked at
    assert not any("outbox" in q for q in ours), ours
    assert len(ours) <= 3, ours
    assert kinds(db, ticket.id) == ["issued", "almost"]


def test_junk_settings_from_an_older_version_never_break_a_call(db, env):
    with db.write() as s:
        s.get(Center, env.center_id).notifications = {
            "sms": {**SMS, "countries": 994, "headers": ["x"], "extra": 1},
            "triggers": {"almost_position": "three", "almost_minutes": None, "called": "yes"},
            "bogus": [1, 2],
        }
    (ticket,) = issue_many(db, env, 1)
    add_sms(db, ticket)
    assert call_next(db, env, 11, start=False).id == ticket.id
    # The junk fell back to the defaults: "called" on, almost at position 3.
    assert kinds(db, ticket.id) == ["issued", "almost", "called"]


def test_without_a_public_base_url_no_link_leaks_the_request_host(app, db, env):
    """A staff member's LAN address must not reach a phone: no PUBLIC_BASE_URL, no link in
    SMS, email or Telegram, a path for Web Push."""
    from server.notify import texts

    app.config["PUBLIC_BASE_URL"] = ""
    with app.test_request_context("/", base_url="http://192.168.1.20:8000"):
        sms = texts.ticket_message("issued", "en", number="A001", token="tok", channel="sms")
        push = texts.ticket_message("rating", "ru", number="A001", token="tok", channel="webpush")
        assert texts.appointment_url("apt", "email") is None
    assert sms["text"] == "Ticket A001: we will tell you when your turn is near."
    assert sms["url"] is None
    assert push["text"] == "Спасибо за визит." and push["url"] == "/t/tok"
    app.config["PUBLIC_BASE_URL"] = "https://novbe.example.az/"
    with app.app_context():
        sms = texts.ticket_message("issued", "en", number="A001", token="tok", channel="sms")
    assert sms["text"] == "Ticket A001. Follow your turn: https://novbe.example.az/t/tok"
    assert sms["url"] == "https://novbe.example.az/t/tok"
