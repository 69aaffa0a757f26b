"""Email over SMTP (a center's own server or its provider's relay).

One plain-text UTF-8 message: the subject is the body's ``title`` (or ``subject``), the
text is its ``text`` and, below it, its ``url``. The Message-ID is derived from the
outbox key, so a message sent again after a crash mid-send is recognisable as the same
one. Security ``none`` | ``starttls`` | ``ssl``; login when a username is set. SMTP
4xx replies and connection trouble are retried; 5xx replies (a refused recipient, bad
credentials) are permanent.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from ..outbox import Outcome
from .base import TIMEOUT_S, Delivery


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same for every try of one outbox message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "novbe.invalid"
    return f"<novbe.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def build(delivery: Delivery) -> EmailMessage:
    settings = delivery.settings
    body = delivery.body
    message = EmailMessage()
    message["From"] = settings["sender"]
    message["To"] = delivery.address
    message["Subject"] = str(body.get("title") or body.get("subject") or "")
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(delivery.key, settings["sender"])
    text = str(body.get("text", ""))
    if body.get("url"):
        text = f"{text}\n\n{body['url']}"
    message.set_content(text + "\n", charset="utf-8")
    message["Content-Language"] = delivery.language  # after set_content, which clears it
    return message


class EmailChannel:
    name = "email"

    def send(self, delivery: Delivery) -> Outcome:
        settings: dict[str, Any] = delivery.settings
        if not delivery.address:
            return Outcome(ok=False, permanent=True, error="no address (erased)")
        if not settings.get("host") or not settings.get("sender"):
            return Outcome(ok=False, error="SMTP not configured")
        started = time.monotonic()

        def outcome(**kwargs: Any) -> Outcome:
            return Outcome(duration_ms=int((time.monotonic() - started) * 1000), **kwargs)

        timeout = settings.get("timeout_s", TIMEOUT_S)
        security = settings.get("security", "starttls")
        host, port = settings["host"], int(settings.get("port") or 25)
        try:
            if security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(host, port, timeout=timeout)
            with client:
                if security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if settings.get("username"):
                    client.login(settings["username"], settings.get("password", ""))
                refused = client.send_message(build(delivery))
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0] if exc.recipients else 550
            return outcome(ok=False, status=code, error="recipient refused", permanent=code >= 500)
        except smtplib.SMTPResponseException as exc:
            return outcome(
                ok=False,
                status=exc.smtp_code,
                error=f"SMTP {exc.smtp_code}",
                permanent=500 <= exc.smtp_code < 600,
            )
        except TimeoutError:
            return outcome(ok=False, error="timed out")
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            return outcome(ok=False, error=f"could not send ({type(exc).__name__})")
        if refused:
            return outcome(ok=False, status=550, error="recipient refused", permanent=True)
        return outcome(ok=True, status=250)


CHANNEL = EmailChannel()
