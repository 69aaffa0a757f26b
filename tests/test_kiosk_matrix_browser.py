"""The touch kiosk as a visitor sees it, in Chromium on its real panels (1080x1920 and
1920x1080), in az, ru and en, with the demo's 14 services and with 60 services of
150-character names in six categories.

A visitor walks start → category → service list → ticket. On every screen: nothing
leaves its box or the panel, nothing scrolls sideways, no word of another language
outside the names the center supplied (tests/test_screens_matrix_browser.py's checks),
and zero serious or critical axe-core violations. On the service list every service of
the category can be reached (the list scrolls: each one is brought into view and is
then on screen, uncovered), and a long name shows enough of itself to tell it from
the others. On a landscape panel the service list is checked once more in the
accessibility mode (larger text, high contrast).

One page load per size, language and center, against the session's live server. With
NOVBE_SCREENSHOTS=<dir>, every screen checked is saved there.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_helpers import wait_until
from .test_display_layout_browser import center_file
from .test_screens_matrix_browser import LANGUAGES, check_screen, supplied_words

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CASES = ["demo14", "names150"]
SIZES = [pytest.param((1080, 1920), id="1080x1920"), pytest.param((1920, 1080), id="1920x1080")]
ZONE = "Asia/Baku"
DEVICE = "kiosk-1"

# Each service button of the list, brought into view the way a visitor's scroll does:
# where it then is, whether the panel shows all of it uncovered, and how much of its
# name can be read (the name's lines shown, and whether it is cut).
REACH = """(code) => {
  const button = document.querySelector(`#services button[data-service="${code}"]`);
  button.scrollIntoView({ block: "nearest" });
  const r = button.getBoundingClientRect();
  const screen = button.closest(".screen").getBoundingClientRect();
  const inView = r.top >= Math.max(0, screen.top) - 0.5 && r.left >= -0.5 &&
    r.bottom <= Math.min(innerHeight, screen.bottom) + 0.5 && r.right <= innerWidth + 0.5;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const name = button.querySelector(".choice-name");
  const style = getComputedStyle(name);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
  const cut = name.scrollHeight > name.clientHeight + 1 || name.scrollWidth > name.clientWidth + 1;
  return {
    inView, covered: !(hit && button.contains(hit)), lines: Math.round(name.clientHeight / line),
    cut, height: r.height,
  };
}"""

ON_SCREEN = """(e) => {
  const r = e.getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}"""


@pytest.fixture(scope="module")
def place(live_server):
    """``place(case)``: a center of that case (tests/test_display_layout_browser.py's
    demo14 and names150) with visitors waiting, so the list shows queues; made once."""
    made = {}

    def get(case: str):
        if case not in made:
            fields, waited = center_file(case)
            center = live_server.new_center(timezone=ZONE, **fields)
            for i, service in enumerate(waited):
                live_server.issue(center, service, language=LANGUAGES[i % 3])
            made[case] = (center, fields)
        return made[case]

    return get


def biggest_category(fields: dict) -> dict:
    """The category with the most services (the first of equals: names150's holds its
    one-word name of 150 letters)."""
    return max(fields["categories"], key=lambda c: len(c["services"]))


def assert_every_service_reachable(page, category: dict) -> None:
    codes = [service["code"] for service in category["services"]]
    shown = page.eval_on_selector_all(
        "#services button[data-service]", "bs => bs.map((b) => b.dataset.service)"
    )
    assert shown == codes, "the list does not show the category's services"
    faults = []
    for code in codes:
        seen = page.evaluate(REACH, code)
        if not seen["inView"] or seen["covered"]:
            faults.append(f"{code} cannot be brought fully into view uncovered: {seen}")
        # Cut names keep at least two lines: "12. Receiving and checking…" tells the
        # services apart where the center numbered them; one line of a long name does not.
        if seen["cut"] and seen["lines"] < 2:
            faults.append(f"{code}: its name is cut to one line")
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", SIZES)
def test_a_visitor_walks_to_a_ticket(new_page, live_server, place, size, case, language):
    center, fields = place(case)
    width, height = size
    # The device's name is the center's too: the page's title shows it.
    supplied = supplied_words(fields, language, DEVICE)
    name = f"kiosk-{case}-{language}-{width}x{height}"
    page = new_page(width, height, has_touch=True, reduced_motion="reduce")
    page.goto(f"{live_server.url}/kiosk/{DEVICE}#token={center.kiosk_token}")
    app = page.locator("#app")

    # The start: its words in all three languages, each marked with its own lang.
    expect(page.locator("button[data-lang=az]")).to_be_enabled()
    start_language = page.evaluate("document.documentElement.lang")
    start_supplied = supplied_words(fields, start_language, DEVICE)
    check_screen(page, f"{name}-1-start", start_language, start_supplied)

    page.click(f"button[data-lang={language}]")
    expect(app).to_have_attribute("data-screen", "category")
    expect(page.locator("#categories button[data-category]")).to_have_count(
        len(fields["categories"])
    )
    check_screen(page, f"{name}-2-category", language, supplied)

    category = biggest_category(fields)
    button = page.locator(f'#categories button[data-category="{category["code"]}"]')
    button.scroll_into_view_if_needed()
    button.click()
    expect(app).to_have_attribute("data-screen", "service")
    expect(page.locator("#services button[data-service]").first).to_be_visible()
    check_screen(page, f"{name}-3-service", language, supplied)
    assert_every_service_reachable(page, category)
    check_screen(page, f"{name}-3-service-end", language, supplied)

    if width > height:
        # The accessibility mode's larger text and high contrast, on the widest list.
        page.evaluate("Kiosk.startAccess()")
        expect(page.locator("body")).to_have_class("kiosk access")
        page.evaluate("document.querySelector('#app .screen:not([hidden])').scrollTo(0, 0)")
        check_screen(page, f"{name}-3-service-access", language, supplied)
        assert_every_service_reachable(page, category)
        page.evaluate("Kiosk.leaveAccess()")
        expect(page.locator("body")).not_to_have_class("kiosk access")

    last = category["services"][-1]["code"]
    page.click(f'#services button[data-service="{last}"]')
    expect(app).to_have_attribute("data-screen", "ticket")
    expect(page.locator("#ticket-number")).not_to_be_empty()
    expect(page.locator("#print-state")).not_to_be_empty()
    wait_until(page, "() => document.querySelector('#ticket-qr').naturalWidth > 0")
    # The number, the code and "done" are all on the panel without scrolling.
    for part in ["#ticket-number", "#ticket-qr", "#done"]:
        assert page.locator(part).evaluate(ON_SCREEN), f"{part} is not on the panel unscrolled"
    check_screen(page, f"{name}-4-ticket", language, supplied)
