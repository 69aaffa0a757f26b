"""The visitor channels against real loopback stand-ins (tests/notify_helpers.py): each
delivers the right content, maps failures to Outcomes, and never logs an address."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import select

from server.notify import channels, settings, vapid
from server.notify.channels import Delivery
from server.notify.channels.email import message_id
from server.notify.channels.webpush import origin

from .engine_helpers import T0
from .live import free_port
from .notify_helpers import (
    PushService,
    SmsGateway,
    SmtpSink,
    TelegramStandIn,
    verify_vapid,
)

PHONE = "+994501234567"
MAIL = "visitor@example.test"
CHAT = 987654321
BODY = {
    "text": 'Bilet A-042: 5 nömrəli masaya yaxınlaşın "indi"\nsağ olun',
    "title": "Bilet A-042",
    "subject": "Bilet A-042",
    "url": "https://novbe.example/t/abc",
    "language": "az",
}


def delivery(channel: str, address: str | None, settings_: dict, **overrides) -> Delivery:
    values = {
        "message_id": 1,
        "key": f"t42:called0:{channel}:7",
        "channel": channel,
        "kind": "called",
        "body": BODY,
        "address": address,
        "language": "az",
        "settings": settings_,
    }
    return Delivery(**{**values, **overrides})


def test_registry_knows_every_channel_and_refuses_others():
    for name in ("sms", "email", "telegram", "webpush"):
        assert channels.get(name).name == name
    with pytest.raises(KeyError):
        channels.get("pigeon")


# --- SMS ---------------------------------------------------------------------------------------


def test_sms_posts_the_template_with_the_key_and_headers():
    with SmsGateway() as gateway:
        outcome = channels.get("sms").send(delivery("sms", PHONE, gateway.settings()))
        assert outcome.ok and outcome.status == 200
        (request,) = gateway.requests
    assert request.method == "POST" and request.path == "/send"
    assert request.headers["Idempotency-Key"] == "t42:called0:sms:7"
    assert request.headers["Authorization"] == "Bearer sms-secret-42"
    assert request.headers["Content-Type"].startswith("application/json")
    # quotes and the new line survive JSON escaping; the text arrives in Azerbaijani
    assert request.json() == {"to": PHONE, "text": BODY["text"], "ref": "t42:called0:sms:7"}


def test_sms_form_body_is_url_encoded():
    form = {"content_type": "application/x-www-form-urlencoded", "body": "to={to}&msg={text}"}
    with SmsGateway() as gateway:
        assert channels.get("sms").send(delivery("sms", PHONE, gateway.settings(**form))).ok
        (request,) = gateway.requests
    assert request.form() == {"to": PHONE, "msg": BODY["text"]}


@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (429, False), (408, False), (400, True)]
)
def test_sms_failures_map_to_outcomes(status, permanent):
    with SmsGateway() as gateway:
        gateway.fail(1, status)
        outcome = channels.get("sms").send(delivery("sms", PHONE, gateway.settings()))
    assert not outcome.ok
    assert outcome.status == status
    assert outcome.permanent is permanent


def test_sms_gateway_echoing_the_number_is_redacted_in_the_outcome():
    class Echo(SmsGateway):
        def respond(self, request):
            to = request.json()["to"]
            answer = {"error": "bad number", "got": to, "digits": to.lstrip("+")}
            return 400, answer, "application/json"

    with Echo() as gateway:
        outcome = channels.get("sms").send(delivery("sms", PHONE, gateway.settings()))
    assert outcome.permanent and "bad number" in outcome.response
    assert PHONE not in outcome.response and PHONE.lstrip("+") not in outcome.response


def test_sms_timeout_is_retryable_and_bounded():
    with SmsGateway() as gateway:
        gateway.slow(5)
        started = time.monotonic()
        outcome = channels.get("sms").send(
            delivery("sms", PHONE, gateway.settings() | {"timeout_s": 0.5})
        )
        elapsed = time.monotonic() - started
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "timed out"
    assert elapsed < 4  # did not wait for the gateway's 5 s


def test_sms_unreachable_gateway_is_retryable():
    closed = {"enabled": True, "url": f"http://127.0.0.1:{free_port()}/send", "headers": {}}
    outcome = channels.get("sms").send(delivery("sms", PHONE, closed))
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "could not connect"


def test_erased_contact_is_permanent_for_every_channel():
    for name in ("sms", "email", "telegram", "webpush"):
        outcome = channels.get(name).send(delivery(name, None, {}))
        assert not outcome.ok and outcome.permanent, name


# --- email -------------------------------------------------------------------------------------


def test_email_arrives_in_utf8_with_a_message_id_from_the_key():
    russian = {**BODY, "text": "Талон A-042: пройдите к окну 5", "title": "Талон A-042"}
    with SmtpSink() as sink:
        first = channels.get("email").send(
            delivery("email", MAIL, sink.settings(), body=russian, language="ru")
        )
        again = channels.get("email").send(
            delivery("email", MAIL, sink.settings(), body=russian, language="ru")
        )
        messages = sink.wait_for(2)
    assert first.ok and again.ok
    message = messages[0]
    assert message["Subject"] == "Талон A-042"
    assert message["To"] == MAIL
    assert "novbe@example.test" in message["From"]
    assert message["Content-Language"] == "ru"
    text = message.get_content()
    assert "Талон A-042: пройдите к окну 5" in text and BODY["url"] in text
    # a resend is recognisable: the same Message-ID, derived from the outbox key
    assert messages[0]["Message-ID"] == messages[1]["Message-ID"]
    assert message["Message-ID"] == message_id("t42:called0:email:7", "novbe@example.test")
    assert sink.envelopes[0][1] == [MAIL]


def test_email_logs_in_when_a_username_is_set():
    with SmtpSink(username="center", password="s3cret") as sink:
        good = sink.settings(username="center", password="s3cret")
        assert channels.get("email").send(delivery("email", MAIL, good)).ok
        assert len(sink.wait_for(1)) == 1


def test_email_unreachable_server_is_retryable():
    settings_ = {"host": "127.0.0.1", "port": free_port(), "security": "none"}
    settings_["sender"] = "x@example.test"
    outcome = channels.get("email").send(delivery("email", MAIL, settings_))
    assert not outcome.ok and not outcome.permanent


# --- Telegram ----------------------------------------------------------------------------------


def test_telegram_sends_the_text_to_the_chat():
    with TelegramStandIn() as bot:
        outcome = channels.get("telegram").send(delivery("telegram", str(CHAT), bot.settings()))
        (sent,) = bot.sent()
    assert outcome.ok
    assert sent["chat_id"] == str(CHAT)
    assert sent["text"].startswith(BODY["text"]) and BODY["url"] in sent["text"]
    assert str(CHAT) not in (outcome.response or "")  # the answer echoes the chat: not logged


@pytest.mark.parametrize(
    ("status", "permanent"), [(403, True), (400, True), (429, False), (502, False)]
)
def test_telegram_failures_map_to_outcomes(status, permanent):
    with TelegramStandIn() as bot:
        bot.fail(1, status)
        outcome = channels.get("telegram").send(delivery("telegram", str(CHAT), bot.settings()))
    assert not outcome.ok and outcome.status == status and outcome.permanent is permanent


def test_telegram_wrong_token_is_permanent_and_the_token_is_not_in_the_outcome():
    with TelegramStandIn() as bot:
        wrong = bot.settings(token="999:WRONG")
        outcome = channels.get("telegram").send(delivery("telegram", str(CHAT), wrong))
    assert outcome.permanent and outcome.status == 401
    assert "WRONG" not in repr(outcome)


# --- Web Push ----------------------------------------------------------------------------------


def push_settings(app) -> dict:
    values = settings.delivery_settings(app, {"webpush": {"enabled": True}}, "webpush")
    assert values is not None
    return values


def test_webpush_payload_decrypts_to_what_was_sent_and_vapid_holds(app):
    with PushService() as push:
        subscription = push.subscription()
        outcome = channels.get("webpush").send(
            delivery("webpush", json.dumps(subscription), push_settings(app))
        )
        (request,) = push.requests
    assert outcome.ok and outcome.status == 201
    assert request.path == "/push/1"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["Urgency"] == "high"  # "go to counter N"
    assert 0 < int(request.headers["TTL"]) <= 3600
    assert push.decrypt(request.body) == {
        "title": BODY["title"],
        "body": BODY["text"],
        "url": BODY["url"],
    }
    claims = verify_vapid(
        request.headers["Authorization"],
        origin(subscription["endpoint"]),
        vapid.public_key_b64url(app),
    )
    assert claims["sub"] == app.config["VAPID_SUBJECT"]


def test_webpush_other_messages_are_normal_urgency(app):
    with PushService() as push:
        channels.get("webpush").send(
            delivery("webpush", json.dumps(push.subscription()), push_settings(app), kind="almost")
        )
        (request,) = push.requests
    assert request.headers["Urgency"] == "normal"
    assert push.decrypt(request.body)["body"] == BODY["text"]


def test_webpush_gone_subscription_is_permanent(app):
    with PushService() as push:
        push.gone()
        outcome = channels.get("webpush").send(
            delivery("webpush", json.dumps(push.subscription()), push_settings(app))
        )
    assert not outcome.ok and outcome.permanent
    assert outcome.status == 410 and outcome.error == "subscription gone"


def test_webpush_server_error_is_retryable(app):
    with PushService() as push:
        push.fail(1, 500)
        outcome = channels.get("webpush").send(
            delivery("webpush", json.dumps(push.subscription()), push_settings(app))
        )
    assert not outcome.ok and not outcome.permanent and outcome.status == 500


def test_webpush_garbage_subscription_is_permanent(app):
    outcome = channels.get("webpush").send(delivery("webpush", "not json", push_settings(app)))
    assert not outcome.ok and outcome.permanent


def test_vapid_key_is_made_once_with_owner_only_mode(app, vapid_key_file):
    import os
    import stat

    first = vapid.public_key_b64url(app)
    assert os.path.exists(vapid_key_file)
    assert stat.S_IMODE(os.stat(vapid_key_file).st_mode) == 0o600
    app.extensions.pop("novbe_vapid_key")
    assert vapid.public_key_b64url(app) == first  # read back, not made again
    assert len(first) == 87  # 65 bytes (uncompressed P-256 point) in base64url


# --- no address in the logs --------------------------------------------------------------------


def test_no_address_in_log_lines_or_outcomes(app, caplog):
    caplog.set_level(logging.DEBUG)
    outcomes = []
    with SmsGateway() as gateway, SmtpSink() as sink, TelegramStandIn() as bot:
        outcomes.append(channels.get("sms").send(delivery("sms", PHONE, gateway.settings())))
        gateway.fail(1, 500)
        outcomes.append(channels.get("sms").send(delivery("sms", PHONE, gateway.settings())))
        outcomes.append(channels.get("email").send(delivery("email", MAIL, sink.settings())))
        outcomes.append(
            channels.get("telegram").send(delivery("telegram", str(CHAT), bot.settings()))
        )
        bot.fail(1, 400)
        outcomes.append(
            channels.get("telegram").send(delivery("telegram", str(CHAT), bot.settings()))
        )
    ours = [r for r in caplog.records if not r.name.startswith(("mail.log", "aiosmtpd"))]
    logged = "\n".join(r.getMessage() for r in ours)
    for address in (PHONE, MAIL, str(CHAT)):
        assert address not in logged
        assert all(address not in repr(o) for o in outcomes)
    assert [o.ok for o in outcomes] == [True, False, True, True, False]


# --- Telegram opt-in ---------------------------------------------------------------------------


def test_telegram_start_message_links_the_waiting_contact_and_confirms(app, db, center):
    from server import queue
    from server.models import Center, VisitorContact
    from server.notify import contacts
    from server.notify.channels import telegram

    from . import factories

    with TelegramStandIn() as bot, app.app_context():
        with db.write() as s:
            row = s.get(Center, center.id)
            row.notifications = settings.validate({"telegram": bot.settings()}, row)
            kiosk = factories.kiosk_actor(s, row)
        with db.write() as s:
            ticket = queue.issue_ticket(
                s, center.code, "pension-new", "ru", None, kiosk, now=T0
            ).ticket
            added = contacts.add_contact(s, ticket, "telegram")  # made now: the link is fresh
            contact_id = added.contact.id
            code = contacts.link_code(contact_id)
        bot.user_sends(CHAT, "hello")  # not an opt-in: ignored
        bot.user_sends(CHAT, f"/start {code}", language_code="en")
        telegram._last_round = float("-inf")  # another test's worker may just have polled
        start = time.monotonic()
        assert telegram.poll_opt_ins(app, now=start) == 1
        assert len(bot.requests) == 2  # getUpdates, the confirmation
        assert telegram.poll_opt_ins(app, now=start + 0.5) == 0  # too soon: not asked
        assert len(bot.requests) == 2
        later = start + telegram.POLL_EVERY_S + 0.1
        assert telegram.poll_opt_ins(app, now=later) == 0  # acknowledged: not again
        assert len(bot.requests) == 3
        telegram._last_round = float("-inf")
        confirmations = [m for m in bot.sent() if m["chat_id"] == str(CHAT)]
    with db.read() as s:
        assert s.get(VisitorContact, contact_id).address == str(CHAT)
    assert len(confirmations) == 1
    assert confirmations[0]["text"] == telegram.CONFIRMED["ru"]  # the contact's language


# --- through the outbox ------------------------------------------------------------------------


def test_a_push_subscription_gets_the_issued_message_through_the_worker(app, db, center):
    """The whole path with real parts: a center with Web Push on, a subscription added
    for a ticket, the worker sends; the push service decrypts the ticket's message."""
    from server import queue
    from server.models import Center, OutboxMessage
    from server.notify import contacts, worker

    from . import factories

    app.config["WEBPUSH_ALLOW_HTTP"] = True  # the stand-in is plain http on loopback
    with PushService() as push, app.app_context():
        with db.write() as s:
            row = s.get(Center, center.id)
            row.notifications = settings.validate({"webpush": {"enabled": True}}, row)
            kiosk = factories.kiosk_actor(s, row)
        with db.write() as s:
            ticket = queue.issue_ticket(
                s, center.code, "pension-new", "en", None, kiosk, now=T0
            ).ticket
            number = ticket.display_number
            contacts.add_contact(s, ticket, "webpush", subscription=push.subscription())
        assert worker.deliver_due(app, "test-worker") >= 1
        requests_ = push.wait_for(1)
        with db.read() as s:
            states = {m.kind: m.state for m in s.scalars(select(OutboxMessage))}
    payload = push.decrypt(requests_[0].body)
    assert number in payload["title"] and number in payload["body"]
    assert payload["url"] and "/t/" in payload["url"]
    verify_vapid(requests_[0].headers["Authorization"], push.url, vapid.public_key_b64url(app))
    assert states.get("issued") == "sent"
