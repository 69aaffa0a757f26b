"""The admin page in a real browser against a real server: a manager logs in, changes a
service's target wait, is told why a bad prefix is refused, rotates a device token
(shown once) and finds the changes in the audit log."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from . import factories

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


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
    expect(page.locator("#message")).to_contain_text("prefix")
    expect(page.locator("#message")).to_have_class("message bad")

    # Staff accounts: a manager is offered no admin role.
    page.click("#tabs button[data-tab='staff']")
    options = page.locator("#add-staff select[name=role] option")
    expect(options).to_have_count(2)

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
