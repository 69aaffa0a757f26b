"""The visitor's phone page (/t/<tracking token>) in a real browser on a small screen:
place in line updated live, the full-screen call in the ticket's language, recalls, a
line that says what to do in each state of the ticket, the server's refusals in the
page's own words, and a friendly page for an unknown link."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import update

from server.i18n import catalog
from server.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
# Open round the clock, so that the server's expiry loop never closes these queues.
ALL_DAY = {"open": "00:00", "close": "23:59"}
PHONE = (360, 640)
TALL_PHONE = (360, 740)


@pytest.fixture
def center(live_server):
    return live_server.new_center(hours=ALL_DAY)


def open_phone(new_page, live_server, token: str, size=PHONE):
    page = new_page(*size, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/t/{token}")
    expect(page.locator("#number")).not_to_be_empty()
    return page


def act(live_server, center, ticket_id: int, action: str, **body) -> dict:
    response = live_server.api(
        "POST", f"/tickets/{ticket_id}/{action}", center.staff_token, json=body or None
    )
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


def assert_hint(page, words: dict, key: str, counter: str = "") -> None:
    """The line under the ticket says what to do now, whole and inside the screen."""
    hint = page.locator("#hint")
    expect(hint).to_have_text(words[key].replace("{counter}", counter))
    box = hint.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_phone_says_what_to_do_while_waiting_called_served_and_done(
    new_page, live_server, center, lang
):
    words = WORDS[lang]
    ticket = live_server.issue(center, "pension-new", language=lang)
    page = open_phone(new_page, live_server, ticket["tracking_token"], TALL_PHONE)
    assert_hint(page, words, "phone.hint.waiting")

    called = live_server.call_next(center, "2")
    page.click("#call-ok")
    expect(page.locator("#status")).to_have_text(words["status.called"])
    assert_hint(page, words, "phone.hint.called", "2")

    act(live_server, center, called["id"], "start")
    expect(page.locator("#status")).to_have_text(words["status.serving"])
    assert_hint(page, words, "phone.hint.serving", "2")
    # Nothing is left to wait for: neither "keep this page open" nor the sound switch.
    expect(page.locator("#sound")).to_be_hidden()
    assert words["phone.hint.waiting"] not in page.locator("body").inner_text()

    act(live_server, center, called["id"], "complete")
    expect(page.locator("#status")).to_have_text(words["status.done"])
    assert_hint(page, words, "phone.hint.done")
    expect(page.locator("#rating-question")).to_have_text(words["phone.rate_question"])


def test_the_phone_explains_a_transfer_a_pause_a_no_show_and_a_cancel(
    new_page, live_server, center
):
    words = WORDS["ru"]
    ticket = live_server.issue(center, "pension-new", language="ru")
    page = open_phone(new_page, live_server, ticket["tracking_token"], TALL_PHONE)

    # Sent on to another service: the same number waits again, and the page says why.
    called = live_server.call_next(center, "1")
    page.click("#call-ok")
    act(live_server, center, called["id"], "transfer", service="pension-recalc")
    expect(page.locator("#status")).to_have_text(words["status.waiting"])
    assert_hint(page, words, "phone.hint.transferred")

    # Sent to fetch a document, then back in line: waiting like anyone else.
    assert live_server.call_next(center, "1")["id"] == called["id"]
    page.click("#call-ok")
    act(live_server, center, called["id"], "start")
    act(live_server, center, called["id"], "park")
    assert_hint(page, words, "phone.hint.parked")
    act(live_server, center, called["id"], "resume")
    assert_hint(page, words, "phone.hint.waiting")

    # Called, called again, and never came.
    assert live_server.call_next(center, "1")["id"] == called["id"]
    act(live_server, center, called["id"], "recall")
    act(live_server, center, called["id"], "no-show")
    expect(page.locator("#call")).to_be_hidden()
    assert_hint(page, words, "phone.hint.no_show")

    other = live_server.issue(center, "job-seeker", language="az")
    page = open_phone(new_page, live_server, other["tracking_token"], TALL_PHONE)
    with live_server.db.read() as s:
        other_id = s.query(Ticket.id).filter_by(tracking_token=other["tracking_token"]).scalar()
    act(live_server, center, other_id, "cancel")
    assert_hint(page, WORDS["az"], "phone.hint.cancelled")


def test_a_refused_live_channel_is_told_in_the_page_language(new_page, live_server, center):
    """The server refuses the phone's connection with an English message for developers
    ("unknown ticket"): the page says so in its own words."""
    ticket = live_server.issue(center, "pension-new", language="ru")
    page = open_phone(new_page, live_server, ticket["tracking_token"])
    with live_server.db.write() as s:
        s.execute(
            update(Ticket)
            .where(Ticket.tracking_token == ticket["tracking_token"])
            .values(tracking_token=f"gone-{ticket['tracking_token']}")
        )
    page.context.set_offline(True)  # the next connect is refused: the ticket is gone
    banner = page.locator("#connection")
    expect(banner).to_have_text(WORDS["ru"]["conn.lost"])
    page.context.set_offline(False)
    expect(banner).to_have_text(WORDS["ru"]["phone.refused"])
    page.click(".phone-languages button[data-lang=az]")
    expect(banner).to_have_text(WORDS["az"]["phone.refused"])
    assert "unknown" not in page.locator("body").inner_text()


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
