"""The waiting-room display as a visitor in the hall sees it, in Chromium at the TV
sizes (1920x1080, 1280x720), in az, ru and en, with the demo's 14 services, with 60
services and with 150-character names.

What a person would check: no element overflows its box or the screen; every service
with visitors waiting shows up on some page of the rotation, with its count and its
name in the language of the moment; the page cue and the empty state each speak one
language; the "press to turn the sound on" button covers nothing; the clock shows the
center's time, not the TV's (the browser runs on UTC here, as TV sticks often do).

One page load per size, language and center. The page's clock (Playwright's) is
paused before it loads, so the display's own timer cannot turn a page in the middle
of a check; the test turns them with the function that timer calls
(NovbeDisplay.rotate). One test lets the real timer do it. With
NOVBE_SCREENSHOTS=<dir>, every page seen is saved there.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from display import TRANSLATIONS
from server.demo.setup import CENTER_FILE
from server.i18n import catalog
from server.importer import CENTER_DEFAULTS, load_center_file

from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LANGUAGES = ["az", "ru", "en"]
SIZES = [pytest.param((1920, 1080), id="1920x1080"), pytest.param((1280, 720), id="1280x720")]
CASES = ["demo14", "services60", "names150"]
ZONE = "America/Sao_Paulo"  # neither the browser's (UTC) nor the default (Asia/Baku)
WORDS = catalog(TRANSLATIONS)  # {lang: {key: text}}
ROTATE_MS = 8000  # display.js: how long a page stays
_unique = itertools.count(1)

# The browser allows no sound before a tap, as on a TV whose browser was started
# without --autoplay-policy=no-user-gesture-required: the display asks for the tap.
SOUND_BLOCKED = """
Object.defineProperty(BaseAudioContext.prototype, "state", {
  configurable: true,
  get: () => "suspended",
});
AudioContext.prototype.resume = () => Promise.resolve();
"""

# Everything on screen that a person would call broken: a box leaving the screen or
# its parent's box, text that does not fit where it is not cut on purpose (an
# ellipsis, at most two lines of a name), rows on top of each other, and any two of
# the header's and the panels' parts overlapping (the sound button over the list).
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const slack = 0.5;
  const label = (e) => {
    const row = e.closest("[data-service]");
    const tag = e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}`;
    return row ? `${tag}[${row.dataset.service}]` : tag;
  };
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
  };
  const inside = (r, box) =>
    r.left >= box.left - slack && r.top >= box.top - slack &&
    r.right <= box.right + slack && r.bottom <= box.bottom + slack;
  const overlap = (a, b) =>
    a.left < b.right - slack && b.left < a.right - slack &&
    a.top < b.bottom - slack && b.top < a.bottom - slack;
  const screen = { left: 0, top: 0, right: innerWidth, bottom: innerHeight };
  for (const e of document.querySelectorAll("#app, #app *")) {
    if (!shown(e)) continue;
    const r = e.getBoundingClientRect();
    if (!inside(r, screen)) problems.push(`${label(e)} leaves the screen`);
    const style = getComputedStyle(e);
    // A line of text is as tall as its line-height, its inline boxes as the font's
    // ascent and descent: their heights are no measure of overflow, their widths are.
    const { left, right, top, bottom } = e.parentElement.getBoundingClientRect();
    const box = style.display === "inline"
      ? { left, right, top: r.top, bottom: r.bottom }
      : { left, right, top, bottom };
    if (e.id !== "app" && !inside(r, box)) {
      problems.push(`${label(e)} overflows ${label(e.parentElement)}`);
    }
    const clamped = style.webkitLineClamp !== "none";
    const cut = style.textOverflow === "ellipsis" || clamped;
    const spills = e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
    if (style.display !== "inline" && !cut && spills) {
      problems.push(`${label(e)}: its content does not fit`);
    }
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
    if (clamped && r.height > 2 * line + 1) problems.push(`${label(e)}: more than two lines`);
  }
  const rows = [...document.querySelectorAll("#services .service")].filter(shown);
  rows.slice(1).forEach((row, i) => {
    if (row.getBoundingClientRect().top < rows[i].getBoundingClientRect().bottom - slack) {
      problems.push(`${label(row)} is on top of ${label(rows[i])}`);
    }
  });
  const parts = ["#center-name", "#sound", ".clock", ".calls-panel", ".waiting-panel", "#setup"]
    .map((selector) => document.querySelector(selector))
    .filter((e) => e && shown(e));
  parts.forEach((a, i) => parts.slice(i + 1).forEach((b) => {
    if (overlap(a.getBoundingClientRect(), b.getBoundingClientRect())) {
      problems.push(`${label(a)} and ${label(b)} overlap`);
    }
  }));
  return problems;
}"""

# The rows on screen now: service, count, and the language and text of the name.
VISIBLE_ROWS = """() => [...document.querySelectorAll("#services .service")]
  .filter((row) => row.getBoundingClientRect().height > 0)
  .map((row) => ({
    service: row.dataset.service,
    count: row.querySelector(".count").textContent,
    lang: row.querySelector(".about").lang,
    name: row.querySelector(".name").textContent,
  }))"""


# ---- the centers --------------------------------------------------------------------


def exactly(text: str, length: int = 150) -> str:
    """``text`` repeated to exactly ``length`` characters."""
    repeated = " · ".join([text] * (length // len(text) + 1))
    return repeated[: length - 1].rstrip().ljust(length - 1, ".") + "."


def long_names(i: int) -> dict[str, str]:
    if i == 0:  # one word of 150 letters: it must break somewhere too
        return {lang: (lang.upper() * 75)[:150] for lang in LANGUAGES}
    return {
        "az": exactly(f"{i}. Ünvanlı sosial yardımın təyin edilməsi üçün ərizənin qəbulu"),
        "ru": exactly(f"{i}. Приём и проверка заявления о назначении адресной помощи"),
        "en": exactly(f"{i}. Receiving and checking an application for social assistance"),
    }


def sixty_services(*, long: bool) -> dict:
    """60 services in 6 categories, all served at counter 1. Two-letter prefixes, or
    three-letter ones (the widest there are) with the long names."""
    letters = "ABCDEFGH"
    services = []
    for i in range(60):
        prefix = letters[i // 8] + letters[i % 8]
        short = {"az": f"Xidmət {i}", "ru": f"Услуга {i}", "en": f"Service {i}"}
        services.append(
            {
                "code": f"s{i:02d}",
                "prefix": f"W{prefix}" if long else prefix,
                "name": long_names(i) if long else short,
            }
        )
    section = {"az": "Bölmə", "ru": "Раздел", "en": "Section"}
    return {
        "categories": [
            {"code": f"c{k}", "name": section, "services": services[k * 10 : (k + 1) * 10]}
            for k in range(6)
        ],
        "counters": [{"label": "1", "services": [s["code"] for s in services]}],
    }


def center_file(case: str) -> tuple[dict, list[str]]:
    """The center's fields for the importer, and the services visitors wait for."""
    if case == "demo14":
        demo = load_center_file(CENTER_FILE)
        fields = {key: demo[key] for key in ("name", "categories", "counters")}
        # Only A to H fitted before; K to R did not, although visitors waited for them.
        waited = ["pension-new", "job-seeker", "child-benefit", "funeral-allowance"]
        waited += ["veteran-support", "consultation", "document-copy", "complaint"]
        return fields, waited
    if case == "services60":
        fields = sixty_services(long=False)
        fields["name"] = {"az": "Sumqayıt ASAN xidmət", "ru": "АСАН Сумгайыт", "en": "ASAN Sumgait"}
        return fields, [f"s{i:02d}" for i in range(0, 60, 2)]
    fields = sixty_services(long=True)
    fields["name"] = long_names(999)
    return fields, [f"s{i:02d}" for i in range(0, 60, 3)]


@pytest.fixture(scope="module")
def hall(live_server):
    """``hall(case, language)``: a center of that case whose display "hall" speaks
    that language first, with visitors waiting; made once per module."""
    made = {}

    def get(case: str, language: str):
        if (case, language) not in made:
            fields, waited = center_file(case)
            display = {"kind": "display", "name": "hall", "settings": {"language": language}}
            devices = [{"kind": "kiosk", "name": "kiosk-1"}, display]
            center = live_server.new_center(timezone=ZONE, devices=devices, **fields)
            for service in waited:
                live_server.issue(center, service, language=language)
            made[case, language] = (center, fields)
        return made[case, language]

    return get


# ---- looking at the screen ------------------------------------------------------------


def open_display(new_page, url: str, size: tuple[int, int]):
    """The page on a TV whose browser runs on UTC and wants a tap before any sound; its
    timers paused once it is up."""
    width, height = size
    page = new_page(width, height, timezone_id="UTC")
    page.add_init_script(SOUND_BLOCKED)
    page.clock.install()
    page.goto(url)
    return page


def pause(page) -> None:
    page.clock.pause_at(datetime.now() + timedelta(milliseconds=200))


def assert_fits(page, what: str) -> None:
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert problems == [], f"{what}: {problems}"


def assert_clock_in(page, zone: str) -> None:
    now = datetime.now(ZoneInfo(zone))
    shown = page.locator("#time").inner_text()
    # The page's time was read up to a few seconds ago, maybe in the minute before.
    assert shown in {now.strftime("%H:%M"), (now - timedelta(seconds=30)).strftime("%H:%M")}
    expect(page.locator("#date")).to_have_text(now.strftime("%d.%m.%Y"))


def waiting_on_server(live_server, center) -> dict[str, int]:
    response = live_server.api("GET", f"/centers/{center.code}/queue", center.display_token)
    assert response.status_code == 200, response.text
    return {s["service"]: s["waiting"] for s in response.json()["services"] if s["waiting"]}


def named(fields: dict) -> dict[str, dict[str, str]]:
    return {s["code"]: s["name"] for c in fields["categories"] for s in c["services"]}


# ---- the tests ------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", SIZES)
def test_every_waiting_service_is_seen_and_nothing_overflows(
    new_page, live_server, hall, size, case, language
):
    center, fields = hall(case, language)
    names = named(fields)
    others = [lang for lang in LANGUAGES if lang != language]
    page = open_display(
        new_page, f"{live_server.url}/display/hall#token={center.display_token}", size
    )
    expect(page.locator("#services .service").first).to_be_visible()
    # WCAG 2.x A/AA by axe-core, before the page's clock is paused (axe runs on timers).
    assert_no_serious_violations(page)
    pause(page)
    assert page.evaluate("[NovbeDisplay.state.page, NovbeDisplay.state.rotation]") == [0, 0]
    name = f"{case}-{language}-{size[0]}x{size[1]}"

    # Before anyone is called: one line, in the display's language only.
    empty = page.locator("#calls .empty")
    expect(empty).to_have_text(WORDS[language]["display.no_calls"])
    expect(empty).to_have_attribute("lang", language)
    # The center's time, not the TV's.
    assert_clock_in(page, ZONE)
    expect(page.locator("#center-name")).to_have_text(fields["name"][language])
    # Sound is blocked: the request for a tap shows, in the header.
    expect(page.locator("#sound")).to_be_visible()
    expect(page.locator("#sound .primary")).to_have_text(WORDS[language]["display.sound_on"])

    waiting = waiting_on_server(live_server, center)
    total = page.evaluate("NovbeDisplay.pageCount")
    cue = page.locator("#pages .page-of")
    seen: dict[str, str] = {}
    for number in range(1, total + 1):
        if number > 1:
            page.evaluate("NovbeDisplay.rotate()")
        screenshot(page, f"{name}-page{number}")
        assert_fits(page, f"page {number} of {total}")
        if total > 1:
            words = WORDS[language]["display.page"]
            expect(cue).to_have_text(words.format(n=number, total=total))
        rows = page.evaluate(VISIBLE_ROWS)
        assert rows, f"page {number} of {total} is empty"
        for row in rows:
            assert row["lang"] == language
            assert row["name"] == names[row["service"]][language]
            assert row["service"] not in seen, f"{row['service']} is on two pages"
            seen[row["service"]] = row["count"]
    assert {service: seen.get(service) for service in waiting} == {
        service: str(count) for service, count in waiting.items()
    }
    if total == 1:
        expect(page.locator("#pages")).to_be_hidden()

    # After the last page: the first again, in the next language, the empty state too.
    page.evaluate("NovbeDisplay.rotate()")
    expect(empty).to_have_text(WORDS[others[0]]["display.no_calls"])
    for lang in [language, others[1]]:
        assert WORDS[lang]["display.no_calls"] not in empty.inner_text()
    rows = page.evaluate(VISIBLE_ROWS)
    assert {row["lang"] for row in rows} == {others[0]}
    assert rows[0]["service"] == next(iter(waiting))
    if total > 1:
        expect(cue).to_have_text(WORDS[others[0]]["display.page"].format(n=1, total=total))
    assert_fits(page, f"page 1 in {others[0]}")


def test_the_pages_turn_by_themselves(new_page, live_server, hall):
    center, _ = hall("services60", "en")
    page = new_page(1280, 720)
    page.goto(f"{live_server.url}/display/hall#token={center.display_token}")
    cue = page.locator("#pages .page-of")
    expect(cue).to_have_text("Page 1 of 4")
    first = page.evaluate(VISIBLE_ROWS)
    expect(cue).to_have_text("Page 2 of 4", timeout=ROTATE_MS + 4000)
    second = page.evaluate(VISIBLE_ROWS)
    assert first and second
    assert not {row["service"] for row in first} & {row["service"] for row in second}


@pytest.fixture(scope="module")
def lobby(live_server) -> str:
    """A display name only a center in Auckland has; and centers in more than one time
    zone in this server (Auckland, Lisbon), so an unknown display's is the default."""
    name = f"lobby-{next(_unique)}-{time.monotonic_ns()}"
    devices = [{"kind": "kiosk", "name": "kiosk-1"}, {"kind": "display", "name": "hall"}]
    devices.append({"kind": "display", "name": name})
    live_server.new_center(timezone="Pacific/Auckland", devices=devices)
    live_server.new_center(timezone="Europe/Lisbon")
    return name


@pytest.mark.parametrize("size", SIZES)
def test_a_display_not_set_up_shows_the_local_time_and_how_to_set_it_up(
    new_page, live_server, lobby, size
):
    for device, zone in [
        (lobby, "Pacific/Auckland"),
        ("nobody-has-this-one", CENTER_DEFAULTS["timezone"]),
    ]:
        page = open_display(new_page, f"{live_server.url}/display/{device}", size)
        setup = page.locator("#setup")
        expect(setup).to_be_visible()
        expect(setup.locator(".primary")).to_have_text(
            WORDS["az"]["display.not_set_up"].format(device=device)
        )
        expect(page.locator(".calls-panel")).to_be_hidden()
        assert_clock_in(page, zone)
        screenshot(page, f"not-set-up-{device}-{size[0]}x{size[1]}")
        assert_fits(page, f"/display/{device}")


@pytest.mark.parametrize("size", SIZES)
def test_seven_calls_and_a_fresh_one_fit(new_page, live_server, size):
    """A busy hall: the most calls the screen keeps, the newest flashing, beside 60
    long-named services and under a long center name."""
    fields, _ = center_file("names150")
    counter = "Kabinet 214-B"  # a long label, and three-letter prefixes: the widest calls
    fields["counters"][0]["label"] = counter
    center = live_server.new_center(timezone=ZONE, **fields)
    for _ in range(9):
        live_server.issue(center, "s00")
    for _ in range(8):
        ticket = live_server.call_next(center, counter)
        response = live_server.api("POST", f"/tickets/{ticket['id']}/start", center.staff_token)
        assert response.status_code == 200, response.text
    page = open_display(
        new_page, f"{live_server.url}/display/hall#token={center.display_token}", size
    )
    expect(page.locator("#calls .call")).to_have_count(7)
    live_server.call_next(center, counter)
    newest = page.locator("#calls .call.newest.flash")
    expect(newest).to_have_attribute("data-number", "WAA009")
    expect(newest.locator(".counter")).to_have_text(counter)
    expect(page.locator("#calls .call")).to_have_count(7)
    page.wait_for_timeout(450)  # the flash at its brightest
    screenshot(page, f"calls-{size[0]}x{size[1]}")
    assert_fits(page, "seven calls")
