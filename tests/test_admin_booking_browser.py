"""The admin page's appointment settings in a real browser against a real server, at a
desk's size (1280x800): a manager makes a service bookable on the Booking tab and sets
the center's lunch break, closed day, weekday and hall capacity on the Hours tab; a
bad value is refused naming its field, and the page never grows wider than the screen
in any language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from . import factories
from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot
from .test_manage_browser import manager_username

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
DESK = (1280, 800)


def log_in(page, live_server, username: str, language: str) -> None:
    page.goto(f"{live_server.url}/manage/admin?lang={language}")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")


def admin_data(live_server, center) -> dict:
    response = live_server.api("GET", f"/centers/{center.code}/admin", center.manager_token)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_manager_sets_booking_and_the_calendar(live_server, live_center, new_page):
    page = new_page(*DESK)
    log_in(page, live_server, manager_username(live_center), "en")
    page.click("#tabs button[data-tab='booking']")
    row = page.locator(".booking-table tr[data-service='pension-recalc']")
    row.get_by_label("Bookable").check()
    row.get_by_label("Slot, min").fill("20")
    row.get_by_label("Bookings per slot").fill("2")
    row.get_by_label("After the grace").select_option("refuse")
    row.get_by_label("Join from home").check()
    row.get_by_label("From home a day, at most").fill("30")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    service = next(
        s for s in admin_data(live_server, live_center)["services"] if s["code"] == "pension-recalc"
    )
    assert (service["bookable"], service["slot_min"], service["bookings_per_slot"]) == (
        True,
        20,
        2,
    )
    assert (service["after_grace"], service["remote_joining"], service["remote_daily_cap"]) == (
        "refuse",
        True,
        30,
    )
    # A slot of 2 minutes: refused, the field named, in red; nothing changed.
    row = page.locator(".booking-table tr[data-service='pension-recalc']")
    row.get_by_label("Slot, min").fill("2")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_contain_text("Slot, min")
    expect(page.locator("#message")).to_have_class("message bad")

    page.click("#tabs button[data-tab='center']")
    form = page.locator("#calendar-form")
    form.locator("textarea[name=breaks]").fill("13:00-14:00")
    form.locator("input[name=weekday][value='6']").check()
    form.locator("textarea[name=days]").fill("2026-12-31, 2027-01-01")
    form.locator("input[name=hall]").fill("40")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    center = admin_data(live_server, live_center)["center"]
    assert center["breaks"] == [{"from": "13:00", "to": "14:00"}]
    assert center["closed_weekdays"] == [6] and center["hall_capacity"] == 40
    assert center["closed_days"] == ["2026-12-31", "2027-01-01"]
    # Shown again as saved; an overlapping second break is refused by name.
    form = page.locator("#calendar-form")
    expect(form.locator("textarea[name=breaks]")).to_have_value("13:00-14:00")
    expect(form.locator("input[name=weekday][value='6']")).to_be_checked()
    form.locator("textarea[name=breaks]").fill("13:00-14:00, 13:30-15:00")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_contain_text("breaks[1]")
    expect(page.locator("#message")).to_contain_text("overlaps breaks[0]")
    # No limit again: an empty capacity.
    form.locator("textarea[name=breaks]").fill("13:00-14:00")
    form.locator("input[name=hall]").fill("")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    assert admin_data(live_server, live_center)["center"]["hall_capacity"] is None


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_the_booking_tab_fits_a_desk_in_every_language(live_server, new_page, language):
    center = live_server.new_center()
    page = new_page(*DESK)
    log_in(page, live_server, manager_username(center), language)
    page.click("#tabs button[data-tab='booking']")
    expect(page.locator(".booking-table tbody tr")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK[0]
    # Every column in sight at a desk: the table does not hide its last ones behind a
    # sideways scroll (the save buttons and joining from home were off-screen).
    table, box = page.evaluate(
        "[document.querySelector('.booking-table').scrollWidth,"
        " document.querySelector('.table-scroll').clientWidth]"
    )
    assert table <= box, (table, box)
    assert_no_serious_violations(page, include="#panel", where=f"booking tab {language}")
    page.click("#tabs button[data-tab='center']")
    expect(page.locator("#calendar-form")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK[0]
    assert_no_serious_violations(page, include="#panel", where=f"calendar {language}")
    screenshot(page, f"admin-calendar-1280x800-{language}", full_page=True)


def test_a_manager_makes_a_reception_account_with_no_counters(live_server, live_center, new_page):
    page = new_page(*DESK)
    log_in(page, live_server, manager_username(live_center), "en")
    page.click("#tabs button[data-tab='staff']")
    form = page.locator("#add-staff")
    username = "door-" + live_center.code.removeprefix("live-")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill("long-enough-1")
    form.locator("select[name=role]").select_option("reception")
    form.get_by_role("button", name="Add").click()
    expect(page.locator("#message")).to_have_text("Saved")
    staff = {u["username"]: u for u in admin_data(live_server, live_center)["staff"]}
    assert staff[username]["role"] == "reception" and staff[username]["counters"] == []
