"""The booking pages in a real browser on a phone (390x844): book a slot in one
language and see the code and its QR; cancel from the booking's link; a time taken
meanwhile is refused in words and the times reload; az and ru with long names fit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from server.i18n import catalog
from server.models import Appointment, Center, Service

from .browser_helpers import screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
ALL_DAY = {"open": "00:00", "close": "23:59"}
PHONE = (390, 844)
LONG = {
    "az": "Əmək pensiyasının yenidən hesablanması və əlillik müavinətinin təyin edilməsi "
    "üçün müraciətlərin qəbulu",
    "ru": "Перерасчёт трудовой пенсии и назначение пособия по инвалидности: приём "
    "заявлений и консультации",
    "en": "Recalculation of the labour pension and disability benefit applications",
}


@pytest.fixture
def center(live_server):
    """Every service bookable; one with a long name in each language."""
    center = live_server.new_center(hours=ALL_DAY)
    with live_server.db.write() as s:
        # Every test of the session books from 127.0.0.1: earlier ones' bookings must not
        # count against this one's per-address limit (10 in 24 hours).
        s.execute(update(Appointment).values(client_digest=None))
        row = s.scalar(select(Center).where(Center.code == center.code))
        row.name = {
            "az": "Bakı şəhəri Nərimanov rayonu Dövlət Xidmətləri Mərkəzi №1",
            "ru": "Центр государственных услуг Наримановского района города Баку №1",
            "en": "Baku Narimanov District Public Service Center No. 1",
        }
        for service in s.scalars(select(Service).where(Service.center_id == row.id)):
            service.bookable = True
            service.bookings_per_slot = 2
            if service.code == "pension-recalc":
                service.name = LONG
    return center


def open_booking(new_page, live_server, center, lang: str | None = None, **options):
    page = new_page(*PHONE, has_touch=True, is_mobile=True, **options)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    query = f"?lang={lang}" if lang else ""
    page.goto(f"{live_server.url}/book/{center.code}{query}")
    expect(page.locator("#services .book-choice").first).to_be_visible()
    page.errors = errors
    return page


def fits(page) -> None:
    """Nothing wider than the phone: no sideways scrolling, no box past the edge."""
    wide = page.evaluate(
        """() => {
        const width = document.documentElement.clientWidth;
        const over = [...document.querySelectorAll('body *')]
            .filter((e) => e.offsetParent !== null)
            .filter((e) => e.getBoundingClientRect().right > width + 0.5)
            .map((e) => e.id || e.className || e.tagName);
        return {scroll: document.documentElement.scrollWidth, width, over};
        }"""
    )
    assert wide["scroll"] <= wide["width"] and wide["over"] == [], wide


def choose(page, service: str, day_index: int = 1, slot_index: int = 0) -> str:
    page.locator("#services .book-choice", has_text=service).click()
    day = page.locator("#days .book-choice").nth(day_index)
    day.click()
    slot = page.locator("#slots .book-choice:not([disabled])").nth(slot_index)
    expect(slot).to_be_visible()
    start = slot.get_attribute("data-start")
    slot.click()
    expect(page.locator("#confirm")).to_be_visible()
    return start


def test_book_see_the_code_and_cancel_from_the_link(new_page, live_server, center):
    words = WORDS["en"]
    page = open_booking(new_page, live_server, center, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".book-title")).to_have_text(words["book.title"])
    expect(page.locator("#center-name")).to_have_text(
        "Baku Narimanov District Public Service Center No. 1"
    )
    # Only bookable services, each once.
    expect(page.locator("#services .book-choice")).to_have_count(4)
    start = choose(page, "New pension")
    expect(page.locator("#slots .book-choice").first).to_contain_text("2 free")
    page.fill("#contact", "+994 50 123 45 67")
    expect(page.locator("#confirm")).to_contain_text(start[11:16])
    fits(page)
    page.click("#confirm")

    code = page.locator("#code")
    expect(code).to_have_text(re.compile(r"^[ACEFHKLMNPRTUVWXY2345679]{6}$"))
    expect(page.locator("#card-title")).to_have_text(words["book.booked"])
    expect(page.locator("#card-when")).to_contain_text(start[11:16])
    wait_until(page, "document.getElementById('qr').naturalWidth > 0")
    ics = page.locator("#ics").get_attribute("href")
    assert ics.endswith("/calendar.ics")
    response = live_server.api("GET", ics.removeprefix("/api/v1"))
    assert response.status_code == 200 and code.inner_text() in response.text
    screenshot(page, "booking-done-en")
    fits(page)
    assert page.errors == []

    # The booking's own link: see it, cancel it after confirming.
    booked_code = code.inner_text()
    page.goto(page.locator("#manage").get_attribute("href"))
    expect(page.locator("#code")).to_have_text(booked_code)
    expect(page.locator("#card-state")).to_have_text(words["book.state.booked"])
    expect(page.locator("#card-title")).to_have_text(words["book.yours"])
    again = page.locator("#book-again").get_attribute("href")
    assert again == f"/book/{center.code}?lang=en"
    page.click("#cancel")
    expect(page.locator("#cancel-ask")).to_be_visible()
    screenshot(page, "booking-cancel-ask-en")
    page.click("#cancel-no")  # changed their mind
    expect(page.locator("#cancel-ask")).to_be_hidden()
    page.click("#cancel")
    page.click("#cancel-yes")
    expect(page.locator("#card-state")).to_have_text(words["book.state.cancelled"])
    expect(page.locator("#done")).to_have_text(words["book.cancelled_done"])
    expect(page.locator("#cancel-area")).to_be_hidden()
    expect(page.locator("#qr")).to_be_hidden()
    screenshot(page, "booking-cancelled-en")
    token = page.url.rsplit("/", 1)[1].split("?")[0]
    assert live_server.api("GET", f"/appointments/{token}").json()["state"] == "cancelled"
    assert page.errors == []


def test_a_time_taken_meanwhile_is_refused_and_the_times_reload(new_page, live_server, center):
    words = WORDS["ru"]
    page = open_booking(new_page, live_server, center, "ru")
    start = choose(page, "New pension (ru)")
    for _ in range(2):  # someone else takes both places meanwhile
        taken = live_server.api(
            "POST",
            f"/public/centers/{center.code}/appointments",
            json={"service": "pension-new", "start": start, "language": "az"},
        )
        assert taken.status_code == 201, taken.text
    page.click("#confirm")
    expect(page.locator("#error")).to_have_text(words["book.err.slot_full"])
    full = page.locator(f'#slots .book-choice[data-start="{start}"]')
    expect(full).to_be_disabled()
    expect(full).to_contain_text(words["book.full"])
    expect(page.locator("#step-confirm")).to_be_hidden()
    # Another time works.
    page.locator("#slots .book-choice:not([disabled])").first.click()
    page.click("#confirm")
    expect(page.locator("#code")).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_long_names_fit_the_phone(new_page, live_server, center, lang):
    words = WORDS[lang]
    locale = {"az": "az-AZ", "ru": "ru-RU"}[lang]
    page = open_booking(new_page, live_server, center, locale=locale)  # Accept-Language
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator(".book-title")).to_have_text(words["book.title"])
    fits(page)
    choose(page, LONG[lang][:30], day_index=0)
    fits(page)
    screenshot(page, f"booking-form-{lang}", full_page=True)
    page.click("#confirm")
    expect(page.locator("#card-service")).to_have_text(LONG[lang])
    expect(page.locator("#code-hint")).to_contain_text("30")
    fits(page)
    screenshot(page, f"booking-done-{lang}", full_page=True)
    page.goto(page.locator("#manage").get_attribute("href"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#cancel")).to_have_text(words["book.cancel"])
    fits(page)
    assert page.errors == []


def test_unknown_center_and_booking_links(new_page, live_server):
    page = new_page(*PHONE)
    response = page.goto(f"{live_server.url}/book/no-such-center?lang=en")
    assert response.status == 404
    expect(page.locator("#missing")).to_have_text(WORDS["en"]["book.center_not_found"])
    response = page.goto(f"{live_server.url}/a/no-such-token?lang=ru")
    assert response.status == 404
    expect(page.locator("#missing")).to_have_text(WORDS["ru"]["book.not_found"])
