"""A visitor's contacts through the public API (server/api/notifications.py) and their
life in server/notify/contacts.py: validation naming the field, masking, the cap, the
refusals, erasure (by the visitor, at a booking's end, by the upkeep's timing rules),
a booking's reminders in the center's zone, and contacts following a check-in."""

from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import queue
from server.appointments import checkin
from server.maintenance import run_maintenance_once
from server.models import Center, OutboxMessage, Ticket, VisitorContact, utcnow
from server.notify import contacts

from . import factories
from .api_helpers import PREFIX, assert_error, call_next, issue, setup_api
from .arrival_helpers import book
from .engine_helpers import Env, at, make_env
from .test_openapi import check, spec  # noqa: F401  (the spec fixture)

PHONE = "050 123 45 67"
STORED_PHONE = "+994501234567"
EMAIL = "Anar.Mammadov@Example.COM"
SETTINGS = {
    "sms": {"enabled": True, "url": "http://127.0.0.1:9/sms"},
    "email": {"enabled": True, "host": "127.0.0.1", "sender": "Növbə <novbe@example.org>"},
    "telegram": {"enabled": True, "token": "123:secret", "bot_username": "novbe_bot"},
    "webpush": {"enabled": True},
}
TICKET_PATH = "/tickets/{tracking_token}/contacts"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(endpoint: str = "https://fcm.googleapis.com/fcm/send/dXk3-abc") -> dict:
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))},
    }


def configure(db, center_code: str = "baku-1", notifications: dict | None = None) -> None:
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == center_code))
        center.notifications = SETTINGS if notifications is None else notifications


@pytest.fixture
def api(app, db, center):
    app.config["PUBLIC_CONTACT_LIMITS"] = "100 per minute"
    configure(db)
    return setup_api(db, center)


def url(token: str, contact_id: int | None = None) -> str:
    tail = "" if contact_id is None else f"/{contact_id}"
    return f"{PREFIX}/tickets/{token}/contacts{tail}"


def stored(db, contact_id: int) -> tuple[str | None, datetime | None, int | None]:
    with db.read() as s:
        contact = s.get(VisitorContact, contact_id)
        return contact.address, contact.erased_at, contact.ticket_id


def messages(db, **where) -> list[tuple[str, str, datetime, str]]:
    """(kind, state, next_attempt_at, text) of the outbox rows matching ``where``."""
    with db.read() as s:
        query = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
        return [(m.kind, m.state, m.next_attempt_at, m.body["text"]) for m in s.scalars(query)]


# --- adding, validation, masking --------------------------------------------------------


def test_contacts_are_normalised_masked_capped_and_never_answered_whole(
    client,
    db,
    api,
    spec,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    token = issue(client, api)["tracking_token"]
    answers = []

    r = client.get(url(token))
    body = check(spec, r, "GET", TICKET_PATH)
    assert body["contacts"] == [] and body["channels"] == ["sms", "email", "telegram", "webpush"]
    assert isinstance(body["vapid_public_key"], str) and len(body["vapid_public_key"]) == 87

    r = client.post(url(token), json={"channel": "sms", "address": PHONE})
    sms = check(spec, r, "POST", TICKET_PATH)
    assert r.status_code == 201
    assert sms["masked"] == "+994 ** *** 45 67" and sms["linked"] is True
    assert stored(db, sms["id"])[0] == STORED_PHONE
    answers.append(r.get_data(as_text=True))

    r = client.post(url(token), json={"channel": "sms", "address": "+994 50 123-45-67"})
    assert r.status_code == 200 and r.get_json()["id"] == sms["id"]  # the same number again

    r = client.post(url(token), json={"channel": "email", "address": EMAIL, "language": "en"})
    email = check(spec, r, "POST", TICKET_PATH)
    assert email["masked"] == "A***@example.com"
    assert stored(db, email["id"])[0] == "Anar.Mammadov@example.com"
    answers.append(r.get_data(as_text=True))

    push = subscription()
    r = client.post(url(token), json={"channel": "webpush", "subscription": push})
    assert check(spec, r, "POST", TICKET_PATH)["masked"] == "Web Push (Chrome)"
    answers.append(r.get_data(as_text=True))

    r = client.post(url(token), json={"channel": "telegram"})
    assert_error(r, 409, "too_many_contacts")

    r = client.delete(url(token, email["id"]))
    assert r.status_code == 204
    check(spec, r, "DELETE", TICKET_PATH + "/{contact_id}")
    r = client.post(url(token), json={"channel": "telegram"})
    telegram = check(spec, r, "POST", TICKET_PATH)
    assert telegram["masked"] == "Telegram" and telegram["linked"] is False
    assert telegram["link"].startswith("https://t.me/novbe_bot?start=c")

    r = client.get(url(token))
    listed = check(spec, r, "GET", TICKET_PATH)["contacts"]
    assert [c["channel"] for c in listed] == ["sms", "webpush", "telegram"]
    answers.append(r.get_data(as_text=True))

    secrets = ("501234567", "Anar", "Mammadov", push["endpoint"], push["keys"]["auth"])
    for text in [*answers, caplog.text]:
        for secret in secrets:
            assert secret not in text
    with db.read() as s:
        bodies = [repr(m.body) for m in s.scalars(select(OutboxMessage))]
    assert bodies and not any(secret in b for b in bodies for secret in secrets)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax", "address": PHONE}, "channel"),
        ({"channel": "sms"}, "address"),
        ({"channel": "sms", "address": "98765"}, "address"),
        ({"channel": "sms", "address": "+994 55 777 88"}, "address"),
        ({"channel": "email", "address": "not an address"}, "address"),
        ({"channel": "webpush"}, "subscription"),
        ({"channel": "sms", "address": PHONE, "language": "de"}, "language"),
        ({"channel": "telegram", "address": "@someone"}, "address"),
        (
            {"channel": "webpush", "subscription": subscription("http://push.example/x")},
            "subscription.endpoint",
        ),
        (
            {
                "channel": "webpush",
                "subscription": {**subscription(), "keys": {"p256dh": "abc", "auth": "def"}},
            },
            "subscription.keys.p256dh",
        ),
        (
            {
                "channel": "webpush",
                "subscription": {
                    **subscription(),
                    "keys": {**subscription()["keys"], "auth": b64url(b"x" * 15)},
                },
            },
            "subscription.keys.auth",
        ),
    ],
)
def test_bad_contacts_are_refused_naming_the_field(app, client, db, api, body, field):
    app.config["WEBPUSH_ALLOW_HTTP"] = False  # as in production: push services are https
    token = issue(client, api)["tracking_token"]
    error = assert_error(client.post(url(token), json=body), 422, "invalid_input", field=field)
    if body.get("address"):  # what was sent is not echoed
        assert body["address"] not in error["message"]
    with db.read() as s:
        assert s.scalars(select(VisitorContact)).all() == []


def test_refusals_a_closed_ticket_a_channel_not_enabled_an_unknown_token(client, db, api):
    token = issue(client, api)["tracking_token"]
    configure(db, notifications={"sms": SETTINGS["sms"]})
    r = client.post(url(token), json={"channel": "email", "address": "a@example.com"})
    assert_error(r, 409, "channel_not_enabled")
    assert client.get(url(token)).get_json()["channels"] == ["sms"]
    assert client.get(url(token)).get_json()["vapid_public_key"] is None

    with db.write() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.tracking_token == token))
        queue.cancel(s, ticket.id, factories.kiosk_actor(s, s.get(Center, ticket.center_id)))
    r = client.post(url(token), json={"channel": "sms", "address": PHONE})
    assert_error(r, 409, "ticket_closed")
    assert_error(client.get(url("no-such-token")), 404, "ticket_not_found")
    assert_error(client.delete(url(token, 12345)), 404, "contact_not_found")


def test_deleting_erases_the_address_and_cancels_what_was_not_sent(client, db, api):
    token = issue(client, api)["tracking_token"]
    contact = client.post(url(token), json={"channel": "sms", "address": PHONE}).get_json()
    assert [(k, state) for k, state, *_ in messages(db)] == [
        ("issued", "pending"),
        ("almost", "pending"),  # first in line
    ]
    assert client.delete(url(token, contact["id"])).status_code == 204
    address, erased_at, _ = stored(db, contact["id"])
    assert address is None and erased_at is not None
    assert {state for _, state, *_ in messages(db)} == {"cancelled"}
    assert client.get(url(token)).get_json()["contacts"] == []
    assert client.delete(url(token, contact["id"])).status_code == 204  # again: the same


def test_contacts_are_limited_per_client(app, client, db, api):
    app.config["PUBLIC_CONTACT_LIMITS"] = "2 per minute"
    token = issue(client, api)["tracking_token"]
    for number in ("050 111 11 11", "050 222 22 22"):
        assert (
            client.post(url(token), json={"channel": "sms", "address": number}).status_code == 201
        )
    r = client.post(url(token), json={"channel": "sms", "address": "050 333 33 33"})
    assert_error(r, 429, "too_many_requests")
    assert r.headers["Retry-After"]
    # A kiosk posts for every visitor who types a number at it: not limited like a phone.
    for _ in range(3):
        token = issue(client, api)["tracking_token"]
        r = client.post(url(token), json={"channel": "sms", "address": PHONE}, headers=api.kiosk)
        assert r.status_code == 201, r.get_data(as_text=True)


def test_a_telegram_contact_is_linked_once_by_its_code(app, client, db, api):
    token = issue(client, api)["tracking_token"]
    answer = client.post(url(token), json={"channel": "telegram"}).get_json()
    code = answer["link"].rsplit("=", 1)[1]
    assert messages(db) == []  # nothing can reach it yet
    with app.app_context(), db.write() as s:
        assert contacts.link_telegram(s, code[:-1] + ("A" if code[-1] != "A" else "B"), 1) is False
        assert contacts.link_telegram(s, code, 424242) is True
    with app.app_context(), db.write() as s:
        assert contacts.link_telegram(s, code, 999) is False  # used by another chat
    with app.app_context(), db.write() as s:  # the bot re-read its updates after a restart
        assert contacts.link_telegram(s, code, 424242) is True
    assert stored(db, answer["id"])[0] == "424242"
    listed = client.get(url(token)).get_json()["contacts"]
    assert listed == [
        {"id": answer["id"], "channel": "telegram", "masked": "Telegram", "linked": True}
    ]
    assert [kind for kind, *_ in messages(db, channel="telegram")].count("issued") == 1


# --- bookings: reminders, cancelling, check-in ----------------------------------------------


def future_slot(days: int = 3) -> datetime:
    """10:00 in Baku on a weekday at least ``days`` ahead (aware, UTC)."""
    baku = ZoneInfo("Asia/Baku")
    day = (utcnow().astimezone(baku) + timedelta(days=days)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=baku).astimezone(UTC)


def booking(db, language: str = "ru") -> tuple[str, str, datetime]:
    start = future_slot()
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        appointment = book(s, center.id, start, language=language)
        return appointment.token, appointment.code, start


def test_a_booking_gets_reminders_a_day_and_an_hour_before_in_the_center_zone(
    client,
    db,
    api,
    spec,  # noqa: F811
):
    token, code, start = booking(db)
    path = "/appointments/{token}/contacts"
    r = client.post(
        f"{PREFIX}/appointments/{token}/contacts", json={"channel": "sms", "address": PHONE}
    )
    contact = check(spec, r, "POST", path)
    assert r.status_code == 201
    sent = messages(db, contact_id=contact["id"])
    assert [(kind, state) for kind, state, *_ in sent] == [
        ("reminder_day", "pending"),
        ("reminder_hour", "pending"),
    ]
    assert [at_.replace(tzinfo=UTC) if at_.tzinfo is None else at_ for _, _, at_, _ in sent] == [
        start - timedelta(hours=24),
        start - timedelta(hours=1),
    ]
    local_day = start.astimezone(ZoneInfo("Asia/Baku")).strftime("%d.%m")
    assert sent[0][3].startswith("Напоминание: ")
    assert sent[0][3].endswith(f", {local_day} в 10:00. Код {code}.")
    assert "сегодня в 10:00" in sent[1][3]
    listed = check(spec, client.get(f"{PREFIX}/appointments/{token}/contacts"), "GET", path)
    assert [c["masked"] for c in listed["contacts"]] == ["+994 ** *** 45 67"]

    # Cancelling the booking erases its contacts and cancels the reminders.
    assert client.delete(f"{PREFIX}/appointments/{token}").status_code == 200
    assert {state for _, state, *_ in messages(db, contact_id=contact["id"])} == {"cancelled"}
    assert stored(db, contact["id"])[0] is None
    r = client.post(
        f"{PREFIX}/appointments/{token}/contacts", json={"channel": "sms", "address": PHONE}
    )
    assert_error(r, 409, "appointment_closed")


def test_contacts_follow_the_booking_to_its_ticket_at_check_in(client, db, api):
    token, code, start = booking(db, language="en")
    contact = client.post(
        f"{PREFIX}/appointments/{token}/contacts", json={"channel": "sms", "address": PHONE}
    ).get_json()
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, s.scalar(select(Center).where(Center.code == "baku-1")))
        done = checkin.check_in(s, "baku-1", code, kiosk, now=start - timedelta(minutes=5))
        ticket_id = done.issued.issued.id
    address, erased_at, moved_to = stored(db, contact["id"])
    assert (address, erased_at, moved_to) == (STORED_PHONE, None, ticket_id)
    kinds = [(kind, state) for kind, state, *_ in messages(db, contact_id=contact["id"])]
    # The reminders still to come are cancelled; the ticket's own messages begin.
    assert ("reminder_day", "cancelled") in kinds and ("reminder_hour", "cancelled") in kinds
    assert ("issued", "pending") in kinds
    with db.read() as s:
        ticket = s.get(Ticket, ticket_id)
        listed = client.get(url(ticket.tracking_token)).get_json()["contacts"]
    assert [c["id"] for c in listed] == [contact["id"]]


# --- erasure timing -------------------------------------------------------------------------


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        env = make_env(s)
        s.get(Center, env.center_id).notifications = SETTINGS
    return env


def test_erase_finished_keeps_what_is_needed_and_erases_the_rest(app, db, env):
    with app.app_context(), db.write() as s:
        served = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, env.kiosk, now=at(0))
        waiting = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, env.kiosk, now=at(1))
        kept_waiting = contacts.add_contact(s, waiting.ticket, "sms", address=PHONE, now=at(1))
        done = contacts.add_contact(s, served.ticket, "sms", address=PHONE, now=at(1))
        unlinked = contacts.add_contact(s, waiting.ticket, "telegram", now=at(2)).contact
        queue.call_next(s, env.c1, env.alice, start=True, now=at(3))
        queue.complete(s, served.ticket.id, env.alice, now=at(10))
        center_id = env.center_id
        missed = book(s, center_id, at(60 * 24))
        old = book(s, center_id, at(60 * 24))
        future = book(s, center_id, at(60 * 24 * 5))
        ids = {}
        for name, appointment in (("missed", missed), ("old", old), ("future", future)):
            ids[name] = contacts.add_contact(
                s, appointment, "email", address="a@example.com", now=at(5)
            ).contact.id
        missed.state = "no_show"
        ids |= {"done": done.contact.id, "waiting": kept_waiting.contact.id, "tg": unlinked.id}

    def erased(now: datetime) -> tuple[int, set[str]]:
        with db.write() as s:
            count = contacts.erase_finished(s, now)
        with db.read() as s:
            gone = {n for n, i in ids.items() if s.get(VisitorContact, i).erased_at is not None}
        return count, gone

    # 29 minutes after the end, the link 37 minutes old; a missed booking goes at once.
    assert erased(at(39)) == (1, {"missed"})
    assert erased(at(41)) == (1, {"missed", "done"})
    assert erased(at(63)) == (1, {"missed", "done", "tg"})  # never linked for over an hour
    assert erased(at(60 * 48 - 1)) == (0, {"missed", "done", "tg"})
    assert erased(at(60 * 48 + 1)) == (1, {"missed", "done", "tg", "old"})  # a day past
    # The waiting ticket's and the future booking's contacts stay.
    with db.read() as s:
        assert s.get(VisitorContact, ids["waiting"]).address == STORED_PHONE
        assert s.get(VisitorContact, ids["future"]).address == "a@example.com"


def test_the_maintenance_round_erases_finished_contacts(app, db, env):
    with app.app_context(), db.write() as s:
        result = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, env.kiosk, now=at(0))
        contact = contacts.add_contact(s, result.ticket, "sms", address=PHONE, now=at(0)).contact
        queue.call_next(s, env.c1, env.alice, start=True, now=at(1))
        queue.complete(s, result.ticket.id, env.alice, now=at(2))
    with app.app_context():
        run_maintenance_once()
    address, erased_at, _ = stored(db, contact.id)
    assert address is None and erased_at is not None


# --- review fixes: abuse caps, countries, push endpoints -------------------------------------


def test_a_ticket_has_at_most_five_contacts_ever_erased_ones_included(client, db, api):
    token = issue(client, api)["tracking_token"]
    for n in range(contacts.MAX_EVER):
        r = client.post(url(token), json={"channel": "sms", "address": f"050 111 11 1{n}"})
        assert r.status_code == 201, r.get_data(as_text=True)
        assert client.delete(url(token, r.get_json()["id"])).status_code == 204
    r = client.post(url(token), json={"channel": "sms", "address": "050 222 22 22"})
    error = assert_error(r, 409, "too_many_contacts")
    assert "5" in error["message"]
    assert client.get(url(token)).get_json()["contacts"] == []


def test_sms_goes_only_to_the_centers_countries(client, db, api):
    token = issue(client, api)["tracking_token"]
    r = client.post(url(token), json={"channel": "sms", "address": "+7 912 345 67 89"})
    error = assert_error(r, 422, "invalid_input", field="address")
    assert "+994" in error["message"] and "9123456789" not in error["message"]
    configure(db, notifications={**SETTINGS, "sms": {**SETTINGS["sms"], "countries": ["994", "7"]}})
    r = client.post(url(token), json={"channel": "sms", "address": "+7 912 345 67 89"})
    assert r.status_code == 201, r.get_data(as_text=True)
    r = client.post(url(token), json={"channel": "sms", "address": "+44 7700 900123"})
    assert_error(r, 422, "invalid_input", field="address")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/x",
        "https://10.1.2.3/push",
        "https://[::1]/p",
        "https://nx.invalid/p",
    ],
)
def test_a_push_endpoint_on_a_private_network_is_refused(app, client, db, api, endpoint):
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = False
    token = issue(client, api)["tracking_token"]
    r = client.post(url(token), json={"channel": "webpush", "subscription": subscription(endpoint)})
    assert_error(r, 422, "invalid_input", field="subscription.endpoint")
    with db.read() as s:
        assert s.scalars(select(VisitorContact)).all() == []
    # A public address is taken (an IP literal: no DNS needed); the setting allows private.
    r = client.post(
        url(token), json={"channel": "webpush", "subscription": subscription("https://8.8.8.8/p")}
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = True
    r = client.post(url(token), json={"channel": "webpush", "subscription": subscription(endpoint)})
    assert r.status_code == 201, r.get_data(as_text=True)


def test_a_contact_ends_the_quiet_centers_cache_at_once(client, db, api, monkeypatch):
    """Production caches "this center has no reachable contact" for a few seconds (the
    query was ~15% of an issue's CPU); a contact added through the API ends that at once
    in every process (the cluster bus), or its visitor's "called" would be lost."""
    from server.notify import triggers

    monkeypatch.setattr(triggers, "QUIET_S", 60.0)
    first, second = issue(client, api), issue(client, api)  # no contacts: quiet now
    # A contact written behind the API's back is not seen while the center is quiet ...
    with db.write() as s:
        s.add(
            VisitorContact(
                center_id=s.get(Ticket, first["id"]).center_id,
                ticket_id=first["id"],
                channel="sms",
                address="+994501234568",
                masked="+994 ** *** 45 68",
                language="az",
            )
        )
    assert call_next(client, api).status_code == 200
    assert messages(db, ticket_id=first["id"]) == []
    # ... one added through the API is, at once.
    body = {"channel": "sms", "address": "0501234567"}
    assert client.post(url(second["tracking_token"]), json=body).status_code == 201
    assert call_next(client, api, "2").status_code == 200
    kinds = [kind for kind, *_ in messages(db, ticket_id=second["id"])]
    assert kinds == ["issued", "almost", "called"]
