"""SMS through a center's HTTP gateway (a national gateway, or any with a POST API).

The request is the center's template (``sms.body``) with ``{to}``, ``{text}`` and
``{key}`` filled in, escaped for its content type (JSON string escapes, or form
encoding), POSTed to ``sms.url`` with the configured headers and an
``Idempotency-Key`` header carrying the outbox key, so a gateway that honours it sends
a retried message once. 2xx is sent; 4xx is permanent (the request itself is wrong),
except 408 and 429; 5xx, time-outs and connection errors are retried. The whole
exchange has a deadline and a cap on what is read (channels/http.py): a gateway that
drips or floods its answer cannot hold a worker.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote_plus

import requests

from ..outbox import Outcome
from .base import TIMEOUT_S, Delivery
from .http import post_with_deadline

MAX_ANSWER_BYTES = 4096  # of a gateway's answer: what the delivery log keeps, and more

RETRYABLE_4XX = (408, 425, 429)


def render(template: str, content_type: str, values: dict[str, str]) -> str:
    """The template with each ``{name}`` replaced by its value, escaped for the body's
    content type (other braces are left as they are: JSON templates are full of them)."""
    if content_type == "application/json":

        def escape(value: str) -> str:
            return json.dumps(value, ensure_ascii=False)[1:-1]
    else:

        def escape(value: str) -> str:
            return quote_plus(value)

    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", escape(value))
    return out


def redact(text: str, address: str | None) -> str:
    """``text`` with the address (as sent, or JSON-escaped) cut out: answers are logged,
    and gateways like to echo the number back."""
    if address:
        forms = {address, address.lstrip("+"), json.dumps(address)[1:-1], quote_plus(address)}
        for form in sorted(forms, key=len, reverse=True):  # "+994..." before "994..."
            text = text.replace(form, "[address]")
    return text


def http_outcome(status: int, text: str, started: float, address: str | None = None) -> Outcome:
    """An HTTP answer as an Outcome: 2xx ok; 4xx permanent but 408/425/429; else retried."""
    ok = 200 <= status < 300
    return Outcome(
        ok=ok,
        status=status,
        response=redact(text[:2000], address)[:500],
        error=None if ok else f"HTTP {status}",
        permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def failure(exc: Exception, started: float) -> Outcome:
    """A transport error as a retryable Outcome, named by its kind only (a message could
    quote the URL, and so an address)."""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
    if not isinstance(exc, requests.Timeout | requests.ConnectionError):
        kind = type(exc).__name__
    return Outcome(ok=False, error=kind, duration_ms=int((time.monotonic() - started) * 1000))


class SmsChannel:
    name = "sms"

    def send(self, delivery: Delivery) -> Outcome:
        settings: dict[str, Any] = delivery.settings
        if not delivery.address:
            return Outcome(ok=False, permanent=True, error="no address (erased)")
        if not settings.get("url"):
            return Outcome(ok=False, error="SMS gateway not configured")
        content_type = settings.get("content_type") or "application/json"
        body = render(
            settings.get("body") or '{"to": "{to}", "text": "{text}"}',
            content_type,
            {
                "to": delivery.address,
                "text": str(delivery.body.get("text", "")),
                "key": delivery.key,
            },
        )
        headers = {**settings.get("headers", {})}
        headers["Content-Type"] = f"{content_type}; charset=utf-8"
        headers["Idempotency-Key"] = delivery.key
        started = time.monotonic()
        try:
            status, text = post_with_deadline(
                settings["url"],
                data=body.encode("utf-8"),
                headers=headers,
                deadline_s=settings.get("timeout_s", TIMEOUT_S),
                max_bytes=MAX_ANSWER_BYTES,
            )
        except requests.RequestException as exc:
            return failure(exc, started)
        return http_outcome(status, text, started, delivery.address)


CHANNEL = SmsChannel()
