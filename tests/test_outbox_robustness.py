"""The outbox worker under a hostile or changing world: a receiver that drips or floods
is cut off at its deadline, a send that outlasts its claim is not sent twice, a broken
row does not stop the others, visitor messages that no longer make sense are
cancelled, a run of failures must also last before a webhook is disabled, a gone push
subscription erases its contact, finished rows are purged, and IPv6 forms embedding a
private IPv4 address are refused."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from server.models import (
    Appointment,
    Center,
    DeliveryAttempt,
    OutboxMessage,
    Service,
    Ticket,
    VisitorContact,
    WebhookSubscription,
    utcnow,
)
from server.notify import addresses, outbox, webhooks, worker
from server.notify.channels import webhook as signing
from server.notify.channels.base import Delivery
from server.notify.channels.http import DeadlineExceeded, post_with_deadline
from server.notify.worker import deliver_due
from server.queue import issue_ticket

from . import factories
from .api_helpers import PREFIX, issue, setup_api
from .notify_helpers import PushService


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def subscribe(client, headers, url, events=("*",), center="baku-1") -> dict:
    r = client.post(
        f"{PREFIX}/webhooks",
        json={"url": url, "events": list(events), "center": center},
        headers=headers,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


# --- 1. a hard deadline and a byte cap ----------------------------------------------------------


class RawServer:
    """A TCP server on loopback answering every connection with ``answer(conn)``."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.sent = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)  # the request (small: one event)
            self.answer(self, conn)
        except OSError:
            pass  # the sender hung up: what we wanted
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


def drip_headers(server: RawServer, conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
        if server.stopped.wait(0.3):
            return
        conn.sendall(bytes([byte]))


def drip_body(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not server.stopped.wait(0.3):
        conn.sendall(b"x")


def flood(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 10000000000\r\n\r\n")
    chunk = b"y" * 65536
    while not server.stopped.is_set():
        conn.sendall(chunk)
        server.sent += len(chunk)


def timed(call, limit_s: float):
    """(result or exception, seconds): fails if ``call`` has not returned by ``limit_s``."""
    box: list = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as exc:
            box.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"still sending after {limit_s} s"
    return box[0], time.monotonic() - started


def test_a_receiver_dripping_its_headers_is_cut_off_at_the_deadline():
    server = RawServer(drip_headers)
    try:
        result, _ = timed(
            lambda: post_with_deadline(server.url, data=b"{}", deadline_s=2, max_bytes=2000), 6
        )
        assert isinstance(result, DeadlineExceeded)
        delivery = Delivery(
            message_id=1,
            key="w1:evt_x",
            channel="webhook",
            kind="ticket.issued",
            body={"type": "ticket.issued"},
            address=server.url,
            settings={"secrets": [signing.new_secret()], "private_addresses": True, "timeout_s": 2},
        )
        outcome, _ = timed(lambda: signing.CHANNEL.send(delivery), 6)
        assert not outcome.ok and outcome.error == "no answer within the deadline"
    finally:
        server.stop()


def test_a_receiver_dripping_its_body_keeps_its_status_and_is_cut_off():
    server = RawServer(drip_body)
    try:
        (status, text), _ = timed(
            lambda: post_with_deadline(server.url, data=b"{}", deadline_s=2, max_bytes=2000), 6
        )
        assert status == 200 and set(text) <= {"x"} and len(text) < 100
    finally:
        server.stop()


def test_a_flooding_receiver_is_read_no_further_than_the_cap():
    server = RawServer(flood)
    try:
        (status, text), _ = timed(
            lambda: post_with_deadline(server.url, data=b"{}", deadline_s=5, max_bytes=2000), 8
        )
        assert status == 500 and text == "y" * 2000
    finally:
        server.stop()


# --- 2. a send outlasting its claim is not claimed again by its own worker ----------------------


def test_a_send_outlasting_its_claim_is_not_sent_twice(app, client, db, api, receiver, monkeypatch):
    monkeypatch.setattr(outbox, "CLAIM_S", 1)
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets, receiver.delay_s = [hook["secret"]], 3
    issue(client, api)
    first = threading.Thread(target=deliver_due, args=(app, "w1"), daemon=True)
    first.start()
    assert receiver.arrived.wait(5)
    time.sleep(1.5)  # the claim has lapsed; the send goes on
    assert deliver_due(app, "w1") == 0  # the same worker does not take it again
    first.join(10)
    assert receiver.requests == 1
    with db.read() as s:
        assert s.scalar(select(OutboxMessage.state)) == "sent"


# --- 3. one bad row does not stop the others -----------------------------------------------------


def test_a_message_that_cannot_be_prepared_is_dead_and_the_others_go(
    app, client, db, api, receiver
):
    good = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    bad = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets = [good["secret"]]
    with db.write() as s:  # a hand-edited row: an expiry that is not a date
        s.get(WebhookSubscription, bad["id"]).secrets = [
            {"secret": bad["secret"], "expires_at": "next tuesday"}
        ]
    issue(client, api)
    assert deliver_due(app, "w") == 1
    assert len(receiver.received) == 1
    with db.read() as s:
        rows = dict(
            s.execute(select(OutboxMessage.subscription_id, OutboxMessage.state)).tuples().all()
        )
        error = s.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.subscription_id == bad["id"])
        )
    assert rows == {good["id"]: "sent", bad["id"]: "dead"}
    assert error == "could not be prepared: ValueError"


def test_a_visitor_message_of_a_center_with_broken_settings_is_dead(app, db, center):
    with db.write() as s:
        ticket_id, contact_id = ticket_with_contact(s, center)
        s.get(Center, center.id).notifications = {"sms": "not a dict", "triggers": 7}
        enqueue_visitor(s, center, "issued", ticket_id=ticket_id, contact_id=contact_id)
    deliver_due(app, "w")
    with db.read() as s:
        message = s.scalar(select(OutboxMessage))
        assert message.state in ("dead", "cancelled"), message.last_error  # never stuck
        assert "+994" not in (message.last_error or "")


# --- 4. stale visitor messages are cancelled ----------------------------------------------------


def ticket_with_contact(s, center, **contact) -> tuple[int, int]:
    ticket = issue_ticket(
        s, center.code, "pension-new", "az", None, factories.kiosk_actor(s, center)
    ).ticket
    row = VisitorContact(
        center_id=center.id,
        ticket_id=ticket.id,
        channel="sms",
        address="+994501234567",
        masked="+994 ** *** 45 67",
        language="az",
        **contact,
    )
    s.add(row)
    s.flush()
    return ticket.id, row.id


def enqueue_visitor(
    s, center, kind: str, *, contact_id: int, ticket_id=None, now=None, channel="sms"
) -> None:
    outbox.enqueue(
        s,
        key=f"x{contact_id}:{kind}:{now}",
        channel=channel,
        kind=kind,
        body={"text": "hello", "language": "az"},
        center_id=center.id,
        ticket_id=ticket_id,
        contact_id=contact_id,
        now=now,
    )


def outcome_of(app, db) -> str:
    """The message's last_error once the worker has had a go (the center has SMS off,
    so one that is not stale is cancelled as "switched off")."""
    deliver_due(app, "w", now=utcnow() + timedelta(seconds=5))
    with db.read() as s:
        state, error = s.execute(select(OutboxMessage.state, OutboxMessage.last_error)).one()
    assert state == "cancelled"
    return error


@pytest.mark.parametrize(
    "kind, status, reason",
    [
        ("called", "waiting", "the ticket is no longer called (waiting)"),
        ("called", "called", None),
        ("almost", "called", "the ticket is no longer waiting (called)"),
        ("almost", "waiting", None),
        ("issued", "done", "the ticket is already done"),
        ("issued", "serving", None),
    ],
)
def test_a_ticket_message_that_no_longer_fits_is_cancelled(app, db, center, kind, status, reason):
    now = utcnow()
    with db.write() as s:
        ticket_id, contact_id = ticket_with_contact(s, center)
        ticket = s.get(Ticket, ticket_id)
        ticket.status, ticket.called_at = status, now if status != "waiting" else None
        enqueue_visitor(s, center, kind, ticket_id=ticket_id, contact_id=contact_id, now=now)
    error = outcome_of(app, db)
    assert error == (reason or "sms is switched off at the center")


def test_a_called_message_older_than_a_newer_call_is_cancelled(app, db, center):
    first = utcnow() - timedelta(minutes=2)
    with db.write() as s:
        ticket_id, contact_id = ticket_with_contact(s, center)
        ticket = s.get(Ticket, ticket_id)
        ticket.status, ticket.called_at = "called", first
        ticket.last_called_at = first + timedelta(minutes=1)  # recalled since
        enqueue_visitor(s, center, "called", ticket_id=ticket_id, contact_id=contact_id, now=first)
    assert outcome_of(app, db) == "the ticket was called again since"


@pytest.mark.parametrize(
    "start_in, state, reason",
    [
        (timedelta(hours=-1), "booked", "the appointment has started"),
        (timedelta(hours=3), "cancelled", "the booking is no longer booked"),
        (timedelta(hours=3), "booked", None),
    ],
)
def test_a_reminder_after_the_start_or_for_a_dropped_booking_is_cancelled(
    app, db, center, start_in, state, reason
):
    now = utcnow()
    with db.write() as s:
        service = s.scalar(select(Service).where(Service.center_id == center.id))
        appointment = Appointment(
            center_id=center.id,
            service_id=service.id,
            start=now + start_in,
            business_day=(now + start_in).date(),
            code="K7Q2",
            token="t" * 40,
            language="az",
            state=state,
        )
        s.add(appointment)
        s.flush()
        contact = VisitorContact(
            center_id=center.id,
            appointment_id=appointment.id,
            channel="sms",
            address="+994501234567",
            masked="+994 ** *** 45 67",
            language="az",
        )
        s.add(contact)
        s.flush()
        enqueue_visitor(s, center, "reminder_hour", contact_id=contact.id, now=now)
    assert outcome_of(app, db) == (reason or "sms is switched off at the center")


# --- 5. a run of failures must also last before a webhook is disabled --------------------------


def test_a_short_run_of_failures_does_not_disable_a_webhook(app, client, db, api, receiver):
    app.config["WEBHOOK_DISABLE_AFTER"] = 3
    app.config["WEBHOOK_DISABLE_AFTER_S"] = 3600
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets, receiver.fail_always = [hook["secret"]], True
    for _ in range(3):
        issue(client, api)
    assert deliver_due(app, "w") == 3
    state = client.get(f"{PREFIX}/webhooks/{hook['id']}", headers=api.manager).get_json()
    assert state["active"] is True and state["failures"] == 3
    assert state["failing_since"] is not None
    # Still failing two hours on: the run is long enough now.
    assert deliver_due(app, "w", now=utcnow() + timedelta(hours=2)) == 3
    state = client.get(f"{PREFIX}/webhooks/{hook['id']}", headers=api.manager).get_json()
    assert state["active"] is False and state["failures"] == 6
    # The 4th failure (the first two hours on) disabled it; the others still count.
    assert state["disabled_reason"] == f"failed 4 times in a row since {state['failing_since']}"
    r = client.patch(f"{PREFIX}/webhooks/{hook['id']}", json={"active": True}, headers=api.manager)
    assert r.get_json()["failing_since"] is None and r.get_json()["failures"] == 0


def test_a_success_ends_the_run(app, client, db, api):
    hook = subscribe(client, api.manager, "http://127.0.0.1:9/")
    now = utcnow()
    with db.write() as s:
        assert not webhooks.record_result(s, hook["id"], False, now, 20, 3600)
        assert s.get(WebhookSubscription, hook["id"]).failing_since == now
    with db.write() as s:
        webhooks.record_result(s, hook["id"], True, now, 20, 3600)
        subscription = s.get(WebhookSubscription, hook["id"])
        assert (subscription.failures, subscription.failing_since) == (0, None)


# --- 6. the lock order: the subscription before the outbox row ---------------------------------


def test_recording_locks_the_subscription_before_the_outbox_row(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets = [hook["secret"]]
    issue(client, api)
    [delivery] = worker.claim(app, "w")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        worker.send_and_record(app, "w", delivery)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)

    def first(table_column: str) -> int:
        return next(i for i, q in enumerate(statements) if table_column in q)

    # The full rows, read for update (FOR UPDATE on PostgreSQL), in this order.
    assert first("webhook_subscriptions.secrets") < first("outbox.body")


# --- 7. a center's log does not show the network's webhooks to its managers ---------------------


def test_a_network_webhooks_deliveries_are_for_network_admins(app, client, db, api, receiver):
    network = subscribe(client, api.admin, receiver.url, events=["ticket.issued"], center=None)
    local = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    issue(client, api)

    def webhooks_seen(headers) -> set:
        r = client.get(f"{PREFIX}/centers/baku-1/deliveries", headers=headers)
        assert r.status_code == 200
        return {row["webhook"] for row in r.get_json()["deliveries"]}

    assert webhooks_seen(api.manager) == {local["id"]}
    assert webhooks_seen(api.admin) == {local["id"], network["id"]}


# --- 8. replay: the whole schedule again --------------------------------------------------------


def test_a_replayed_dead_message_gets_every_attempt_again(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets, receiver.fail_always = [hook["secret"]], True
    issue(client, api)
    with db.write() as s:
        message = s.scalar(select(OutboxMessage))
        message.state, message.attempts = "dead", outbox.MAX_ATTEMPTS
        message_id = message.id
    r = client.post(f"{PREFIX}/deliveries/{message_id}/replay", headers=api.manager)
    assert r.status_code == 202
    assert deliver_due(app, "w") == 1
    with db.read() as s:
        message = s.get(OutboxMessage, message_id)
        assert (message.state, message.attempts) == ("pending", 1)  # retried, not dead


# --- 9. a gone push subscription erases its contact ---------------------------------------------


def test_a_gone_push_subscription_erases_the_contact(app, db, center):
    with PushService() as push:
        with db.write() as s:
            ticket_id, contact_id = ticket_with_contact(s, center)
            contact = s.get(VisitorContact, contact_id)
            contact.channel, contact.address = "webpush", json.dumps(push.subscription())
            contact.masked = "browser"
            s.get(Center, center.id).notifications = {"webpush": {"enabled": True}}
            enqueue_visitor(
                s, center, "issued", ticket_id=ticket_id, contact_id=contact_id, channel="webpush"
            )
        push.gone()
        sent = deliver_due(app, "w")
        with db.read() as s:
            assert sent == 1, s.scalar(select(OutboxMessage.last_error))
        assert len(push.requests) == 1
    with db.read() as s:
        contact = s.get(VisitorContact, contact_id)
        assert contact.address is None and contact.erased_at is not None
        message = s.scalar(select(OutboxMessage))
        assert (message.state, message.last_error) == ("dead", "subscription gone")


# --- 10. finished messages are purged ------------------------------------------------------------


def test_maintenance_purges_finished_messages_past_their_keep(app, db):
    from server.maintenance import run_maintenance_once

    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    with db.write() as s:
        for n, (state, made) in enumerate(
            [("sent", old), ("dead", old), ("cancelled", old), ("pending", old), ("sent", recent)]
        ):
            outbox.enqueue(
                s, key=f"k{n}", channel="webhook", kind="webhook.ping", body={}, now=made
            )
            message = s.scalar(select(OutboxMessage).where(OutboxMessage.key == f"k{n}"))
            message.state = state
            s.add(DeliveryAttempt(message_id=message.id, at=made, ok=False))
    with app.app_context():
        run_maintenance_once()
    with db.read() as s:
        left = set(s.scalars(select(OutboxMessage.key)))
        attempts = s.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert left == {"k3", "k4"} and attempts == 2


# --- 11. IPv6 forms that embed a private IPv4 address ------------------------------------------


@pytest.mark.parametrize(
    "address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::127.0.0.1", "::ffff:10.1.2.3"]
)
def test_an_ipv6_address_embedding_a_private_ipv4_one_is_not_public(address):
    assert addresses.non_public(ipaddress.ip_address(address)) is not None
    assert addresses.private_address(f"http://[{address}]/hook") is not None


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2606:4700:4700::1111"])
def test_public_ipv6_addresses_stay_public(address):
    assert addresses.non_public(ipaddress.ip_address(address)) is None
