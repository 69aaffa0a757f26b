"""A visitor's contacts: how one visitor asked to be told about one ticket or booking.

* :func:`add_contact` checks and normalises an address (a phone number to E.164, local
  Azerbaijani numbers such as "050 123 45 67" to +994501234567; an email's syntax; a
  Web Push subscription's shape), stores it with its masked form, and writes the
  messages due at once (the "issued" message, reminders of a booking: triggers.py);
* a Telegram contact starts unlinked (``address`` NULL): the visitor opens the bot's
  deep link with a code, and :func:`link_telegram` (the bot's poller) stores the chat;
* :func:`erase` forgets an address now; :func:`erase_finished` forgets those no longer
  needed (upkeep, server/maintenance.py).

Invariants:

* an address is stored only in ``visitor_contacts.address`` and leaves this module
  only for the sender (worker.py): answers, logs and errors get ``masked``;
* a ticket has at most :data:`MAX_LIVE` live contacts and :data:`MAX_EVER` contacts in
  all (erased ones count: adding and erasing must not make a message pump), and none
  once it is final;
* SMS goes only to the calling codes of the center's ``sms.countries``; a Web Push
  endpoint must resolve to a public address (unless ``WEBHOOK_PRIVATE_ADDRESSES``):
  the server would otherwise POST to its own network for whoever holds a ticket;
* linking a Telegram chat is idempotent: the same code from the same chat again (the
  bot re-reading its updates after a restart) is a success, not a refusal;
* an erased contact has ``address`` NULL and ``erased_at`` set, and no pending message
  of it is left (they are cancelled);
* contact data is kept while the ticket or booking needs it: until
  :data:`KEEP_AFTER_END` after the ticket ends (the rating request goes at the end),
  until a booking is cancelled, missed or long past, and an unlinked Telegram
  contact :data:`TELEGRAM_LINK_TTL`.

Plain functions over a session; the caller owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput
from ..models import (
    FINAL_STATUSES,
    Appointment,
    Center,
    OutboxMessage,
    Ticket,
    VisitorContact,
    utcnow,
)
from ..models.notifications import VISITOR_CHANNELS
from . import settings

MAX_LIVE = 3  # live contacts per ticket or booking
MAX_EVER = 5  # contacts per ticket or booking ever, erased ones included
KEEP_AFTER_END = timedelta(minutes=30)  # after a ticket ends (its rating request went)
KEEP_AFTER_START = timedelta(days=1)  # a booking never checked in nor marked missed
TELEGRAM_LINK_TTL = timedelta(hours=1)
LANGUAGES = ("az", "ru", "en")
DEFAULT_COUNTRY = "994"  # Azerbaijan: numbers typed without a country code

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_LINK_CODE = re.compile(r"^c(\d{1,12})-([A-Za-z0-9_-]{16})$")
# Where browsers' push services live: what the masked form of a subscription names.
_PUSH_SERVICES = (
    ("googleapis.com", "Chrome"),
    ("mozilla.com", "Firefox"),
    ("push.apple.com", "Safari"),
    ("notify.windows.com", "Edge"),
)


@dataclass(frozen=True)
class Added:
    contact: VisitorContact
    created: bool  # False: the same address was there already (the same answer)
    link: str | None = None  # a Telegram contact's deep link to the bot


# ---- addresses -------------------------------------------------------------------------------


def normalise_phone(text: str) -> str:
    """A phone number in E.164 ("+994501234567"); local numbers get +994."""
    raw = _PHONE_NOISE.sub("", text or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("0") and len(raw) == 10:  # 050 123 45 67
        digits = DEFAULT_COUNTRY + raw[1:]
    elif len(raw) == 9:  # 50 123 45 67
        digits = DEFAULT_COUNTRY + raw
    elif raw.startswith(DEFAULT_COUNTRY) and len(raw) == 12:
        digits = raw
    else:
        digits = ""
    if not digits.isdigit() or not 8 <= len(digits) <= 15 or digits.startswith("0"):
        raise InvalidInput(
            "'address' must be a phone number, such as 050 123 45 67 or +994501234567",
            field="address",
        )
    if digits.startswith(DEFAULT_COUNTRY) and len(digits) != 12:
        raise InvalidInput(
            "'address' must have 9 digits after +994 (such as +994 50 123 45 67)",
            field="address",
        )
    return "+" + digits


def mask_phone(e164: str) -> str:
    """ "+994 ** *** 45 67": the last four digits only."""
    digits = e164.lstrip("+")
    tail = f"{digits[-4:-2]} {digits[-2:]}"
    if digits.startswith(DEFAULT_COUNTRY):
        return f"+{DEFAULT_COUNTRY} ** *** {tail}"
    return f"+{'*' * max(len(digits) - 4, 1)} {tail}"


def normalise_email(text: str) -> str:
    value = (text or "").strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("'address' must be an email address (name@example.com)", field="address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def mask_email(email: str) -> str:
    """ "a***@example.com": the first letter and the domain."""
    local, domain = email.rsplit("@", 1)
    return f"{local[0]}***@{domain}"[:64]


def _b64url_bytes(value: object, field: str, size: int) -> bytes:
    message = f"'{field}' must be base64url of {size} bytes"
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", value):
        raise InvalidInput(message, field=field)
    try:
        data = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(message, field=field) from None
    if len(data) != size:
        raise InvalidInput(message, field=field)
    return data


def normalise_subscription(subscription: object, *, allow_http: bool = False) -> str:
    """A browser's PushSubscription (its toJSON()) as stored: compact JSON of endpoint
    and keys. The endpoint must be https (http only when ``allow_http``: tests)."""
    if not isinstance(subscription, dict):
        raise InvalidInput(
            "'subscription' must be an object with 'endpoint' and 'keys'", field="subscription"
        )
    endpoint = subscription.get("endpoint")
    schemes = ("https", "http") if allow_http else ("https",)
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in schemes or not parts.hostname or len(endpoint) > 2048:
        raise InvalidInput(
            "'subscription.endpoint' must be an https URL", field="subscription.endpoint"
        )
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise InvalidInput(
            "'subscription.keys' must be an object with 'p256dh' and 'auth'",
            field="subscription.keys",
        )
    p256dh = _b64url_bytes(keys.get("p256dh"), "subscription.keys.p256dh", 65)
    if p256dh[0] != 4:
        raise InvalidInput(
            "'subscription.keys.p256dh' must be an uncompressed P-256 point",
            field="subscription.keys.p256dh",
        )
    _b64url_bytes(keys.get("auth"), "subscription.keys.auth", 16)
    stored = {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}
    return json.dumps(stored, separators=(",", ":"))


def _check_public(endpoint: str) -> None:
    """A push service is on the internet; an endpoint resolving to the server's own
    network (an admin page, a metadata service) is refused."""
    from .addresses import private_address

    if private_address(endpoint) is not None:
        raise InvalidInput(
            "'subscription.endpoint' must be a public push service's address",
            field="subscription.endpoint",
        )


def mask_subscription(stored: str) -> str:
    """ "Web Push (Chrome)": the browser, guessed from its push service's host."""
    host = urlsplit(json.loads(stored)["endpoint"]).hostname or ""
    for suffix, browser in _PUSH_SERVICES:
        if host.endswith(suffix):
            return f"Web Push ({browser})"
    return "Web Push"


# ---- adding --------------------------------------------------------------------------------


def _owner(target: Ticket | Appointment) -> dict:
    if isinstance(target, Ticket):
        return {"ticket_id": target.id}
    return {"appointment_id": target.id}


def live_contacts(session: Session, target: Ticket | Appointment) -> list[VisitorContact]:
    """The contacts not erased (Telegram ones still unlinked included), oldest first."""
    column = VisitorContact.ticket_id if isinstance(target, Ticket) else None
    if column is None:  # a booking's own: once checked in they follow the ticket
        column = VisitorContact.appointment_id
    return list(
        session.scalars(
            select(VisitorContact)
            .where(column == target.id, VisitorContact.erased_at.is_(None))
            .order_by(VisitorContact.id)
        )
    )


def _count_ever(session: Session, target: Ticket | Appointment) -> int:
    column = (
        VisitorContact.ticket_id if isinstance(target, Ticket) else VisitorContact.appointment_id
    )
    return session.scalar(select(func.count()).where(column == target.id)) or 0


def _check_country(phone: str, countries: list[str]) -> None:
    """SMS only to the center's calling codes: a ticket is free, a premium-rate or
    far-away number is not (someone else's gateway bill)."""
    if not any(phone.startswith("+" + code) for code in countries):
        allowed = ", ".join("+" + code for code in countries)
        raise InvalidInput(
            f"'address' must be a phone number of {allowed}: SMS go to no other country",
            field="address",
        )


def _check_open(target: Ticket | Appointment, now: datetime) -> None:
    if isinstance(target, Ticket):
        if target.status in FINAL_STATUSES:
            raise Conflict(
                f"ticket {target.display_number} is {target.status}: no more messages",
                code="ticket_closed",
            )
    elif target.state != "booked" or target.start <= now:
        raise Conflict(
            f"appointment {target.code} is {target.state}: no more reminders",
            code="appointment_closed",
        )


def add_contact(
    session: Session,
    target: Ticket | Appointment,
    channel: str,
    *,
    address: str | None = None,
    subscription: object = None,
    language: str | None = None,
    now: datetime | None = None,
) -> Added:
    """Store a way to reach the visitor of ``target`` (locked by the caller, or in a
    write transaction that serialises on it) and write the messages due at once."""
    now = now or utcnow()
    if channel not in VISITOR_CHANNELS:
        raise InvalidInput(
            f"'channel' must be one of {', '.join(VISITOR_CHANNELS)}", field="channel"
        )
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("'language' must be az, ru or en", field="language")
    center = session.get(Center, target.center_id)
    if channel not in settings.enabled_channels(center):
        raise Conflict(
            f"{channel} messages are not enabled at this center", code="channel_not_enabled"
        )
    _check_open(target, now)
    value, masked = _address(channel, address, subscription)
    if channel == "sms":
        _check_country(value, settings.effective(center)["sms"]["countries"])
    live = live_contacts(session, target)
    if value is not None:
        for contact in live:
            if contact.channel == channel and contact.address == value:
                return Added(contact, created=False)
    if len(live) >= MAX_LIVE:
        raise Conflict(
            f"at most {MAX_LIVE} contacts per ticket; remove one first",
            code="too_many_contacts",
        )
    if _count_ever(session, target) >= MAX_EVER:
        raise Conflict(
            f"at most {MAX_EVER} contacts per ticket in all, removed ones included",
            code="too_many_contacts",
        )
    contact = VisitorContact(
        center_id=target.center_id,
        channel=channel,
        address=value,
        masked=masked,
        language=language or target.language,
        created_at=now,
        **_owner(target),
    )
    session.add(contact)
    session.flush()
    if channel == "telegram":
        bot = settings.effective(center)["telegram"]["bot_username"]
        return Added(contact, True, f"https://t.me/{bot}?start={link_code(contact.id)}")
    from .triggers import contact_ready

    contact_ready(session, contact, now)
    return Added(contact, True)


def _address(channel: str, address: str | None, subscription: object) -> tuple[str | None, str]:
    """(the stored address, its masked form) for a new contact of ``channel``."""
    if channel == "webpush":
        if subscription is None:
            raise InvalidInput("'subscription' is required for webpush", field="subscription")
        config = current_app.config if has_app_context() else {}
        allow_http = bool(config.get("WEBPUSH_ALLOW_HTTP", False))
        stored = normalise_subscription(subscription, allow_http=allow_http)
        if not config.get("WEBHOOK_PRIVATE_ADDRESSES", False):
            _check_public(json.loads(stored)["endpoint"])
        return stored, mask_subscription(stored)
    if subscription is not None:
        raise InvalidInput(f"'subscription' is for webpush, not {channel}", field="subscription")
    if channel == "telegram":
        if address is not None:
            raise InvalidInput(
                "'address' is not taken for telegram: open the bot's link", field="address"
            )
        return None, "Telegram"
    if not isinstance(address, str) or not address.strip():
        raise InvalidInput(f"'address' is required for {channel}", field="address")
    if channel == "sms":
        phone = normalise_phone(address)
        return phone, mask_phone(phone)
    email = normalise_email(address)
    return email, mask_email(email)


# ---- Telegram ------------------------------------------------------------------------------


def _secret() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def link_code(contact_id: int) -> str:
    """The deep link's start parameter: the contact's id and its MAC (Telegram allows
    64 characters of [A-Za-z0-9_-]); nothing to store, nothing to guess."""
    mac = hmac.new(_secret(), f"telegram-link:{contact_id}".encode(), hashlib.sha256).digest()
    return f"c{contact_id}-{base64.urlsafe_b64encode(mac).decode()[:16]}"


def link_telegram(
    session: Session, code: str, chat_id: int | str, now: datetime | None = None
) -> bool:
    """The bot got "/start <code>" from ``chat_id``: link the contact (True), or False
    for an unknown, expired, erased code or one linked to another chat. The same code
    from the same chat again is True and changes nothing (the bot re-read its updates)."""
    now = now or utcnow()
    match = _LINK_CODE.match((code or "").strip())
    if match is None or not hmac.compare_digest(link_code(int(match[1])), match[0]):
        return False
    contact = session.get(VisitorContact, int(match[1]), with_for_update=True)
    if contact is None or contact.channel != "telegram" or contact.erased_at is not None:
        return False
    if contact.address is not None:
        return hmac.compare_digest(contact.address, str(chat_id))  # already linked
    if contact.created_at < now - TELEGRAM_LINK_TTL:
        return False
    contact.address = str(chat_id)
    session.flush()
    from .triggers import contact_ready

    contact_ready(session, contact, now)
    return True


# ---- moving and erasing ----------------------------------------------------------------------


def move_to_ticket(session: Session, appointment: Appointment, ticket_id: int) -> int:
    """At check-in: a booking's live contacts follow its new ticket. Returns how many."""
    moved = session.execute(
        update(VisitorContact)
        .where(
            VisitorContact.appointment_id == appointment.id,
            VisitorContact.erased_at.is_(None),
        )
        .values(ticket_id=ticket_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved:
        # The reminders still to come are pointless now: the visitor is here.
        _cancel_pending(session, _ids_of(session, VisitorContact.appointment_id == appointment.id))
    return moved


def _ids_of(session: Session, condition) -> list[int]:
    return list(session.scalars(select(VisitorContact.id).where(condition)))


def _cancel_pending(session: Session, contact_ids: list[int]) -> None:
    if contact_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.contact_id.in_(contact_ids), OutboxMessage.state == "pending")
            .values(state="cancelled", claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _erase_ids(session: Session, contact_ids: list[int], now: datetime) -> int:
    if not contact_ids:
        return 0
    session.execute(
        update(VisitorContact)
        .where(VisitorContact.id.in_(contact_ids))
        .values(address=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    _cancel_pending(session, contact_ids)
    return len(contact_ids)


def erase(session: Session, contact: VisitorContact, now: datetime | None = None) -> None:
    """Forget the address now; its messages not yet sent are cancelled."""
    now = now or utcnow()
    if contact.erased_at is None:
        _erase_ids(session, [contact.id], now)
        session.refresh(contact)


def erase_for_appointment(
    session: Session, appointment: Appointment, now: datetime | None = None
) -> int:
    """A booking cancelled: its contacts (not yet moved to a ticket) and their
    reminders go at once."""
    condition = and_(
        VisitorContact.appointment_id == appointment.id,
        VisitorContact.ticket_id.is_(None),
        VisitorContact.erased_at.is_(None),
    )
    return _erase_ids(session, _ids_of(session, condition), now or utcnow())


def erase_finished(session: Session, now: datetime | None = None) -> int:
    """Erase the contacts no longer needed; returns how many. A few indexed queries
    over the live contacts (ix_visitor_contacts_live), whatever the history's size."""
    now = now or utcnow()
    live = VisitorContact.erased_at.is_(None)
    ended = func.coalesce(Ticket.ended_at, Ticket.last_called_at, Ticket.issued_at)
    ticket_done = exists().where(
        Ticket.id == VisitorContact.ticket_id,
        Ticket.status.in_(FINAL_STATUSES),
        ended < now - KEEP_AFTER_END,
    )
    booking_over = exists().where(
        Appointment.id == VisitorContact.appointment_id,
        or_(
            Appointment.state.in_(("cancelled", "no_show", "checked_in")),
            Appointment.start < now - KEEP_AFTER_START,
        ),
    )
    unlinked = and_(
        VisitorContact.channel == "telegram",
        VisitorContact.address.is_(None),
        VisitorContact.created_at < now - TELEGRAM_LINK_TTL,
    )
    condition = and_(
        live,  # ix_visitor_contacts_live: the live contacts only, not the history
        or_(
            and_(VisitorContact.ticket_id.is_not(None), ticket_done),
            and_(VisitorContact.ticket_id.is_(None), booking_over),
            unlinked,
        ),
    )
    return _erase_ids(session, _ids_of(session, condition), now)
