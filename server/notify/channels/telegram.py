"""Telegram through the Bot API (``{base_url}/bot{token}/...``; the base URL is
configurable for a local Bot API server or a stand-in).

Sending is ``sendMessage`` to the contact's chat id. Opting in is the other way round:
the phone page links to ``https://t.me/<bot>?start=<code>``; the visitor's Telegram then
sends ``/start <code>`` to the bot, and :func:`poll_opt_ins` (run by the outbox worker,
once per installation) reads it with ``getUpdates`` and links the waiting contact to
the chat (server/notify/contacts.py ``link_telegram``), then confirms in the chat.

Invariants: the bot token and chat ids never reach a log line or the delivery log
(answers are logged by their ``description`` only, which holds neither); each update
is handled once per process (the offset acknowledges it to Telegram, and linking the
same code twice is harmless).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

import requests
from flask import Flask

from ..outbox import Outcome
from .base import TIMEOUT_S, Delivery
from .http import post_with_deadline
from .sms import MAX_ANSWER_BYTES, RETRYABLE_4XX, failure

log = logging.getLogger(__name__)

START = re.compile(r"^/start(?:@\w+)?\s+([A-Za-z0-9_-]{4,64})\s*$")
POLL_EVERY_S = 2.0  # per bot: getUpdates at most this often
CONFIRMED = {
    "az": "Hazırdır: növbəniz yaxınlaşanda və çağırılanda burada xəbər verəcəyik.",
    "ru": "Готово: мы напишем здесь, когда подойдёт ваша очередь и когда вас вызовут.",
    "en": "Done: we will tell you here when your turn is near and when you are called.",
}
UNKNOWN_CODE = {
    "az": "Bu keçid artıq etibarlı deyil. Bilet səhifəsindən yenidən açın.",
    "ru": "Эта ссылка больше не действует. Откройте её снова со страницы талона.",
    "en": "This link is no longer valid. Open it again from your ticket page.",
}


def api_url(settings: dict[str, Any], method: str) -> str:
    base = (settings.get("base_url") or "https://api.telegram.org").rstrip("/")
    return f"{base}/bot{settings['token']}/{method}"


def _description(text: str) -> str:
    try:
        answer = json.loads(text)
    except ValueError:
        return ""
    return str(answer.get("description", ""))[:300] if isinstance(answer, dict) else ""


class TelegramChannel:
    name = "telegram"

    def send(self, delivery: Delivery) -> Outcome:
        settings = delivery.settings
        if not delivery.address:
            return Outcome(ok=False, permanent=True, error="no address (erased or not linked)")
        if not settings.get("token"):
            return Outcome(ok=False, error="Telegram bot not configured")
        text = str(delivery.body.get("text", ""))
        if delivery.body.get("url") and delivery.body["url"] not in text:
            text = f"{text}\n{delivery.body['url']}"
        started = time.monotonic()
        try:
            status, answer = post_with_deadline(
                api_url(settings, "sendMessage"),
                json={"chat_id": delivery.address, "text": text},
                deadline_s=settings.get("timeout_s", TIMEOUT_S),
                max_bytes=MAX_ANSWER_BYTES,
            )
        except requests.RequestException as exc:
            return failure(exc, started)
        ok = 200 <= status < 300
        duration_ms = int((time.monotonic() - started) * 1000)
        if ok:  # the answer echoes the chat (names, ids): not for the log
            return Outcome(ok=True, status=status, response="ok", duration_ms=duration_ms)
        return Outcome(
            ok=False,
            status=status,
            response=_description(answer),
            error=f"HTTP {status}",
            # 403: the visitor blocked the bot; 400: no such chat. Neither gets better.
            permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
            duration_ms=duration_ms,
        )


CHANNEL = TelegramChannel()


# --- opting in ---------------------------------------------------------------------------------

# Per bot (by a hash of its token): the next update id to ask for, and when we last asked.
_offsets: dict[str, int] = {}
_polled: dict[str, float] = {}
_last_round = float("-inf")


def _bots(app: Flask) -> list[dict[str, Any]]:
    """The distinct bots of the centers with Telegram on (several centers may share one)."""
    from sqlalchemy import select

    from ...extensions import db
    from ...models import Center
    from .. import settings as notify_settings

    bots: dict[str, dict[str, Any]] = {}
    with db.read() as session:
        for stored in session.scalars(select(Center.notifications)):
            values = notify_settings.effective(stored or {})["telegram"]
            if values["enabled"] and values["token"]:
                bots.setdefault(_bot_id(values), values)
    return list(bots.values())


def _bot_id(settings: dict[str, Any]) -> str:
    raw = f"{settings.get('base_url')}|{settings['token']}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def poll_opt_ins(app: Flask, *, now: float | None = None) -> int:
    """Read each bot's new messages and link the ``/start <code>`` ones to their waiting
    contacts; returns how many were linked. Never raises for a bot that cannot be
    reached (it is tried again on a later round)."""
    global _last_round
    now = time.monotonic() if now is None else now
    if now - _last_round < POLL_EVERY_S:  # the worker calls every round: stay cheap
        return 0
    _last_round = now
    with app.app_context():  # the link codes are keyed with the app's secret
        return _poll_all(app, now)


def _poll_all(app: Flask, now: float) -> int:
    linked = 0
    for bot in _bots(app):
        bot_id = _bot_id(bot)
        if now - _polled.get(bot_id, float("-inf")) < POLL_EVERY_S:
            continue
        _polled[bot_id] = now
        try:
            linked += _poll(app, bot, bot_id)
        except Exception:  # one bot's trouble must not stop the worker's round
            log.warning("telegram: polling bot %s failed", bot_id, exc_info=False)
    return linked


def _poll(app: Flask, bot: dict[str, Any], bot_id: str) -> int:
    params: dict[str, Any] = {"timeout": 0, "allowed_updates": '["message"]'}
    if bot_id in _offsets:
        params["offset"] = _offsets[bot_id]
    try:
        response = requests.get(api_url(bot, "getUpdates"), params=params, timeout=TIMEOUT_S)
        updates = response.json().get("result", []) if response.status_code == 200 else []
    except (requests.RequestException, ValueError):
        log.info("telegram: bot %s did not answer getUpdates", bot_id)
        return 0
    linked = 0
    for update in updates:
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            continue
        _offsets[bot_id] = max(_offsets.get(bot_id, 0), update["update_id"] + 1)
        message = update.get("message") or {}
        chat_id = (message.get("chat") or {}).get("id")
        match = START.match(str(message.get("text") or ""))
        if chat_id is None or not match:
            continue
        language = _link(app, match.group(1), str(chat_id))
        if language is not None:
            linked += 1
        _reply(bot, str(chat_id), language, message.get("from") or {})
    return linked


def _link(app: Flask, code: str, chat_id: str) -> str | None:
    """Link the contact waiting with ``code`` to the chat: its language, or None if no
    contact waits with that code."""
    from ...extensions import db
    from ...models import VisitorContact
    from .. import contacts

    with db.write() as session:
        if not contacts.link_telegram(session, code, chat_id):
            return None
        contact_id = re.match(r"^c(\d+)-", code)
        contact = session.get(VisitorContact, int(contact_id[1])) if contact_id else None
        language = contact.language if contact is not None else ""
        center_id = contact.center_id if contact is not None else None
    if center_id is not None:
        from ..triggers import contacts_changed

        contacts_changed(app, center_id)  # reachable now: every process looks again
    return language


def _reply(bot: dict[str, Any], chat_id: str, language: str | None, sender: dict) -> None:
    texts = CONFIRMED if language is not None else UNKNOWN_CODE
    if language in texts:
        text = texts[language]
    else:  # not known: the visitor's Telegram language if it is one of ours, else all three
        guess = str(sender.get("language_code") or "")[:2]
        text = texts[guess] if guess in texts else "\n".join(texts.values())
    try:
        requests.post(
            api_url(bot, "sendMessage"),
            json={"chat_id": chat_id, "text": text},
            timeout=TIMEOUT_S,
        )
    except requests.RequestException:
        log.info("telegram: could not confirm an opt-in")
