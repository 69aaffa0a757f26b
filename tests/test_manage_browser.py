"""The managers' dashboard (/manage) in a real browser against a real server, and the
``alert`` live event it shows; at a desk's size with many services and long names, in
every language, with times in the center's time zone."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import socketio
from playwright.sync_api import expect
from sqlalchemy import select

from server import queue
from server.auth import create_staff, issue_staff_token
from server.models import Center, utcnow

from . import factories
from .browser_helpers import screenshot, wait_until
from .test_live_channel_e2e import NAMESPACE, next_event

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
# The center's zone, and the browser's: a different one, hours apart.
CENTER_ZONE = "Asia/Baku"
BROWSER_ZONE = "America/New_York"
LONG_WORDS = {
    "az": "Pensiya hüququnun yenidən hesablanması üçün vətəndaşın müraciəti",
    "ru": "Перерасчёт размера пенсии по старости по заявлению гражданина",
    "en": "Recalculation of the old-age pension on the citizen's application",
}


def long_names(number: int) -> dict[str, str]:
    """150 characters in each language."""
    return {lang: (f"{number} {words} " * 3)[:150] for lang, words in LONG_WORDS.items()}


def big_center(live_server, services: int = 60):
    """A center with ``services`` services of 150-character names, in one category,
    and four counters serving them all."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    prefixes = [
        letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(services)
    ]
    codes = [f"service-{i}" for i in range(services)]
    return live_server.new_center(
        name=long_names(0),
        timezone=CENTER_ZONE,
        categories=[
            {
                "code": "all",
                "name": long_names(0),
                "services": [
                    {"code": code, "prefix": prefix, "target_wait_min": 15, "name": long_names(i)}
                    for i, (code, prefix) in enumerate(zip(codes, prefixes, strict=True))
                ],
            }
        ],
        counters=[{"label": str(n), "services": codes} for n in range(1, 5)],
    )


def clipped(page, selector: str) -> list[str]:
    """The elements matching ``selector`` whose content is wider than their box."""
    return page.locator(selector).evaluate_all(
        "nodes => nodes.filter(n => n.scrollWidth > n.clientWidth + 1)"
        ".map(n => n.id || n.className || n.tagName)"
    )


def center_clock(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(CENTER_ZONE)).strftime("%H:%M")


def manager_username(center) -> str:
    return "manager-" + center.code.removeprefix("live-")  # as tests/live.py names them


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/manage?lang=en")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")


def issue_long_ago(live_server, center, service: str, minutes: int) -> None:
    """A visitor who took a ticket ``minutes`` ago (written straight to the database:
    the server announces it with the next change, as it would after a quiet spell)."""
    with live_server.db.write() as s:
        center_row = s.scalar(select(Center).where(Center.code == center.code))
        kiosk = factories.kiosk_actor(s, center_row)
        when = utcnow() - timedelta(minutes=minutes)
        queue.issue_ticket(s, center.code, service, "az", None, kiosk, now=when)


def test_manager_sees_the_figures_move_as_tickets_are_issued_and_called(
    live_server, live_center, new_page
):
    page = new_page(1400, 1000)
    log_in(page, live_server, manager_username(live_center))
    expect(page.locator("#center-view")).to_be_visible()
    expect(page.locator("#center-name")).to_have_text(f"Center {live_center.code}")
    waiting = page.locator("#k-waiting")
    expect(waiting).to_have_text("0")

    ticket = live_server.issue(live_center, "pension-new")
    expect(waiting).to_have_text("1")
    row = page.locator('#service-rows tr[data-service="pension-new"]')
    expect(row.locator('[data-figure="waiting"]')).to_have_text("1")

    live_server.issue(live_center, "job-seeker")
    expect(waiting).to_have_text("2")

    called = live_server.call_next(live_center, "1")
    assert called["number"] == ticket["number"]
    expect(waiting).to_have_text("1")
    expect(row.locator('[data-figure="waiting"]')).to_have_text("0")
    counter = page.locator('#counter-rows tr[data-counter="1"]')
    expect(counter).to_contain_text(ticket["number"])
    expect(counter).to_have_attribute("data-state", "open")

    # The charts are SVG images from the server, drawn for today in the page's language.
    arrivals = page.locator("#chart-arrivals")
    expect(arrivals).to_have_attribute("src", re.compile(r"/charts/arrivals\.svg\?date=.*&lang=en"))
    wait_until(page, "document.getElementById('chart-arrivals').naturalWidth > 0")
    wait_until(page, "document.getElementById('chart-week').naturalWidth > 0")

    # Another language redraws the words without a reload.
    page.click('#langs button[data-lang="ru"]')
    expect(page.locator('h2[data-i18n="manage.services"]')).to_have_text("Услуги")
    expect(arrivals).to_have_attribute("src", re.compile(r"lang=ru"))


def test_a_queue_over_its_target_raises_an_alert_on_the_dashboard(
    live_server, live_center, new_page
):
    page = new_page(1400, 1000)
    log_in(page, live_server, manager_username(live_center))
    expect(page.locator("#k-waiting")).to_have_text("0")
    expect(page.locator("#alerts")).to_be_hidden()

    issue_long_ago(live_server, live_center, "pension-recalc", 12)  # target 5 min
    live_server.issue(live_center, "job-seeker")  # a change: the server looks again
    alerts = page.locator("#alerts")
    expect(alerts).to_be_visible()
    now_item = alerts.locator('li.now[data-alert="wait"][data-service="pension-recalc"]')
    expect(now_item).to_contain_text("longest wait 12 min, target 5 min")
    expect(page.locator('#service-rows tr[data-service="pension-recalc"]')).to_have_class("over")

    live_server.call_next(live_center, "1")  # counter 1 serves B: the late visitor is called
    expect(now_item).to_have_count(0)
    expect(alerts.locator("li.cleared")).to_contain_text("Resolved")


def test_a_staff_account_is_told_the_page_is_for_managers(live_server, live_center, new_page):
    page = new_page(1280, 800)
    log_in(page, live_server, live_center.staff_username)
    refused = page.locator("#refused-view")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("This page is for managers only")
    expect(page.locator("#center-view")).to_be_hidden()
    # And the figures themselves are refused by the API, whatever the page does.
    response = live_server.api(
        "GET", f"/centers/{live_center.code}/dashboard", live_center.staff_token
    )
    assert response.status_code == 403


def test_alert_events_are_sent_once_on_each_edge(live_server, live_center):
    manager = socketio.SimpleClient()
    manager.connect(
        live_server.url,
        namespace=NAMESPACE,
        auth={"token": live_center.manager_token},
        transports=["websocket"],
    )
    try:
        next_event(manager, "snapshot")
        issue_long_ago(live_server, live_center, "pension-new", 20)  # target 15 min
        live_server.issue(live_center, "job-seeker")
        alert = next_event(manager, "alert")
        assert alert["kind"] == "wait" and alert["active"] is True
        assert alert["service"] == "pension-new" and alert["target_wait_min"] == 15
        assert alert["longest_wait_s"] >= 20 * 60

        # Still over the target: more changes, no second alert; then called: cleared.
        live_server.issue(live_center, "job-seeker")
        live_server.call_next(live_center, "1")
        cleared = next_event(manager, "alert")
        assert cleared["kind"] == "wait" and cleared["service"] == "pension-new"
        assert cleared["active"] is False
    finally:
        manager.disconnect()


def test_a_network_admin_follows_the_center_it_names(live_server, live_center):
    with live_server.db.write() as s:
        user = create_staff(s, f"root-{live_center.code}", factories.PASSWORD, "admin", None)
        token = issue_staff_token(s, user, hours=1)[0]
    refused = socketio.SimpleClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(
            live_server.url, namespace=NAMESPACE, auth={"token": token}, transports=["websocket"]
        )
    admin = socketio.SimpleClient()
    admin.connect(
        live_server.url,
        namespace=NAMESPACE,
        auth={"token": token, "center": live_center.code},
        transports=["websocket"],
    )
    try:
        snapshot = next_event(admin, "snapshot")
        assert snapshot["kind"] == "center" and snapshot["center"]["code"] == live_center.code
        live_server.issue(live_center, "pension-new")
        assert next_event(admin, "ticket.issued")["service"] == "pension-new"
    finally:
        admin.disconnect()


def test_printer_alerts_when_paper_runs_out_is_refilled_and_the_agent_leaves(
    live_server, live_center
):
    manager = socketio.SimpleClient()
    manager.connect(
        live_server.url,
        namespace=NAMESPACE,
        auth={"token": live_center.manager_token},
        transports=["websocket"],
    )
    agent = socketio.SimpleClient()
    try:
        next_event(manager, "snapshot")
        ok = {"online": True, "paper": "ok", "cover_open": False}
        agent.connect(
            live_server.url,
            namespace=NAMESPACE,
            auth={"token": live_center.kiosk_token, "agent": "printer", "printer": ok},
            transports=["websocket"],
        )
        next_event(agent, "snapshot")
        assert agent.call("printer.status", {**ok, "paper": "out"})["ok"]
        out = next_event(manager, "alert")
        assert out == {**out, "kind": "printer", "active": True, "device": "kiosk-1"}
        assert out["problem"] == "paper_out"

        assert agent.call("printer.status", ok)["ok"]
        refilled = next_event(manager, "alert")
        assert (refilled["active"], refilled["problem"]) == (False, "paper_out")

        agent.disconnect()  # nobody prints for this kiosk any more
        gone = next_event(manager, "alert")
        assert (gone["kind"], gone["active"], gone["problem"]) == ("printer", True, "offline")
    finally:
        agent.disconnect()
        manager.disconnect()


# The all-centers table is fetched with every center's dashboard: on the shared test
# server that is every center the whole suite has made (200 and more in a full run, on
# a loaded machine), not the network's 30 to 66.
WHOLE_NETWORK_MS = 30_000


def test_a_network_admin_picks_a_center_from_all_centers(live_server, live_center, new_page):
    username = f"admin-{live_center.code}"
    with live_server.db.write() as s:
        create_staff(s, username, factories.PASSWORD, "admin", None)
    live_server.issue(live_center, "job-seeker")
    page = new_page(1400, 1000)
    log_in(page, live_server, username)
    expect(page.locator("#network-view")).to_be_visible()
    row = page.locator(f'#network-rows tr[data-center="{live_center.code}"]')
    expect(row).to_be_attached(timeout=WHOLE_NETWORK_MS)
    expect(row.locator('[data-figure="waiting"]')).to_have_text("1")
    row.get_by_role("button").click()
    expect(page.locator("#center-name")).to_have_text(f"Center {live_center.code}")
    expect(page.locator("#k-waiting")).to_have_text("1")
    live_server.issue(live_center, "job-seeker")  # live for the center the admin named
    expect(page.locator("#k-waiting")).to_have_text("2")
    page.click("#to-network")
    expect(page.locator("#network-view")).to_be_visible()


def test_the_all_centers_table_follows_the_network_live(live_server, live_center, new_page):
    """No Refresh pressed: each center's row is rewritten in place as its figures change
    (network.center over /live), and again after a visit to one center."""
    username = f"network-{live_center.code}"
    with live_server.db.write() as s:
        create_staff(s, username, factories.PASSWORD, "admin", None)
    other = live_server.new_center()
    live_server.issue(live_center, "job-seeker")
    page = new_page(1400, 1000)
    log_in(page, live_server, username)
    expect(page.locator("#network-view")).to_be_visible()
    row = page.locator(f'#network-rows tr[data-center="{live_center.code}"]')
    waiting = row.locator('[data-figure="waiting"]')
    expect(row).to_be_attached(timeout=WHOLE_NETWORK_MS)
    expect(waiting).to_have_text("1")
    expect(row.locator('[data-figure="visitors"]')).to_have_text("1")
    expect(row.locator('[data-figure="level"]')).to_have_text("–")  # nobody called yet
    fetched = row.element_handle()

    live_server.issue(live_center, "job-seeker")
    expect(waiting).to_have_text("2", timeout=5000)
    assert fetched.evaluate("tr => tr.isConnected")  # the same row, its cells rewritten
    other_row = page.locator(f'#network-rows tr[data-center="{other.code}"]')
    expect(other_row.locator('[data-figure="waiting"]')).to_have_text("0")

    issue_long_ago(live_server, live_center, "pension-recalc", 12)  # target 5 min
    live_server.issue(live_center, "pension-new")  # a change: the server looks again
    expect(row).to_have_class("over", timeout=5000)
    expect(row.locator('[data-figure="longest"]')).to_have_text("12 min")
    expect(waiting).to_have_text("4")
    live_server.call_next(live_center, "1")  # the late visitor: called 12 min after issue
    expect(row.locator('[data-figure="level"]')).to_have_text("0%", timeout=5000)
    expect(row).not_to_have_class("over")
    expect(waiting).to_have_text("3")

    # A visit to one center and back: the table is fetched again, and live again.
    row.get_by_role("button").click()
    expect(page.locator("#k-waiting")).to_have_text("3")
    page.click("#to-network")  # the table is emptied and fetched whole again
    expect(waiting).to_have_text("3", timeout=WHOLE_NETWORK_MS)
    expect(row.locator('[data-figure="visitors"]')).to_have_text("4")
    expect(page.locator("#connection")).to_be_hidden()
    live_server.issue(other, "job-seeker")
    expect(other_row.locator('[data-figure="waiting"]')).to_have_text("1", timeout=5000)


def test_a_manager_shows_todays_report_and_downloads_it_as_csv(live_server, live_center, new_page):
    first = live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "pension-new")
    called = live_server.call_next(live_center, "1")
    assert called["number"] == first["number"]
    for action in ("start", "complete"):
        response = live_server.api(
            "POST", f"/tickets/{called['id']}/{action}", live_center.staff_token
        )
        assert response.status_code == 200, response.text

    page = new_page(1400, 1000, accept_downloads=True)
    log_in(page, live_server, manager_username(live_center))
    expect(page.locator("#center-view")).to_be_visible()
    # Both dates default to the center's today once its figures have arrived.
    expect(page.locator("#report-from")).not_to_have_value("")
    day = page.locator("#report-from").input_value()
    expect(page.locator("#report-to")).to_have_value(day)

    page.click("#report-show")
    row = page.locator('#report-service-rows tr[data-service="pension-new"]')
    expect(row.locator('[data-figure="visitors"]')).to_have_text("2")
    expect(row.locator('[data-figure="served"]')).to_have_text("1")
    expect(row.locator('[data-figure="service_level"]')).to_have_text("100%")
    staff = page.locator(f'#report-staff-rows tr[data-staff="{live_center.staff_username}"]')
    expect(staff.locator('[data-figure="served"]')).to_have_text("1")

    link = page.locator("#report-csv")
    expect(link).to_have_attribute("href", re.compile(rf"from={day}&to={day}&format=csv&lang=en"))
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"novbe-report-{live_center.code}-{day}-{day}.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    service = [r for r in rows if (r["kind"], r["code"]) == ("service", "pension-new")]
    assert len(service) == 1
    assert (service[0]["visitors"], service[0]["served"]) == ("2", "1")
    assert service[0]["name"].startswith("New pension")

    # A range the server refuses: its own words are shown, the old tables hidden.
    page.fill("#report-from", "2020-01-02")
    page.fill("#report-to", "2020-01-01")
    page.click("#report-show")
    error = page.locator("#report-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("422")
    expect(error).to_contain_text("'from' must not be after 'to'")
    expect(page.locator("#report-result")).to_be_hidden()


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_the_dashboard_fits_a_desk_with_60_services_and_long_names(live_server, new_page, language):
    """1440x900: every figure box shows its whole figure ("1 h 02 min"), no table is
    wider than its card, names get room to be read, times are the center's."""
    center = big_center(live_server)
    issue_long_ago(live_server, center, "service-0", 62)
    issue_long_ago(live_server, center, "service-1", 5)
    page = new_page(1440, 900, timezone_id=BROWSER_ZONE)
    log_in(page, live_server, manager_username(center))
    page.click(f'#langs button[data-lang="{language}"]')
    longest = page.locator("#k-longest")
    expect(longest).to_have_text(
        {"az": "1 saat 02 dəq", "ru": "1 ч 02 мин", "en": "1 h 02 min"}[language]
    )
    expect(page.locator("#service-rows tr")).to_have_count(60)
    screenshot(page, f"dashboard-test-{language}")

    assert clipped(page, "#center-view .tile, #center-view .tile strong") == []
    for tile in page.locator("#center-view .tile").all():
        outer, figure = tile.bounding_box(), tile.locator("strong").bounding_box()
        assert figure["x"] + figure["width"] <= outer["x"] + outer["width"]
        assert outer["x"] + outer["width"] <= 1440
    assert clipped(page, "#center-view .card") == []  # no table scrolls sideways
    name = page.locator('#service-rows tr[data-service="service-0"] td.name')
    assert name.bounding_box()["width"] >= 350  # several words a line, not one
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440

    # "as of" is the center's time of day, not the browser's (New York is 9 hours off).
    page.click('#langs button[data-lang="ru"]')
    now = datetime.now(tz=ZoneInfo("UTC"))
    shown = page.locator("#as-of").inner_text()
    assert shown in {f"на {center_clock(now - timedelta(minutes=m))}" for m in (0, 1, 2)}, shown
