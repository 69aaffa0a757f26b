"""Arrival at the kiosk in a real browser against a real server: "I have an
appointment", the on-screen keypad, a keyboard-wedge scanner that types a code or a
ticket's tracking URL and Enter with nobody touching the screen, the ticket shown (and
sent to print) like any ticket, and every refusal in the visitor's language; the screen
fits portrait and landscape panels in az, ru and en."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.appointments.booking import CODE_ALPHABET
from server.i18n import catalog
from server.models import Appointment, Center, Service, Ticket, utcnow

from .accessibility import assert_no_serious_violations
from .arrival_helpers import book
from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PORTRAIT, LANDSCAPE = (1080, 1920), (1920, 1080)
MIN_TARGET = 60


@pytest.fixture
def center(live_server):
    return live_server.new_center()


def center_id(live_server, center) -> int:
    with live_server.db.read() as s:
        return s.scalar(select(Center.id).where(Center.code == center.code))


def booking(live_server, center, minutes: float, code: str, language: str = "en") -> None:
    with live_server.db.write() as s:
        book(
            s,
            center_id(live_server, center),
            utcnow() + timedelta(minutes=minutes),
            code=code,
            language=language,
        )


def open_kiosk(new_page, live_server, center, size=PORTRAIT):
    page = new_page(*size)
    page.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    expect(page.locator("#checkin-start")).to_be_enabled()
    return page


def type_on_keypad(page, code: str) -> None:
    for key in code:
        page.click(f"#checkin-keys button[data-key='{key}']")


def check_fits(page, size) -> None:
    boxes = page.evaluate(
        """() => [...document.querySelectorAll("button")]
            .filter((b) => b.checkVisibility())
            .map((b) => {
              const r = b.getBoundingClientRect();
              return {text: b.textContent.trim(), width: r.width, height: r.height,
                      bottom: r.bottom};
            })"""
    )
    small = [b for b in boxes if min(b["width"], b["height"]) < MIN_TARGET]
    assert small == [], f"touch targets under {MIN_TARGET} px: {small}"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    below = [b["text"] for b in boxes if b["bottom"] > size[1]]
    assert below == [], f"buttons below the bottom of the panel: {below}"


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_keypad_check_in_shows_and_prints_the_ticket_in_each_language(
    new_page, live_server, center, lang
):
    words = WORDS[lang]
    booking(live_server, center, 20, "K7MP3X")
    page = open_kiosk(new_page, live_server, center)
    expect(page.locator("#checkin-start")).to_contain_text(words["checkin.button"])
    check_fits(page, PORTRAIT)
    screenshot(page, "kiosk-start-portrait")
    page.click("#checkin-start")
    page.click(f"button[data-checkin-lang={lang}]")
    expect(page.locator("#checkin-title")).to_have_text(words["checkin.title"])
    expect(page.locator("#checkin-send")).to_be_disabled()
    check_fits(page, PORTRAIT)
    type_on_keypad(page, "K7MP3")
    page.click("#checkin-keys button[data-key='W']")  # a slip of the finger
    # Only a code's characters have keys: none for O, 0, I, 1, B, 8, S...
    keys = page.eval_on_selector_all("#checkin-keys button", "bs => bs.map(b => b.dataset.key)")
    assert "".join(keys) == CODE_ALPHABET
    page.click("#checkin-backspace")
    type_on_keypad(page, "X")
    expect(page.locator("#checkin-code")).to_have_text("K7MP3X")
    screenshot(page, f"checkin-keypad-{lang}")
    assert_no_serious_violations(page, where=f"the check-in keypad ({lang})")
    page.click("#checkin-send")
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    with live_server.db.read() as s:
        appointment = s.scalar(  # this center's: each language's test books the same code
            select(Appointment)
            .join(Center, Center.id == Appointment.center_id)
            .where(Center.code == center.code, Appointment.code == "K7MP3X")
        )
        ticket = s.get(Ticket, appointment.ticket_id)
        start = appointment.start.astimezone(ZoneInfo("Asia/Baku")).strftime("%H:%M")
        assert (appointment.state, ticket.kind) == ("checked_in", "appointment")
        number = ticket.display_number
    expect(page.locator("#ticket-number")).to_have_text(number)
    expect(page.locator("#ticket-note")).to_have_text(
        words["checkin.appointment_note"].replace("{time}", start)
    )
    expect(page.locator("html")).to_have_attribute("lang", lang)  # the visitor's choice
    # Printed like any kiosk ticket: this kiosk has no printer, so an e-ticket.
    expect(page.locator("#print-state")).not_to_be_empty()
    screenshot(page, f"checkin-ticket-{lang}")


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_refusals_in_the_visitors_language(new_page, live_server, center, lang):
    words = WORDS[lang]
    booking(live_server, center, 120, f"EAR{'LYA'}")  # opens 30 min before: too early
    booking(live_server, center, -5, "UXEF22")
    live_server.api(
        "POST", f"/centers/{center.code}/check-in", center.kiosk_token, json={"code": "UXEF22"}
    )
    page = open_kiosk(new_page, live_server, center)
    page.click("#checkin-start")
    page.click(f"button[data-checkin-lang={lang}]")
    type_on_keypad(page, "EARLYA")
    page.click("#checkin-send")
    with live_server.db.read() as s:
        start = s.scalar(  # this center's: each language's test books the same code
            select(Appointment.start)
            .join(Center, Center.id == Appointment.center_id)
            .where(Center.code == center.code, Appointment.code == "EARLYA")
        )
    opens = (start - timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Baku")).strftime("%H:%M")
    expect(page.locator("#checkin-problem")).to_have_text(
        words["checkin.too_early"].replace("{time}", opens)
    )
    screenshot(page, f"checkin-too-early-{lang}")
    type_on_keypad(page, "UXEF22")
    page.click("#checkin-send")
    expect(page.locator("#checkin-problem")).to_have_text(words["checkin.already"])
    type_on_keypad(page, "WXYWXY")
    page.click("#checkin-send")
    expect(page.locator("#checkin-problem")).to_have_text(words["checkin.not_found"])
    expect(page.locator("#checkin-code")).to_have_text("WXYWXY")  # kept, to be corrected
    check_fits(page, PORTRAIT)


def test_a_scanner_checks_in_without_a_touch(new_page, live_server, center):
    booking(live_server, center, 0, "FANCY4", language="ru")
    with live_server.db.write() as s:
        c = s.scalar(select(Center).where(Center.code == center.code))
        c.remote_joining = True
        s.scalar(
            select(Service).where(Service.center_id == c.id, Service.code == "pension-new")
        ).remote_joining = True
    joined = live_server.api(
        "POST",
        f"/public/centers/{center.code}/remote-tickets",
        json={"service": "pension-new", "language": "az"},
    ).json()
    page = open_kiosk(new_page, live_server, center, LANDSCAPE)
    check_fits(page, LANDSCAPE)
    screenshot(page, "kiosk-start-landscape")
    # A booking's QR holds its code; the scanner types it and Enter.
    page.keyboard.type("fancy4\n")
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")  # the booking's language
    expect(page.locator("#ticket-note")).to_contain_text("Ваша запись на")
    page.click("#done")
    # A ticket joined from home: its QR is its tracking URL.
    page.keyboard.type(joined["tracking_url"] + "\n")
    expect(page.locator("#ticket-number")).to_have_text(joined["number"])
    expect(page.locator("#ticket-note")).to_have_text(WORDS["az"]["checkin.in_note"])
    with live_server.db.read() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.tracking_token == joined["tracking_token"]))
        assert ticket.callable_at is None and ticket.checked_in_at is not None
    screenshot(page, "checkin-scanned-landscape")
    # The same QR again: refused, in the language the kiosk is in.
    page.click("#done")
    page.keyboard.type(joined["tracking_url"] + "\n")
    expect(page.locator("#checkin-problem")).to_have_text(WORDS["az"]["checkin.already"])
    check_fits(page, LANDSCAPE)  # the keypad on a landscape panel
    screenshot(page, "checkin-refused-landscape")


def long_waits(s, center) -> None:
    """New pension's visits take an hour: every wait is over the 10 minutes a full hall
    lets in at once, so a walk-in it is full for waits outside."""
    s.scalar(
        select(Service).where(Service.center.has(code=center.code), Service.code == "pension-new")
    ).default_service_min = 60


def test_a_full_hall_gives_a_ticket_to_wait_outside_then_its_qr_checks_in(
    new_page, live_server, center
):
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
        long_waits(s, center)
    inside = live_server.issue(center, "pension-new")  # the hall is full
    page = open_kiosk(new_page, live_server, center)
    page.click("button[data-lang=en]")
    page.click("button[data-category=pensions]")
    page.click("button[data-service=pension-new]")
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    expect(page.locator("#ticket-note")).to_have_text(WORDS["en"]["checkin.outside_note"])
    number = page.inner_text("#ticket-number")
    screenshot(page, "outside-ticket-en")
    with live_server.db.read() as s:
        ticket = s.scalar(
            select(Ticket).where(Ticket.tracking_token.is_not(None)).order_by(Ticket.id.desc())
        )
        assert (ticket.display_number, ticket.kind) == (number, "outside")
        token = ticket.tracking_token
    page.click("#done")
    cancelled = live_server.api(
        "POST", f"/tickets/{inside['id']}/cancel", center.staff_token, json={}
    )
    assert cancelled.status_code == 200  # the visitor inside leaves: room for one
    page.keyboard.type(f"{live_server.url}/t/{token}\n")  # back in: its QR at the kiosk
    expect(page.locator("#ticket-note")).to_have_text(WORDS["en"]["checkin.in_note"])


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_a_full_hall_lets_an_outside_ticket_in_exactly_when_its_phone_says_come_in(
    new_page, live_server, center, lang
):
    """The kiosk refuses an outside ticket's QR while the hall is full and its wait is
    long, in the visitor's language, while its phone says "wait outside"; once there is
    room, the phone says "come in now" and the same QR checks in."""
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
        long_waits(s, center)
    inside = live_server.issue(center, "pension-new")  # the hall is full
    for _ in range(4):
        live_server.issue(center, "pension-new")  # four outside ahead of it
    late = live_server.issue(center, "pension-new", language=lang)
    assert late["kind"] == "outside" and late["estimated_wait_s"] > 600
    phone = new_page(390, 844, has_touch=True, is_mobile=True)
    phone.goto(f"{live_server.url}/t/{late['tracking_token']}")
    expect(phone.locator("#arrival-advice")).to_have_text(WORDS[lang]["remote.wait_outside"])
    page = open_kiosk(new_page, live_server, center)
    page.click("#checkin-start")
    page.click(f"button[data-checkin-lang={lang}]")
    page.keyboard.type(f"{live_server.url}/t/{late['tracking_token']}\n")
    problem = page.locator("#checkin-problem")
    expect(problem).to_have_attribute("data-key", "checkin.hall_full")
    words = WORDS[lang]["checkin.hall_full"]
    expect(problem).to_contain_text(words.split("{limit}")[0])
    assert "{" not in problem.inner_text()  # the limit and the wait filled in
    check_fits(page, PORTRAIT)
    screenshot(page, f"checkin-hall-full-{lang}")
    live_server.api(
        "POST", f"/tickets/{inside['id']}/cancel", center.staff_token, json={}
    )  # the visitor inside leaves: room for one
    phone.reload()
    expect(phone.locator("#arrival-advice")).to_have_text(WORDS[lang]["remote.come_in"])
    page = open_kiosk(new_page, live_server, center)
    page.keyboard.type(f"{live_server.url}/t/{late['tracking_token']}\n")  # in its language
    expect(page.locator("#ticket-note")).to_have_text(WORDS[lang]["checkin.in_note"])


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_reception_is_told_in_words_that_the_hall_is_full(new_page, live_server, center, lang):
    from .test_reception_browser import TABLET, log_in, reception_user

    manage = catalog(Path(__file__).resolve().parent.parent / "manage" / "translations")
    with live_server.db.write() as s:
        s.scalar(select(Center).where(Center.code == center.code)).hall_capacity = 1
        long_waits(s, center)
    for _ in range(5):
        live_server.issue(center, "pension-new")  # one inside, four outside
    late = live_server.issue(center, "pension-new")
    assert late["kind"] == "outside" and late["estimated_wait_s"] > 600
    page = new_page(*TABLET)
    log_in(page, live_server, reception_user(live_server, center), "/reception", lang)
    expect(page.locator("#login-view")).to_be_hidden()
    page.fill("#checkin-code", f"{live_server.url}/t/{late['tracking_token']}")
    page.click("#checkin-submit")
    title = page.locator("#result-title")
    expect(title).to_contain_text(manage[lang]["reception.refused.hall_full"].split("{limit}")[0])
    assert "{" not in title.inner_text()
    expect(page.locator("#result")).to_have_class("card result bad")
    screenshot(page, f"reception-hall-full-{lang}")
