"""The outbox's sender: one per installation, never inside a web request.

A round claims due messages in a short transaction (outbox.claim_due: a claimed row is
no other worker's for outbox.CLAIM_S), builds each one's :class:`Delivery` (the
contact's address looked up just now; a webhook's URL and live secrets), sends outside
any transaction and records each result in a transaction of its own.

Invariants:

* a message of an erased contact, or of a visitor channel the center has switched off,
  or one that no longer makes sense (:func:`stale`: the ticket moved on, the booking
  started) is cancelled, never sent; one that cannot even be prepared (broken
  settings or secrets) is dead at once and the others go on; one of a disabled
  subscription stays pending (held, not due) until the subscription is enabled again;
* sends run on a small pool (green threads under gevent): a receiver that takes the
  whole time-out holds one slot, not the others; a send is bounded (channels/http.py)
  and a message this process is sending is never claimed by it again, even after its
  claim (60 s) lapsed, so no message is sent twice at once by one worker;
* a webhook's result locks the subscription before the outbox row (the order of a
  PATCH enabling it); a push subscription that is gone (404/410) erases its contact;
* the loop runs in the process holding the cluster's ``outbox`` lease; it wakes at once
  after a local commit that may have written a message (outbox.ENQUEUED), else every
  :data:`POLL_S` (messages written by other processes, or due after a back-off).
* the same process polls Telegram for visitors' opt-ins (channels/telegram.py), on a
  thread of its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cluster import cluster_of
from ..models import (
    FINAL_STATUSES,
    Appointment,
    Center,
    OutboxMessage,
    Ticket,
    VisitorContact,
    WebhookSubscription,
    utcnow,
)
from . import channels, contacts, outbox, webhooks
from .channels import telegram
from .channels.base import Delivery
from .outbox import Outcome

log = logging.getLogger(__name__)
POLL_S = 0.5
POOL_SIZE = 8  # sends at once
LEASE_S = 10.0
HOLD_DISABLED = timedelta(days=365)  # a disabled subscription's messages wait for it
# A "called" message is stale once the ticket was called again later than this after
# the message was made (the message is written in the call's own transaction).
CALL_SLACK = timedelta(seconds=1)
# Message ids each worker (by id) of this process is sending now: never claimed again
# meanwhile, even once their claim has lapsed (a send outlasting outbox.CLAIM_S).
_sending: dict[str, set[int]] = {}
_sending_lock = threading.Lock()


def _db(app: Flask):
    return app.extensions["novbe_db"]


def claim(
    app: Flask, worker_id: str, now: datetime | None = None, limit: int = 20
) -> list[Delivery]:
    """Claim due messages and build what to send; cancels or holds those that must not
    go, and gives up on one that cannot even be prepared (the others go on). Never
    claims one this process is still sending under ``worker_id`` (its claim may have
    lapsed); the returned ones count as being sent until :func:`send_and_record`."""
    now = now or utcnow()
    deliveries = []
    with _sending_lock:
        skip = set(_sending.get(worker_id, ()))
    with _db(app).read() as session:  # idle most of the time: no write transaction then
        if not outbox.anything_due(session, now, skip):
            return []
    with _db(app).write() as session:
        claim_s = app.config.get("OUTBOX_CLAIM_S", outbox.CLAIM_S)
        for message in outbox.claim_due(session, worker_id, now, limit, skip=skip, claim_s=claim_s):
            message_id = message.id
            try:
                with session.begin_nested():
                    delivery = _delivery(app, session, message, now)
            except Exception as exc:  # one bad row must not stop the outbox
                log.warning(
                    "outbox message %d could not be prepared (%s): given up",
                    message_id,
                    type(exc).__name__,
                )
                message = session.get(OutboxMessage, message_id)
                outbox.give_up(session, message, f"could not be prepared: {type(exc).__name__}")
                continue
            if delivery is not None:
                deliveries.append(delivery)
    with _sending_lock:
        _sending.setdefault(worker_id, set()).update(d.message_id for d in deliveries)
    return deliveries


def _delivery(app: Flask, session: Session, message: OutboxMessage, now: datetime):
    if message.channel == "webhook":
        subscription = session.get(WebhookSubscription, message.subscription_id)
        if subscription is None:
            outbox.cancel(session, message, "the webhook was removed")
            return None
        if not subscription.active:
            outbox.hold(session, message, now + HOLD_DISABLED, "the webhook is disabled")
            return None
        settings = {
            "secrets": webhooks.signing_secrets(subscription, now),
            "event_id": webhooks.event_id_of(message),
            "private_addresses": bool(app.config.get("WEBHOOK_PRIVATE_ADDRESSES")),
        }
        return _make(message, subscription.url, "en", settings)
    contact = session.get(VisitorContact, message.contact_id) if message.contact_id else None
    if contact is None or contact.address is None or contact.erased_at is not None:
        outbox.cancel(session, message, "the contact was erased")
        return None
    reason = stale(session, message, contact, now)
    if reason is not None:
        outbox.cancel(session, message, reason)
        return None
    center = session.get(Center, message.center_id or contact.center_id)
    from . import settings as center_settings  # H2's; imported when a visitor message goes

    configured = center_settings.delivery_settings(app, center, message.channel)
    if configured is None:
        outbox.cancel(session, message, f"{message.channel} is switched off at the center")
        return None
    return _make(message, contact.address, contact.language, configured)


def stale(
    session: Session, message: OutboxMessage, contact: VisitorContact, now: datetime
) -> str | None:
    """Why a visitor message no longer makes sense (it waited for a retry, or for a
    worker, while the queue moved on), or None: "called" once the ticket is no longer
    called or was called again since; "almost" once it is no longer waiting; "issued"
    once it is final; a reminder once the booking started or is no longer booked."""
    kind = message.kind
    if kind.startswith("reminder"):
        appointment = (
            session.get(Appointment, contact.appointment_id) if contact.appointment_id else None
        )
        if appointment is None or appointment.state != "booked":
            return "the booking is no longer booked"
        if now >= appointment.start:
            return "the appointment has started"
        return None
    if kind not in ("called", "almost", "issued") or message.ticket_id is None:
        return None
    ticket = session.get(Ticket, message.ticket_id)
    if ticket is None:
        return "the ticket is gone"
    if kind == "called":
        if ticket.status != "called":
            return f"the ticket is no longer called ({ticket.status})"
        latest = max((t for t in (ticket.called_at, ticket.last_called_at) if t), default=None)
        if latest is not None and latest > message.created_at + CALL_SLACK:
            return "the ticket was called again since"
    elif kind == "almost" and ticket.status != "waiting":
        return f"the ticket is no longer waiting ({ticket.status})"
    elif kind == "issued" and ticket.status in FINAL_STATUSES:
        return f"the ticket is already {ticket.status}"
    return None


def _make(message: OutboxMessage, address: str, language: str, settings: dict) -> Delivery:
    return Delivery(
        message_id=message.id,
        key=message.key,
        channel=message.channel,
        kind=message.kind,
        body=dict(message.body),
        address=address,
        language=language,
        settings=settings,
    )


def send_and_record(
    app: Flask, worker_id: str, delivery: Delivery, now: datetime | None = None
) -> Outcome:
    """Send one message and record what came of it (now: the recording's clock)."""
    try:
        return _send_and_record(app, worker_id, delivery, now)
    finally:
        with _sending_lock:
            _sending.get(worker_id, set()).discard(delivery.message_id)


def _send_and_record(
    app: Flask, worker_id: str, delivery: Delivery, now: datetime | None
) -> Outcome:
    try:
        outcome = channels.get(delivery.channel).send(delivery)
    except Exception as exc:  # a channel must not raise; if one does, it is a failure
        log.exception(
            "outbox message %d: the %s channel failed", delivery.message_id, delivery.channel
        )
        outcome = Outcome(ok=False, error=f"internal error: {type(exc).__name__}")
    disabled = False
    recorded_at = now or utcnow()
    with _db(app).write() as session:
        # The subscription first, then the outbox row: the order a PATCH that enables
        # it takes too (two transactions locking the other way round could deadlock).
        subscription_id = session.scalar(
            select(OutboxMessage.subscription_id).where(OutboxMessage.id == delivery.message_id)
        )
        subscription = None
        if subscription_id is not None:
            subscription = session.get(WebhookSubscription, subscription_id, with_for_update=True)
        message = outbox.record_attempt(session, delivery.message_id, worker_id, outcome, now)
        if message is not None and subscription is not None:
            disabled = webhooks.record_result(
                session,
                subscription,
                outcome.ok,
                recorded_at,
                int(app.config.get("WEBHOOK_DISABLE_AFTER", webhooks.DISABLE_AFTER)),
                float(app.config.get("WEBHOOK_DISABLE_AFTER_S", 3600)),
            )
        if message is not None and _gone(delivery, outcome) and message.contact_id is not None:
            contact = session.get(VisitorContact, message.contact_id)
            if contact is not None:
                contacts.erase(session, contact, recorded_at)  # the browser dropped it
    if disabled:
        log.warning("webhook of outbox message %d disabled after failures", delivery.message_id)
        webhooks.subscriptions_changed(app)
    return outcome


def _gone(delivery: Delivery, outcome: Outcome) -> bool:
    """A push subscription the push service says no longer exists (404/410)."""
    return delivery.channel == "webpush" and outcome.permanent and outcome.status in (404, 410)


def deliver_due(app: Flask, worker_id: str, now: datetime | None = None, limit: int = 20) -> int:
    """One round, waiting for every send: the messages attempted (tests, the CLI)."""
    deliveries = claim(app, worker_id, now, limit)
    if deliveries:
        with ThreadPoolExecutor(min(POOL_SIZE, len(deliveries))) as pool:
            wait([pool.submit(send_and_record, app, worker_id, d, now) for d in deliveries])
    return len(deliveries)


def start_outbox_worker(app: Flask, poll_s: float = POLL_S) -> threading.Thread:
    """Send the outbox in the background (a green thread under gevent), in the one
    process of the installation that holds the ``outbox`` lease."""
    cluster = cluster_of(app)
    webhooks.listen(app)
    woken = threading.Event()
    # Woken by a commit that may have written a message; else a round every poll_s.
    _db(app).on_commit(lambda _changes: woken.set() if outbox.ENQUEUED.is_set() else None)
    pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="novbe-outbox")
    in_flight = threading.Semaphore(POOL_SIZE)
    worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"

    def send(delivery: Delivery) -> None:
        try:
            send_and_record(app, worker_id, delivery)
        except Exception:
            log.exception("outbox message %d: recording failed", delivery.message_id)
        finally:
            in_flight.release()

    def round_() -> None:
        outbox.ENQUEUED.clear()  # what is written from now on wakes the next round
        free = 0
        while in_flight.acquire(blocking=False):
            free += 1
        try:
            deliveries = claim(app, worker_id, limit=free) if free else []
        except Exception:
            for _ in range(free):
                in_flight.release()
            raise
        for _ in range(free - len(deliveries)):
            in_flight.release()
        for delivery in deliveries:
            pool.submit(send, delivery)

    def loop() -> None:
        while True:
            try:
                if cluster.lease("outbox", LEASE_S):
                    with app.app_context():
                        round_()
            except Exception:  # keep the loop alive; the next round retries
                log.exception("outbox round failed")
            woken.wait(poll_s)
            woken.clear()

    def telegram_loop() -> None:
        """Visitors' Telegram opt-ins come by polling the Bot API (it paces itself):
        a thread of its own, so a bot that does not answer never delays a send."""
        while True:
            try:
                if cluster.lease("outbox", LEASE_S):
                    telegram.poll_opt_ins(app)
            except Exception:
                log.exception("polling Telegram for opt-ins failed")
            time.sleep(poll_s)

    thread = threading.Thread(target=loop, name="novbe-outbox", daemon=True)
    thread.start()
    threading.Thread(target=telegram_loop, name="novbe-telegram-poll", daemon=True).start()
    return thread
