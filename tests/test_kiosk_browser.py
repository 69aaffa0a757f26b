"""The touch kiosk in a real browser against a real server: a visitor taps through in
each language and gets a ticket; the screens fit portrait and landscape panels with big
touch targets; a lost answer is retried without a second ticket; quotas, switched-off
services and idle visitors are handled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from server.api.tracking import qr_svg
from server.i18n import Words, catalog
from server.models import Center, Device, Ticket

from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot, wait_until
from .factories import center_spec, names

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

KIOSK_WORDS = Path(__file__).resolve().parent.parent / "kiosk" / "translations"
WORDS = catalog(KIOSK_WORDS)
# Open round the clock, so that the server's expiry loop never closes these queues.
ALL_DAY = {"open": "00:00", "close": "23:59"}
PORTRAIT, LANDSCAPE = (1080, 1920), (1920, 1080)
MIN_TARGET = 60
PRIORITY_CLASSES = center_spec()["priority_classes"]


@pytest.fixture
def center(live_server):
    return live_server.new_center(hours=ALL_DAY)


@pytest.fixture(scope="module")
def shared_center(live_server):
    """For tests that do not count tickets: saves setting up a center each time."""
    return live_server.new_center(hours=ALL_DAY)


def open_kiosk(new_page, live_server, center, size=PORTRAIT, query=""):
    page = new_page(*size)
    page.goto(f"{live_server.url}/kiosk/kiosk-1{query}#token={center.kiosk_token}")
    # The language buttons wake up once the catalog has arrived over the live channel.
    expect(page.locator("button[data-lang=az]")).to_be_enabled()
    return page


def set_kiosk_settings(live_server, center, settings: dict) -> None:
    """The kiosk's settings as an import of the center file writes them: straight to
    the database, telling no screen."""
    with live_server.db.write() as s:
        device = s.scalar(
            select(Device)
            .join(Center, Center.id == Device.center_id)
            .where(Center.code == center.code, Device.name == "kiosk-1")
        )
        device.settings = settings


def set_printer(live_server, center, printer: str | None) -> None:
    response = live_server.api(
        "PATCH",
        f"/centers/{center.code}/devices/kiosk-1",
        center.manager_token,
        json={"printer": printer},
    )
    assert response.status_code == 200, response.text


def tap_to_services(page, lang: str, category: str) -> None:
    page.click(f"button[data-lang={lang}]")
    page.click(f"button[data-category={category}]")
    expect(page.locator("section[data-screen=service]")).to_be_visible()


def taps_to_ticket(page, lang: str, category: str, service: str) -> int:
    """Walks from the start screen to the ticket as a visitor does, tapping on each
    screen the one button that screen offers for this choice (a screen with no such
    button, a confirmation step say, fails the walk). Returns the taps the page itself
    counted."""
    page.evaluate(
        """() => {
          window.novbeTaps = 0;
          document.addEventListener("click", (e) => { if (e.isTrusted) window.novbeTaps += 1; },
                                    true);
        }"""
    )
    target = {
        "start": f"button[data-lang={lang}]",
        "category": f"button[data-category={category}]",
        "service": f"button[data-service={service}]",
    }
    app = page.locator("#app")
    expect(app).to_have_attribute("data-screen", "start")
    for _ in range(len(target) + 1):
        screen = app.get_attribute("data-screen")
        if screen == "ticket":
            break
        assert screen in target, f"a visitor meets the {screen!r} screen on the way"
        page.click(target[screen])
        expect(app).not_to_have_attribute("data-screen", screen)
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    return page.evaluate("window.novbeTaps")


def shown_ticket(page) -> tuple[str, str]:
    """(number, tracking token) of the ticket on screen; the token from its QR image."""
    expect(page.locator("section[data-screen=ticket]")).to_be_visible()
    src = page.get_attribute("#ticket-qr", "src")
    token = re.fullmatch(r"/api/v1/tickets/([A-Za-z0-9_-]+)/qr\.svg", src).group(1)
    return page.text_content("#ticket-number"), token


def tickets_of(live_server, center) -> list[tuple[str, str | None]]:
    """(number, priority) of every ticket of the center, straight from the database."""
    with live_server.db.read() as s:
        tickets = s.scalars(
            select(Ticket).join(Center).where(Center.code == center.code).order_by(Ticket.id)
        )
        return [(ticket.display_number, ticket.priority) for ticket in tickets]


def wait_text(seconds: int | None, lang: str) -> str:
    """What Novbe.waitText shows for an estimate."""
    if seconds is None:
        return WORDS[lang]["unknown_wait"]
    if seconds < 60:
        return WORDS[lang]["under_a_minute"]
    return Words(KIOSK_WORDS, lang).plural("minutes_full", int(seconds / 60 + 0.5))


def service_stats(live_server, center, service: str) -> dict:
    response = live_server.api("GET", f"/centers/{center.code}/queue", center.staff_token)
    assert response.status_code == 200, response.text
    return next(row for row in response.json()["services"] if row["service"] == service)


@pytest.mark.parametrize(
    "lang, category, service, priority",
    [
        ("az", "pensions", "pension-new", None),
        ("ru", "employment", "job-seeker", "elderly"),
        ("en", "pensions", "pension-recalc", "veteran"),
    ],
)
def test_a_visitor_takes_a_ticket_in_their_language(
    new_page, live_server, center, lang, category, service, priority
):
    words = WORDS[lang]
    page = open_kiosk(new_page, live_server, center)
    page.click(f"button[data-lang={lang}]")
    expect(page.locator("#category-title")).to_have_text(words["kiosk.choose_category"])
    category_name = names(category.capitalize())[lang]
    expect(page.locator(f"button[data-category={category}]")).to_have_text(category_name)
    expect(page.locator("#restart")).to_have_text(words["kiosk.start_over"])

    page.click(f"button[data-category={category}]")
    expect(page.locator("#service-title")).to_have_text(words["kiosk.choose_service"])
    # The optional priority choice sits above the services: the center's four classes,
    # in the visitor's language, none chosen.
    expect(page.locator("#priority legend")).to_have_text(words["kiosk.priority_question"])
    expect(page.locator("#priority .priority-hint")).to_have_text(words["kiosk.priority_hint"])
    chips = page.locator("#priority-choices button")
    expect(chips).to_have_text([words[f"priority.{name}"] for name in PRIORITY_CLASSES])
    expect(page.locator("#priority-choices button[aria-pressed=true]")).to_have_count(0)
    if priority:
        # A second chip replaces the first; the visitor's last choice counts.
        other = page.locator("button[data-priority=disability]")
        other.click()
        expect(other).to_have_attribute("aria-pressed", "true")
        choice = page.locator(f"button[data-priority={priority}]")
        choice.click()
        expect(choice).to_have_attribute("aria-pressed", "true")
        expect(other).to_have_attribute("aria-pressed", "false")

    service_name = {
        "pension-new": names("New pension"),
        "job-seeker": names("Job seeker registration"),
        "pension-recalc": names("Pension recalculation"),
    }[service][lang]
    expect(page.locator(f"button[data-service={service}] .choice-name")).to_have_text(service_name)
    page.click(f"button[data-service={service}]")  # the ticket, at once

    number, token = shown_ticket(page)
    expect(page.locator("#ticket-label")).to_have_text(words["kiosk.your_number"])
    expect(page.locator("#ticket-service")).to_have_text(service_name)
    expect(page.locator("#ticket-position")).to_have_text("1")
    # No print agent in these tests: the screen is the ticket (tested below).
    expect(page.locator("#print-state .print-what")).to_have_text(words["kiosk.print.e_ticket"])

    public = live_server.api("GET", f"/tickets/{token}").json()
    assert (public["number"], public["language"], public["service"]["code"]) == (
        number,
        lang,
        service,
    )
    assert tickets_of(live_server, center) == [(number, priority)]


def test_a_chosen_priority_can_be_taken_back(new_page, live_server, center):
    page = open_kiosk(new_page, live_server, center, LANDSCAPE)
    tap_to_services(page, "en", "pensions")
    chip = page.locator("button[data-priority=pregnant]")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "false")
    page.click("button[data-service=pension-new]")
    number, _ = shown_ticket(page)
    assert tickets_of(live_server, center) == [(number, None)]


def test_a_ticket_is_three_taps_away_and_two_with_one_category(new_page, live_server, center):
    # Several categories: language, category, service.
    page = open_kiosk(new_page, live_server, center)
    assert taps_to_ticket(page, "en", "employment", "job-seeker") == 3
    assert [number for number, _ in tickets_of(live_server, center)] == ["C001"]

    # One category (and no priority classes): the category step is skipped.
    spec = center_spec()
    single = live_server.new_center(
        categories=spec["categories"][:1],
        counters=[{"label": "1", "services": ["pension-new", "pension-recalc"]}],
        priority_classes=[],
    )
    page = open_kiosk(new_page, live_server, single, LANDSCAPE)
    assert taps_to_ticket(page, "ru", "pensions", "pension-recalc") == 2
    assert tickets_of(live_server, single) == [("B001", None)]
    # Back from the services then leads to the languages, and no priority row is shown.
    page.click("#done")
    page.click("button[data-lang=en]")
    expect(page.locator("#priority")).to_be_hidden()
    page.click("#service-back")
    expect(page.locator("section[data-screen=start]")).to_be_visible()


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_every_screen_fits_the_panel_with_big_touch_targets(
    new_page, live_server, shared_center, size
):
    page = open_kiosk(new_page, live_server, shared_center, size)

    def check_screen(name: str) -> None:
        expect(page.locator(f"section[data-screen={name}]")).to_be_visible()
        boxes = page.evaluate(
            """() => [...document.querySelectorAll("button")]
                .filter((b) => b.checkVisibility())
                .map((b) => {
                  const r = b.getBoundingClientRect();
                  return {text: b.textContent.trim(), width: r.width, height: r.height,
                          bottom: r.bottom};
                })"""
        )
        assert boxes, name
        small = [b for b in boxes if min(b["width"], b["height"]) < MIN_TARGET]
        assert small == [], f"{name}: touch targets under {MIN_TARGET} px: {small}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow} px wider than the panel"
        # Every button in sight without scrolling: the priority chips, every service
        # and "back" included.
        height = size[1]
        below = [b["text"] for b in boxes if b["bottom"] > height]
        assert below == [], f"{name}: buttons below the bottom of the panel: {below}"

    check_screen("start")
    page.click("button[data-lang=en]")
    check_screen("category")
    page.click("button[data-category=pensions]")
    expect(page.locator("#priority-choices button")).to_have_count(len(PRIORITY_CLASSES))
    check_screen("service")
    page.click("button[data-service=pension-new]")
    check_screen("ticket")
    # The number in very large type, readable from across the hall.
    number_px = page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('ticket-number')).fontSize)"
    )
    assert number_px >= 200

    # The QR code loads, and it is the picture of the phone page's address (/t/<token>).
    _, token = shown_ticket(page)
    expect(page.locator("#ticket-qr")).to_have_attribute("alt", WORDS["en"]["kiosk.qr_alt"])
    wait_until(page, "document.getElementById('ticket-qr').naturalWidth > 0")
    served = requests.get(f"{live_server.url}/api/v1/tickets/{token}/qr.svg", timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("image/svg+xml")
    assert served.content == qr_svg(f"{live_server.url}/t/{token}")


def test_each_service_shows_its_wait_and_live_figures_only_change_text(
    new_page, live_server, center
):
    for _ in range(2):
        live_server.issue(center, "pension-new")
    page = open_kiosk(new_page, live_server, center, LANDSCAPE)
    tap_to_services(page, "en", "pensions")
    meta = page.locator("button[data-service=pension-new] .choice-meta")
    row = service_stats(live_server, center, "pension-new")
    expect(meta).to_have_text(
        f"2 people in line · Wait: {wait_text(row['estimated_wait_s'], 'en')}"
    )
    other = service_stats(live_server, center, "pension-recalc")
    expect(page.locator("button[data-service=pension-recalc] .choice-meta")).to_have_text(
        f"0 people in line · Wait: {wait_text(other['estimated_wait_s'], 'en')}"
    )
    chip = page.locator("button[data-priority=elderly]")
    chip.click()
    button = page.locator("button[data-service=pension-new]").element_handle()

    # Someone else takes a ticket meanwhile: the figures follow over the live channel,
    # on the very same button (a finger on it keeps its tap) and with the priority kept.
    live_server.issue(center, "pension-new")
    row = service_stats(live_server, center, "pension-new")
    expect(meta).to_have_text(
        f"3 people in line · Wait: {wait_text(row['estimated_wait_s'], 'en')}"
    )
    assert button.evaluate("(b) => b.isConnected")
    expect(chip).to_have_attribute("aria-pressed", "true")

    button.click()
    number, _ = shown_ticket(page)
    expect(page.locator("#ticket-position")).to_have_text("1")  # a priority visitor
    assert tickets_of(live_server, center)[-1] == (number, "elderly")


def test_a_lost_answer_is_retried_with_the_same_key_and_gives_one_ticket(
    new_page, live_server, center
):
    page = open_kiosk(new_page, live_server, center)
    keys: list[str] = []
    held = []

    def hold_the_first_request(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            held.append(route)  # answered below, once the busy screen is checked
        else:
            route.continue_()

    page.route("**/api/v1/centers/*/tickets", hold_the_first_request)
    tap_to_services(page, "ru", "pensions")
    page.click("button[data-service=pension-new]")

    # While the request is out the screen says so, and no second tap can send one.
    words = WORDS["ru"]
    expect(page.locator("#service-status")).to_have_text(words["kiosk.issuing"])
    for selector in ["button[data-service=pension-new]", "button[data-service=pension-recalc]"]:
        expect(page.locator(selector)).to_be_disabled()
    expect(page.locator("button[data-priority=elderly]")).to_be_disabled()
    for _ in range(50):  # each round trip to the browser lets the route handler run
        if held:
            break
        page.evaluate("0")
    assert len(held) == 1
    held[0].fetch()  # the server issues the ticket...
    held[0].abort("connectionreset")  # ...and its answer never reaches the kiosk

    expect(page.locator("#unreachable-title")).to_have_text(words["kiosk.unreachable_title"])
    expect(page.locator("#retry")).to_have_text(words["kiosk.retry"])
    page.click("#retry")
    number, _ = shown_ticket(page)

    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert tickets_of(live_server, center) == [("A001", None)]
    assert number == "A001"

    # The next visitor gets a key of their own, and a ticket of their own.
    page.click("#done")
    tap_to_services(page, "az", "pensions")
    expect(page.locator("#service-status")).to_be_hidden()
    page.click("button[data-service=pension-new]")
    assert shown_ticket(page)[0] == "A002"
    assert len(keys) == 3 and keys[2] != keys[0]
    assert len(tickets_of(live_server, center)) == 2


def test_a_dropped_network_stops_the_walk_to_a_ticket_until_it_is_back(
    new_page, live_server, center
):
    """Without its server the kiosk cannot issue: a visitor at the services is shown
    why, in their language, instead of services to tap; when the network is back, so
    are the services (tests/test_kiosk_outage_browser.py stops the server itself)."""
    words = WORDS["en"]
    page = open_kiosk(new_page, live_server, center, LANDSCAPE)
    tap_to_services(page, "en", "employment")
    banner = page.locator("#connection")
    expect(banner).to_be_hidden()

    page.context.set_offline(True)
    expect(banner).to_have_text(words["conn.lost"])
    expect(page.locator("#app")).to_have_attribute("data-screen", "offline")
    expect(page.locator("#offline-title")).to_have_text(words["kiosk.offline_title"])
    expect(page.locator("button[data-service=job-seeker]")).to_be_hidden()

    page.context.set_offline(False)
    expect(banner).to_be_hidden()  # the live channel is back on its own
    expect(page.locator("section[data-screen=service]")).to_be_visible()
    page.click("button[data-service=job-seeker]")
    number, _ = shown_ticket(page)
    assert tickets_of(live_server, center) == [(number, None)]


def test_switched_off_services_are_hidden_and_a_full_one_is_explained(
    new_page, live_server, center
):
    response = live_server.api(
        "PATCH",
        f"/centers/{center.code}/services/pension-recalc",
        center.manager_token,
        json={"active": False},
    )
    assert response.status_code == 200, response.text
    for _ in range(3):  # the unemployment benefit's daily quota
        live_server.issue(center, "unemployment")

    page = open_kiosk(new_page, live_server, center)
    tap_to_services(page, "en", "pensions")
    expect(page.locator("#services button")).to_have_count(1)
    expect(page.locator("button[data-service=pension-new]")).to_be_visible()

    page.click("#service-back")
    page.click("button[data-category=employment]")
    page.click("button[data-service=unemployment]")
    # The visitor stays on the services, told why, and can tap another one at once.
    expect(page.locator("#service-problem")).to_have_text(WORDS["en"]["kiosk.quota_reached"])
    expect(page.locator("section[data-screen=service]")).to_be_visible()
    expect(page.locator("button[data-service=unemployment] .choice-meta")).to_have_text(
        WORDS["en"]["kiosk.quota_short"]
    )
    assert len(tickets_of(live_server, center)) == 3
    page.click("button[data-service=job-seeker]")
    assert shown_ticket(page)[0] == "C001"

    # The explanation belonged to that visitor only.
    page.click("#done")
    tap_to_services(page, "en", "employment")
    expect(page.locator("#service-problem")).to_be_hidden()


def test_an_idle_kiosk_returns_to_the_start(new_page, live_server, center):
    page = open_kiosk(new_page, live_server, center, query="?idle=1.5")
    start = page.locator("section[data-screen=start]")
    page.click("button[data-lang=ru]")
    expect(start).to_be_hidden()
    expect(start).to_be_visible()  # nobody touched it: back to the languages

    tap_to_services(page, "en", "pensions")
    page.click("button[data-priority=veteran]")
    page.click("button[data-service=pension-new]")
    shown_ticket(page)
    expect(start).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "az")
    # The next visitor does not inherit the last one's priority.
    tap_to_services(page, "en", "pensions")
    expect(page.locator("#priority-choices button[aria-pressed=true]")).to_have_count(0)


def test_a_kiosk_with_a_bad_token_says_so_in_words_of_its_own(new_page, live_server):
    """The server refuses the token with an English message for developers ("invalid or
    expired token", with its code): the kiosk says it in its own words, all three
    languages on the start screen, and none of the server's English."""
    page = new_page(*PORTRAIT)
    page.goto(f"{live_server.url}/kiosk/kiosk-1#token=dv_not-a-real-token")
    banner = page.locator("#connection")
    expect(banner).to_be_visible()
    expect(page.locator("button[data-lang=az]")).to_be_disabled()
    for lang in ("az", "ru", "en"):
        expect(page.locator(f"#kiosk-notice [lang={lang}]")).to_have_text(
            WORDS[lang]["kiosk.not_set_up"]
        )
        # Chosen by the refusal's code (invalid_token), not the server's message.
        expect(banner.locator(f"[lang={lang}]")).to_have_text(
            WORDS[lang]["conn.refused.invalid_token"]
        )
    assert "invalid or expired token" not in page.locator("body").inner_text()


def test_without_paper_the_screen_is_the_ticket_and_says_why(new_page, live_server, center):
    """No print agent: the e-ticket at once, with its QR code and the reason. With an
    agent (here a Socket.IO client speaking its protocol), "printing" until the agent
    answers; a failure turns the screen into the e-ticket with the printer's reason."""
    import socketio

    words = WORDS["ru"]
    page = open_kiosk(new_page, live_server, center)
    tap_to_services(page, "ru", "pensions")
    page.click("button[data-service=pension-new]")
    shown_ticket(page)
    state = page.locator("#print-state")
    expect(state).to_have_attribute("data-state", "e_ticket")
    expect(state.locator(".print-what")).to_have_text(words["kiosk.print.e_ticket"])
    expect(state.locator(".print-why")).to_have_text(words["kiosk.print.reason.no_printer"])
    expect(page.locator("#ticket-qr")).to_be_visible()

    agent = socketio.SimpleClient()
    agent.connect(
        live_server.url,
        namespace="/live",
        auth={"token": center.kiosk_token, "agent": "printer"},
        transports=["websocket"],
    )
    try:
        assert agent.receive(timeout=5)[0] == "snapshot"
        page.click("#done")
        tap_to_services(page, "ru", "pensions")
        page.click("button[data-service=pension-new]")
        number, _ = shown_ticket(page)
        expect(state).to_have_attribute("data-state", "printing")
        expect(state).to_have_text(words["kiosk.print.printing"])
        event, job = agent.receive(timeout=5)
        while event != "ticket.print":  # the agent hears the print states too
            event, job = agent.receive(timeout=5)
        assert job["number"] == number
        agent.emit(
            "ticket.printed",
            {
                "ticket": job["ticket"],
                "print_id": job["print_id"],
                "ok": False,
                "reason": "paper_out",
            },
        )
        expect(state).to_have_attribute("data-state", "failed")
        expect(state.locator(".print-what")).to_have_text(words["kiosk.print.failed"])
        expect(state.locator(".print-why")).to_have_text(words["kiosk.print.reason.paper_out"])
    finally:
        agent.disconnect()


def test_a_kiosk_whose_settings_change_follows_without_a_reload(new_page, live_server, center):
    """A manager gives the kiosk a printer through the admin API: the server tells the
    kiosk (device.updated), which fetches everything again. What the center file set
    meanwhile, its start language, shows it: the center's name turns Russian."""
    page = open_kiosk(new_page, live_server, center)
    name = page.locator("#center-name")
    expect(name).to_have_text(f"Center {center.code} (az)")

    set_kiosk_settings(live_server, center, {"language": "ru"})
    set_printer(live_server, center, "tcp://127.0.0.1:9100")
    expect(name).to_have_text(f"Center {center.code} (ru)")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#connection")).to_be_hidden()  # no "connection lost" for this

    set_kiosk_settings(live_server, center, {"printer": "tcp://127.0.0.1:9100"})
    set_printer(live_server, center, None)  # and the language setting is gone too
    expect(name).to_have_text(f"Center {center.code} (az)")
    tap_to_services(page, "en", "employment")  # the kiosk works on as before
    page.click("button[data-service=job-seeker]")
    assert shown_ticket(page)[0] == "C001"


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_screen_passes_axe_in_each_language(new_page, live_server, center, lang):
    """axe-core (WCAG 2.x A/AA) finds nothing serious or critical on the start,
    category, service, ticket and offline screens of a portrait kiosk."""
    page = open_kiosk(new_page, live_server, center)
    app = page.locator("#app")

    def check(screen: str) -> None:
        expect(app).to_have_attribute("data-screen", screen)
        screenshot(page, f"kiosk_axe_{lang}_{screen}")
        assert_no_serious_violations(page, where=f"the {screen} screen ({lang})")

    check("start")
    page.click(f"button[data-lang={lang}]")
    check("category")
    page.click("button[data-category=pensions]")
    check("service")
    page.context.set_offline(True)
    check("offline")
    page.context.set_offline(False)
    expect(page.locator("section[data-screen=service]")).to_be_visible()
    page.click("button[data-service=pension-new]")
    check("ticket")
