"""The reception's tablet (/reception) in a real browser against a real server, at a
tablet's sizes (1024x768 landscape, 768x1024 portrait) in az, ru and en: a volunteer
logs in (at the counter page, and is sent to the door's screen), issues a ticket for a
visitor with a priority class and the visitor's language, checks a booking in by its
code, is told in words why a code is refused, and reads how long each service takes,
following the queue live. Long names are read whole, nothing overflows, no serious
accessibility violation (axe-core), nothing the Content-Security-Policy blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.appointments.booking import book
from server.auth import create_staff
from server.models import Center, Service, Ticket, TicketEvent

from . import factories
from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot, wait_until
from .test_csp_browser import SESSION_BEFORE_LOGIN, Watched
from .test_manage_browser import big_center, clipped
from .test_reception import same_day_zone

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
TABLET = (1024, 768)
UPRIGHT = (768, 1024)


def reception_user(live_server, center) -> str:
    username = "door-" + center.code.removeprefix("live-")
    with live_server.db.write() as s:
        create_staff(s, username, factories.PASSWORD, "reception", center.code)
    return username


def log_in(page, live_server, username: str, path: str, language: str) -> None:
    page.goto(f"{live_server.url}{path}?lang={language}")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")


def booking(live_server, center, service: str, minutes_ahead: int = 20) -> str:
    """A booking of ``service`` (made bookable) for the slot about ``minutes_ahead``
    from now; returns its code."""
    at = datetime.now(UTC) + timedelta(minutes=minutes_ahead)
    start = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    with live_server.db.write() as s:
        row = s.scalar(
            select(Service)
            .join(Center, Center.id == Service.center_id)
            .where(Center.code == center.code, Service.code == service)
        )
        row.bookable, row.slot_min = True, 15
        s.flush()
        return book(s, center.code, service, start, "az", now=start - timedelta(hours=1)).code


def test_a_volunteer_issues_checks_in_and_answers_how_long(live_server, live_center, new_page):
    with live_server.db.write() as s:  # a slot 20 minutes ahead is today at any hour
        row = s.scalar(select(Center).where(Center.code == live_center.code))
        row.timezone = same_day_zone(datetime.now(UTC))
    username = reception_user(live_server, live_center)
    page = new_page(*TABLET)
    # Logged in at the counter page: reception has no counter, so it is sent to its door.
    log_in(page, live_server, username, "/counter", "en")
    page.wait_for_url(f"{live_server.url}/reception")
    log_in_again = page.locator("#login-view")
    expect(log_in_again).to_be_hidden()
    expect(page.locator("#who-name")).to_have_text(username)
    expect(page.locator("#center-code")).to_have_text(live_center.code)

    # How long for each service, live: a kiosk's ticket moves the figures.
    job = page.locator("button.service[data-service='job-seeker']")
    expect(job.locator(".waiting")).to_have_text("0 people in line")
    live_server.issue(live_center, "job-seeker")
    expect(job.locator(".waiting")).to_have_text("1 person in line")
    expect(job.locator(".wait")).not_to_have_text("–")

    # A visitor with a document: priority "Elderly", a Russian speaker.
    page.locator("#priority-choices button[data-priority='elderly']").click()
    page.locator("#visitor-languages button[data-visitor-lang='ru']").click()
    job.click()
    expect(page.locator("#result-title")).to_have_text("Ticket issued")
    expect(page.locator("#result-number")).to_have_text("C002")
    expect(page.locator("#result-note")).to_contain_text("Priority: Elderly")
    expect(page.locator("#result-qr-img")).to_be_visible()
    wait_until(page, "document.getElementById('result-qr-img').naturalWidth > 0")
    # The class was for that visitor only.
    none = page.locator("#priority-choices button[data-priority='']")
    expect(none).to_have_attribute("aria-pressed", "true")
    with live_server.db.read() as s:
        ticket = s.scalar(  # this center's C002: the live server holds many centers
            select(Ticket)
            .join(Center, Center.id == Ticket.center_id)
            .where(Center.code == live_center.code, Ticket.number == 2, Ticket.prefix == "C")
        )
        assert (ticket.priority, ticket.language, ticket.kind) == ("elderly", "ru", "walk_in")
        event = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
        assert event.details["confirmed_by"] == username
    screenshot(page, "reception-issued-1024x768-en")

    # A booking checked in by its code, typed in lower case with a space.
    code = booking(live_server, live_center, "pension-recalc")
    page.fill("#checkin-code", f"{code[:3].lower()} {code[3:].lower()}")
    page.click("#checkin-submit")
    expect(page.locator("#result-title")).to_have_text("Checked in")
    expect(page.locator("#result-number")).to_have_text("B001")
    expect(page.locator("#result-note")).to_contain_text("Booked for")
    expect(page.locator("#checkin-code")).to_have_value("")
    # The same code again, and a code nobody has: said in words, in red.
    page.fill("#checkin-code", code)
    page.click("#checkin-submit")
    expect(page.locator("#result-title")).to_have_text("This booking is already checked in.")
    expect(page.locator("#result")).to_have_class("card result bad")
    page.fill("#checkin-code", "AAAAAA")
    page.click("#checkin-submit")
    expect(page.locator("#result-title")).to_have_text("No such code. Check it and try again.")
    # Russian words for the volunteer, the same screen.
    page.click("#langs button[data-lang='ru']")
    expect(page.locator("#checkin-submit")).to_have_text("Зарегистрировать")
    expect(job.locator(".waiting")).to_have_text("в очереди 2 человека")


@pytest.mark.parametrize("language", ["az", "ru", "en"])
@pytest.mark.parametrize("size", [TABLET, UPRIGHT], ids=["1024x768", "768x1024"])
def test_the_tablet_reads_long_names_whole_either_way_up(live_server, new_page, language, size):
    center = big_center(live_server, services=12)
    username = reception_user(live_server, center)
    page = new_page(*size)
    watched = Watched(page)  # under the real Content-Security-Policy
    log_in(page, live_server, username, "/reception", language)
    expect(page.locator("button.service")).to_have_count(12)
    wait_until(page, "document.querySelectorAll('.service-figures .wait').length === 12")
    # Nothing wider than the screen, no text cut off, every button a large target.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size[0], width
    boxes = "button.service, .service-name, #priority-choices button, .card, .card button, label"
    assert clipped(page, boxes) == []
    heights = page.locator("button.service").evaluate_all(
        "nodes => nodes.map(n => n.getBoundingClientRect().height)"
    )
    assert min(heights) >= 60, heights
    # The check-in box is on the first screen; across, the first services are too.
    box = page.locator("#checkin-code").bounding_box()
    assert box and box["y"] + box["height"] <= size[1]
    if size == TABLET:
        first = page.locator("button.service").first.bounding_box()
        assert first and first["y"] + first["height"] <= size[1], first
        # ... and the visitor's languages, below the priority classes (they were not).
        chips = page.locator("#visitor-languages").bounding_box()
        assert chips and chips["y"] + chips["height"] <= size[1], chips
    assert_no_serious_violations(page, where=f"reception {size} {language}")
    # Filtering the long list by a word of a name.
    page.fill("#filter", "11 ")
    expect(page.locator("button.service")).to_have_count(1)
    screenshot(page, f"reception-{size[0]}x{size[1]}-{language}")
    watched.assert_clean(SESSION_BEFORE_LOGIN)
