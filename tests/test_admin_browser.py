"""The admin page in a real browser against a real server: a manager logs in, changes a
service's target wait, is told why a bad prefix is refused, rotates a device token
(shown once) and finds the changes in the audit log; assigns a staff member's counters;
and reads long names whole at a desk's size, with the log's times in the center's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from . import factories
from .browser_helpers import screenshot
from .test_manage_browser import (
    BROWSER_ZONE,
    CENTER_ZONE,
    big_center,
    clipped,
    manager_username,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def log_in(page, live_server, username: str, language: str = "en") -> None:
    page.goto(f"{live_server.url}/manage/admin?lang={language}")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-form button[type=submit]")


def test_manager_changes_a_service_rotates_a_token_and_reads_the_log(
    live_server, live_center, new_page
):
    manager = "manager-" + live_center.code.split("-", 1)[1]
    page = new_page(1400, 900)
    page.goto(f"{live_server.url}/manage/admin?lang=en")
    page.fill("#username", manager)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-form button[type=submit]")

    row = page.locator("tr[data-service='pension-new']")
    expect(row).to_be_visible()
    row.get_by_label("Target wait (min)").fill("25")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    services = live_server.api(
        "GET", f"/centers/{live_center.code}/services", live_center.manager_token
    )
    by_code = {s["code"]: s for c in services.json()["categories"] for s in c["services"]}
    assert by_code["pension-new"]["target_wait_min"] == 25

    # A prefix another service uses: refused, the field named, nothing changed.
    row = page.locator("tr[data-service='pension-new']")
    row.get_by_label("Prefix").fill("B")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_contain_text("Prefix")
    expect(page.locator("#message")).to_have_class("message bad")

    # Staff accounts: a manager is offered no admin role (staff, manager, reception).
    page.click("#tabs button[data-tab='staff']")
    options = page.locator("#add-staff select[name=role] option")
    expect(options).to_have_count(3)

    # A new display token, shown once, works at once.
    page.click("#tabs button[data-tab='devices']")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-device='hall']").get_by_role("button", name="New token").click()
    expect(page.locator("#secret-value")).to_contain_text("dv_")
    token = page.locator("#secret-value").inner_text()
    assert live_server.api("GET", f"/centers/{live_center.code}/queue", token).status_code == 200
    assert (
        live_server.api(
            "GET", f"/centers/{live_center.code}/queue", live_center.display_token
        ).status_code
        == 401
    )

    page.click("#tabs button[data-tab='audit']")
    rows = page.locator("#audit-rows tr")
    expect(rows.nth(0)).to_contain_text("new token")  # newest first
    expect(page.locator("#audit-rows")).to_contain_text("import-center")  # the center file
    page.fill("#audit-form input[name=user]", manager)
    page.click("#audit-form button[type=submit]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("new token")
    expect(rows.nth(1)).to_contain_text("pension-new")
    expect(rows.nth(1)).to_contain_text(manager)
    page.select_option("#audit-form select[name=type]", "device")
    page.click("#audit-form button[type=submit]")
    expect(rows).to_have_count(1)


def test_a_manager_narrows_the_counters_a_staff_member_works_at(live_server, live_center, new_page):
    page = new_page(1440, 900)
    log_in(page, live_server, manager_username(live_center))
    page.click("#tabs button[data-tab='staff']")
    row = page.locator(f"tr[data-user='{live_center.staff_username}']")
    counters = row.get_by_label("Counters")
    expect(counters).to_have_value("1, 2, 3")  # every counter, as a new account gets
    counters.fill("3, 1")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    expect(
        page.locator(f"tr[data-user='{live_center.staff_username}']").get_by_label("Counters")
    ).to_have_value("1, 3")
    listed = live_server.api(
        "GET", f"/centers/{live_center.code}/counters", live_center.staff_token
    )
    assert [c["label"] for c in listed.json()["counters"]] == ["1", "3"]

    # A label the center does not have: refused, the field named.
    row = page.locator(f"tr[data-user='{live_center.staff_username}']")
    row.get_by_label("Counters").fill("1, 9")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_contain_text("Counters")
    expect(page.locator("#message")).to_have_class("message bad")


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_long_names_are_read_whole_and_the_log_is_in_the_centers_time(
    live_server, new_page, language
):
    center = big_center(live_server)
    page = new_page(1440, 900, timezone_id=BROWSER_ZONE)
    log_in(page, live_server, manager_username(center), language)
    row = page.locator("tr[data-service='service-7']")
    expect(row).to_be_visible()
    names = row.locator("textarea")
    expect(names).to_have_count(3)
    for area in names.all():
        box = area.bounding_box()
        assert box["width"] >= 500, box  # a line holds dozens of characters
        whole = area.evaluate(
            "a => a.scrollHeight <= a.clientHeight + 1 && a.scrollWidth <= a.clientWidth + 1"
        )
        assert whole, "the name does not show whole"
        assert len(area.input_value()) == 150
    assert clipped(page, "#panel .card") == []  # no table wider than its card
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    screenshot(page, f"admin-test-{language}")

    # The change log: times of the center's day, whatever the browser's zone.
    page.click("#tabs button[data-tab='audit']")
    expect(page.locator("#audit-zone")).to_contain_text(CENTER_ZONE)
    first = page.locator("#audit-rows tr").first
    expect(first).to_contain_text("import-center")
    entries = live_server.api("GET", f"/centers/{center.code}/audit", center.manager_token).json()
    at = datetime.fromisoformat(entries["entries"][0]["at"])
    in_center = at.astimezone(ZoneInfo(CENTER_ZONE))
    in_browser = at.astimezone(ZoneInfo(BROWSER_ZONE))
    when = first.locator("td.when").inner_text()
    assert in_center.strftime("%M:%S") in when
    if language == "ru":  # 24-hour clock: the hour says which zone
        assert in_center.strftime("%H:%M:%S") in when, when
        assert in_browser.strftime("%H:%M:%S") not in when, when
