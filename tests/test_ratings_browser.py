"""Visitor approval and the public page in a real browser: the phone asks for a rating
once the visit is done and stores it; the public page lists the services and follows
the queue live."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.i18n import Words, catalog

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
PHONE_WORDS = catalog(ROOT / "kiosk" / "translations")
PUBLIC_WORDS = catalog(ROOT / "display" / "translations")
PHONE = (360, 640)


def act(live_server, center, ticket_id: int, action: str) -> None:
    response = live_server.api("POST", f"/tickets/{ticket_id}/{action}", center.staff_token)
    assert response.status_code == 200, response.text


def test_the_phone_asks_for_a_rating_after_the_visit_and_stores_it(
    new_page, live_server, live_center
):
    words = PHONE_WORDS["ru"]
    ticket = live_server.issue(live_center, "pension-new", language="ru")
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
    expect(page.locator("#number")).to_have_text(ticket["number"])
    expect(page.locator("#rating")).to_be_hidden()  # not before the visit is over

    called = live_server.call_next(live_center, "1")
    act(live_server, live_center, called["id"], "start")
    expect(page.locator("#rating")).to_be_hidden()
    act(live_server, live_center, called["id"], "complete")

    rating = page.locator("#rating")
    expect(rating).to_be_visible()
    expect(page.locator("#rating-question")).to_have_text(words["phone.rate_question"])
    buttons = page.locator(".rating-score")
    expect(buttons).to_have_count(5)
    for box in (buttons.nth(i).bounding_box() for i in range(5)):
        assert box["width"] >= 60 and box["height"] >= 60  # touch targets
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]

    buttons.nth(3).tap()  # 4 of 5
    thanks = page.locator("#rating-thanks")
    expect(thanks).to_have_text(words["phone.rate_thanks"].replace("{n}", "4"))
    expect(page.locator("#rating-ask")).to_be_hidden()
    stored = live_server.api("GET", f"/tickets/{ticket['tracking_token']}/rating").json()
    assert stored["can_rate"] is False and stored["rating"]["score"] == 4

    # Final: a reload thanks again and asks nothing.
    page.reload()
    expect(thanks).to_have_text(words["phone.rate_thanks"].replace("{n}", "4"))
    expect(page.locator("#rating-ask")).to_be_hidden()


def test_the_public_page_lists_the_services_and_follows_the_queue_live(
    new_page, live_server, live_center
):
    words = PUBLIC_WORDS["en"]
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/public/{live_center.code}?lang=en")
    expect(page.locator("#center-name")).to_have_text(f"Center {live_center.code}")
    rows = page.locator("#services tr")
    expect(rows).to_have_count(4)
    expect(rows.locator("th")).to_have_text(
        ["New pension", "Pension recalculation", "Job seeker registration", "Unemployment benefit"]
    )
    new_pension = page.locator("#services tr[data-service=pension-new] td.waiting")
    expect(new_pension).to_have_text("0")
    expect(page.locator("#service-level-note")).to_have_text(words["public.nobody_called"])
    expect(page.locator("#approval-note")).to_have_text(words["public.no_ratings"])

    # Issued at the kiosk: the page moves by itself (live, not polled).
    first = live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "pension-new")
    expect(new_pension).to_have_text("2")
    called = live_server.call_next(live_center, "1")
    expect(new_pension).to_have_text("1")
    expect(page.locator("#service-level")).to_have_text("100%")
    expect(page.locator("#service-level-note")).to_have_text(
        Words(ROOT / "display" / "translations", "en").plural("public.of_called", 1)
    )

    # Rated on the phone: the approval rate appears.
    act(live_server, live_center, called["id"], "start")
    act(live_server, live_center, called["id"], "complete")
    r = live_server.api("POST", f"/tickets/{first['tracking_token']}/rating", json={"score": 2})
    assert r.status_code == 201, r.text
    expect(page.locator("#approval")).to_have_text("0%")
    expect(page.locator("#approval-note")).to_have_text(
        Words(ROOT / "display" / "translations", "en").plural("public.of_ratings", 1)
    )

    # Nothing personal on the page: no ticket numbers, no tokens, no staff.
    text = page.locator("body").inner_text()
    assert first["number"] not in text and live_center.staff_username not in text
    assert first["tracking_token"] not in page.content()

    # Another language without a reload.
    page.click(".public-languages button[data-lang=az]")
    expect(rows.first.locator("th")).to_have_text("New pension (az)")
    expect(page.locator("[data-i18n='public.today']")).to_have_text(
        PUBLIC_WORDS["az"]["public.today"]
    )
