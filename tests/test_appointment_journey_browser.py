"""Issue 15's "done when", tried as a new visitor would, end to end in a real browser
against the real server: book a slot on a phone, arrive, check in at the kiosk with
the code on its keypad and be called in the order docs/queue.md ("Appointments and
absent tickets") documents among walk-ins, the phone flipping to the call; join from
home, be told "leave now", check in by scanning the phone's QR at the kiosk, be called.

The scene around the visitor is built with the kiosk's and the counter's API (other
visitors, the counter calling); the only database writes are the center's settings and
one walk-in's due time (a visitor who has waited past the target), never the booking or
ticket under test. Times are chosen so nothing waits real minutes: the center opens 3
minutes before the current minute with 5-minute slots, so the next slot starts within
2 minutes (callable at once, its start minus the 2-minute lead being past) and the one
after it only in about 7 (not callable for minutes)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Appointment, Center, Service, Ticket, utcnow

from .browser_helpers import screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
PHONE = (390, 844)
KIOSK = (1080, 1920)  # portrait, as tests/test_checkin_browser.py
SLOT_MIN = 5


def opening(now: datetime) -> tuple[str, dict[str, str], datetime]:
    """A time zone and hours that open 3 minutes before the current local minute, and
    the slot start expected next (the current minute + 2). Near local midnight the grid
    would not fit the day, so the center's zone is then UTC (4 hours from Baku's)."""
    for zone in ("Asia/Baku", "UTC"):
        local = now.astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
        opens = local - timedelta(minutes=3)
        if opens.date() == local.date() and local.hour * 60 + local.minute < 23 * 60 + 30:
            hours = {"open": opens.strftime("%H:%M"), "close": "23:59"}
            return zone, hours, local + timedelta(minutes=2)
    raise AssertionError("unreachable: Baku and UTC are 4 hours apart")


def settings(live_server, center, **service_settings) -> None:
    """``pension-new`` (counter 1, target wait 15 min) gets ``service_settings``."""
    with live_server.db.write() as s:
        row = s.scalar(select(Center).where(Center.code == center.code))
        row.remote_joining = True
        service = s.scalar(
            select(Service).where(Service.center_id == row.id, Service.code == "pension-new")
        )
        for name, value in service_settings.items():
            setattr(service, name, value)


def ticket(live_server, ticket_id: int) -> tuple[str, str, datetime | None]:
    with live_server.db.read() as s:
        row = s.get(Ticket, ticket_id)
        return row.status, row.kind, row.callable_at


def open_phone(new_page, live_server, path: str):
    page = new_page(*PHONE, has_touch=True, is_mobile=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}{path}")
    page.errors = errors
    return page


def open_kiosk(new_page, live_server, center):
    page = new_page(*KIOSK)
    page.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    expect(page.locator("#checkin-start")).to_be_enabled()
    return page


def call_next(live_server, center) -> str | None:
    called = live_server.call_next(center, "1")
    if called is None:
        return None
    for action in ("start", "complete"):  # served at once: the counter is free again
        response = live_server.api("POST", f"/tickets/{called['id']}/{action}", center.staff_token)
        assert response.status_code == 200, response.text
    return called["number"]


def test_book_on_a_phone_check_in_with_the_code_be_called_in_the_documented_order(
    new_page, live_server
):
    words = WORDS["ru"]
    zone, hours, next_slot = opening(utcnow())
    center = live_server.new_center(hours=hours, timezone=zone)
    settings(live_server, center, bookable=True, slot_min=SLOT_MIN, bookings_per_slot=2)

    # Two walk-ins already in the hall: one has waited past the target (due before the
    # slot starts), one came a minute ago (due in 15 minutes, after the slot's start).
    overdue = live_server.issue(center, "pension-new")
    fresh = live_server.issue(center, "pension-new")
    with live_server.db.write() as s:
        s.get(Ticket, overdue["id"]).due_at = utcnow() - timedelta(minutes=5)

    # On the phone, in Russian: the first service, today, the first free time.
    phone = open_phone(new_page, live_server, f"/book/{center.code}?lang=ru")
    expect(phone.locator("html")).to_have_attribute("lang", "ru")
    phone.locator("#services .book-choice", has_text="New pension (ru)").click()
    phone.locator("#days .book-choice").first.click()
    slot = phone.locator("#slots .book-choice:not([disabled])").first
    expect(slot).to_be_visible()
    start = slot.get_attribute("data-start")
    assert datetime.fromisoformat(start) == next_slot, (start, next_slot)
    slot.click()
    phone.click("#confirm")
    code_box = phone.locator("#code")
    expect(code_box).to_have_text(re.compile(r"^[ACEFHKLMNPRTUVWXY2345679]{6}$"))
    expect(phone.locator("#card-title")).to_have_text(words["book.booked"])
    expect(phone.locator("#card-when")).to_contain_text(start[11:16])
    code = code_box.inner_text()  # read off the page, as the visitor does
    screenshot(phone, "journey-booked-ru")

    # Someone else books the slot after it (callable only from its start - 2 minutes)
    # and checks in early; a walk-in comes after both.
    later_start = (datetime.fromisoformat(start) + timedelta(minutes=SLOT_MIN)).isoformat()
    later = live_server.api(
        "POST",
        f"/public/centers/{center.code}/appointments",
        json={"service": "pension-new", "start": later_start, "language": "az"},
    )
    assert later.status_code == 201, later.text
    early = live_server.api(
        "POST",
        f"/centers/{center.code}/check-in",
        center.kiosk_token,
        json={"code": later.json()["code"]},
    )
    assert early.status_code == 201, early.text
    early_id = early.json()["id"]

    # At the kiosk: "I have an appointment", Russian, the code on the keypad.
    kiosk = open_kiosk(new_page, live_server, center)
    kiosk.click("#checkin-start")
    kiosk.click("button[data-checkin-lang=ru]")
    expect(kiosk.locator("#checkin-title")).to_have_text(words["checkin.title"])
    for key in code:
        kiosk.click(f"#checkin-keys button[data-key='{key}']")
    expect(kiosk.locator("#checkin-code")).to_have_text(code)
    kiosk.click("#checkin-send")
    expect(kiosk.locator("section[data-screen=ticket]")).to_be_visible()
    expect(kiosk.locator("#ticket-note")).to_have_text(
        words["checkin.appointment_note"].replace("{time}", start[11:16])
    )
    mine = kiosk.inner_text("#ticket-number")
    screenshot(kiosk, "journey-checked-in-ru")
    # The ticket's QR leads the visitor's phone to its page.
    wait_until(kiosk, "document.getElementById('ticket-qr').naturalWidth > 0")
    qr = kiosk.locator("#ticket-qr").get_attribute("src")
    tracking = unquote(qr.split("/tickets/", 1)[1].removesuffix("/qr.svg"))
    after = live_server.issue(center, "pension-new")  # a walk-in after the check-in

    phone.goto(f"{live_server.url}/t/{tracking}")
    expect(phone.locator("#number")).to_have_text(mine)
    expect(phone.locator("#status")).to_have_text(words["status.waiting"])
    expect(phone.locator("#position")).to_have_text("2")  # behind the overdue walk-in

    # The counter calls. Documented order: the overdue walk-in (due before the slot),
    # the booking (its slot start), then the walk-ins due later; the later booking ranks
    # before them by its start but is stepped over, not callable before start - 2 min.
    assert call_next(live_server, center) == overdue["number"]
    expect(phone.locator("#position")).to_have_text("1")
    called = live_server.call_next(center, "1")
    assert called["number"] == mine
    call = phone.locator("#call")
    expect(call).to_be_visible()
    expect(call.locator(".call-turn")).to_have_text(words["phone.your_turn"])
    expect(phone.locator("#call-where")).to_have_text(
        words["phone.go_to_counter"].replace("{counter}", "1")
    )
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(phone, "journey-called-ru")
    for action in ("start", "complete"):
        done = live_server.api("POST", f"/tickets/{called['id']}/{action}", center.staff_token)
        assert done.status_code == 200, done.text
    assert call_next(live_server, center) == fresh["number"]
    assert call_next(live_server, center) == after["number"]
    assert call_next(live_server, center) is None  # only the later booking is left
    status, kind, callable_at = ticket(live_server, early_id)
    assert (status, kind) == ("waiting", "appointment")
    assert callable_at > utcnow(), "the test ran past the later slot's lead"
    with live_server.db.read() as s:
        booked = s.scalar(select(Appointment).where(Appointment.code == code))
        assert (booked.state, booked.ticket_id) == ("checked_in", called["id"])
    assert phone.errors == []


def test_join_from_home_leave_now_scan_in_at_the_kiosk_and_be_called(new_page, live_server):
    words = WORDS["az"]
    center = live_server.new_center()
    settings(live_server, center, remote_joining=True)
    live_server.set_counter_state(center, "1", "open")
    ahead = [live_server.issue(center, "pension-new") for _ in range(3)]

    # At home: the booking page offers joining the line now, showing the line; joining
    # takes the visitor to the new ticket's phone page.
    phone = open_phone(new_page, live_server, f"/book/{center.code}?lang=az")
    join = phone.locator("#join-services [data-service=pension-new]")
    expect(join).to_contain_text(words["book.join.waiting"]["other"].replace("{n}", "3"))
    join.click()
    phone.locator("#join-confirm").click()
    phone.wait_for_url(re.compile(r"/t/[A-Za-z0-9_-]{16,}$"))
    token = phone.url.rsplit("/t/", 1)[1]
    with live_server.db.read() as s:
        row = s.scalar(select(Ticket).where(Ticket.tracking_token == token))
        mine = {
            "number": row.display_number,
            "tracking_token": token,
            "kind": row.kind,
            "tracking_url": phone.url,
        }
    assert mine["kind"] == "remote"
    behind = live_server.issue(center, "pension-new")  # came in person after the join

    expect(phone.locator("html")).to_have_attribute("lang", "az")
    expect(phone.locator("#number")).to_have_text(mine["number"])
    expect(phone.locator("#arrival-title")).to_have_text(words["remote.title"])
    expect(phone.locator("#arrival-advice")).to_have_text(words["remote.set_travel"])
    wait_until(phone, "document.getElementById('arrival-qr').naturalWidth > 0")
    wait_s = phone.evaluate("Phone.state.ticket.estimated_wait_s")
    travel = max(1, wait_s // 60 + 5)  # further away than the wait: leave now
    phone.fill("#travel", str(travel))
    expect(phone.locator("#arrival-advice")).to_have_text(words["remote.leave_now"])
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(phone, "journey-leave-now-az")

    # While the visitor travels the line moves: the ones ahead are served, then the
    # absent ticket at the head is passed over (it keeps its place) for the next one.
    for walk_in in ahead:
        assert call_next(live_server, center) == walk_in["number"]
    assert call_next(live_server, center) == behind["number"]
    expect(phone.locator("#arrival")).to_be_visible()

    # At the center: the QR on the phone is its tracking URL; the kiosk's scanner types
    # it and Enter, nobody touches the screen.
    qr_text = mine["tracking_url"]
    assert qr_text.endswith(f"/t/{mine['tracking_token']}")
    kiosk = open_kiosk(new_page, live_server, center)
    kiosk.keyboard.type(qr_text + "\n")
    expect(kiosk.locator("section[data-screen=ticket]")).to_be_visible()
    expect(kiosk.locator("#ticket-number")).to_have_text(mine["number"])
    expect(kiosk.locator("#ticket-note")).to_have_text(words["checkin.in_note"])
    screenshot(kiosk, "journey-scanned-az")
    expect(phone.locator("#arrival")).to_be_hidden()  # the phone knows, live
    expect(phone.locator("#hint")).to_have_text(words["phone.hint.waiting"])

    latest = live_server.issue(center, "pension-new")  # due after the joined ticket
    called = live_server.call_next(center, "1")
    assert called["number"] == mine["number"], (called, latest)
    call = phone.locator("#call")
    expect(call).to_be_visible()
    expect(call.locator(".call-turn")).to_have_text(words["phone.your_turn"])
    expect(phone.locator("#call-where")).to_have_text(
        words["phone.go_to_counter"].replace("{counter}", "1")
    )
    screenshot(phone, "journey-remote-called-az")
    assert phone.errors == []
