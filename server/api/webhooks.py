"""Webhook subscriptions and the outbox's delivery log (docs/webhooks.md).

* GET/POST /webhooks, GET/PATCH/DELETE /webhooks/{id}, POST /webhooks/{id}/rotate-secret,
  POST /webhooks/{id}/ping, GET /webhooks/{id}/deliveries;
* GET /centers/{center}/deliveries, POST /deliveries/{id}/replay.

Who may call: a center's subscriptions and deliveries, its managers and admins (and
network admins); a network subscription (no center) and its deliveries (also in a
center's delivery log), network admins only. Everyone
else is refused before anything is looked up (access.caller).
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth import MANAGER_ROLES, require_staff
from ..errors import Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import (
    OUTBOX_CHANNELS,
    OUTBOX_STATES,
    Center,
    DeliveryAttempt,
    OutboxMessage,
    Ticket,
    VisitorContact,
    WebhookSubscription,
)
from ..notify import outbox, webhooks
from ..queue import Actor
from ..queue.lookup import get_center
from ..serializers import iso
from . import bp
from .access import caller
from .request import json_body, only_parameters, reject_unknown

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
SUBSCRIPTION_FIELDS = {"url", "events", "center", "description"}
UPDATE_FIELDS = {"url", "events", "description", "active"}


def _network_admin(actor: Actor) -> bool:
    return actor.role == "admin" and actor.center_id is None


def _may_manage(actor: Actor, center_id: int | None) -> None:
    """A center's managers and admins; for the network (no center) network admins."""
    if center_id is None:
        if not _network_admin(actor):
            raise Forbidden("only a network admin may manage network-wide webhooks")
        return
    require_staff(actor, center_id, roles=MANAGER_ROLES)


def subscription_json(s: Session, subscription: WebhookSubscription) -> dict:
    center = s.get(Center, subscription.center_id) if subscription.center_id else None
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events or []),
        "center": center.code if center else None,
        "description": subscription.description or "",
        "active": subscription.active,
        "failures": subscription.failures,
        "failing_since": iso(subscription.failing_since),
        "disabled_at": iso(subscription.disabled_at),
        "disabled_reason": subscription.disabled_reason,
        "created_at": iso(subscription.created_at),
    }


def _subscription(s: Session, actor: Actor, subscription_id: int, *, lock: bool = False):
    subscription = webhooks.get(s, subscription_id, lock=lock)
    _may_manage(actor, subscription.center_id)
    return subscription


@bp.get("/webhooks")
def list_webhooks():
    actor = caller(roles=MANAGER_ROLES)
    only_parameters(("center",))
    code = request.args.get("center")
    with db.read() as s:
        query = select(WebhookSubscription).order_by(WebhookSubscription.id)
        if code:
            center = get_center(s, code)
            _may_manage(actor, center.id)
            query = query.where(WebhookSubscription.center_id == center.id)
        elif not _network_admin(actor):
            if actor.center_id is None:
                raise Forbidden("you are not staff of any center")
            query = query.where(WebhookSubscription.center_id == actor.center_id)
        body = {"webhooks": [subscription_json(s, sub) for sub in s.scalars(query)]}
    return jsonify(body)


@bp.post("/webhooks")
def create_webhook():
    actor = caller(roles=MANAGER_ROLES)
    data = json_body()
    reject_unknown(data, SUBSCRIPTION_FIELDS)
    with db.write() as s:
        code = data.get("center")
        if code is not None and not isinstance(code, str):
            raise InvalidInput("'center' must be a center's code or null", field="center")
        center_id = get_center(s, code).id if code else None
        _may_manage(actor, center_id)
        subscription, secret = webhooks.create(
            s,
            url=data.get("url"),
            events=data.get("events"),
            center_id=center_id,
            description=data.get("description", ""),
            created_by=actor.staff_id,
        )
        body = {**subscription_json(s, subscription), "secret": secret}
    webhooks.subscriptions_changed(current_app)
    return jsonify(body), 201


@bp.get("/webhooks/<int:webhook_id>")
def get_webhook(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    with db.read() as s:
        body = subscription_json(s, _subscription(s, actor, webhook_id))
    return jsonify(body)


@bp.patch("/webhooks/<int:webhook_id>")
def update_webhook(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    data = json_body()
    reject_unknown(data, UPDATE_FIELDS)
    with db.write() as s:
        subscription = _subscription(s, actor, webhook_id, lock=True)
        webhooks.update_subscription(s, subscription, data)
        body = subscription_json(s, subscription)
    webhooks.subscriptions_changed(current_app)
    return jsonify(body)


@bp.delete("/webhooks/<int:webhook_id>")
def delete_webhook(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    with db.write() as s:
        s.delete(_subscription(s, actor, webhook_id, lock=True))  # its messages go with it
    webhooks.subscriptions_changed(current_app)
    return "", 204


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
def rotate_webhook_secret(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    reject_unknown(json_body(), set())
    with db.write() as s:
        secret = webhooks.rotate_secret(s, _subscription(s, actor, webhook_id, lock=True))
    return jsonify({"secret": secret})


@bp.post("/webhooks/<int:webhook_id>/ping")
def ping_webhook(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    reject_unknown(json_body(), set())
    with db.write() as s:
        event_id = webhooks.ping(s, _subscription(s, actor, webhook_id))
    return jsonify({"event": event_id}), 202


# --- the delivery log ---------------------------------------------------------------------------


def _paging() -> tuple[str | None, str | None, int | None, int]:
    only_parameters(("channel", "state", "before_id", "limit"))
    channel, state = request.args.get("channel"), request.args.get("state")
    if channel is not None and channel not in OUTBOX_CHANNELS:
        raise InvalidInput(
            f"'channel' must be one of {', '.join(OUTBOX_CHANNELS)}", field="channel"
        )
    if state is not None and state not in OUTBOX_STATES:
        raise InvalidInput(f"'state' must be one of {', '.join(OUTBOX_STATES)}", field="state")
    before = _number("before_id", 1, 2**31 - 1)
    limit = _number("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    return channel, state, before, limit


def _number(name: str, low: int, high: int) -> int | None:
    text = request.args.get(name)
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidInput(f"'{name}' must be a whole number from {low} to {high}", field=name)
    return int(text)


def deliveries_json(s: Session, query) -> list[dict]:
    channel, state, before, limit = _paging()
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if state:
        query = query.where(OutboxMessage.state == state)
    if before:
        query = query.where(OutboxMessage.id < before)
    messages = s.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()
    ids = [m.id for m in messages]
    logs: dict[int, list[dict]] = {}
    if ids:
        for attempt in s.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        ):
            logs.setdefault(attempt.message_id, []).append(
                {
                    "at": iso(attempt.at),
                    "ok": attempt.ok,
                    "status": attempt.status,
                    "duration_ms": attempt.duration_ms,
                    "response": attempt.response,
                    "error": attempt.error,
                }
            )
    numbers = _lookup(s, Ticket, {m.ticket_id for m in messages} - {None})
    contacts = _lookup(s, VisitorContact, {m.contact_id for m in messages} - {None})
    return [
        {
            "id": m.id,
            "channel": m.channel,
            "kind": m.kind,
            "state": m.state,
            "attempts": m.attempts,
            "created_at": iso(m.created_at),
            "sent_at": iso(m.sent_at),
            "next_attempt_at": iso(m.next_attempt_at) if m.state == "pending" else None,
            "last_error": m.last_error,
            "ticket": numbers[m.ticket_id].display_number if m.ticket_id in numbers else None,
            "contact": contacts[m.contact_id].masked if m.contact_id in contacts else None,
            "webhook": m.subscription_id,
            "log": logs.get(m.id, []),
        }
        for m in messages
    ]


def _lookup(s: Session, model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in s.scalars(select(model).where(model.id.in_(ids)))}


@bp.get("/centers/<center_code>/deliveries")
def center_deliveries(center_code: str):
    actor = caller(roles=MANAGER_ROLES)
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGER_ROLES)
        query = select(OutboxMessage).where(OutboxMessage.center_id == center.id)
        if not _network_admin(actor):  # a network webhook's deliveries are not the center's
            network = select(WebhookSubscription.id).where(WebhookSubscription.center_id.is_(None))
            query = query.where(
                or_(
                    OutboxMessage.subscription_id.is_(None),
                    OutboxMessage.subscription_id.not_in(network),
                )
            )
        body = {"deliveries": deliveries_json(s, query)}
    return jsonify(body)


@bp.get("/webhooks/<int:webhook_id>/deliveries")
def webhook_deliveries(webhook_id: int):
    actor = caller(roles=MANAGER_ROLES)
    with db.read() as s:
        subscription = _subscription(s, actor, webhook_id)
        query = select(OutboxMessage).where(OutboxMessage.subscription_id == subscription.id)
        body = {"deliveries": deliveries_json(s, query)}
    return jsonify(body)


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int):
    actor = caller(roles=MANAGER_ROLES)
    reject_unknown(json_body(), set())
    with db.write() as s:
        message = s.get(OutboxMessage, delivery_id)
        if message is None:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        if message.subscription_id is not None:  # the webhook's owners
            _subscription(s, actor, message.subscription_id)
        else:
            _may_manage(actor, message.center_id)
        outbox.replay(s, message.id)  # an erased contact's is cancelled by the worker
        body = {"id": message.id, "state": "pending"}
    return jsonify(body), 202
