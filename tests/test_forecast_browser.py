"""The managers' dashboard's forecast (issue 17) in a real browser against a real server
whose forecaster runs every two seconds: a surge raises a warning that reaches the page
live, its suggestion is applied with one click; what if and the policy check on a
recorded day; and none of it widens the page at a desk's or a wall screen's size."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server import queue
from server.auth import staff_actor
from server.models import Center, StaffUser

from . import factories
from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot
from .test_forecast_api import record_yesterday_arrivals
from .test_manage_browser import big_center, clipped, manager_username

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
ZONE = ZoneInfo("Asia/Baku")  # tests/factories.py's centers


@pytest.fixture(scope="module")
def forecast_server(tmp_path_factory):
    """A server of its own: the forecaster every 2 s (60 s in production), 20 runs."""
    from .live import start_live_server

    server = start_live_server(
        tmp_path_factory.mktemp("forecast"),
        env={"NOVBE_FORECAST_INTERVAL_S": "2", "NOVBE_FORECAST_RUNS": "20"},
    )
    yield server
    server.stop()


def log_in(page, server, center, language: str = "en") -> None:
    page.goto(f"{server.url}/manage?lang={language}")
    page.fill("#username", manager_username(center))
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#center-view")).to_be_visible()
    page.click(f'#langs button[data-lang="{language}"]')


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Nothing scrolls sideways, not even the wide tables in their own boxes.
    assert (
        clipped(page, "#center-view .card, #center-view .tile, #center-view .whatif-scroll") == []
    )


def test_a_surge_warns_live_and_apply_opens_the_suggested_counter(forecast_server, new_page):
    server = forecast_server
    center = server.new_center()
    page = new_page(1366, 768)
    log_in(page, server, center)
    expect(page.locator("#forecast-empty")).to_be_visible()  # an empty hall: nothing ahead
    expect(page.locator("#accuracy-tile")).to_contain_text("No warnings scored yet")

    # Counter 1 alone, five new pensions waiting (5 min each, target 15 min); counter 2
    # (closed) serves new pensions too. Yesterday's visitors at this hour: more are
    # expected (a warning is about the visitors arriving in its window).
    record_yesterday_arrivals(server.db, center.code)
    server.set_counter_state(center, "1", "open")
    for _ in range(5):
        server.issue(center, "pension-new")

    warning = page.locator('#forecast-warning-list li[data-service="pension-new"]')
    expect(warning).to_be_visible(timeout=30_000)  # the forecaster's live alert
    expect(warning).to_contain_text("New pension: visitors arriving by")
    expect(warning).to_contain_text("may wait longer than 15 min")
    expect(warning).to_contain_text("Open counter 2: it serves it. Forecast:")
    # The card follows within the server's forecast cache (15 s): at risk first.
    row = page.locator('#forecast-rows tr[data-service="pension-new"]')
    expect(row).to_have_attribute("data-risk", "yes", timeout=30_000)
    first = page.locator("#forecast-rows tr").first
    expect(first).to_have_attribute("data-risk", "yes")
    expect(row.locator('[data-figure="wait_30"]')).to_contain_text("min")
    expect(page.locator("#alerts")).to_be_visible()
    screenshot(page, "forecast-warning-en")
    assert_no_serious_violations(page, include="#center-view", where="a forecast warning")

    warning.locator("button.apply").click()
    expect(page.locator("#forecast-notice")).to_contain_text("Done: Open counter 2")
    counter = page.locator('#counter-rows tr[data-counter="2"]')
    expect(counter).to_have_attribute("data-state", "open")
    # Applied: the warning says so (while open) or is gone (cleared), never offers Apply again.
    expect(warning.locator("button.apply")).to_have_count(0)
    opened = server.api("GET", f"/centers/{center.code}/admin", center.manager_token).json()
    assert next(c for c in opened["counters"] if c["label"] == "2")["state"] == "open"
    no_sideways_scroll(page, 1366)


def record_yesterday(server, center) -> str:
    """Yesterday at 10:00: twelve new pensions, two of them priority, served one after
    another at counter 1 in 6 minutes each. Returns the day."""
    day = (datetime.now(ZONE) - timedelta(days=1)).date()
    start = datetime.combine(day, time(10, 0), ZONE)
    with server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        kiosk = factories.kiosk_actor(s, row)
        staff = staff_actor(
            s.scalar(select(StaffUser).where(StaffUser.username == center.staff_username))
        )
        counter = center.counters["1"]
        queue.set_counter_state(s, counter, "open", staff, now=start)
        for i in range(12):
            priority = "elderly" if i in (5, 9) else None
            when = start + timedelta(minutes=2 * i)
            queue.issue_ticket(s, center.code, "pension-new", "az", priority, kiosk, now=when)
        at = start + timedelta(minutes=1)
        for _ in range(12):
            ticket = queue.call_next(s, counter, staff, start=True, now=at)
            at += timedelta(minutes=6)
            queue.complete(s, ticket.id, staff, now=at)
        queue.set_counter_state(s, counter, "closed", staff, now=at)
    return day.isoformat()


def test_what_if_and_the_policy_check_on_a_recorded_day(forecast_server, new_page):
    server = forecast_server
    center = server.new_center()
    day = record_yesterday(server, center)
    page = new_page(1366, 768)
    log_in(page, server, center)

    # What if counter 2 had been open too, serving new pensions first?
    page.click("#whatif-details > summary")
    expect(page.locator("#whatif-day")).to_have_value(day)  # yesterday by default
    row = page.locator('#whatif-counter-rows tr[data-counter="2"]')
    row.locator('input[type="checkbox"]').check()
    row.locator("input.codes").fill("A")  # a service's letter does too
    expect(row).to_have_class("changed")
    expect(row.locator(".names")).to_have_text("A")
    page.click("#whatif-run")
    result = page.locator('#whatif-rows tr[data-service="pension-new"]')
    expect(result).to_be_visible(timeout=60_000)
    expect(page.locator("#whatif-spinner")).to_be_hidden()
    expect(page.locator("#whatif-summary")).to_contain_text(f"the recorded {day}: 12 visitors")
    # Two counters instead of one: the 90% wait is lower, said in words and colour.
    changed = result.locator('[data-figure="changed_p90_wait_s"]')
    expect(changed).to_have_attribute("data-verdict", "better")
    expect(changed).to_contain_text("better")
    expect(page.locator("#whatif-head")).to_contain_text("Real")  # the recorded figures

    # A bad ratio is refused in the page, naming the field.
    page.fill("#whatif-ratio", "0")
    page.click("#whatif-run")
    expect(page.locator("#whatif-error")).to_contain_text("Others per priority visitor")
    # The server's refusal is shown with the field it names.
    page.fill("#whatif-ratio", "")
    page.fill("#whatif-day", (datetime.now(ZONE) + timedelta(days=2)).date().isoformat())
    page.click("#whatif-run")
    expect(page.locator("#whatif-error")).to_contain_text("Field day:")
    expect(page.locator("#whatif-error")).to_contain_text("in the future")

    # The policy check: strict priority against first come, first served.
    page.fill("#policy-day", day)
    page.click("#policy-show")
    policy = page.locator('#policy-rows tr[data-service="pension-new"]')
    expect(policy).to_be_visible(timeout=60_000)
    expect(page.locator("#policy-head")).to_contain_text("First come, first served")
    expect(page.locator("#policy-summary")).to_contain_text(
        "Priority first against first come, first served: priority visitors wait"
    )
    screenshot(page, "whatif-en", full_page=True)
    assert_no_serious_violations(page, include="#center-view", where="what if and policy check")
    no_sideways_scroll(page, 1366)


@pytest.mark.parametrize(("language", "width", "height"), [("ru", 1366, 768), ("az", 1920, 1080)])
def test_forty_services_with_long_names_fit(forecast_server, new_page, language, width, height):
    server = forecast_server
    center = big_center(server, 40)
    for n in range(0, 40, 4):  # something happening in ten services
        server.issue(center, f"service-{n}")
    page = new_page(width, height)
    log_in(page, server, center, language)
    expect(page.locator("#forecast-rows tr")).to_have_count(10, timeout=30_000)
    title = {"az": "Növbəti saat", "ru": "Ближайший час"}[language]
    expect(page.locator('h2[data-i18n="forecast.title"]')).to_have_text(title)
    today = datetime.now(ZONE).date().isoformat()
    page.click("#whatif-details > summary")
    expect(page.locator("#whatif-counter-rows tr")).to_have_count(4)
    page.fill("#whatif-day", today)
    page.locator('#whatif-counter-rows tr[data-counter="4"] input[type="checkbox"]').check()
    page.click("#whatif-run")
    expect(page.locator("#whatif-rows tr").first).to_be_visible(timeout=60_000)
    page.fill("#policy-day", today)
    page.click("#policy-show")
    expect(page.locator("#policy-result")).to_be_visible(timeout=60_000)
    screenshot(page, f"forecast-40-{language}", full_page=True)
    no_sideways_scroll(page, width)
