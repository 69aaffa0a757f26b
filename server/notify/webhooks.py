"""Webhook subscriptions, and the producer that turns ticket and counter changes into
their outbox messages.

Invariants:

* a subscription has at least one secret; every unexpired one signs. Rotating adds a
  new secret and gives the others :data:`ROTATION_GRACE` to live;
* :func:`produce_events` runs inside the transaction of the change (``before_commit``):
  one outbox row per (subscription, event), keyed ``w<subscription>:<event id>``, the
  event id kept in the key (``evt_te<ticket event row>``, or random for a change with
  no row of its own) so every retry carries the same ``webhook-id``;
* it costs nothing when no subscription could want the change: which centers have
  active subscriptions is kept per process (per database),
  dropped on the cluster topic :data:`CHANGED_TOPIC` and after :data:`WATCH_TTL_S`;
* a subscription is disabled after ``WEBHOOK_DISABLE_AFTER`` failed attempts in a row
  over a run of at least ``WEBHOOK_DISABLE_AFTER_S`` (``failing_since``: its start);
  its pending messages stay pending and go out when it is enabled again;
* event bodies carry the live channel's public center-room payloads plus the center's
  code: no tracking token, no personal data.
"""

from __future__ import annotations

import secrets as random_secrets
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import (
    Center,
    Counter,
    OutboxMessage,
    Ticket,
    TicketEvent,
    WebhookSubscription,
    utcnow,
)
from ..queue.changes import ChangeKind
from ..serializers import iso
from . import outbox
from .addresses import private_address
from .channels.webhook import live_secrets, new_secret

# What a subscription may ask for: the live channel's vocabulary (docs/realtime.md).
EVENT_TYPES = (
    "ticket.issued",
    "ticket.called",
    "ticket.updated",
    "counter.updated",
    "alert",
    "webhook.ping",
)
ALL_EVENTS = "*"
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
ROTATION_GRACE = timedelta(hours=24)
DISABLE_AFTER = 20  # failed attempts in a row (config WEBHOOK_DISABLE_AFTER)
CHANGED_TOPIC = "webhooks.changed"
WATCH_TTL_S = 30.0  # a lost bus message leaves a process's view stale this long at most
_watching: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pool -> Watched


# --- checking what a caller sends --------------------------------------------------------


def check_url(url: Any) -> str:
    """An http(s) URL with a host, no user or password in it, at most 2048 characters."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("'url' is required", field="url")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"'url' must be at most {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise InvalidInput("'url' is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("'url' must start with http:// or https://", field="url")
    if not parts.hostname:
        raise InvalidInput("'url' must name a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "'url' must not hold a user name or password (the signature authenticates us)",
            field="url",
        )
    if any(ch.isspace() for ch in url):
        raise InvalidInput("'url' must not contain spaces", field="url")
    if not (has_app_context() and current_app.config.get("WEBHOOK_PRIVATE_ADDRESSES")):
        found = private_address(url)
        if found == "unresolvable":
            raise InvalidInput(f"'url': the host {parts.hostname} does not resolve", field="url")
        if found is not None:
            raise InvalidInput(
                f"'url' resolves to {found}, a loopback, private or link-local address "
                "(allowed only with NOVBE_WEBHOOK_PRIVATE_ADDRESSES)",
                field="url",
            )
    return url


def check_events(events: Any) -> list[str]:
    """A non-empty list of known event types, or ``["*"]``."""
    if not isinstance(events, list) or not events:
        raise InvalidInput("'events' must list at least one event type, or \"*\"", field="events")
    for event in events:
        if event != ALL_EVENTS and event not in EVENT_TYPES:
            raise InvalidInput(
                f"'events' names an unknown event type {str(event)[:60]!r}; known: "
                f'{", ".join(EVENT_TYPES)} or "*"',
                field="events",
            )
    return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events), key=EVENT_TYPES.index)


def check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"'description' must be text of at most {MAX_DESCRIPTION_LENGTH} characters",
            field="description",
        )
    return description.strip()


# --- subscriptions -------------------------------------------------------------------------


def create(
    session: Session,
    *,
    url: Any,
    events: Any,
    center_id: int | None,
    description: Any = "",
    created_by: int | None = None,
    now: datetime | None = None,
) -> tuple[WebhookSubscription, str]:
    """A new active subscription and its secret (shown to the caller this once)."""
    secret = new_secret()
    subscription = WebhookSubscription(
        center_id=center_id,
        url=check_url(url),
        events=check_events(events),
        secrets=[{"secret": secret, "expires_at": None}],
        description=check_description(description),
        active=True,
        failures=0,
        created_at=now or utcnow(),
        created_by=created_by,
    )
    session.add(subscription)
    session.flush()
    forget_watched()  # this process at once; subscriptions_changed() after the commit
    return subscription, secret


def get(session: Session, subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id, with_for_update=lock)
    if subscription is None:
        raise NotFound(f"no webhook {subscription_id}", code="webhook_not_found")
    return subscription


def update_subscription(
    session: Session, subscription: WebhookSubscription, data: dict, now: datetime | None = None
) -> WebhookSubscription:
    """Change url, events, description or active. ``active: true`` on a disabled one
    enables it again: failures start from 0 and its pending messages are due now."""
    now = now or utcnow()
    if "url" in data:
        subscription.url = check_url(data["url"])
    if "events" in data:
        subscription.events = check_events(data["events"])
    if "description" in data:
        subscription.description = check_description(data["description"])
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise InvalidInput("'active' must be true or false", field="active")
        if data["active"] and not subscription.active:
            subscription.failures, subscription.failing_since = 0, None
            subscription.disabled_at = subscription.disabled_reason = None
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.subscription_id == subscription.id,
                    OutboxMessage.state == "pending",
                )
                .values(next_attempt_at=now, claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        elif not data["active"] and subscription.active:
            subscription.disabled_at, subscription.disabled_reason = now, "disabled by hand"
        subscription.active = data["active"]
        forget_watched()
    return subscription


def rotate_secret(
    session: Session, subscription: WebhookSubscription, now: datetime | None = None
) -> str:
    """A new secret signs from now on; the ones before it sign for another
    :data:`ROTATION_GRACE` (expired ones are dropped)."""
    now = now or utcnow()
    expires = iso(now + ROTATION_GRACE)
    kept = [
        {"secret": entry["secret"], "expires_at": entry.get("expires_at") or expires}
        for entry in subscription.secrets or []
        if entry["secret"] in live_secrets([entry], now)
    ]
    secret = new_secret()
    subscription.secrets = [{"secret": secret, "expires_at": None}, *kept]
    return secret


def signing_secrets(subscription: WebhookSubscription, now: datetime | None = None) -> list[str]:
    return live_secrets(subscription.secrets or [], now)


def ping(session: Session, subscription: WebhookSubscription, now: datetime | None = None) -> str:
    """Queue a ``webhook.ping`` event to the subscription (whatever its event types);
    its event id."""
    now = now or utcnow()
    event_id = "evt_ping" + random_secrets.token_hex(8)
    center = session.get(Center, subscription.center_id) if subscription.center_id else None
    data = {"center": center.code if center else None, "webhook": subscription.id}
    outbox.enqueue(
        session,
        key=f"w{subscription.id}:{event_id}",
        channel="webhook",
        kind="webhook.ping",
        body=event_body("webhook.ping", data, now),
        center_id=subscription.center_id,
        subscription_id=subscription.id,
        now=now,
    )
    return event_id


def record_result(
    session: Session,
    subscription: WebhookSubscription | int,
    ok: bool,
    now: datetime,
    disable_after: int,
    disable_after_s: float = 0,
) -> bool:
    """Count a webhook attempt against its subscription; True if this disabled it: after
    ``disable_after`` failures in a row over at least ``disable_after_s`` seconds (a
    short outage of a busy receiver does not switch it off). The caller locks the
    subscription before the outbox row (always that order: no deadlock with a PATCH)."""
    if isinstance(subscription, int):
        subscription = session.get(WebhookSubscription, subscription, with_for_update=True)
    if subscription is None:
        return False
    if ok:
        subscription.failures, subscription.failing_since = 0, None
        return False
    subscription.failures += 1
    if subscription.failing_since is None:
        subscription.failing_since = now
    if not subscription.active or subscription.failures < disable_after:
        return False
    if (now - subscription.failing_since).total_seconds() < disable_after_s:
        return False
    subscription.active = False
    subscription.disabled_at = now
    subscription.disabled_reason = (
        f"failed {subscription.failures} times in a row since {iso(subscription.failing_since)}"
    )[:200]
    return True


def event_id_of(message: OutboxMessage) -> str:
    """The ``webhook-id`` of a webhook message: its key without the subscription."""
    return message.key.split(":", 1)[1]


def event_body(event_type: str, data: dict, now: datetime) -> dict:
    return {"type": event_type, "timestamp": iso(now), "data": data}


# --- which centers anyone watches (per process) -----------------------------------------------


@dataclass(frozen=True)
class Watched:
    network: bool  # an active subscription for every center
    centers: frozenset[int]
    loaded: float

    def wants(self, center_id: int) -> bool:
        return self.network or center_id in self.centers


def watched(session: Session) -> Watched:
    """Which centers have an active subscription, from the per-process cache (one per
    database: the engine's connection pool keys it)."""
    pool = session.get_bind().pool
    known = _watching.get(pool)
    if known is not None and time.monotonic() - known.loaded < WATCH_TTL_S:
        return known
    rows = session.execute(
        select(WebhookSubscription.center_id).where(WebhookSubscription.active).distinct()
    ).scalars()
    ids = set(rows)
    known = Watched(None in ids, frozenset(i for i in ids if i is not None), time.monotonic())
    _watching[pool] = known
    return known


def forget_watched(app: Flask | None = None) -> None:
    """Drop this process's view (the bus handler; this process's own changes)."""
    _watching.clear()


def subscriptions_changed(app: Flask) -> None:
    """After a committed change of subscriptions: every process reloads its view."""
    forget_watched(app)
    from ..cluster import cluster_of

    cluster_of(app).publish(CHANGED_TOPIC, {})


def listen(app: Flask) -> None:
    """Drop the view whenever any process says subscriptions changed."""
    from ..cluster import cluster_of

    cluster_of(app).subscribe(CHANGED_TOPIC, lambda _body, _local: forget_watched(app))


# --- the producer ---------------------------------------------------------------------------


def produce_events(session: Session, changes: list) -> None:
    """``before_commit`` hook: one outbox row per (matching subscription, event)."""
    relevant = [c for c in changes if c.kind in (ChangeKind.TICKET, ChangeKind.COUNTER)]
    if not relevant:
        return
    view = watched(session)
    relevant = [c for c in relevant if c.center and view.wants(c.center)]
    if not relevant:
        return
    centers = {c.center for c in relevant}
    subscriptions = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.active)
        .where(
            or_(
                WebhookSubscription.center_id.is_(None),
                WebhookSubscription.center_id.in_(centers),
            )
        )
        .order_by(WebhookSubscription.id)
    ).all()
    if not subscriptions:
        return
    session.flush()  # the transaction's ticket and counter events get their ids
    now = utcnow()
    ids = _event_ids(session, relevant)
    for change, event_id in zip(relevant, ids, strict=True):
        event = _event(session, change, now)
        if event is None:
            continue
        for subscription in subscriptions:
            if subscription.center_id not in (None, change.center):
                continue
            if not wants(subscription, event["type"]):
                continue
            outbox.enqueue(
                session,
                key=f"w{subscription.id}:{event_id}",
                channel="webhook",
                kind=event["type"],
                body=event,
                center_id=change.center,
                ticket_id=change.id if change.kind == ChangeKind.TICKET else None,
                subscription_id=subscription.id,
                now=now,
            )


def produce_alert(database, center_id: int, alert: dict, now: datetime | None = None) -> int:
    """Queue a managers' ``alert`` (server/realtime/alerts.py: once per installation,
    at its edge) to the subscriptions that want it; the messages queued. Alerts are
    computed outside any change's transaction, so this writes in one of its own: an
    alert lost with a crash between its edge and this write is not sent."""
    with database.read() as s:
        if not watched(s).wants(center_id):
            return 0
    now = now or utcnow()
    queued = 0
    with database.write() as s:
        center = s.get(Center, center_id)
        subscriptions = s.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.active)
            .where(
                or_(
                    WebhookSubscription.center_id.is_(None),
                    WebhookSubscription.center_id == center_id,
                )
            )
        ).all()
        event = event_body("alert", {**alert, "center": center.code if center else None}, now)
        event_id = "evt_a" + random_secrets.token_hex(10)
        for subscription in subscriptions:
            if wants(subscription, "alert"):
                queued += outbox.enqueue(
                    s,
                    key=f"w{subscription.id}:{event_id}",
                    channel="webhook",
                    kind="alert",
                    body=event,
                    center_id=center_id,
                    subscription_id=subscription.id,
                    now=now,
                )
    return queued


def wants(subscription: WebhookSubscription, event_type: str) -> bool:
    events = subscription.events or []
    return ALL_EVENTS in events or event_type in events


def _event_ids(session: Session, changes: list) -> list[str]:
    """An id per change, kept in its messages' keys (so every retry carries it): a
    ticket change's is its ticket event row's (``evt_te<id>``; the transaction's rows
    are the newest of their ticket and action, paired newest to newest); a change with
    no row of its own gets a random one (``evt_c...`` for a counter: a change of its
    services writes no counter event, so an older row could be taken for it)."""
    tickets = {c.id for c in changes if c.kind == ChangeKind.TICKET}
    rows: dict[tuple, list[str]] = {}
    if tickets:
        for row_id, ticket_id, action in session.execute(
            select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.action)
            .where(TicketEvent.ticket_id.in_(tickets))
            .order_by(TicketEvent.id.desc())
            .limit(50 * len(tickets))
        ):
            rows.setdefault((ticket_id, action), []).append(f"evt_te{row_id}")
    ids: list[str] = []
    for change in reversed(changes):
        found = rows.get((change.id, change.action)) if change.kind == ChangeKind.TICKET else None
        prefix = "evt_c" if change.kind == ChangeKind.COUNTER else "evt_t"
        ids.append(found.pop(0) if found else prefix + random_secrets.token_hex(10))
    return list(reversed(ids))


def _event(session: Session, change, now: datetime) -> dict | None:
    from ..realtime import payloads

    center = session.get(Center, change.center)
    if center is None:
        return None
    if change.kind == ChangeKind.COUNTER:
        counter = session.get(Counter, change.id)
        if counter is None:
            return None
        data = payloads.counter_state_json(counter)
        return event_body("counter.updated", {**data, "center": center.code}, now)
    ticket = session.get(Ticket, change.id)
    if ticket is None:
        return None
    if change.action == "issue":
        kind, data = "ticket.issued", payloads.issued_json(ticket)
    elif change.action in payloads.CALL_ACTIONS:
        kind, data = "ticket.called", payloads.called_json(ticket)
    else:
        kind, data = "ticket.updated", payloads.updated_json(ticket, change.action)
    return event_body(kind, {**data, "center": center.code}, now)
