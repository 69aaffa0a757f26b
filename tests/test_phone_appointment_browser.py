"""The phone page in a real browser on a phone whose clock is in another time zone
(New York, 12-hour): a checked-in appointment says when its slot is and that it is
called from then; an outside ticket passed over says until when its place is kept; both
times as the center's clocks show them, whatever the phone's zone. An outside ticket
told to come in is not titled "wait outside". In az, ru and en."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Appointment, Center, Ticket, utcnow

from .arrival_helpers import book
from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PHONE = (390, 844)
BAKU = ZoneInfo("Asia/Baku")


@pytest.fixture
def center(live_server):
    return live_server.new_center()


def open_phone(new_page, live_server, token: str):
    page = new_page(
        *PHONE,
        has_touch=True,
        is_mobile=True,
        timezone_id="America/New_York",  # eight or nine hours behind Baku
        locale="en-US",  # 12-hour: "10:30 PM"
    )
    page.goto(f"{live_server.url}/t/{token}")
    expect(page.locator("#number")).not_to_be_empty()
    return page


def baku_time(value) -> str:
    return value.astimezone(BAKU).strftime("%H:%M")


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_a_checked_in_appointment_says_when_it_will_be_called(new_page, live_server, center, lang):
    with live_server.db.write() as s:
        center_id = s.scalar(select(Center.id).where(Center.code == center.code))
        start = book(s, center_id, utcnow() + timedelta(minutes=25), code="PHNAP2").start
    body = live_server.api(
        "POST",
        f"/centers/{center.code}/check-in",
        center.kiosk_token,
        json={"code": "PHNAP2", "language": lang},
    ).json()
    assert body["kind"] == "appointment", body
    page = open_phone(new_page, live_server, body["tracking_token"])
    expect(page.locator("html")).to_have_attribute("lang", lang)
    note = WORDS[lang]["checkin.appointment_note"].replace("{time}", baku_time(start))
    expect(page.locator("#appointment")).to_have_text(note)
    screenshot(page, f"phone-appointment-{lang}")
    # A walk-in has no such line.
    walk_in = live_server.issue(center, "pension-new", language=lang)
    page = open_phone(new_page, live_server, walk_in["tracking_token"])
    expect(page.locator("#appointment")).to_be_hidden()


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_an_outside_ticket_told_to_come_in_is_not_titled_wait_outside(
    new_page, live_server, center, lang
):
    words = WORDS[lang]
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
    live_server.issue(center, "pension-new")  # the hall is full
    for _ in range(4):
        live_server.issue(center, "pension-new")  # four outside ahead of it
    outside = live_server.issue(center, "pension-new", language=lang)
    assert outside["kind"] == "outside"
    page = open_phone(new_page, live_server, outside["tracking_token"])
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.wait_outside"])
    expect(page.locator("#arrival-title")).to_have_text(words["remote.outside_title"])
    # Room in the hall: "come in now", under a title that does not say to wait outside.
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 100
    page.reload()
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.come_in"])
    expect(page.locator("#arrival-title")).to_have_text(words["remote.title"])
    screenshot(page, f"phone-outside-come-in-{lang}")


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_a_passed_over_ticket_keeps_its_place_until_the_centers_time(
    new_page, live_server, center, lang
):
    words = WORDS[lang]
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
    live_server.issue(center, "pension-new")  # the hall is full
    for _ in range(4):
        live_server.issue(center, "pension-new")
    outside = live_server.issue(center, "pension-new", language=lang)
    with live_server.db.write() as s:  # the line reached it while it was outside
        ticket = s.scalar(select(Ticket).where(Ticket.tracking_token == outside["tracking_token"]))
        ticket.passed_at = utcnow() - timedelta(minutes=1)
        hold = ticket.passed_at + timedelta(minutes=ticket.service.center.absent_hold_min)
    page = open_phone(new_page, live_server, outside["tracking_token"])
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.come_in"])
    expect(page.locator("#arrival-title")).to_have_text(words["remote.title"])
    expect(page.locator("#arrival-passed")).to_have_text(
        words["remote.passed"].replace("{time}", baku_time(hold))
    )
    screenshot(page, f"phone-passed-{lang}")


def test_no_appointment_line_once_the_slot_has_begun(new_page, live_server, center):
    with live_server.db.write() as s:
        center_id = s.scalar(select(Center.id).where(Center.code == center.code))
        book(s, center_id, utcnow() - timedelta(minutes=2), code="PHNAP3")
    body = live_server.api(
        "POST", f"/centers/{center.code}/check-in", center.kiosk_token, json={"code": "PHNAP3"}
    ).json()
    assert body["kind"] == "appointment", body
    page = open_phone(new_page, live_server, body["tracking_token"])
    expect(page.locator("#hint")).not_to_be_empty()
    expect(page.locator("#appointment")).to_be_hidden()
    with live_server.db.read() as s:
        assert s.scalar(select(Appointment.state).where(Appointment.code == "PHNAP3")) == (
            "checked_in"
        )
