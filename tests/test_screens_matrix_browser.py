"""Every screen but the kiosk and the waiting-room display (they have suites of their
own) as a person sees it, in Chromium at its real sizes, in az, ru and en, with the
demo's 14 services and with 60 services of 150-character names: the visitor's phone
page (360x740, and 320 px wide for WCAG's reflow), the public page (1440x900 and
360x740), the counter workstation, the managers' dashboard and the admin page
(1440x900).

What a person would check, on each: no element leaves the screen or its parent's box
and no text spills out of its box (no sideways scrolling on a phone); no word of
another language (words of the other languages' catalogs, another script) outside the
names the center supplied and text marked with its own ``lang``; times in the center's
zone although the browser runs in another; zero serious or critical axe-core
violations of WCAG 2.x A/AA. The phone and public pages also: landmarks, a visible
focus in a sensible order, and no animation when the visitor asks for reduced motion.

One page load per screen, size, language and center, against the session's live
server. With NOVBE_SCREENSHOTS=<dir>, every screen checked is saved there.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from server.i18n import DOMAINS, catalog

from . import factories
from .accessibility import assert_no_serious_violations
from .browser_helpers import screenshot
from .test_display_layout_browser import center_file

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LANGUAGES = ["az", "ru", "en"]
CASES = ["demo14", "names150"]
ZONE = "America/Sao_Paulo"  # the centers'
BROWSER_ZONE = "Asia/Tokyo"  # the browsers': twelve hours away
PHONE_SIZES = [pytest.param((360, 740), id="360x740"), pytest.param((320, 740), id="320x740")]
PUBLIC_SIZES = [pytest.param((1440, 900), id="1440x900"), pytest.param((360, 740), id="360x740")]
DESK = (1440, 900)

# ---- what is on the screen ---------------------------------------------------------

# A box leaving the screen or its parent's box (fixed and absolute boxes: the screen
# only), content wider or taller than its box where it is not cut on purpose (an
# ellipsis, clamped lines) nor scrolled on purpose, and the page scrolling sideways.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const slack = 0.5;
  const label = (e) => {
    const tag = e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}`;
    const row = e.closest("[data-service]");
    const heading = e.id ? null : e.querySelector("h1, h2, h3, [id]");
    const about = heading ? ` (${heading.id || heading.textContent.slice(0, 30)})` : "";
    return row && row !== e ? `${tag}[${row.dataset.service}]` : tag + about;
  };
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && getComputedStyle(e).visibility !== "hidden";
  };
  const scrolls = (style) => /(auto|scroll)/.test(style.overflowX + style.overflowY);
  const insideScroller = (e) => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (scrolls(getComputedStyle(a))) return true;
    }
    return false;
  };
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > innerWidth) {
    const wide = document.documentElement.scrollWidth;
    problems.push(`the page scrolls sideways (${wide} > ${innerWidth})`);
  }
  const skip = new Set(["SCRIPT", "STYLE", "TEMPLATE", "OPTION", "BR"]);
  for (const e of document.body.querySelectorAll("*")) {
    if (skip.has(e.tagName) || !shown(e)) continue;
    const style = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    const scrolled = insideScroller(e);
    if (!scrolled && (r.left < -slack || r.right > width + slack)) {
      problems.push(`${label(e)} leaves the screen`);
    }
    const parent = e.parentElement;
    const free = style.position === "fixed" || style.position === "absolute";
    if (parent && parent !== document.body && !free && !scrolls(getComputedStyle(parent))) {
      const p = parent.getBoundingClientRect();
      const across = r.left >= p.left - slack && r.right <= p.right + slack;
      // A line of text is as tall as its line-height, not its inline boxes.
      const down = style.display === "inline" ||
        (r.top >= p.top - slack && r.bottom <= p.bottom + slack);
      if (!across || !down) problems.push(`${label(e)} overflows ${label(parent)}`);
    }
    const fields = ["INPUT", "TEXTAREA", "SELECT"];
    const cut = style.textOverflow === "ellipsis" || style.webkitLineClamp !== "none";
    const spills = e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
    const field = fields.includes(e.tagName);
    if (style.display !== "inline" && !field && !cut && !scrolls(style) && spills) {
      const by = [e.scrollWidth - e.clientWidth, e.scrollHeight - e.clientHeight];
      problems.push(`${label(e)}: its content does not fit (by ${by})`);
    }
    if (scrolls(style) && e.scrollWidth > e.clientWidth + 1 && style.overflowX !== "hidden") {
      problems.push(`${label(e)} scrolls sideways`);
    }
  }
  return problems;
}"""

# Every text a person reads or hears: the shown text nodes and the names given to
# assistive technology, each with the language its element says it is in.
TEXTS = """() => {
  const texts = [{ text: document.title, lang: document.documentElement.lang }];
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
  };
  const langOf = (e) => (e.closest("[lang]") || document.documentElement).lang;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const e = node.parentElement;
    if (!e || ["SCRIPT", "STYLE"].includes(e.tagName) || !node.textContent.trim()) continue;
    if (shown(e)) texts.push({ text: node.textContent, lang: langOf(e) });
  }
  for (const e of document.body.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
    if (!shown(e) && !e.closest("nav, [role=group]")) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (e.getAttribute(name)) texts.push({ text: e.getAttribute(name), lang: langOf(e) });
    }
  }
  return texts;
}"""

WORD = re.compile(r"[^\W\d_]{2,}")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def words_of(text: str) -> set[str]:
    return {word.casefold() for word in WORD.findall(text)}


def _catalog_words() -> dict[str, set[str]]:
    """Every word of every screen's catalog, per language."""
    found: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
    for domain in DOMAINS:
        for lang, entries in catalog(domain.folder).items():
            for text in entries.values():
                for part in text.values() if isinstance(text, dict) else [text]:
                    found[lang] |= words_of(part)
    return found


CATALOG_WORDS = _catalog_words()


def foreign_words(texts: list[dict], language: str, supplied: set[str]) -> list[str]:
    """The words on a page in ``language`` that belong to another: a word only the other
    languages' catalogs have, Cyrillic on an az or en page, a Latin word on a ru page
    that no Russian text of ours has. Words of the center's own names (``supplied``)
    and text marked as another language (the language buttons) are left alone."""
    own = CATALOG_WORDS[language]
    others = set().union(*(CATALOG_WORDS[lang] for lang in LANGUAGES if lang != language))
    found = []
    for item in texts:
        if item["lang"] != language:
            continue
        for word in words_of(item["text"]) - supplied - own:
            cyrillic = bool(CYRILLIC.search(word))
            if word in others or cyrillic != (language == "ru"):
                found.append(f"{word!r} in {item['text'].strip()[:80]!r}")
    return found


def supplied_words(fields: dict, language: str, *extra: str) -> set[str]:
    """The words of the names and codes the center gave (in ``language``), and of
    ``extra`` (user names, counter labels)."""
    names = [fields["name"][language]]
    for category in fields["categories"]:
        names += [category["name"][language], category["code"]]
        for service in category["services"]:
            names += [service["name"][language], service["code"], service.get("prefix", "")]
    return set().union(*(words_of(name) for name in [*names, *extra]))


def shot(page, name: str) -> None:
    screenshot(page, name, full_page=True)


def check_screen(page, name: str, language: str, supplied: set[str]) -> None:
    """What every screen must pass: its layout, its language, axe-core (all three
    looked at before failing, so that one run names every fault)."""
    shot(page, name)
    faults = [f"layout: {problem}" for problem in page.evaluate(LAYOUT_PROBLEMS)]
    if page.evaluate("document.documentElement.lang") != language:
        faults.append(f"the page's lang is not {language}")
    foreign = foreign_words(page.evaluate(TEXTS), language, supplied)
    faults += [f"another language: {word}" for word in foreign]
    try:
        assert_no_serious_violations(page, where=name)
    except AssertionError as error:
        faults.append(str(error))
    assert not faults, f"{name}:\n" + "\n".join(faults)


def shown_time(text: str) -> datetime.time:
    """The time of day in ``text`` ("14:05", "02:05 PM")."""
    match = re.search(r"(\d{1,2}):(\d{2})\s*([AP]M)?", text, re.IGNORECASE)
    assert match, f"no time in {text!r}"
    hour, minute = int(match[1]), int(match[2])
    if match[3]:
        hour = hour % 12 + (12 if match[3].upper() == "PM" else 0)
    return datetime.min.replace(hour=hour, minute=minute).time()


def assert_center_time(text: str) -> None:
    """``text`` holds the time of the last few minutes in the center's zone."""
    now = datetime.now(ZoneInfo(ZONE))
    recent = {
        (now - timedelta(minutes=m)).replace(second=0, microsecond=0).time() for m in range(4)
    }
    assert shown_time(text) in recent, f"{text!r} is not the time in {ZONE} ({now:%H:%M})"


# ---- the centers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def place(live_server):
    """``place(case)``: a center of that case (tests/test_display_layout_browser.py's
    demo14 and names150) in ZONE, with visitors waiting, one ticket in each language
    (for the phone), one visitor already served; made once per module."""
    made = {}

    def get(case: str):
        if case not in made:
            fields, waited = center_file(case)
            center = live_server.new_center(timezone=ZONE, **fields)
            for i, service in enumerate(waited):
                live_server.issue(center, service, language=LANGUAGES[i % 3])
            label = fields["counters"][0]["label"]
            served = live_server.call_next(center, label)
            for action in ("start", "complete"):
                response = live_server.api(
                    "POST", f"/tickets/{served['id']}/{action}", center.staff_token
                )
                assert response.status_code == 200, response.text
            # The phone's ticket: the longest name there is (names150's s00 is one word).
            service = waited[-1] if case == "demo14" else "s00"
            tickets = {
                lang: live_server.issue(center, service, language=lang) for lang in LANGUAGES
            }
            made[case] = (center, fields, tickets, label)
        return made[case]

    return get


def manager_username(center) -> str:
    return "manager-" + center.code.removeprefix("live-")  # as tests/live.py names them


def log_in(page, username: str) -> None:
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("#login-submit")


# ---- the visitor's pages ------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", PHONE_SIZES)
def test_phone_page(new_page, live_server, place, size, case, language):
    center, fields, tickets, _ = place(case)
    ticket = tickets[language]
    page = new_page(
        *size, has_touch=True, is_mobile=True, timezone_id=BROWSER_ZONE, reduced_motion="reduce"
    )
    page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
    expect(page.locator("#number")).to_have_text(ticket["number"])
    expect(page.locator("#position")).not_to_be_empty()
    one_line = (
        "e => e.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(e).lineHeight)"
    )
    assert page.locator("#number").evaluate(one_line), "the ticket number breaks"
    name = f"phone-{case}-{language}-{size[0]}x{size[1]}"
    check_screen(page, name, language, supplied_words(fields, language, ticket["number"]))
    assert_landmarks_and_focus(page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", PUBLIC_SIZES)
def test_public_page(new_page, live_server, place, size, case, language):
    center, fields, _, _ = place(case)
    page = new_page(*size, timezone_id=BROWSER_ZONE, reduced_motion="reduce")
    page.goto(f"{live_server.url}/public/{center.code}?lang={language}")
    expect(page.locator("#services tr[data-service]").first).to_be_visible()
    expect(page.locator("#updated")).not_to_be_empty()
    assert_center_time(page.locator("#updated").inner_text())
    name = f"public-{case}-{language}-{size[0]}x{size[1]}"
    check_screen(page, name, language, supplied_words(fields, language, center.code))
    assert_landmarks_and_focus(page)


def assert_landmarks_and_focus(page) -> None:
    """A visitor's page: a main landmark and the rest inside landmarks; the tab key
    goes through the controls in reading order, each with a visible focus ring; and
    nothing moves for a visitor who asked for reduced motion."""
    assert page.locator("main").count() == 1
    assert page.locator("main main, main header, main nav").count() == 0, "landmarks in main"
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return null;
              const s = getComputedStyle(e);
              const r = e.getBoundingClientRect();
              return {
                id: e.id || e.dataset.lang || e.tagName, ring: s.outlineStyle !== "none" &&
                  parseFloat(s.outlineWidth) >= 2, top: r.top + scrollY, left: r.left,
              };
            }"""
        )
        if focused is None:
            break
        assert focused["ring"], f"{focused['id']} has no visible focus"
        order.append(focused)
    assert order, "nothing takes the keyboard's focus"
    tops = [(round(f["top"]), f["left"]) for f in order]
    # In reading order: down the page, and left to right along a row.
    assert [t for t, _ in tops] == sorted(t for t, _ in tops), [f["id"] for f in order]
    moving = page.evaluate(
        """() => [...document.querySelectorAll("body, body *")].filter((e) => {
          const s = getComputedStyle(e);
          const animated = s.animationName !== "none" && parseFloat(s.animationDuration) > 0.01;
          const moves = parseFloat(s.transitionDuration) > 0.01;
          return animated || moves;
        }).map((e) => e.id || e.className)"""
    )
    assert moving == [], f"animated with reduced motion: {moving}"


ANIMATED = """() => [...document.querySelectorAll("body, body *")].filter((e) => {
  const s = getComputedStyle(e);
  return s.animationName !== "none" && parseFloat(s.animationDuration) > 0.01;
}).map((e) => e.id || e.className)"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_call_on_a_320_px_phone_and_with_reduced_motion(new_page, live_server, language):
    """The full-screen call: it fits 320 px, passes axe, and flashes only for a visitor
    who did not ask for reduced motion."""
    fields, _ = center_file("demo14")
    center = live_server.new_center(timezone=ZONE, **fields)
    ticket = live_server.issue(center, "pension-new", language=language)
    live_server.call_next(center, fields["counters"][0]["label"])
    supplied = supplied_words(fields, language, ticket["number"])
    url = f"{live_server.url}/t/{ticket['tracking_token']}"
    for motion in ["reduce", "no-preference"]:
        page = new_page(320, 740, has_touch=True, is_mobile=True, reduced_motion=motion)
        page.goto(url)
        expect(page.locator("#call")).to_be_visible()
        animated = page.evaluate(ANIMATED)
        if motion == "reduce":
            assert animated == [], f"animated with reduced motion: {animated}"
            check_screen(page, f"phone-called-{language}-320x740", language, supplied)
        else:
            assert animated == ["call"] or "phone-call" in animated, animated


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_rating_after_the_visit_on_a_320_px_phone(new_page, live_server, language):
    """After the visit the phone asks for a rating: five buttons that fit 320 px, each
    named with the number it shows, in the ticket's language."""
    fields, _ = center_file("demo14")
    center = live_server.new_center(timezone=ZONE, **fields)
    ticket = live_server.issue(center, "pension-new", language=language)
    called = live_server.call_next(center, fields["counters"][0]["label"])
    for action in ("start", "complete"):
        response = live_server.api("POST", f"/tickets/{called['id']}/{action}", center.staff_token)
        assert response.status_code == 200, response.text
    page = new_page(320, 740, has_touch=True, is_mobile=True, reduced_motion="reduce")
    page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
    expect(page.locator("#rating-scores .rating-score")).to_have_count(5)
    expect(page.locator("#rating")).to_be_visible()
    supplied = supplied_words(fields, language, ticket["number"])
    check_screen(page, f"phone-rating-{language}-320x740", language, supplied)


# ---- the staff's pages --------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
def test_counter_workstation(new_page, live_server, place, case, language):
    center, fields, _, label = place(case)
    page = new_page(*DESK, timezone_id=BROWSER_ZONE, locale=language)
    page.goto(f"{live_server.url}/counter")
    log_in(page, center.staff_username)
    page.click(f'.counter-choice[data-counter="{center.counters[label]}"]')
    expect(page.locator('#actions button[data-action="pause"]')).to_be_enabled()
    expect(page.locator("#queue-list li[data-service]").first).to_be_visible()
    supplied = supplied_words(fields, language, center.staff_username, label)
    check_screen(page, f"counter-{case}-{language}", language, supplied)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
def test_managers_dashboard(new_page, live_server, place, case, language):
    center, fields, _, label = place(case)
    page = new_page(*DESK, timezone_id=BROWSER_ZONE)
    page.goto(f"{live_server.url}/manage?lang={language}")
    username = manager_username(center)
    log_in(page, username)
    expect(page.locator("#center-view")).to_be_visible()
    expect(page.locator("#service-rows tr[data-service]").first).to_be_visible()
    expect(page.locator("#as-of")).not_to_be_empty()
    assert_center_time(page.locator("#as-of").inner_text())
    supplied = supplied_words(fields, language, username, center.staff_username, center.code, label)
    check_screen(page, f"manage-{case}-{language}", language, supplied)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
def test_admin_page(new_page, live_server, place, case, language):
    center, fields, _, label = place(case)
    page = new_page(*DESK, timezone_id=BROWSER_ZONE)
    page.goto(f"{live_server.url}/manage/admin?lang={language}")
    username = manager_username(center)
    log_in(page, username)
    expect(page.locator("#panel tr[data-service]").first).to_be_visible()
    supplied = supplied_words(fields, language, username, center.staff_username, center.code, label)
    check_screen(page, f"admin-{case}-{language}", language, supplied)
