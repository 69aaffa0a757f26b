"""When a visitor is written to: the outbox rows of the visitor triggers.

* issued: when a contact becomes usable (added, or a Telegram chat linked), and when a
  ticket is issued that already has contacts (a booking's, moved at check-in);
* almost: after any change of a center with live contacts, each waiting ticket with a
  contact whose place is at most ``almost_position`` or whose estimated wait is at most
  ``almost_minutes`` (0: off) gets it, once;
* called: each call of the ticket (call, out of order, recall), with the counter's
  label; keyed on the call's time (``last_called_at`` in epoch milliseconds), so a
  recall, or a call at another counter after a transfer, is a new message and the same
  call is never sent twice;
* rating: when the ticket is completed;
* reminder_day, reminder_hour: written when a contact is added to a booking, to go 24 h
  and 1 h before its start (``at``), if that is still ahead; cancelled with the booking
  (contacts.erase_for_appointment) or at check-in (contacts.move_to_ticket).

Invariants:

* every row is written inside the transaction of its cause (``Database.before_commit``),
  with the idempotency key of the contract: producing it again (a retried change, a
  second process) leaves one row;
* a center's settings decide (settings.triggers, settings.enabled_channels): a channel
  switched off gets nothing new;
* cheap when nobody listens: a transaction of centers without a live, reachable ticket
  contact costs one small query on ix_visitor_contacts_live, and none for QUIET_S
  seconds after one found nothing (a per-process cache); "almost" looks only at the
  services the transaction touched (a counter change: the whole center);
* never raises for a center's stored settings (settings.effective tolerates junk).
"""

from __future__ import annotations

import time
import weakref
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Appointment, Center, Counter, OutboxMessage, Ticket, VisitorContact, utcnow
from ..queue.changes import Change, ChangeKind
from ..queue.estimates import estimates_for
from ..realtime.payloads import CALL_ACTIONS
from . import outbox, settings, texts

ISSUE_ACTIONS = ("issue",)
RATING_ACTIONS = ("complete",)
REMINDERS = (("reminder_day", timedelta(hours=24)), ("reminder_hour", timedelta(hours=1)))


def _call_stamp(ticket: Ticket) -> int:
    """The ticket's latest call (call, recall, a call after a transfer) in epoch ms:
    unique per call, unlike recall_count, which a requeue resets to 0."""
    when = ticket.last_called_at or ticket.called_at
    if when is None:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _ticket_key(ticket: Ticket, trigger: str, contact: VisitorContact) -> str:
    if trigger == "called":
        trigger = f"called{_call_stamp(ticket)}"
    return f"t{ticket.id}:{trigger}:{contact.channel}:{contact.id}"


def _send_ticket(
    session: Session,
    ticket: Ticket,
    contact: VisitorContact,
    trigger: str,
    now: datetime,
    **values,
) -> bool:
    body = texts.ticket_message(
        trigger,
        contact.language,
        number=ticket.display_number,
        token=ticket.tracking_token,
        channel=contact.channel,
        **values,
    )
    return outbox.enqueue(
        session,
        key=_ticket_key(ticket, trigger, contact),
        channel=contact.channel,
        kind=trigger,
        body=body,
        center_id=ticket.center_id,
        ticket_id=ticket.id,
        contact_id=contact.id,
        now=now,
    )


def _usable(session: Session, condition) -> list[VisitorContact]:
    """Live contacts with an address (a linked Telegram chat, not an unlinked one)."""
    return list(
        session.scalars(
            select(VisitorContact)
            .where(condition, VisitorContact.erased_at.is_(None))
            .where(VisitorContact.address.is_not(None))
            .order_by(VisitorContact.id)
        )
    )


# ---- a contact becomes usable --------------------------------------------------------------


def contact_ready(session: Session, contact: VisitorContact, now: datetime | None = None) -> None:
    """A contact can be written to now: the messages due at once (issued, almost; or a
    booking's reminders)."""
    now = now or utcnow()
    center = session.get(Center, contact.center_id)
    if contact.channel not in settings.enabled_channels(center):
        return
    wanted = settings.triggers(center)
    if contact.ticket_id is not None:
        ticket = session.get(Ticket, contact.ticket_id)
        if ticket is None or ticket.status not in ("waiting", "called", "serving", "parked"):
            return
        if wanted["issued"]:
            _send_ticket(session, ticket, contact, "issued", now)
        if wanted["almost"] and ticket.status == "waiting":
            _almost(session, center, wanted, [(ticket, contact)], now)
        return
    appointment = session.get(Appointment, contact.appointment_id)
    if appointment is not None and wanted["reminders"] and appointment.state == "booked":
        schedule_reminders(session, appointment, center, contact, now)


def schedule_reminders(
    session: Session,
    appointment: Appointment,
    center: Center,
    contact: VisitorContact,
    now: datetime,
) -> int:
    """The booking's reminders still ahead, each to go at its time. Returns how many."""
    written = 0
    for trigger, before in REMINDERS:
        at = appointment.start - before
        if at <= now:
            continue
        body = texts.reminder_message(
            trigger,
            contact.language,
            start=appointment.start,
            timezone=center.timezone,
            center_name=center.name,
            code=appointment.code,
            url=texts.appointment_url(appointment.token, contact.channel),
        )
        written += outbox.enqueue(
            session,
            key=f"a{appointment.id}:{trigger}:{contact.channel}:{contact.id}",
            channel=contact.channel,
            kind=trigger,
            body=body,
            center_id=center.id,
            contact_id=contact.id,
            at=at,
            now=now,
        )
    return written


# ---- the producer ------------------------------------------------------------------------------


# Centers found without a reachable ticket contact, per process and database: (pool ->
# {center id: when}). A ticket change there skips the query for QUIET_S seconds; adding a
# contact (contacts_changed, on the cluster bus) ends it at once in every process, so
# the TTL only bounds a lost bus message or a contact made another way (moved to a
# ticket at check-in). Measured: the query was ~0.3 ms of a ~2 ms issue on SQLite.
DEFAULT_QUIET_S = 5.0
QUIET_S = DEFAULT_QUIET_S
CHANGED_TOPIC = "contacts.changed"
_quiet: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def configure(app: Flask) -> None:
    """Take the cache's lifetime from the app (0 in tests, which add contacts directly)
    and hear of contacts added by any process."""
    global QUIET_S
    QUIET_S = float(app.config.get("NOTIFY_QUIET_CACHE_S", DEFAULT_QUIET_S))
    from ..cluster import cluster_of

    cluster_of(app).subscribe(CHANGED_TOPIC, lambda body, _local: _forget(body.get("center")))


def contacts_changed(app: Flask, center_id: int) -> None:
    """After a committed new contact: every process looks at the center again."""
    from ..cluster import cluster_of

    _forget(center_id)
    cluster_of(app).publish(CHANGED_TOPIC, {"center": center_id})


def _forget(center_id: int | None) -> None:
    for quiet in list(_quiet.values()):
        quiet.pop(center_id, None)


def produce_visitor_messages(session: Session, changes: list[Change]) -> None:
    """``Database.before_commit`` hook: the visitor messages the transaction's ticket and
    counter changes call for."""
    centers = {
        change.center
        for change in changes
        if change.center and change.kind in (ChangeKind.TICKET, ChangeKind.COUNTER)
    }
    if not centers:
        return
    quiet = _quiet.setdefault(session.get_bind().pool, {})
    moment = time.monotonic()
    centers = {c for c in centers if moment - quiet.get(c, -QUIET_S - 1) >= QUIET_S}
    if not centers:
        return
    # Reachable ticket contacts only: an unlinked Telegram contact or a booking's
    # contact (its reminders are scheduled, not triggered) makes no change worth a look.
    listened = set(
        session.scalars(
            select(VisitorContact.center_id)
            .where(
                VisitorContact.center_id.in_(centers),
                VisitorContact.erased_at.is_(None),
                VisitorContact.ticket_id.is_not(None),
                VisitorContact.address.is_not(None),
            )
            .distinct()
        )
    )
    if QUIET_S > 0:
        for center_id in centers - listened:
            quiet[center_id] = moment
    if not listened:
        return
    now = utcnow()
    for center_id in sorted(listened):
        center = session.get(Center, center_id)
        channels = set(settings.enabled_channels(center))
        if channels:
            ours = [change for change in changes if change.center == center_id]
            _center_messages(session, center, channels, ours, now)


def _center_messages(
    session: Session, center: Center, channels: set[str], changes: list[Change], now: datetime
) -> None:
    wanted = settings.triggers(center)
    per_ticket: dict[int, list[str]] = {}
    for change in changes:
        if change.kind is not ChangeKind.TICKET:
            continue
        trigger = None
        if change.action in ISSUE_ACTIONS:
            trigger = "issued"
        elif change.action in CALL_ACTIONS:
            trigger = "called"
        elif change.action in RATING_ACTIONS:
            trigger = "rating"
        if trigger and wanted[trigger]:
            per_ticket.setdefault(change.id, []).append(trigger)
    if per_ticket:
        contacts = _usable(session, VisitorContact.ticket_id.in_(per_ticket))
        for contact in contacts:
            if contact.channel not in channels:
                continue
            ticket = session.get(Ticket, contact.ticket_id)
            for trigger in dict.fromkeys(per_ticket[contact.ticket_id]):
                values = {}
                if trigger == "called":
                    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id else None
                    values["counter"] = counter.label if counter else ""
                _send_ticket(session, ticket, contact, trigger, now, **values)
    services = _touched_services(changes)
    if wanted["almost"] and services != set():
        query = (
            select(Ticket, VisitorContact)
            .join(VisitorContact, VisitorContact.ticket_id == Ticket.id)
            .where(
                VisitorContact.center_id == center.id,
                VisitorContact.erased_at.is_(None),
                VisitorContact.address.is_not(None),
                Ticket.status == "waiting",
            )
        )
        if services is not None:
            query = query.where(Ticket.service_id.in_(services))
        waiting = session.execute(query).all()
        pairs = [(ticket, contact) for ticket, contact in waiting if contact.channel in channels]
        if pairs:
            _almost(session, center, wanted, pairs, now)


def _touched_services(changes: list[Change]) -> set[int] | None:
    """The services whose queues the changes may have moved; None for the whole center
    (a counter change, or a ticket change that does not say its service)."""
    services: set[int] = set()
    for change in changes:
        if change.kind is ChangeKind.COUNTER:
            return None
        if change.kind is ChangeKind.TICKET:
            if not change.service or change.action == "transfer":
                return None  # a transfer also moves the queue it left
            services.add(change.service)
    return services


def _almost(
    session: Session,
    center: Center,
    wanted: dict,
    pairs: list[tuple[Ticket, VisitorContact]],
    now: datetime,
) -> int:
    """Write "almost your turn" to those of ``pairs`` (waiting ticket, contact) close
    enough to the front that have not had it. Returns how many were written."""
    sent = set(
        session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.ticket_id.in_({ticket.id for ticket, _ in pairs}),
                OutboxMessage.kind == "almost",
            )
        )
    )
    todo = [(t, c) for t, c in pairs if _ticket_key(t, "almost", c) not in sent]
    if not todo:
        return 0
    estimates = estimates_for(session, sorted({ticket.tracking_token for ticket, _ in todo}))
    limit_s = int(wanted["almost_minutes"]) * 60
    written = 0
    for ticket, contact in todo:
        estimate = estimates.get(ticket.tracking_token)
        if estimate is None or estimate.position is None:
            continue
        wait = estimate.estimated_wait_s
        near = estimate.position <= int(wanted["almost_position"])
        soon = limit_s > 0 and wait is not None and wait <= limit_s
        if near or soon:
            minutes = None if wait is None else max(1, round(wait / 60))
            written += _send_ticket(
                session,
                ticket,
                contact,
                "almost",
                now,
                ahead=estimate.position - 1,
                minutes=minutes,
            )
    return written
