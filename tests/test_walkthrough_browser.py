"""One visitor's whole visit, with all four screens open at once, as in a center:
the kiosk issues the ticket, staff call it at the counter page, and the display and
the visitor's phone follow, each within a second of the call, then to done. And the
README's quick start as a newcomer follows it on the demo center."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from hardware.loopback_printer import LoopbackPrinter
from server.models import Center, Ticket

from .live import start_live_server
from .printer_helpers import shows_number

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CALL_DELIVERY_MS = 1000  # a call reaches the display and the phone within this


def test_a_ticket_from_kiosk_to_done_with_every_screen_following(
    live_server, live_center, new_page
):
    center = live_center
    display = new_page(1920, 1080)
    display.goto(f"{live_server.url}/display/hall#token={center.display_token}")
    expect(display.locator("#services .service").first).to_be_visible()

    counter = new_page(1280, 800)
    counter.goto(f"{live_server.url}/counter")
    counter.fill("#username", center.staff_username)
    counter.fill("#password", center.password)
    counter.click("#login-submit")
    counter.click(f'.counter-choice[data-counter="{center.counters["2"]}"]')
    call_next = counter.locator('#actions button[data-action="callNext"]')
    expect(counter.locator("#counter-title")).to_have_text("Counter 2")

    # The visitor: Russian, pensions, recalculation: three taps.
    kiosk = new_page(1080, 1920)
    kiosk.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    kiosk.click("button[data-lang=ru]")
    kiosk.click("button[data-category=pensions]")
    kiosk.click("button[data-service=pension-recalc]")
    expect(kiosk.locator("#ticket-number")).to_have_text("B001")
    expect(display.locator('#services [data-service="pension-recalc"] .count')).to_have_text("1")

    # The QR code's address is the phone page; open it as the visitor's phone would.
    qr = kiosk.locator("#ticket-qr")
    expect(qr).to_have_attribute("src", re.compile(r"/api/v1/tickets/[\w-]+/qr\.svg$"))
    token = re.search(r"/tickets/([\w-]+)/qr\.svg", qr.get_attribute("src")).group(1)
    phone = new_page(360, 640, is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/t/{token}")
    expect(phone.locator("#number")).to_have_text("B001")
    expect(phone.locator("#position")).to_have_text("1")
    expect(phone.locator("html")).to_have_attribute("lang", "ru")

    # The call: the counter sees it, and within a second so do the hall and the phone.
    expect(call_next).to_be_enabled()
    call_next.click()
    expect(counter.locator("#ticket-box")).to_contain_text("B001")
    newest = display.locator("#calls .call.newest")
    expect(newest).to_contain_text("B001", timeout=CALL_DELIVERY_MS)
    expect(newest.locator(".counter")).to_have_text("2", timeout=CALL_DELIVERY_MS)
    expect(phone.locator("#call")).to_be_visible(timeout=CALL_DELIVERY_MS)
    expect(phone.locator("#call-number")).to_have_text("B001")
    expect(phone.locator("#call-where .call-counter")).to_have_text("2")

    # Served, then done: the phone follows to the end.
    phone.click("#call-ok")
    counter.click('#actions button[data-action="start"]')
    counter.click('#actions button[data-action="complete"]')
    expect(counter.locator("#ticket-box")).not_to_contain_text("B001")
    ticket = live_server.api("GET", f"/tickets/{token}").json()
    assert ticket["status"] == "done"
    expect(phone.locator("#status")).to_have_text("Обслуживание завершено")


def test_the_readme_walkthrough_on_the_demo_center(tmp_path, new_page):
    """README's quick start on `novbe demo`'s own center: the first ticket a newcomer
    takes for New pension is the first counter 1 calls, although the demo has had a
    busy morning; and it comes out of the loopback printer with its number."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    walkthrough = readme[readme.index("## Quick start") : readme.index("## The screens")]
    # What the README tells a newcomer to tap and type, and what this test does.
    for words in ("Pensions and New pension", "log in as `counter1`, pick counter 1"):
        assert words in " ".join(walkthrough.split()), words

    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    with LoopbackPrinter() as printer:
        out = subprocess.run(
            [sys.executable, "-m", "server.cli", "demo", "--no-serve"]
            + ["--printer-port", str(printer.port)],
            env=dict(os.environ, NOVBE_DATABASE_URL=database_url),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        kiosk_token = re.search(r"/kiosk/kiosk-1#token=(\S+)", out).group(1)
        display_token = re.search(r"/display/hall#token=(\S+)", out).group(1)
        server = start_live_server(tmp_path, database_url=database_url)
        try:
            with server.db.read() as s:
                center = s.scalar(select(Center))
                counter_1 = next(c.id for c in center.counters if c.label == "1")
                served = s.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.status == "done")
                )
                waiting = s.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.status == "waiting")
                )
            assert served >= 10 and waiting >= 3  # a morning for the dashboard and display

            display = new_page(1920, 1080)
            display.goto(f"{server.url}/display/hall#token={display_token}")
            kiosk = new_page(1080, 1920)
            kiosk.goto(f"{server.url}/kiosk/kiosk-1#token={kiosk_token}")
            kiosk.click("button[data-lang=en]")
            kiosk.click("button[data-category=pensions]")
            kiosk.click("button[data-service=pension-new]")
            number = kiosk.locator("#ticket-number")
            expect(number).to_have_text(re.compile(r"^A\d{3}$"))
            mine = number.inner_text()

            counter = new_page(1280, 800)
            counter.goto(f"{server.url}/counter")
            counter.fill("#username", "counter1")
            counter.fill("#password", "novbe-demo")
            counter.click("#login-submit")
            counter.click(f'.counter-choice[data-counter="{counter_1}"]')
            call_next = counter.locator('#actions button[data-action="callNext"]')
            expect(call_next).to_be_enabled()
            call_next.click()
            expect(counter.locator("#ticket-box")).to_contain_text(mine)
            expect(display.locator("#calls .call.newest")).to_contain_text(mine)

            [job] = printer.wait_for_jobs(1)
            assert shows_number(job, mine) and printer.errors == []
        finally:
            server.stop()
