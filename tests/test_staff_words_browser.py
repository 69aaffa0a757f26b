"""Staff and public screens say things in words in az, ru and en (issue 15, a tester on
a real demo): the reception's refusal of a priority class with a ticket's QR, the
dashboard's ticket history (its details' names and a priority class by its name) and
its full hall, the admin page's refusals (the field by its label, a range in words),
the Booking tab's "after the grace" at 1366 px and the reception's priority classes on
the first screen at 1024x768, and the public page's rules when services differ after
the grace."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Center, Service

from . import factories
from .browser_helpers import screenshot
from .test_manage_browser import manager_username
from .test_reception_browser import TABLET, reception_user

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parent.parent
MANAGE = catalog(ROOT / "manage" / "translations")
DISPLAY = catalog(ROOT / "display" / "translations")
LANGUAGES = ["az", "ru", "en"]


def log_in(page, live_server, path: str, username: str, language: str) -> None:
    page.goto(f"{live_server.url}{path}?lang={language}")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")


def with_center(live_server, center, change) -> None:
    with live_server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        change(s, row)


@pytest.mark.parametrize("language", LANGUAGES)
def test_reception_refuses_a_priority_with_a_tickets_qr_in_words(live_server, new_page, language):
    center = live_server.new_center()

    def joinable(s, c):
        c.remote_joining = True
        for service in s.scalars(select(Service).where(Service.center_id == c.id)):
            service.remote_joining = True

    with_center(live_server, center, joinable)
    joined = live_server.api(
        "POST",
        f"/public/centers/{center.code}/remote-tickets",
        json={"service": "pension-new", "language": language},
    )
    assert joined.status_code == 201, joined.text
    page = new_page(*TABLET)
    log_in(page, live_server, "/reception", reception_user(live_server, center), language)
    chips = page.locator("#priority-choices button")
    expect(chips.last).to_be_visible()
    # Every priority class is on the first screen, beside the services.
    box = chips.last.bounding_box()
    assert box and box["y"] + box["height"] <= TABLET[1], box
    chips.nth(1).click()
    page.fill("#checkin-code", joined.json()["tracking_url"])
    page.click("#checkin-submit")
    expect(page.locator("#result")).to_have_class("card result bad")
    expect(page.locator("#result-title")).to_have_text(
        MANAGE[language]["reception.refused.priority_kept"]
    )
    screenshot(page, f"reception-priority-with-qr-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_dashboard_names_history_details_and_a_full_hall(live_server, new_page, language):
    center = live_server.new_center()
    with_center(live_server, center, lambda s, c: setattr(c, "hall_capacity", 1))
    ticket = live_server.issue(center, "pension-new", priority="veteran")
    live_server.issue(center, "pension-new")
    words = MANAGE[language]
    page = new_page(1280, 800)
    log_in(page, live_server, "/manage", manager_username(center), language)
    expect(page.locator("#k-hall")).to_have_attribute("data-full", "true")
    expect(page.locator("#hall-full")).to_be_visible()
    expect(page.locator("#hall-full")).to_have_text(words["hall.full_short"])
    screenshot(page, f"manage-hall-full-{language}")

    page.click("#ooo-details summary")
    page.fill("#find-number", ticket["number"])
    page.click("#find-open")
    issued = page.locator('#history-rows tr[data-action="issue"] .reason')
    expect(issued).to_have_text(f"{words['manage.detail.priority']}: {words['priority.veteran']}")
    screenshot(page, f"manage-history-words-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_admin_refusal_names_the_label_and_the_range(live_server, new_page, language):
    center = live_server.new_center()
    words = MANAGE[language]
    page = new_page(1366, 768)
    log_in(page, live_server, "/manage/admin", manager_username(center), language)
    page.click("#tabs button[data-tab='booking']")
    row = page.locator(".booking-table tr[data-service='pension-recalc']")
    # "After the grace" is not cut at 1366 px: its select is as wide as its options.
    select = row.locator("select")
    assert select.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    row.get_by_label(words["admin.booking.slot_min"]).fill("2")
    row.get_by_role("button", name=words["admin.save"]).click()
    message = page.locator("#message")
    expect(message).to_have_class("message bad")
    label = words["admin.booking.slot_min"]
    expect(message).to_have_text(words["admin.bad_range"].format(field=label, low="5", high="240"))
    expect(message).not_to_contain_text("slot_min")
    screenshot(page, f"admin-booking-refused-1366-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_public_page_says_after_the_grace_depends_on_the_service(
    live_server, new_page, language
):
    center = live_server.new_center()

    def two_ways(s, c):
        services = {
            row.code: row for row in s.scalars(select(Service).where(Service.center_id == c.id))
        }
        for code, after in (("pension-new", "walk_in"), ("pension-recalc", "refuse")):
            services[code].bookable, services[code].after_grace = True, after

    with_center(live_server, center, two_ways)
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/public/{center.code}?lang={language}")
    rules = page.locator("#rules-list")
    expect(rules).to_contain_text(DISPLAY[language]["rules.after_grace_varies"])
    expect(rules).not_to_contain_text(DISPLAY[language]["rules.after_grace_refuse"])
