"""Web Push (RFC 8030) to a phone page's subscription, encrypted (RFC 8291, aes128gcm)
and signed with the installation's VAPID key (RFC 8292; server/notify/vapid.py).

The payload is JSON ``{"title", "body", "url"}`` that the service worker
(/t/sw.js) shows as a notification. The request carries ``TTL`` (how long the push
service may hold it: a queue moves on, so not long), ``Urgency: high`` for "go to
counter N", and ``Authorization: vapid t=<JWT>, k=<public key>`` (ES256, ``aud`` the
endpoint's origin, ``exp`` 12 h ahead, ``sub`` VAPID_SUBJECT).

404 and 410 mean the subscription is gone (the visitor unsubscribed or the browser
dropped it): permanent, with error "subscription gone", so the contact can be erased.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import http_ece
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ..outbox import Outcome
from ..vapid import b64url, public_key_raw
from .base import TIMEOUT_S, Delivery
from .http import post_with_deadline
from .sms import MAX_ANSWER_BYTES, RETRYABLE_4XX, failure

TTL_S = {"called": 300}  # a call is stale in minutes; the rest can wait for a phone
DEFAULT_TTL_S = 3600
JWT_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 h
GONE = (404, 410)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def vapid_jwt(key: ec.EllipticCurvePrivateKey, audience: str, subject: str, now: float) -> str:
    """An ES256 JWT for ``audience`` (RFC 8292 section 2)."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
    claims = {"aud": audience, "exp": int(now) + JWT_LIFETIME_S, "sub": subject}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{header}.{payload}.{b64url(signature)}"


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """``payload`` encrypted for the subscription (RFC 8291), with a fresh sender key."""
    return http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )


def parse_subscription(address: str) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) from the stored subscription JSON; ValueError if bad."""
    subscription = json.loads(address)
    endpoint = subscription["endpoint"]
    keys = subscription["keys"]
    if urlsplit(endpoint).scheme not in ("https", "http"):
        raise ValueError("endpoint")
    return endpoint, keys["p256dh"], keys["auth"]


class WebPushChannel:
    name = "webpush"

    def send(self, delivery: Delivery) -> Outcome:
        settings: dict[str, Any] = delivery.settings
        if not delivery.address:
            return Outcome(ok=False, permanent=True, error="no address (erased)")
        if not settings.get("vapid_key_pem"):
            return Outcome(ok=False, error="no VAPID key")
        try:
            endpoint, p256dh, auth = parse_subscription(delivery.address)
        except (ValueError, KeyError, TypeError):
            return Outcome(ok=False, permanent=True, error="not a push subscription")
        key = serialization.load_pem_private_key(settings["vapid_key_pem"].encode(), None)
        body = delivery.body
        payload = json.dumps(
            {
                "title": str(body.get("title") or body.get("subject") or ""),
                "body": str(body.get("text", "")),
                "url": body.get("url"),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        started = time.monotonic()
        try:
            encrypted = encrypt(payload, p256dh, auth)
        except Exception:  # a malformed key in the subscription: it will not get better
            return Outcome(ok=False, permanent=True, error="subscription keys unusable")
        subject = settings.get("vapid_subject") or "mailto:admin@localhost"
        headers = {
            "TTL": str(TTL_S.get(delivery.kind, DEFAULT_TTL_S)),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": "high" if delivery.kind == "called" else "normal",
            "Topic": delivery.kind[:32] if delivery.kind.isalnum() else "novbe",
            "Authorization": (
                f"vapid t={vapid_jwt(key, origin(endpoint), subject, time.time())}, "
                f"k={b64url(public_key_raw(key))}"
            ),
        }
        try:
            status, answer = post_with_deadline(
                endpoint,
                data=encrypted,
                headers=headers,
                deadline_s=settings.get("timeout_s", TIMEOUT_S),
                max_bytes=MAX_ANSWER_BYTES,
            )
        except requests.RequestException as exc:
            return failure(exc, started)
        duration_ms = int((time.monotonic() - started) * 1000)
        if 200 <= status < 300:
            return Outcome(ok=True, status=status, duration_ms=duration_ms)
        if status in GONE:
            return Outcome(
                ok=False,
                status=status,
                error="subscription gone",
                permanent=True,
                duration_ms=duration_ms,
            )
        return Outcome(
            ok=False,
            status=status,
            response=answer[:300],
            error=f"HTTP {status}",
            permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
            duration_ms=duration_ms,
        )


CHANNEL = WebPushChannel()
