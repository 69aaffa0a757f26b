"""Why was a visitor called out of order? On the managers' dashboard, in a real browser
against a real server: open "Out-of-order calls", click the ticket, read the reason.
Also the "Find a ticket" box, the words in Russian, and that nothing the server sends
is ever read as HTML."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_helpers import screenshot
from .test_manage_browser import log_in, manager_username

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def call_out_of_order(live_server, center, ticket: dict, reason: str, label: str = "1") -> None:
    response = live_server.api(
        "POST",
        f"/counters/{center.counters[label]}/call",
        center.staff_token,
        json={"ticket": ticket["id"], "reason": reason},
    )
    assert response.status_code == 200, response.text


def test_two_clicks_from_the_dashboard_to_the_reason_of_an_out_of_order_call(
    live_server, live_center, new_page
):
    first = live_server.issue(live_center, "pension-new")
    second = live_server.issue(live_center, "pension-new")
    call_out_of_order(live_server, live_center, second, "accessibility")

    page = new_page(1280, 800)
    log_in(page, live_server, manager_username(live_center))
    expect(page.locator("#center-view")).to_be_visible()
    expect(page.locator("#k-waiting")).to_have_text("1")  # the figures are in

    page.click("#ooo-details summary")  # 1
    row = page.locator(f'#ooo-rows tr[data-number="{second["number"]}"]')
    expect(row).to_be_visible()
    expect(row.locator(".reason")).to_have_text("Accessibility needs")
    expect(row.locator('[data-figure="passed"]')).to_have_text("1")  # the first visitor
    expect(page.locator("#ooo-rows tr")).to_have_count(1)

    row.locator("button.ticket-link").click()  # 2
    dialog = page.locator("#history-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#history-title")).to_have_text(f"Ticket {second['number']}")
    call = page.locator('#history-rows tr[data-action="call_out_of_order"]')
    expect(call).to_have_count(1)
    expect(call.locator(".reason")).to_have_text("Accessibility needs")
    expect(call.locator(".by")).to_have_text(live_center.staff_username)
    expect(call).to_contain_text("Called out of order")
    issued = page.locator('#history-rows tr[data-action="issue"]')
    expect(issued.locator(".by")).to_have_text("kiosk-1")
    expect(issued.locator(".reason")).not_to_contain_text("null")
    # The whole dialog is on the screen at a desk's size.
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800
    screenshot(page, "manage-history-dialog-en")
    page.click("#history-close")
    expect(dialog).to_be_hidden()

    # Find a ticket: the first one, still waiting, has only its issue (and printing).
    page.fill("#find-number", first["number"].lower())
    page.click("#find-open")
    expect(dialog).to_be_visible()
    expect(page.locator("#history-title")).to_have_text(f"Ticket {first['number']}")
    expect(page.locator('#history-rows tr[data-action="issue"]')).to_have_count(1)
    expect(page.locator('#history-rows tr[data-action^="call"]')).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # A number nobody was given, and one that is no ticket number: said in words.
    page.fill("#find-number", "Z999")
    page.click("#find-open")
    expect(page.locator("#find-error")).to_contain_text("No ticket Z999")
    page.fill("#find-number", "12<b>")
    page.click("#find-open")
    expect(page.locator("#find-error")).to_have_text("Write a ticket number such as A012.")
    expect(dialog).to_be_hidden()

    # The admin page's staff table: each member's out-of-order calls of the last 30 days.
    page.goto(f"{live_server.url}/manage/admin?lang=en")
    page.click('button[data-tab="staff"]')
    clerk = page.locator(f'tr[data-user="{live_center.staff_username}"]')
    expect(clerk.locator('[data-figure="out_of_order"]')).to_have_text("1 of 1 (100%)")
    manager = page.locator(f'tr[data-user="{manager_username(live_center)}"]')
    expect(manager.locator('[data-figure="out_of_order"]')).to_have_text("–")


def test_the_section_speaks_russian_and_shows_names_as_text(live_server, new_page):
    center = live_server.new_center(
        categories=[
            {
                "code": "all",
                "name": {"az": "Hamısı", "ru": "Все", "en": "All"},
                "services": [
                    {
                        "code": "long",
                        "prefix": "L",
                        "target_wait_min": 15,
                        "name": {
                            "az": "<img src=x onerror=alert(1)> " + "uzun ad " * 15,
                            "ru": "<b>Перерасчёт</b> " + "очень длинное название " * 6,
                            "en": "<b>Long</b> " + "a very long name " * 8,
                        },
                    }
                ],
            }
        ],
        counters=[{"label": "1", "services": ["long"]}],
    )
    live_server.issue(center, "long")
    ticket = live_server.issue(center, "long")
    call_out_of_order(live_server, center, ticket, "supervisor_request")

    page = new_page(1280, 800)
    log_in(page, live_server, manager_username(center))
    expect(page.locator("#center-view")).to_be_visible()
    page.click('#langs button[data-lang="ru"]')
    expect(page.locator("#ooo-details summary h2")).to_have_text("Вызовы вне очереди")
    page.click("#ooo-details summary")
    row = page.locator(f'#ooo-rows tr[data-number="{ticket["number"]}"]')
    expect(row.locator(".reason")).to_have_text("По указанию руководителя")
    expect(row.locator(".name")).to_contain_text("<b>Перерасчёт</b>")  # as text
    assert page.locator("#ooo-rows b, #ooo-rows img").count() == 0
    # Long names wrap inside the card: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # Found and scrolled in one step in the page: the dashboard may redraw the list (a
    # live update) between Playwright finding the row and scrolling to it.
    row.evaluate("row => row.scrollIntoView({block: 'center'})")
    screenshot(page, "manage-out-of-order-ru")
    row.locator("button.ticket-link").click()
    expect(page.locator("#history-title")).to_have_text(f"Талон {ticket['number']}")
    expect(page.locator('#history-rows tr[data-action="call_out_of_order"] .reason')).to_have_text(
        "По указанию руководителя"
    )
    expect(page.locator("#history-summary")).to_contain_text("<b>Перерасчёт</b>")
    screenshot(page, "manage-history-dialog-ru")
