"""The counter with booked visitors (issue 15), in a real browser against a real server,
at 1366x768 and 1920x1080 in az, ru and en with long service names: Call next with only
a booking before its slot says when it can be called (not "nobody waits"), the longest
wait runs on between queue events, a called booking says "Booked 10:30", a long service
name keeps Call next in view, and today's appointments show service names readably.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Center, Service, utcnow

from .browser_helpers import screenshot
from .test_appointments_browser import bookable_center
from .test_appointments_listing import book, check_in
from .test_counter_browser import log_in
from .test_manage_browser import center_clock
from .test_public_fairness_browser import SPILLS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = {
    "az": ("Hələ heç kəsi çağırmaq olmur", "Qəbul saatı"),
    "ru": ("Вызвать пока некого", "Запись на"),
    "en": ("Nobody can be called yet", "Booked"),
}
SIZES = ((1366, 768), (1920, 1080))


def booking(live_server, center, code: str, start, checked_in):
    with live_server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        service = s.scalar(
            select(Service).where(Service.center_id == row.id, Service.code == "pension-new")
        )
        check_in(s, row, book(s, row, service, code, start), checked_in)


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_a_counter_with_bookings(live_server, new_page, language):
    nobody, booked = WORDS[language]
    center = bookable_center(live_server, long=True)
    now = utcnow().replace(second=0, microsecond=0)
    later = now + timedelta(minutes=30)  # checked in early: callable from its start - 2 min
    booking(live_server, center, "ACE234", later, now - timedelta(minutes=5))
    page = new_page(*SIZES[0])
    page.goto(f"{live_server.url}/counter")
    log_in(page, center)
    page.click(f'.counter-choice[data-counter="{center.counters["1"]}"]')
    page.click(f'#langs button[data-lang="{language}"]')
    expect(page.locator("#queue-list li")).not_to_have_count(0)

    # Only a booking before its slot waits: say from when, not "nobody waits".
    page.keyboard.press("n")
    expect(page.locator("#notice-title")).to_have_text(nobody)
    expect(page.locator("#notice-detail")).to_contain_text(
        center_clock(later - timedelta(minutes=2))
    )
    screenshot(page, f"counter-nobody-callable-{language}")
    # Its wait runs on with no queue event.
    longest = page.locator("#queue-list [data-longest-since]").first
    before = longest.text_content()
    expect(longest).not_to_have_text(before, timeout=5_000)

    # A booking callable now is called: the box says it is one, with its slot.
    soon = now + timedelta(minutes=1)
    booking(live_server, center, "CEF345", soon, now - timedelta(minutes=10))
    page.keyboard.press("n")
    expect(page.locator("#ticket-booked")).to_have_text(f"{booked} {center_clock(soon)}")
    page.click("#appts summary")
    names = page.locator("#appts-list .appt-service")
    expect(names).to_have_count(2)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        # Call next in view under a long service name; the names readable (not 2-8
        # characters): the list's name line has the side card's width.
        box = page.locator('#actions button[data-action="callNext"]').bounding_box()
        assert box["y"] + box["height"] <= height, (width, box)
        for name_width in names.evaluate_all("ns => ns.map(n => n.clientWidth)"):
            assert name_width >= 250, name_width
        service = page.locator("#ticket-service dd")
        line = float(service.evaluate("n => parseFloat(getComputedStyle(n).lineHeight) || 34"))
        assert service.bounding_box()["height"] <= 2 * line + 2
        assert page.evaluate(SPILLS) == []
        screenshot(page, f"counter-bookings-{language}-{width}")
