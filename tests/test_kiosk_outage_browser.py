"""The kiosk when its server goes away and comes back, in a real browser against a real
server of its own (stopped and started again on the same port and database, as a
restart or a crash and its recovery): it keeps trying for as long as it takes, blocks
the walk to a ticket with a message in the visitor's language (all three on the start
screen) instead of offering services it cannot issue, and comes back by itself, with
no reload, within a bounded time, then issues tickets again. A ticket request that got
no answer when the server went ends on that ticket, never on a second one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Center, Ticket

from .browser_helpers import screenshot
from .live import LiveServer, start_live_server

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORDS = catalog(Path(__file__).resolve().parent.parent / "kiosk" / "translations")
LANGUAGES = ("az", "ru", "en")
PORTRAIT, LANDSCAPE = (1080, 1920), (1920, 1080)
# The kiosk's longest wait between two attempts: its back-off cap (8 s) with socket.io's
# jitter (+25 %), and a little for a busy machine.
MAX_GAP_S = 12
# Longer than the ~60 s after which the kiosk used to stop trying.
LONG_OUTAGE_S = 65
# From the server answering again to the kiosk taking visitors: one gap and a connect.
BACK_S = MAX_GAP_S + 8


class Restartable:
    """The test's own server, which the tests stop and start again where it was."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server

    def stop(self) -> float:
        self.server.stop()
        return time.monotonic()

    def start(self) -> float:
        self.server = self.server.restart()
        return time.monotonic()


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    holder = Restartable(start_live_server(tmp_path_factory.mktemp("outage")))
    yield holder
    holder.server.stop()


def tickets_of(server: LiveServer, code: str) -> list[str]:
    with server.db.read() as s:
        query = select(Ticket).join(Center).where(Center.code == code).order_by(Ticket.id)
        return [ticket.display_number for ticket in s.scalars(query)]


def open_kiosk(new_page, server: LiveServer, token: str, size):
    page = new_page(*size)
    attempts: list[float] = []  # when the page opened each WebSocket to the server
    page.on("websocket", lambda _ws: attempts.append(time.monotonic()))
    page.goto(f"{server.url}/kiosk/kiosk-1#token={token}")
    expect(page.locator("button[data-lang=az]")).to_be_enabled()
    return page, attempts


def shot(page, name: str) -> None:
    screenshot(page, name)


def assert_within_the_panel(page, size) -> None:
    """Every visible element of the screen and the banner inside the panel."""
    outside = page.evaluate(
        """([width, height]) => [...document.querySelectorAll(
              "#connection, #app section:not([hidden]) *, .kiosk-bar *")]
            .filter((e) => e.checkVisibility())
            .map((e) => ({id: e.id || e.tagName, r: e.getBoundingClientRect()}))
            .filter(({r}) => r.left < 0 || r.top < 0 || r.right > width + 0.5
                             || r.bottom > height + 0.5)
            .map(({id, r}) => `${id} ${Math.round(r.right)}x${Math.round(r.bottom)}`)""",
        list(size),
    )
    assert outside == []


def assert_offline_screen(page, lang: str, size) -> None:
    words = WORDS[lang]
    app = page.locator("#app")
    expect(app).to_have_attribute("data-screen", "offline")
    expect(page.locator("#offline-title")).to_have_text(words["kiosk.offline_title"])
    expect(page.locator("section[data-screen=offline] .offline-text").first).to_have_text(
        words["kiosk.offline_text"]
    )
    expect(page.locator("#connection")).to_have_text(words["conn.lost"])
    # Nothing of the way to a ticket is left to tap.
    for selector in ("#categories", "#services", "#retry"):
        expect(page.locator(selector)).to_be_hidden()
    expect(page.locator("#restart")).to_have_text(words["kiosk.start_over"])
    assert_within_the_panel(page, size)


def test_a_kiosk_keeps_trying_through_a_long_outage_and_comes_back_by_itself(new_page, own):
    center = own.server.new_center()
    page, attempts = open_kiosk(new_page, own.server, center.kiosk_token, PORTRAIT)
    page.click("button[data-lang=ru]")
    page.click("button[data-category=pensions]")
    expect(page.locator("section[data-screen=service]")).to_be_visible()

    down = own.stop()
    # The visitor in the middle is told, in Russian, and offered nothing to tap.
    assert_offline_screen(page, "ru", PORTRAIT)
    shot(page, "outage_portrait_ru_offline_screen")

    # Back at the start, nobody has chosen a language: all three say it, the banner too,
    # and the languages cannot be tapped.
    page.click("#restart")
    expect(page.locator("section[data-screen=start]")).to_be_visible()
    for button in page.locator("button.language").all():
        expect(button).to_be_disabled()
    notice = page.locator("#kiosk-notice")
    banner = page.locator("#connection")
    for lang in LANGUAGES:
        expect(notice.locator(f"[lang={lang}]")).to_have_text(WORDS[lang]["kiosk.offline"])
        expect(banner.locator(f"[lang={lang}]")).to_have_text(WORDS[lang]["conn.lost"])
    assert_within_the_panel(page, PORTRAIT)
    shot(page, "outage_portrait_start")

    page.wait_for_timeout(LONG_OUTAGE_S * 1000)
    # It never stopped trying, and never waited long between two attempts.
    tries = [down, *(at for at in attempts if at > down), time.monotonic()]
    gaps = [round(b - a, 1) for a, b in zip(tries, tries[1:], strict=False)]
    assert len(tries) - 2 >= LONG_OUTAGE_S / MAX_GAP_S, gaps
    assert max(gaps) <= MAX_GAP_S, gaps

    up = own.start()
    expect(page.locator("button[data-lang=ru]")).to_be_enabled(timeout=BACK_S * 1000)
    back_after = time.monotonic() - up
    expect(banner).to_be_hidden()
    expect(notice).to_be_hidden()
    assert back_after <= BACK_S
    shot(page, "outage_portrait_back")

    # It issues tickets again, from the catalog of the fresh snapshot.
    page.click("button[data-lang=en]")
    page.click("button[data-category=pensions]")
    page.click("button[data-service=pension-new]")
    expect(page.locator("#ticket-number")).to_have_text("A001")
    assert tickets_of(own.server, center.code) == ["A001"]


def test_a_visitor_at_the_services_waits_on_the_offline_screen_and_carries_on(new_page, own):
    center = own.server.new_center()
    page, _ = open_kiosk(new_page, own.server, center.kiosk_token, LANDSCAPE)
    idle, _ = open_kiosk(new_page, own.server, center.kiosk_token, LANDSCAPE)
    page.click("button[data-lang=az]")
    page.click("button[data-category=employment]")
    page.click("button[data-priority=elderly]")

    own.stop()
    assert_offline_screen(page, "az", LANDSCAPE)
    expect(page.locator("#offline-pending")).to_be_hidden()  # nothing was asked for
    shot(page, "outage_landscape_az_offline_screen")
    # A kiosk nobody is using: its start screen, three languages of notice and banner
    # on a short panel, still fits.
    expect(idle.locator("#kiosk-notice [lang=az]")).to_have_text(WORDS["az"]["kiosk.offline"])
    expect(idle.locator("#connection [lang=en]")).to_have_text(WORDS["en"]["conn.lost"])
    assert_within_the_panel(idle, LANDSCAPE)
    shot(idle, "outage_landscape_start")

    own.start()
    # Back on the services, with the priority chosen, in Azerbaijani.
    expect(page.locator("section[data-screen=service]")).to_be_visible(timeout=BACK_S * 1000)
    expect(page.locator("#connection")).to_be_hidden()
    expect(page.locator("#service-title")).to_have_text(WORDS["az"]["kiosk.choose_service"])
    expect(page.locator("button[data-priority=elderly]")).to_have_attribute("aria-pressed", "true")
    page.click("button[data-service=job-seeker]")
    expect(page.locator("#ticket-number")).to_have_text("C001")
    assert tickets_of(own.server, center.code) == ["C001"]


def test_a_ticket_whose_answer_was_lost_with_the_server_is_shown_when_it_is_back(new_page, own):
    """The server issues the ticket and goes down before the kiosk hears the answer: the
    visitor is told the ticket is not confirmed yet, and when the server is back the
    kiosk asks again with the same key and shows that ticket, not a second one."""
    center = own.server.new_center()
    page, _ = open_kiosk(new_page, own.server, center.kiosk_token, PORTRAIT)
    page.click("button[data-lang=en]")
    page.click("button[data-category=pensions]")
    held = []  # the first request, answered below; the later ones go through
    page.route(
        "**/api/v1/centers/*/tickets",
        lambda route: held.append(route) if not held else route.continue_(),
    )
    page.click("button[data-service=pension-recalc]")
    for _ in range(50):  # each round trip to the browser lets the route handler run
        if held:
            break
        page.evaluate("0")
    assert len(held) == 1
    held[0].fetch()  # the server issues the ticket...
    assert tickets_of(own.server, center.code) == ["B001"]
    own.stop()
    held[0].abort("connectionreset")  # ...and goes down before its answer arrives

    assert_offline_screen(page, "en", PORTRAIT)
    expect(page.locator("#offline-pending")).to_have_text(WORDS["en"]["kiosk.offline_pending"])
    shot(page, "outage_portrait_en_pending")

    own.start()
    expect(page.locator("#ticket-number")).to_have_text("B001", timeout=BACK_S * 1000)
    expect(page.locator("#connection")).to_be_hidden()
    assert tickets_of(own.server, center.code) == ["B001"]
