"""The phone page of a ticket not checked in yet, in a real browser on a phone: joined
from home, it asks the travel time (kept on the phone), says "leave now" once the
estimated wait is no longer than it, shows the QR to scan at the kiosk, and turns into
the ordinary page after check-in; an outside ticket (the hall was full) says "come in
now" once the wait is 10 minutes or less. In az, ru and en."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Center, Service

from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PHONE = (390, 844)


@pytest.fixture
def center(live_server):
    center = live_server.new_center()
    with live_server.db.write() as s:
        c = s.scalar(select(Center).where(Center.code == center.code))
        c.remote_joining = True
        for service in s.scalars(select(Service).where(Service.center_id == c.id)):
            service.remote_joining = True
    return center


def join(live_server, center, language: str) -> dict:
    response = live_server.api(
        "POST",
        f"/public/centers/{center.code}/remote-tickets",
        json={"service": "pension-new", "language": language},
    )
    assert response.status_code == 201, response.text
    return response.json()


def open_phone(new_page, live_server, token: str):
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/t/{token}")
    expect(page.locator("#number")).not_to_be_empty()
    return page


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_joined_from_home_leave_now_then_check_in(new_page, live_server, center, lang):
    words = WORDS[lang]
    live_server.set_counter_state(center, "1", "open")
    for _ in range(6):  # six visitors ahead at one counter: about half an hour
        live_server.issue(center, "pension-new")
    mine = join(live_server, center, lang)
    assert mine["estimated_wait_s"] >= 20 * 60, mine
    page = open_phone(new_page, live_server, mine["tracking_token"])

    expect(page.locator("#arrival")).to_be_visible()
    expect(page.locator("#arrival-title")).to_have_text(words["remote.title"])
    expect(page.locator("#hint")).to_have_text(words["remote.hint"])
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.set_travel"])
    wait_until(page, "document.getElementById('arrival-qr').naturalWidth > 0")
    # Ten minutes away: there is time; the page says about how long.
    page.fill("#travel", "10")
    expect(page.locator("#arrival-advice")).to_have_attribute("data-advice", "wait")
    wait_s = page.evaluate("Phone.state.ticket.estimated_wait_s")  # the page's, live
    minutes = math.floor(wait_s / 60 - 10 + 0.5)  # as JavaScript's Math.round
    assert str(minutes) in page.inner_text("#arrival-advice")
    # An hour away: leave now. The travel time stays on the phone.
    page.fill("#travel", "60")
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.leave_now"])
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"remote-leave-now-{lang}")
    assert_no_serious_violations(page, where=f"the phone page not checked in ({lang})")
    page.reload()
    expect(page.locator("#travel")).to_have_value("60")
    expect(page.locator("#arrival-advice")).to_have_attribute("data-advice", "now")

    # At the center: the kiosk scans the QR; the page becomes the ordinary one, live.
    response = live_server.api(
        "POST",
        f"/centers/{center.code}/check-in",
        center.kiosk_token,
        json={"code": mine["tracking_url"]},
    )
    assert response.status_code == 200, response.text
    expect(page.locator("#arrival")).to_be_hidden()
    expect(page.locator("#hint")).to_have_text(WORDS[lang]["phone.hint.waiting"])
    screenshot(page, f"remote-checked-in-{lang}")


def test_outside_ticket_is_asked_in_when_its_turn_is_near(new_page, live_server, center):
    """A walk-in the full hall sends outside (its wait is long) is told to wait outside;
    once the visitors ahead of it leave and its wait is 10 minutes or less, its phone
    says come in, titled so, though the hall is still full. (A walk-in whose wait is
    that short already is let in at once: an ordinary ticket.)"""
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
    live_server.set_counter_state(center, "1", "open")
    live_server.issue(center, "pension-new")  # the hall is full
    ahead = []
    for _ in range(8):
        ticket = live_server.issue(center, "pension-new", language="ru")
        if ticket["kind"] == "outside":
            break
        assert ticket["estimated_wait_s"] <= 600
        ahead.append(ticket)  # a short wait: let in at once
    assert ticket["kind"] == "outside" and ticket["estimated_wait_s"] > 600 and ahead
    page = open_phone(new_page, live_server, ticket["tracking_token"])
    words = WORDS["ru"]
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.wait_outside"])
    expect(page.locator("#arrival-title")).to_have_text(words["remote.outside_title"])
    for visitor in ahead:
        cancelled = live_server.api(
            "POST", f"/tickets/{visitor['id']}/cancel", center.staff_token, json={}
        )
        assert cancelled.status_code == 200
    page.reload()
    # Told to come in: not titled "wait outside" (tests/test_phone_appointment_browser.py).
    expect(page.locator("#arrival-advice")).to_have_text(words["remote.come_in"])
    expect(page.locator("#arrival-title")).to_have_text(words["remote.title"])
    expect(page.locator("#travel-row")).to_be_hidden()
    screenshot(page, "outside-come-in-ru")
