"""Check-in in a real browser: the language picked on the kiosk's keypad (or reception's
visitor language) is the ticket's, not the booking's; a scan on the start screen takes
the booking's language, the center's name included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Center, Ticket, utcnow

from .arrival_helpers import book
from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PORTRAIT = (1080, 1920)


@pytest.fixture
def center(live_server):
    return live_server.new_center()


def booking(live_server, center, code: str, language: str) -> None:
    with live_server.db.write() as s:
        center_id = s.scalar(select(Center.id).where(Center.code == center.code))
        book(s, center_id, utcnow() + timedelta(minutes=20), code=code, language=language)


def ticket_language(live_server, center) -> str:
    """The language of the center's latest ticket."""
    with live_server.db.read() as s:
        return s.scalar(
            select(Ticket.language)
            .join(Center, Center.id == Ticket.center_id)
            .where(Center.code == center.code)
            .order_by(Ticket.id.desc())
        )


def open_kiosk(new_page, live_server, center):
    page = new_page(*PORTRAIT)
    page.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    expect(page.locator("#checkin-start")).to_be_enabled()
    return page


@pytest.mark.parametrize(("booked", "picked"), [("en", "ru"), ("ru", "az"), ("az", "en")])
def test_the_language_picked_on_the_keypad_is_the_tickets(
    new_page, live_server, center, booked, picked
):
    booking(live_server, center, "PLMNK2", booked)
    page = open_kiosk(new_page, live_server, center)
    page.click("#checkin-start")
    page.click(f"button[data-checkin-lang={picked}]")
    for key in "PLMNK2":
        page.click(f"#checkin-keys button[data-key='{key}']")
    page.click("#checkin-send")
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", picked)
    expect(page.locator("#ticket-note")).to_contain_text(
        WORDS[picked]["checkin.appointment_note"].split("{time}")[0]
    )
    assert ticket_language(live_server, center) == picked
    screenshot(page, f"checkin-picked-{picked}")


@pytest.mark.parametrize("booked", ["ru", "en"])
def test_a_scan_on_the_start_screen_names_the_center_in_the_bookings_language(
    new_page, live_server, center, booked
):
    booking(live_server, center, "FCNRY3", booked)
    page = open_kiosk(new_page, live_server, center)
    expect(page.locator("html")).to_have_attribute("lang", "az")
    page.keyboard.type("fcnry3\n")
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", booked)
    expected = f"Center {center.code}" + (" (ru)" if booked == "ru" else "")
    expect(page.locator("#center-name")).to_have_text(expected)
    assert ticket_language(live_server, center) == booked
    screenshot(page, f"checkin-scanned-{booked}")


def test_reception_checks_in_in_the_visitors_language(new_page, live_server, center):
    from .test_reception_browser import TABLET, log_in, reception_user

    booking(live_server, center, "RCPTN4", "en")
    page = new_page(*TABLET)
    log_in(page, live_server, reception_user(live_server, center), "/reception", "az")
    expect(page.locator("#login-view")).to_be_hidden()
    page.click("#visitor-languages button[data-visitor-lang=ru]")
    page.fill("#checkin-code", "RCPTN4")
    page.click("#checkin-submit")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#result")).not_to_have_class("card result bad")
    assert ticket_language(live_server, center) == "ru"
    screenshot(page, "reception-checkin-ru")
