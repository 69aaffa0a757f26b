"""The counter workstation (/counter) in a real browser against a real server: log in,
pick a counter, call and serve with buttons and keys, live updates, two tabs, two staff
members at one counter, and a staff member with no counter assigned."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.auth import create_staff
from server.i18n import catalog
from server.queue import PAUSE_REASONS

from . import factories
from .browser_helpers import screenshot
from .test_manage_browser import big_center, clipped

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TRANSLATIONS = Path(__file__).resolve().parent.parent / "counter" / "translations"


def action(page, name: str):
    return page.locator(f'#actions button[data-action="{name}"]')


def queue_count(page, service: str):
    return page.locator(f'#queue-list li[data-service="{service}"] .count')


def log_in(page, center, password: str | None = None, username: str | None = None) -> None:
    page.fill("#username", username or center.staff_username)
    page.fill("#password", password or center.password)
    page.click("#login-submit")


def another_staff(live_server, center, name: str, counters: list[str] | None = None) -> str:
    """A second staff account of ``center`` (every counter, or only ``counters``)."""
    username = f"{name}-{center.code}"
    with live_server.db.write() as s:
        user = create_staff(s, username, factories.PASSWORD, "staff", center.code)
        if counters is not None:
            user.counter_links = [
                link for link in user.counter_links if link.counter.label in counters
            ]
    return username


def shot(page, name: str) -> None:
    screenshot(page, name, full_page=True)


def open_counter(live_server, center, new_page, label: str = "1"):
    """A fresh browser, logged in through the form, at counter ``label``, connected."""
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/counter")
    log_in(page, center)
    page.click(f'.counter-choice[data-counter="{center.counters[label]}"]')
    expect(page.locator("#counter-title")).to_have_text(f"Counter {label}")
    expect(action(page, "pause")).to_be_enabled()  # the live channel is up
    return page


def public_ticket(live_server, ticket: dict) -> dict:
    response = live_server.api("GET", f"/tickets/{ticket['tracking_token']}")
    assert response.status_code == 200
    return response.json()


def test_every_pause_reason_has_words():
    for lang, entries in catalog(TRANSLATIONS).items():
        assert {f"pause.{reason}" for reason in PAUSE_REASONS} <= set(entries), lang


def test_log_in_pick_call_and_serve_with_buttons_and_keys(live_server, live_center, new_page):
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/counter")
    log_in(page, live_center, password="not-the-password")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password")
    expect(page.locator("#picker-view")).to_be_hidden()

    first = live_server.issue(live_center, "pension-new", language="ru")
    log_in(page, live_center)
    expect(page.locator(".counter-choice")).to_have_count(3)
    page.click(f'.counter-choice[data-counter="{live_center.counters["1"]}"]')
    expect(page.locator("#counter-title")).to_have_text("Counter 1")
    expect(queue_count(page, "pension-new")).to_have_text("1")
    expect(page).to_have_url(f"{live_server.url}/counter?counter={live_center.counters['1']}")

    # Call with the button: the ticket, its service, its language.
    action(page, "callNext").click()
    expect(page.locator("#ticket-number")).to_have_text("A001")
    expect(page.locator("#ticket-service")).to_contain_text("New pension")
    expect(page.locator("#ticket-status")).to_have_text("Called, on the way")
    expect(page.locator("#ticket-box")).to_contain_text("Русский")
    expect(queue_count(page, "pension-new")).to_have_text("0")
    # Called, not yet here: no second call, and no-show only after a recall.
    expect(action(page, "callNext")).to_be_disabled()
    expect(page.locator("#why-call-next")).to_contain_text("A001")
    expect(action(page, "noShow")).to_be_disabled()
    expect(page.locator("#why-no-show")).to_have_text("Recall 1 more time first")

    page.keyboard.press("r")
    expect(page.locator("#ticket-recalls")).to_contain_text("1 / 1")
    expect(action(page, "noShow")).to_be_enabled()
    page.keyboard.press("s")
    expect(page.locator("#ticket-status")).to_have_text("Being served")
    expect(action(page, "complete")).to_be_enabled()
    page.keyboard.press("c")
    expect(page.locator("#no-ticket")).to_have_text("No visitor")
    assert public_ticket(live_server, first)["status"] == "done"

    # Call with the keyboard, also while a button has the focus (one call, not two).
    live_server.issue(live_center, "pension-recalc")
    expect(queue_count(page, "pension-recalc")).to_have_text("1")
    action(page, "recall").focus()
    page.keyboard.press("n")
    expect(page.locator("#ticket-number")).to_have_text("B001")
    expect(page.locator("#ticket-service")).to_contain_text("Pension recalculation")
    page.keyboard.press("s")
    live_server.issue(live_center, "pension-new")
    expect(queue_count(page, "pension-new")).to_have_text("1")
    action(page, "callNext").focus()
    page.keyboard.press("Space")  # serving: completes B001 and calls the next
    expect(page.locator("#ticket-number")).to_have_text("A002")
    expect(page.locator("#notice")).to_be_hidden()


def test_two_tabs_on_one_counter_stay_consistent(live_server, live_center, new_page):
    first = open_counter(live_server, live_center, new_page)
    second = first.context.new_page()  # same browser: logged in, same counter
    second.goto(f"{live_server.url}/counter")
    expect(second.locator("#counter-title")).to_have_text("Counter 1")
    expect(action(second, "pause")).to_be_enabled()

    live_server.issue(live_center, "pension-recalc")
    action(first, "callNext").click()
    expect(second.locator("#ticket-number")).to_have_text("B001")
    second.keyboard.press("s")
    expect(first.locator("#ticket-status")).to_have_text("Being served")
    expect(action(first, "complete")).to_be_enabled()

    # The login is an HttpOnly cookie: nothing a script could steal is stored.
    stored = first.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert "st_" not in stored and "csrf" not in stored
    assert "novbe_session" not in first.evaluate("document.cookie")

    # Logging out in one tab logs out the other, and ends the session on the server.
    second.click("#logout")
    expect(second.locator("#login-view")).to_be_visible()
    expect(first.locator("#login-view")).to_be_visible()
    first.reload()
    expect(first.locator("#login-view")).to_be_visible()
    expect(first.locator("#login-error")).to_be_hidden()


def test_queue_lengths_and_priority_notice_follow_the_queue_live(
    live_server, live_center, new_page
):
    page = open_counter(live_server, live_center, new_page, label="3")
    expect(queue_count(page, "job-seeker")).to_have_text("0")
    expect(page.locator('#queue-list li[data-service="pension-new"]')).to_have_count(0)

    # A priority visitor of a service this counter does not serve: no notice.
    live_server.issue(live_center, "pension-new", priority="elderly")
    live_server.issue(live_center, "job-seeker")
    expect(queue_count(page, "job-seeker")).to_have_text("1")
    expect(page.locator("#priority-notice")).to_be_hidden()

    live_server.issue(live_center, "unemployment", priority="disability")
    notice = page.locator("#priority-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Priority visitor waiting: Unemployment benefit (1)")
    expect(queue_count(page, "unemployment")).to_have_text("1")

    action(page, "callNext").click()  # strict policy: the priority visitor first
    expect(page.locator("#ticket-number")).to_have_text("D001")
    expect(page.locator("#ticket-priority")).to_have_text("Priority: Person with a disability")
    expect(notice).to_be_hidden()


def test_transfer_moves_the_ticket_and_refusals_show_the_servers_message(
    live_server, live_center, new_page
):
    ticket = live_server.issue(live_center, "pension-new")
    page = open_counter(live_server, live_center, new_page)
    action(page, "callNext").click()
    expect(page.locator("#ticket-number")).to_have_text("A001")

    # A manager suspends a service after this page loaded its list: the server refuses.
    response = live_server.api(
        "PATCH",
        f"/centers/{live_center.code}/services/unemployment",
        live_center.manager_token,
        json={"active": False},
    )
    assert response.status_code == 200
    page.keyboard.press("t")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Unemployment benefit").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("That service is not available now")
    expect(notice).to_contain_text("service 'unemployment' is not available at the moment")
    expect(page.locator("#ticket-number")).to_have_text("A001")

    page.keyboard.press("t")
    dialog.get_by_role("button", name="Job seeker registration").click()
    expect(page.locator("#no-ticket")).to_be_visible()
    moved = public_ticket(live_server, ticket)
    assert (moved["number"], moved["status"]) == ("A001", "waiting")
    assert moved["service"]["code"] == "job-seeker"


def test_park_lists_the_ticket_and_resume_brings_it_back(live_server, live_center, new_page):
    page = open_counter(live_server, live_center, new_page)
    live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "pension-new")
    action(page, "callNext").click()
    action(page, "start").click()
    expect(action(page, "park")).to_be_enabled()
    page.keyboard.press("p")
    parked = page.locator('#parked-list li[data-number="A001"]')
    expect(parked).to_be_visible()
    expect(page.locator("#no-ticket")).to_be_visible()

    parked.get_by_role("button", name="Resume").click()
    expect(parked).to_have_count(0)
    expect(page.locator("#parked-empty")).to_be_visible()
    action(page, "callNext").click()  # resumed visitors wait at the front for this counter
    expect(page.locator("#ticket-number")).to_have_text("A001")


def test_pause_with_a_reason_then_reopen(live_server, live_center, new_page):
    page = open_counter(live_server, live_center, new_page)
    action(page, "pause").click()
    page.locator("#pause-reasons").get_by_role("button", name="Lunch").click()
    expect(page.locator("#counter-state")).to_have_text("Paused: Lunch")
    queue = live_server.api("GET", f"/centers/{live_center.code}/queue", live_center.staff_token)
    (mine,) = [c for c in queue.json()["counters"] if c["label"] == "1"]
    assert (mine["state"], mine["pause_reason"]) == ("paused", "lunch")

    # In Russian, and back to work with the keyboard.
    page.get_by_role("button", name="Русский").click()
    expect(page.locator("#counter-state")).to_have_text("Пауза: Обед")
    expect(action(page, "callNext")).to_contain_text("Вызвать следующего")
    page.keyboard.press("o")
    expect(page.locator("#counter-state")).to_have_text("Открыто")


def test_a_counter_of_another_center_is_refused(live_server, live_center, new_page):
    other = live_server.new_center()
    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/counter?counter={other.counters['1']}")
    log_in(page, live_center)
    refused = page.locator("#refused")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("this counter belongs to another center")
    expect(page.locator("#desk")).to_be_hidden()

    page.click("#refused-pick")
    expect(page.locator(".counter-choice")).to_have_count(3)
    own = {
        int(c)
        for c in page.locator(".counter-choice").evaluate_all(
            "nodes => nodes.map(n => n.dataset.counter)"
        )
    }
    assert own == set(live_center.counters.values())


def test_two_staff_at_one_counter_are_both_warned_live(live_server, live_center, new_page):
    """The second person is told who works there and opens the counter only when they
    say so; then both screens say so, live, until one of them leaves."""
    first = open_counter(live_server, live_center, new_page)
    expect(first.locator("#presence-notice")).to_be_hidden()
    aylin = another_staff(live_server, live_center, "aylin")
    second = new_page(1440, 900)
    second.goto(f"{live_server.url}/counter")
    log_in(second, live_center, username=aylin)
    taken = second.locator(f'.counter-choice[data-counter="{live_center.counters["1"]}"]')
    expect(taken).to_have_class("counter-choice taken")
    expect(taken.locator(".taken-by")).to_have_text(f"In use by {live_center.staff_username}")
    free = second.locator(f'.counter-choice[data-counter="{live_center.counters["2"]}"]')
    expect(free.locator(".taken-by")).to_have_count(0)
    shot(second, "picker-taken-en")

    taken.click()
    dialog = second.locator("#taken-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Now at counter 1: {live_center.staff_username}.")
    shot(second, "taken-dialog-en")
    dialog.get_by_role("button", name="Cancel").click()  # changed their mind: still picking
    expect(second.locator("#picker-view")).to_be_visible()
    taken.click()
    dialog.get_by_role("button", name="Open it anyway").click()
    expect(action(second, "pause")).to_be_enabled()

    mine, theirs = first.locator("#presence-notice"), second.locator("#presence-notice")
    expect(mine).to_have_text(f"{aylin} is also working at counter 1")
    expect(theirs).to_have_text(f"{live_center.staff_username} is also working at counter 1")
    first.get_by_role("button", name="Русский").click()
    expect(mine).to_have_text(f"{aylin} тоже работает в окне 1")
    second.get_by_role("button", name="Azərbaycan").click()
    expect(theirs).to_have_text(
        f"Masa 1 arxasında sizdən başqa {live_center.staff_username} işləyir"
    )
    shot(first, "presence-ru")
    shot(second, "presence-az")
    box = theirs.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1440

    # My other tab is not someone else.
    other_tab = first.context.new_page()
    other_tab.goto(f"{live_server.url}/counter")
    expect(action(other_tab, "pause")).to_be_enabled()
    expect(other_tab.locator("#presence-notice")).to_contain_text(aylin)
    expect(other_tab.locator("#presence-notice")).not_to_contain_text(live_center.staff_username)

    second.close()  # aylin leaves: the warning goes at once
    expect(mine).to_be_hidden()
    expect(other_tab.locator("#presence-notice")).to_be_hidden()


def test_a_staff_member_with_no_counter_sees_none_and_whom_to_ask(
    live_server, live_center, new_page
):
    username = another_staff(live_server, live_center, "nocounter", counters=[])
    page = new_page(1440, 900)
    page.goto(f"{live_server.url}/counter")
    log_in(page, live_center, username=username)
    empty = page.locator("#picker-empty")
    expect(empty).to_have_text("No counter is assigned to you: ask your manager")
    expect(page.locator(".counter-choice")).to_have_count(0)
    page.get_by_role("button", name="Azərbaycan").click()
    expect(empty).to_have_text("Sizə heç bir masa təyin olunmayıb: rəhbərinizə müraciət edin")
    page.get_by_role("button", name="Русский").click()
    expect(empty).to_have_text("За вами не закреплено ни одно окно: обратитесь к руководителю")
    shot(page, "no-counter-ru")

    # The server holds to it, whatever the page does: the picker's list is empty, the
    # desk will not open on a counter named in the address, and calls are refused.
    token = live_server.api(
        "POST", "/auth/token", json={"username": username, "password": factories.PASSWORD}
    ).json()["token"]
    listed = live_server.api("GET", f"/centers/{live_center.code}/counters", token)
    assert listed.status_code == 200 and listed.json()["counters"] == []
    counter = live_center.counters["1"]
    called = live_server.api("POST", f"/counters/{counter}/call-next", token)
    assert called.status_code == 403 and called.json()["error"]["code"] == "counter_not_assigned"
    page.goto(f"{live_server.url}/counter?counter={counter}")
    expect(page.locator("#refused")).to_contain_text("Это окно за вами не закреплено")
    expect(page.locator("#desk")).to_be_hidden()

    # Given one counter by a manager, they see that one only.
    response = live_server.api(
        "PATCH",
        f"/centers/{live_center.code}/staff/{username}",
        live_center.manager_token,
        json={"counters": ["3"]},
    )
    assert response.status_code == 200, response.text
    page.click("#refused-pick")
    expect(page.locator(".counter-choice")).to_have_count(1)
    expect(page.locator("#picker-empty")).to_be_hidden()


@pytest.mark.parametrize("size", [(1440, 900), (1366, 768)])
def test_with_60_services_the_buttons_stay_in_view_and_whole_in_every_language(
    live_server, new_page, size
):
    """Many services with long names make the queue list long: the call buttons stay
    under the current visitor, on the first screen, and no button's words overflow."""
    center = big_center(live_server)
    width, height = size
    page = new_page(width, height)
    page.goto(f"{live_server.url}/counter")
    log_in(page, center)
    expect(page.locator(".counter-choice")).to_have_count(4)
    assert clipped(page, ".counter-choice") == []
    expect(page.locator(".counter-choice .served li.more").first).to_have_text("and 57 more")
    page.locator(".counter-choice").first.click()
    expect(action(page, "pause")).to_be_enabled()
    expect(page.locator("#queue-list li")).to_have_count(60)
    parked = page.locator("#parked-empty").bounding_box()  # not under 60 queues
    assert parked["y"] + parked["height"] <= height, "the parked visitors are off screen"
    for language in ("az", "ru", "en"):
        page.click(f'#langs button[data-lang="{language}"]')
        call = action(page, "callNext").bounding_box()
        assert call["y"] + call["height"] <= height, f"{language}: call next is off screen"
        assert clipped(page, "#actions .action") == [], language
        words = page.locator("#actions .action > span:first-child").evaluate_all(
            "spans => spans.filter(s => s.getBoundingClientRect().width >"
            " s.parentElement.clientWidth).map(s => s.textContent)"
        )
        assert words == [], f"{language}: {words}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"desk-60-{language}-{width}")
