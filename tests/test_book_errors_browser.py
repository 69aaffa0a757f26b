"""The booking pages' refusals in a real browser on a phone: the per-minute limit of
public writes (429 too_many_requests, with Retry-After) is not the daily one, for
joining the line and for booking; the contact limit names the center's number; a
booking whose visitor came after the grace shows the ordinary ticket they got, not
"you did not come". In az, ru and en."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from server.i18n import catalog
from server.models import Appointment, Center, Service, utcnow

from .arrival_helpers import book
from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PHONE = (390, 844)
LANGS = ["az", "ru", "en"]


@pytest.fixture
def center(live_server):
    """Every service bookable and open to joining from home."""
    center = live_server.new_center()
    with live_server.db.write() as s:
        s.execute(update(Appointment).values(client_digest=None))  # other tests' bookings
        row = s.scalar(select(Center).where(Center.code == center.code))
        row.remote_joining = True
        for service in s.scalars(select(Service).where(Service.center_id == row.id)):
            service.bookable = True
            service.remote_joining = True
    return center


def open_booking(new_page, live_server, center, lang: str):
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/book/{center.code}?lang={lang}")
    expect(page.locator("#services .book-choice").first).to_be_visible()
    return page


def refuse(page, path: str, code: str, **details) -> None:
    """The next POST to ``path`` is refused with a 429 ``code``: the limits themselves
    are the server's tests'; these are the page's words for them."""
    body = {"error": {"code": code, "message": "refused", "details": details}}
    headers = {"Retry-After": str(details["retry_after"])} if "retry_after" in details else {}
    page.route(
        f"**/api/v1/public/centers/*/{path}",
        lambda route: route.fulfill(
            status=429, headers=headers, content_type="application/json", body=json.dumps(body)
        ),
    )


def choose_slot(page) -> None:
    page.locator("#services .book-choice").first.click()
    page.locator("#days .book-choice").nth(1).click()
    page.locator("#slots .book-choice:not([disabled])").first.click()
    expect(page.locator("#confirm")).to_be_visible()


@pytest.mark.parametrize("lang", LANGS)
def test_joining_too_fast_is_not_the_daily_limit(new_page, live_server, center, lang):
    words = WORDS[lang]
    page = open_booking(new_page, live_server, center, lang)
    refuse(page, "remote-tickets", "too_many_requests", retry_after=42)
    page.locator("#join-services .book-choice").first.click()
    page.click("#join-confirm")
    error = page.locator("#error")
    expect(error).to_have_text(words["book.err.too_many"]["one"].replace("{n}", "1"))
    assert words["book.join.err.limit"] not in error.inner_text()
    screenshot(page, f"book-join-too-many-{lang}")
    # The day's limit keeps its own words.
    page.unroute("**/api/v1/public/centers/*/remote-tickets")
    refuse(page, "remote-tickets", "client_limit", limit=3)
    page.click("#join-confirm")
    expect(error).to_have_text(words["book.join.err.limit"])


@pytest.mark.parametrize("lang", LANGS)
def test_booking_too_fast_says_when_to_try_again(new_page, live_server, center, lang):
    words = WORDS[lang]
    page = open_booking(new_page, live_server, center, lang)
    choose_slot(page)
    refuse(page, "appointments", "too_many_requests", retry_after=150)
    page.click("#confirm")
    other = words["book.err.too_many"]["few" if lang == "ru" else "other"]  # 3 минуты
    expect(page.locator("#error")).to_have_text(other.replace("{n}", "3"))
    screenshot(page, f"book-too-many-{lang}")


@pytest.mark.parametrize("lang", LANGS)
def test_the_contact_limit_names_the_centers_number(new_page, live_server, center, lang):
    words = WORDS[lang]
    page = open_booking(new_page, live_server, center, lang)
    choose_slot(page)
    refuse(page, "appointments", "contact_limit", field="contact", limit=5)
    page.click("#confirm")
    expect(page.locator("#error")).to_have_text(words["book.err.contact_limit"].replace("{n}", "5"))


@pytest.mark.parametrize("lang", LANGS)
def test_a_late_visitors_booking_shows_the_ticket_they_got(new_page, live_server, center, lang):
    words = WORDS[lang]
    code = {"az": "LATEA2", "ru": "LATER2", "en": "LATEE2"}[lang]
    with live_server.db.write() as s:
        center_id = s.scalar(select(Center.id).where(Center.code == center.code))
        token = book(s, center_id, utcnow() - timedelta(minutes=30), code=code).token
    body = live_server.api(
        "POST", f"/centers/{center.code}/check-in", center.kiosk_token, json={"code": code}
    ).json()
    assert body["late"] is True, body
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    page.goto(f"{live_server.url}/a/{token}?lang={lang}")
    expect(page.locator("#card-state")).to_have_text(words["book.state.late"])
    assert page.inner_text("#card-state") != words["book.state.no_show"]
    expect(page.locator("#code-hint")).to_have_text(words["book.late_ticket"])
    follow = page.locator("#follow")
    expect(follow).to_be_visible()
    expect(follow).to_have_attribute("href", f"/t/{body['tracking_token']}")
    screenshot(page, f"book-late-{lang}", full_page=True)
