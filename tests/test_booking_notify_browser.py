"""A booking's reminders in a real browser on a phone (390x844): the booking's page
(/a/<token>) offers "remind me" (the day before, an hour before) while the booking is
booked and the center sends something; an SMS number added shows masked and schedules
two reminders (reminder_day at start - 24 h, reminder_hour at start - 1 h); removing it
cancels them. The same block (phone_notify.js) as the phone page's, against
/api/v1/appointments/{token}/contacts. Long words (az, ru, en) fit the phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from server.i18n import catalog
from server.models import Appointment, Center, OutboxMessage, Service, VisitorContact

from .browser_helpers import screenshot
from .test_booking_browser import ALL_DAY, LONG, PHONE, fits
from .test_notify_browser import DEAD_URL, configure

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
NUMBER = "+994501234567"


@pytest.fixture
def center(live_server):
    """Every service bookable, long names in every language."""
    center = live_server.new_center(hours=ALL_DAY)
    with live_server.db.write() as s:
        # Every test of the session books from 127.0.0.1: earlier bookings must not count
        # against this one's per-address limit.
        s.execute(update(Appointment).values(client_digest=None))
        row = s.scalar(select(Center).where(Center.code == center.code))
        row.name = {
            "az": "Bakı şəhəri Nərimanov rayonu Dövlət Xidmətləri Mərkəzi №1",
            "ru": "Центр государственных услуг Наримановского района города Баку №1",
            "en": "Baku Narimanov District Public Service Center No. 1",
        }
        for service in s.scalars(select(Service).where(Service.center_id == row.id)):
            service.bookable = True
            if service.code == "pension-new":
                service.name = LONG
    return center


def book(live_server, center, language: str) -> dict:
    """A booking through the public API, on the third day offered (days ahead: both
    reminders are still to come)."""
    path = f"/public/centers/{center.code}"
    days = live_server.api("GET", f"{path}/booking-days", params={"service": "pension-new"})
    assert days.status_code == 200, days.text
    day = days.json()["days"][2]["date"]
    slots = live_server.api(
        "GET", f"{path}/slots", params={"service": "pension-new", "date": day}
    ).json()["slots"]
    start = next(slot["start"] for slot in slots if slot["free"] > 0)
    made = live_server.api(
        "POST",
        f"{path}/appointments",
        json={"service": "pension-new", "start": start, "language": language},
    )
    assert made.status_code == 201, made.text
    return made.json()


def open_appointment(new_page, live_server, token: str, lang: str):
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{live_server.url}/a/{token}?lang={lang}")
    expect(page.locator("#card")).to_be_visible()
    return page


def reminders(live_server, token: str) -> tuple[datetime, dict[str, OutboxMessage]]:
    """The booking's start and its outbox rows by kind."""
    with live_server.db.read() as s:
        appointment = s.scalar(select(Appointment).where(Appointment.token == token))
        rows = s.scalars(
            select(OutboxMessage)
            .join(VisitorContact, VisitorContact.id == OutboxMessage.contact_id)
            .where(VisitorContact.appointment_id == appointment.id)
        ).all()
        s.expunge_all()
        return appointment.start, {row.kind: row for row in rows}


def test_a_booking_is_reminded_by_sms_and_the_reminders_go_with_the_number(
    new_page, live_server, center
):
    words = WORDS["en"]
    booking = book(live_server, center, "en")
    token = booking["token"]

    # Nothing sent by the center: no block.
    page = open_appointment(new_page, live_server, token, "en")
    page.wait_for_timeout(500)  # the contacts' answer has come and gone by now
    expect(page.locator("#notify")).to_be_hidden()
    page.close()

    configure(live_server, center, sms={"enabled": True, "url": DEAD_URL})
    page = open_appointment(new_page, live_server, token, "en")
    block = page.locator("#notify")
    expect(block).to_be_visible()
    expect(page.locator("#notify-title")).to_have_text(words["remind.title"])
    expect(block.locator(".notify-intro")).to_have_text(words["remind.intro"])
    expect(page.locator("#notify-sms")).to_be_visible()
    expect(page.locator("#notify-email")).to_be_hidden()
    expect(page.locator("#notify-push")).to_be_hidden()

    page.fill("#notify-phone", NUMBER)
    page.locator("#notify-sms button[type=submit]").click()
    row = page.locator(".notify-contact[data-channel=sms]")
    expect(row).to_have_count(1)
    masked = row.locator(".notify-masked").inner_text()
    assert masked and NUMBER not in masked and "1234567" not in masked
    assert masked.endswith("67")
    added = words["notify.added"].replace("{what}", masked)
    expect(page.locator("#notify-message")).to_have_text(added)
    assert NUMBER not in page.content()
    fits(page)

    start, rows = reminders(live_server, token)
    assert set(rows) == {"reminder_day", "reminder_hour"}
    assert rows["reminder_day"].next_attempt_at == start - timedelta(hours=24)
    assert rows["reminder_hour"].next_attempt_at == start - timedelta(hours=1)
    assert {row.state for row in rows.values()} == {"pending"}
    assert {row.channel for row in rows.values()} == {"sms"}

    # Removed: nothing will be sent, and the page says so.
    row.locator(".notify-remove").click()
    expect(page.locator(".notify-contact")).to_have_count(0)
    expect(page.locator("#notify-message")).to_have_text(words["notify.removed"])
    # The answer came after the commit: the reminders are cancelled, not sent later.
    assert {r.state for r in reminders(live_server, token)[1].values()} == {"cancelled"}
    assert page.errors == []


def test_a_cancelled_booking_offers_no_reminders(new_page, live_server, center):
    configure(live_server, center, sms={"enabled": True, "url": DEAD_URL})
    token = book(live_server, center, "ru")["token"]
    page = open_appointment(new_page, live_server, token, "ru")
    expect(page.locator("#notify")).to_be_visible()
    page.click("#cancel")
    page.click("#cancel-yes")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#notify")).to_be_hidden()
    assert page.errors == []


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_reminders_block_fits_the_phone(new_page, live_server, center, lang):
    words = WORDS[lang]
    configure(live_server, center, sms={"enabled": True, "url": DEAD_URL})
    token = book(live_server, center, lang)["token"]
    page = open_appointment(new_page, live_server, token, lang)
    expect(page.locator("#notify-title")).to_have_text(words["remind.title"])
    page.fill("#notify-phone", NUMBER)
    page.locator("#notify-sms button[type=submit]").click()
    expect(page.locator(".notify-contact")).to_have_count(1)
    page.fill("#notify-phone", "12")  # plainly not a number: said at once
    page.locator("#notify-sms button[type=submit]").click()
    expect(page.locator("#notify-message")).to_have_text(words["notify.err.bad_phone"])
    fits(page)
    screenshot(page, f"booking_notify_{lang}", full_page=True)
    assert page.errors == []
