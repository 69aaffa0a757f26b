"""Booked visits and the hall on the staff's and the public's screens, in a real browser
against a real server: the dashboard's appointments section and hall tile (live), the
counter's list of today's appointments, and the public page's ordering rules, hall
occupancy and booking link, at their real sizes in az, ru and en with long names.

Bookings and their tickets are written to the server's database as booking and check-in
make them (tests/test_appointments_listing.py's helpers); a ticket issued through the API
then makes the server announce a change, as a check-in would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Center, Service, utcnow

from .browser_helpers import screenshot
from .test_appointments_listing import book, check_in
from .test_counter_browser import log_in as counter_log_in
from .test_manage_browser import LONG_WORDS, clipped, log_in, manager_username
from .test_public_fairness_browser import SPILLS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def bookable_center(live_server, *, capacity: int | None = None, long: bool = False):
    """A center whose pension-new is bookable, with a hall of ``capacity``."""
    center = live_server.new_center()
    with live_server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        row.hall_capacity = capacity
        service = next(x for x in row.services if x.code == "pension-new")
        service.bookable = True
        if long:
            service.name = dict(LONG_WORDS)
    return center


def day_of_bookings(live_server, center) -> dict[str, str]:
    """Four bookings around now: one checked in 20 min early (waiting, callable), one booked,
    one no-show, one cancelled. Returns code -> stage."""
    now = utcnow().replace(second=0, microsecond=0)
    with live_server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        service = s.scalar(
            select(Service).where(Service.center_id == row.id, Service.code == "pension-new")
        )
        # Callable at once: its slot starts in a minute (within the lead).
        here = book(s, row, service, "ACE234", now + timedelta(minutes=1))
        check_in(s, row, here, now - timedelta(minutes=19))
        book(s, row, service, "CEF345", now + timedelta(minutes=40))
        book(s, row, service, "EFH456", now - timedelta(minutes=30), state="no_show")
        book(s, row, service, "FHK567", now + timedelta(minutes=40), state="cancelled")
    return {"ACE234": "checked_in", "CEF345": "booked", "EFH456": "no_show"}


# --- the dashboard -----------------------------------------------------------------------


def test_the_dashboard_shows_todays_bookings_and_the_hall_live(live_server, new_page):
    center = bookable_center(live_server, capacity=3, long=True)
    page = new_page(1280, 800)
    log_in(page, live_server, manager_username(center))
    expect(page.locator("#center-view")).to_be_visible()
    expect(page.locator("#appointments")).to_be_hidden()  # no bookings yet
    expect(page.locator("#k-hall")).to_have_text("0 / 3")

    stages = day_of_bookings(live_server, center)
    live_server.issue(center, "job-seeker")  # the server announces a change
    expect(page.locator("#appointments")).to_be_visible()
    expect(page.locator("#k-hall")).to_have_text("2 / 3")  # the checked-in one and the walk-in
    expect(page.locator("#a-booked")).to_have_text("3")  # not the cancelled one
    expect(page.locator("#a-checked-in")).to_have_text("1")
    expect(page.locator("#a-no-shows")).to_have_text("1")
    expect(page.locator("#a-no-show-rate")).to_have_text("50%")

    live_server.issue(center, "job-seeker")
    expect(page.locator("#k-hall")).to_have_text("3 / 3")
    expect(page.locator("#hall-tile")).to_have_class("tile full")

    page.click("#appt-details summary")
    rows = page.locator("#appt-rows tr")
    expect(rows).to_have_count(4)
    for code, stage in stages.items():
        expect(page.locator(f'#appt-rows tr[data-code="{code}"]')).to_have_attribute(
            "data-stage", stage
        )
    early = page.locator('#appt-rows tr[data-code="ACE234"]')
    expect(early).to_contain_text("A001")
    expect(early.locator('[data-figure="punctuality"]')).to_have_text("20 min early")

    # The list follows the queue: the booked visitor is called.
    live_server.call_next(center, "1")
    expect(early).to_have_attribute("data-stage", "called")

    for language, word in (("ru", "Вызван"), ("az", "Çağırılıb")):
        page.click(f'#langs button[data-lang="{language}"]')
        expect(early.locator(".stage")).to_have_text(word)
        assert clipped(page, "#appointments, #appointments *") == []
        screenshot(page, f"appointments-dashboard-{language}", full_page=True)


def test_the_report_shows_bookings_and_their_punctuality(live_server, new_page):
    center = bookable_center(live_server)
    day_of_bookings(live_server, center)
    page = new_page(1280, 800)
    log_in(page, live_server, manager_username(center))
    expect(page.locator("#report-from")).not_to_have_value("")  # today, once the figures came
    page.click("#report-show")
    expect(page.locator("#report-appointments")).to_be_visible()
    row = page.locator('#report-appt-rows tr[data-service="pension-new"]')
    expect(row.locator('[data-figure="booked"]')).to_have_text("3")
    expect(row.locator('[data-figure="no_show_rate"]')).to_have_text("50%")
    bucket = page.locator('#report-punctuality-rows tr[data-bucket="early_10_30"]')
    expect(bucket).to_contain_text("10–30 min early")
    expect(bucket).to_contain_text("100%")
    page.click('#langs button[data-lang="az"]')
    expect(bucket).to_contain_text("10–30 dəq. tez")
    assert clipped(page, "#report-appointments, #report-appointments *") == []
    screenshot(page, "appointments-report-az", full_page=True)


# --- the counter ---------------------------------------------------------------------------


def test_the_counter_lists_todays_bookings_of_its_services(live_server, new_page):
    center = bookable_center(live_server)
    day_of_bookings(live_server, center)
    with live_server.db.write() as s:  # a booking for a service counter 1 does not serve
        row = s.scalar(select(Center).where(Center.code == center.code))
        other = next(x for x in row.services if x.code == "job-seeker")
        book(s, row, other, "HKL679", utcnow() + timedelta(minutes=30))
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/counter?lang=en")
    counter_log_in(page, center)
    page.click(f'.counter-choice[data-counter="{center.counters["1"]}"]')
    expect(page.locator("#counter-title")).to_have_text("Counter 1")
    # Closed, it says how many are still expected; open, it lists them.
    expect(page.locator("#appts-count")).to_have_text("expected: 2")
    expect(page.locator("#appts-list")).to_be_hidden()
    page.click("#appts summary")
    items = page.locator("#appts-list li")
    expect(items).to_have_count(3)  # not the cancelled one, nor job-seeker's
    expect(page.locator('#appts-list li[data-code="HKL679"]')).to_have_count(0)
    here = page.locator('#appts-list li[data-code="ACE234"]')
    expect(here).to_contain_text("A001")
    expect(here).to_contain_text("20 min early")
    expect(here.locator(".stage")).to_have_text("Checked in")

    # Calling the booked visitor moves the list (after the queue's change).
    page.keyboard.press("n")
    expect(here).to_have_attribute("data-stage", "called", timeout=10_000)
    expect(page.locator("#appts-count")).to_have_text("expected: 1")
    page.click('#langs button[data-lang="ru"]')
    expect(here.locator(".stage")).to_have_text("Вызван")
    expect(page.locator("#appts-count")).to_have_text("ожидаются: 1")
    assert page.evaluate(SPILLS) == []
    screenshot(page, "appointments-counter-ru", full_page=True)


# --- the public page -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_the_public_page_states_the_rules_the_hall_and_the_booking_link(
    live_server, new_page, language
):
    center = bookable_center(live_server, capacity=2, long=True)
    page = new_page(390, 844)
    page.goto(f"{live_server.url}/public/{center.code}?lang={language}")
    expect(page.locator("#rules")).to_be_visible()
    rules = page.locator("#rules-list li")
    # Order, priority, the booking's four sentences, then the absent tickets' (a capacity).
    expect(rules).to_have_count(8)
    expect(page.locator("#hall-present")).to_have_text("0")
    expect(page.locator("#hall-capacity")).to_have_text("2")
    link = page.locator("#booking-link")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"/book/{center.code}?lang={language}")

    live_server.issue(center, "job-seeker")
    live_server.issue(center, "job-seeker")
    expect(page.locator("#hall-present")).to_have_text("2")
    expect(page.locator("#hall")).to_have_class("public-hall full")
    assert page.evaluate(SPILLS) == []
    text = page.locator("#app").inner_text()
    assert "A00" not in text and "C00" not in text  # no ticket numbers
    screenshot(page, f"appointments-public-{language}", full_page=True)


def test_a_center_without_bookings_or_capacity_shows_neither(live_server, new_page):
    center = live_server.new_center()
    page = new_page(390, 844)
    page.goto(f"{live_server.url}/public/{center.code}?lang=en")
    expect(page.locator("#rules")).to_be_visible()
    expect(page.locator("#rules-list li")).to_have_count(2)
    expect(page.locator("#rules-list li").first).to_contain_text("target wait")
    expect(page.locator("#hall")).to_be_hidden()
    expect(page.locator("#booking")).to_be_hidden()
