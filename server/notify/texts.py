"""What a visitor is told, in az, ru and en: one short text per trigger.

Invariants:

* a body never holds an address (the contact's lives in visitor_contacts only);
* texts are short: the SMS ones fit one segment where the language allows (160 GSM
  characters in English; Azerbaijani's "ə" and Russian's Cyrillic make it 70 UCS-2
  characters, so the link, where there is one, is the longest part);
* times are the center's wall time (its time zone), never UTC;
* links are built on ``PUBLIC_BASE_URL`` only, never on the request being served (a
  staff member's LAN address must not reach a visitor's phone); without it Web Push
  gets a path (the service worker resolves it against its own origin) and SMS, email
  and Telegram get a text without a link.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

LANGUAGES = ("az", "ru", "en")
BRAND = "Növbə"

_TEXTS: dict[str, dict[str, str]] = {
    "issued": {
        "az": "Bilet {number}. Növbənizi izləyin: {url}",
        "ru": "Талон {number}. Следите за очередью: {url}",
        "en": "Ticket {number}. Follow your turn: {url}",
    },
    "issued_nolink": {
        "az": "Bilet {number}: növbəniz yaxınlaşanda xəbər verəcəyik.",
        "ru": "Талон {number}: сообщим, когда подойдёт ваша очередь.",
        "en": "Ticket {number}: we will tell you when your turn is near.",
    },
    "almost": {
        "az": "Bilet {number}: qarşınızda {ahead} nəfər, təxminən {minutes} dəq. Zala qayıdın.",
        "ru": "Талон {number}: перед вами {ahead}, примерно {minutes} мин. Вернитесь в зал.",
        "en": "Ticket {number}: {ahead} ahead of you, about {minutes} min. Please come back.",
    },
    "almost_no_estimate": {
        "az": "Bilet {number}: qarşınızda {ahead} nəfər. Zala qayıdın.",
        "ru": "Талон {number}: перед вами {ahead}. Вернитесь в зал.",
        "en": "Ticket {number}: {ahead} ahead of you. Please come back.",
    },
    "next": {
        "az": "Bilet {number}: növbəti sizsiniz. Zala qayıdın.",
        "ru": "Талон {number}: вы следующий. Вернитесь в зал.",
        "en": "Ticket {number}: you are next. Please come back.",
    },
    "called": {
        "az": "Bilet {number}: {counter} nömrəli masaya yaxınlaşın",
        "ru": "Талон {number}: пройдите к окну {counter}",
        "en": "Ticket {number}: please go to counter {counter}",
    },
    "reminder_day": {
        "az": "Xatırlatma: {center}, {date} saat {time}. Kod {code}.",
        "ru": "Напоминание: {center}, {date} в {time}. Код {code}.",
        "en": "Reminder: {center}, {date} at {time}. Code {code}.",
    },
    "reminder_hour": {
        "az": "Xatırlatma: {center}, bu gün saat {time}. Kod {code}.",
        "ru": "Напоминание: {center}, сегодня в {time}. Код {code}.",
        "en": "Reminder: {center}, today at {time}. Code {code}.",
    },
    "rating": {
        "az": "Gəldiyiniz üçün sağ olun. Xidməti qiymətləndirin: {url}",
        "ru": "Спасибо за визит. Оцените обслуживание: {url}",
        "en": "Thank you for your visit. Rate the service: {url}",
    },
    "rating_nolink": {
        "az": "Gəldiyiniz üçün sağ olun.",
        "ru": "Спасибо за визит.",
        "en": "Thank you for your visit.",
    },
}
_TITLES: dict[str, dict[str, str]] = {
    "ticket": {"az": "Bilet {number}", "ru": "Талон {number}", "en": "Ticket {number}"},
    "appointment": {"az": "Qəbul {code}", "ru": "Запись {code}", "en": "Appointment {code}"},
}


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else "az"


def base_url() -> str:
    """The server's public address for links (``PUBLIC_BASE_URL``), or "" when not set."""
    configured = current_app.config.get("PUBLIC_BASE_URL") if has_app_context() else ""
    return str(configured or "").rstrip("/")


def link(path: str, channel: str) -> str | None:
    """The link to ``path`` for a message on ``channel``: absolute on PUBLIC_BASE_URL;
    without it the path for Web Push (its service worker knows its origin), else None."""
    base = base_url()
    if base:
        return base + path
    return path if channel == "webpush" else None


def tracking_url(token: str, channel: str = "sms") -> str | None:
    return link(f"/t/{token}", channel)


def _body(text: str, title: str, language: str, url: str | None) -> dict:
    return {"text": text, "subject": title, "title": title, "url": url, "language": language}


def ticket_message(
    trigger: str,
    language: str,
    *,
    number: str,
    token: str,
    channel: str = "sms",
    counter: str | None = None,
    ahead: int | None = None,
    minutes: int | None = None,
) -> dict:
    """The outbox body of a ticket's message (issued, almost, called, rating) for a
    contact on ``channel``; the text carries the link only when it is absolute."""
    language = language_of(language)
    url = tracking_url(token, channel)
    template = trigger
    if trigger in ("issued", "rating") and not base_url():
        template = f"{trigger}_nolink"
    if trigger == "almost":
        if not ahead:
            template = "next"
        elif minutes is None:
            template = "almost_no_estimate"
    text = _TEXTS[template][language].format(
        number=number, url=url, counter=counter or "", ahead=ahead or 0, minutes=minutes or 0
    )
    title = f"{BRAND} · " + _TITLES["ticket"][language].format(number=number)
    return _body(text, title, language, url)


def reminder_message(
    trigger: str,
    language: str,
    *,
    start: datetime,
    timezone: str,
    center_name: dict | str,
    code: str,
    url: str | None,
) -> dict:
    """The outbox body of an appointment reminder (reminder_day, reminder_hour), the
    time in the center's zone."""
    language = language_of(language)
    local = start.astimezone(ZoneInfo(timezone))
    name = center_name
    if isinstance(center_name, dict):
        name = center_name.get(language) or next(iter(center_name.values()), "")
    text = _TEXTS[trigger][language].format(
        center=name, date=local.strftime("%d.%m"), time=local.strftime("%H:%M"), code=code
    )
    title = f"{BRAND} · " + _TITLES["appointment"][language].format(code=code)
    return _body(text, title, language, url)


def appointment_url(token: str, channel: str = "sms") -> str | None:
    return link(f"/a/{token}", channel)
