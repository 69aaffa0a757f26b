"""The visitor's phone page (/t/<tracking token>) in a real browser on a small screen:
place in line updated live, the full-screen call in the ticket's language, recalls, and
a friendly page for an unknown link."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from server.i18n import catalog

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
# Open round the clock, so that the server's expiry loop never closes these queues.
ALL_DAY = {"open": "00:00", "close": "23:59"}
PHONE = (360, 640)


@pytest.fixture
def center(live_server):
    return live_server.new_center(hours=ALL_DAY)


def open_phone(new_page, live_server, token: str):
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/t/{token}")
    expect(page.locator("#number")).not_to_be_empty()
    return page


def act(live_server, center, ticket_id: int, action: str) -> dict:
    response = live_server.api("POST", f"/tickets/{ticket_id}/{action}", center.staff_token)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_phone_follows_its_place_and_flips_to_the_call_in_its_language(
    new_page, live_server, center
):
    words = WORDS["ru"]
    first = live_server.issue(center, "pension-new", language="az")
    mine = live_server.issue(center, "pension-new", language="ru")
    page = open_phone(new_page, live_server, mine["tracking_token"])

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#phone-title")).to_have_text(words["phone.title"])
    expect(page.locator("#number")).to_have_text(mine["number"])
    expect(page.locator("#service")).to_have_text("New pension (ru)")
    expect(page.locator("#status")).to_have_text(words["status.waiting"])
    expect(page.locator("#position")).to_have_text("2")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]

    # The visitor ahead is called: this phone moves up, live.
    called = live_server.call_next(center, "1")
    assert called["number"] == first["number"]
    expect(page.locator("#position")).to_have_text("1")
    expect(page.locator("#next")).to_have_text(words["phone.you_are_next"])
    expect(page.locator("#call")).to_be_hidden()

    act(live_server, center, called["id"], "start")
    act(live_server, center, called["id"], "complete")
    mine_called = live_server.call_next(center, "1")
    assert mine_called["number"] == mine["number"]

    call = page.locator("#call")
    expect(call).to_be_visible()
    expect(call.locator(".call-turn")).to_have_text(words["phone.your_turn"])
    expect(page.locator("#call-where")).to_have_text(
        words["phone.go_to_counter"].replace("{counter}", "1")
    )
    expect(page.locator("#call-where .call-counter")).to_have_text("1")
    expect(page.locator("#call-number")).to_have_text(mine["number"])
    expect(call).to_have_attribute("data-sound", "played")  # the beep went out
    box = call.bounding_box()
    assert (box["width"], box["height"]) == PHONE  # the whole screen

    # "On my way" puts the card back, which now says where to go.
    page.click("#call-ok")
    expect(call).to_be_hidden()
    expect(page.locator("#status")).to_have_text(words["status.called"])
    expect(page.locator("#counter")).to_have_text(
        words["phone.at_counter"].replace("{counter}", "1")
    )

    # A recall brings the call back, marked as a repeat.
    act(live_server, center, mine_called["id"], "recall")
    expect(call).to_be_visible()
    expect(page.locator("#call-again")).to_have_text(words["phone.called_again"])

    # Served: the call goes away; the language switcher redraws in English.
    act(live_server, center, mine_called["id"], "start")
    expect(call).to_be_hidden()
    expect(page.locator("#status")).to_have_text(words["status.serving"])
    page.click(".phone-languages button[data-lang=en]")
    expect(page.locator("#status")).to_have_text(WORDS["en"]["status.serving"])
    expect(page.locator("#phone-title")).to_have_text(WORDS["en"]["phone.title"])


def test_a_phone_opened_after_the_call_shows_it_at_once(new_page, live_server, center):
    ticket = live_server.issue(center, "job-seeker", language="en")
    live_server.call_next(center, "3")
    page = open_phone(new_page, live_server, ticket["tracking_token"])
    expect(page.locator("#call")).to_be_visible()
    expect(page.locator("#call-where")).to_have_text("Go to counter 3")


def test_an_unknown_ticket_link_gets_a_friendly_page(live_server):
    response = requests.get(
        f"{live_server.url}/t/no-such-ticket", headers={"Accept-Language": "ru"}, timeout=10
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    # The phone's language first, then the other two.
    titles = [WORDS[lang]["phone.not_found_title"] for lang in ("ru", "az", "en")]
    assert all(title in page for title in titles)
    assert page.index(titles[0]) < page.index(titles[1]) < page.index(titles[2])
