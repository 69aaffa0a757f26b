"""Webhooks, signed per Standard Webhooks (https://www.standardwebhooks.com/).

A delivery's body is the event ``{"type", "timestamp", "data"}``, serialized once and
POSTed exactly as signed. Headers:

* ``webhook-id``: the event's id (``evt_...``), the same on every retry, so the
  receiver drops a repeat;
* ``webhook-timestamp``: seconds since the epoch, now (a receiver refuses one more
  than a few minutes off: a replayed request);
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` for each
  unexpired secret, space-separated (two while a secret is being rotated).

Invariants: a send takes at most about ``TIMEOUT_S`` in all and reads at most
:data:`RESPONSE_READ` bytes of the answer (channels/http.py), however slowly or
much the receiver sends; a 2xx answer is success, anything else (a redirect included: we never
follow one to another address) a failure; the answer's first 500 characters are kept
for the delivery log; nothing here raises for a failed send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import requests

from ..addresses import private_address
from ..outbox import Outcome
from .base import TIMEOUT_S, Delivery
from .http import DeadlineExceeded, post_with_deadline

SECRET_PREFIX = "whsec_"
USER_AGENT = "Novbe-Webhooks/1"
RESPONSE_KEPT = 500
RESPONSE_READ = 2000  # bytes read of an answer at most; the rest is never downloaded
TOLERANCE_S = 5 * 60  # what a receiver should allow between our clock and its own


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_...`` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def body_bytes(event: dict[str, Any]) -> bytes:
    """The event as sent (and signed): compact JSON, UTF-8."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def live_secrets(entries: Iterable[dict], now: datetime | None = None) -> list[str]:
    """The secrets that sign now: those without an expiry or expiring later."""
    now = now or datetime.now(UTC)
    kept = []
    for entry in entries:
        expires = entry.get("expires_at")
        if expires is None or datetime.fromisoformat(expires.replace("Z", "+00:00")) > now:
            kept.append(entry["secret"])
    return kept


def headers(message_id: str, timestamp: int, body: bytes, signing: list[str]) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in signing),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def verify(
    secret: str, sent_headers: dict[str, str], body: bytes, now: float | None = None
) -> bool:
    """Whether a request carries a valid signature by ``secret`` and a timestamp within
    :data:`TOLERANCE_S` of ``now`` (what a receiver does; ``novbe webhook-receiver``)."""
    lowered = {name.lower(): value for name, value in sent_headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > TOLERANCE_S:
        return False
    expected = sign(secret, message_id, int(stamp), body).encode()
    return any(
        hmac.compare_digest(expected, given.encode())
        for given in lowered.get("webhook-signature", "").split()
    )


class WebhookChannel:
    name = "webhook"

    def send(self, delivery: Delivery) -> Outcome:
        """POST the event to the subscription's URL (``delivery.address``), signed by
        each of ``delivery.settings["secrets"]`` (already filtered to the live ones)."""
        body = body_bytes(delivery.body)
        message_id = delivery.settings.get("event_id") or delivery.key
        signing = list(delivery.settings.get("secrets") or [])
        if not delivery.address or not signing:
            return Outcome(ok=False, error="no URL or no signing secret", permanent=True)
        if not delivery.settings.get("private_addresses"):
            found = private_address(delivery.address)
            if found is not None:  # it resolved elsewhere since it was subscribed
                return Outcome(ok=False, error=f"the URL's host resolves to {found}")
        started = time.monotonic()
        try:
            status, text = post_with_deadline(
                delivery.address,
                data=body,
                headers=headers(message_id, int(time.time()), body, signing),
                deadline_s=delivery.settings.get("timeout_s", TIMEOUT_S),
                max_bytes=RESPONSE_READ,
            )
        except requests.RequestException as exc:
            return Outcome(ok=False, error=_reason(exc), duration_ms=_ms_since(started))
        ok = 200 <= status < 300
        error = None
        if not ok:
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (a redirect: not followed; subscribe the final URL)"
        return Outcome(
            ok=ok,
            status=status,
            response=text[:RESPONSE_KEPT],
            error=error,
            duration_ms=_ms_since(started),
        )


def _reason(exc: requests.RequestException) -> str:
    """A few words on a failure, naming no address (the URL is in the subscription)."""
    if isinstance(exc, DeadlineExceeded):
        return "no answer within the deadline"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return type(exc).__name__


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


CHANNEL = WebhookChannel()
