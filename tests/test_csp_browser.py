"""Every screen under the real Content-Security-Policy, in Debian's chromium: each one
does its core action (a ticket at the kiosk, a call at the counter that the display
announces and the phone follows, the dashboard's charts, the admin page, the public
page following the queue) with no policy violation and no failed request."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_helpers import wait_until
from .test_counter_browser import action, open_counter
from .test_display_browser import NO_SPEECH
from .test_kiosk_browser import open_kiosk, shown_ticket
from .test_manage_browser import log_in as log_in_to_manage
from .test_manage_browser import manager_username
from .test_phone_browser import open_phone

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Recorded from before the page's first script: violations the policy reported, and the
# sounds the page played (the display's server voice plays from a blob: URL).
RECORDER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});
window.__played = [];
const play = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  const entry = { src: this.src, state: "playing" };
  window.__played.push(entry);
  this.addEventListener("ended", () => { entry.state = "ended"; }, { once: true });
  this.addEventListener("error", () => { entry.state = "error"; }, { once: true });
  return play.call(this);
};
"""

# What the browser says on the console about a policy it enforces or cannot parse.
POLICY_WORDS = ("Content Security Policy", "Permissions-Policy", "Permissions policy")


class Watched:
    """A page's policy violations, console complaints about policies, failed requests
    and error answers, from its first request on."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.failed: list[str] = []
        self.error_answers: list[str] = []
        self.documents: list[dict[str, str]] = []
        page.add_init_script(RECORDER)
        page.on("console", self._on_console)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if any(words in message.text for words in POLICY_WORDS):
            self.console.append(message.text)

    def _on_response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append(response.all_headers())
        if response.status >= 400:
            self.error_answers.append(f"{response.status} {response.url}")

    def assert_clean(self, expected_errors: tuple[str, ...] = ()) -> None:
        """``expected_errors``: error answers the screen asks for on purpose (the
        staff pages ask for the session before anyone has logged in)."""
        assert self.documents, "no page loaded"
        for headers in self.documents:
            assert "script-src 'self'" in headers["content-security-policy"]
        assert self.page.evaluate("window.__violations") == []
        assert self.console == []
        assert self.failed == []
        unexpected = [e for e in self.error_answers if not e.endswith(expected_errors)]
        assert unexpected == []


class Watcher:
    """``new_page`` with a watch on every page it opens: pass ``watcher.new_page`` to
    the screens' own helpers (open_kiosk, open_counter, ...), then ``watcher.of(page)``."""

    def __init__(self, new_page) -> None:
        self._new_page = new_page
        self._watches: dict[int, Watched] = {}

    def new_page(self, width: int = 1280, height: int = 800, **options):
        page = self._new_page(width, height, **options)
        self._watches[id(page)] = Watched(page)
        return page

    def of(self, page) -> Watched:
        return self._watches[id(page)]


@pytest.fixture
def watcher(new_page) -> Watcher:
    return Watcher(new_page)


SESSION_BEFORE_LOGIN = ("/api/v1/auth/session",)


def test_kiosk_counter_display_and_phone_serve_a_visitor_under_the_policy(
    live_server, live_center, watcher
):
    center = live_center
    display = watcher.new_page(1920, 1080)
    display.add_init_script(NO_SPEECH)  # so the server's voice plays, from a blob: URL
    display.goto(f"{live_server.url}/display/hall#token={center.display_token}")
    expect(display.locator("#services .service").first).to_be_visible()

    kiosk = open_kiosk(watcher.new_page, live_server, center)
    kiosk.click("button[data-lang=en]")
    kiosk.click("button[data-category=pensions]")
    kiosk.click("button[data-service=pension-new]")
    number, token = shown_ticket(kiosk)
    wait_until(kiosk, "document.querySelector('#ticket-qr').naturalWidth > 0")

    phone = open_phone(watcher.new_page, live_server, token)
    expect(phone.locator("#position")).to_have_text("1")

    counter = open_counter(live_server, center, watcher.new_page)
    action(counter, "callNext").click()
    expect(counter.locator("#ticket-box")).to_contain_text(number)

    expect(display.locator("#calls .call.newest")).to_contain_text(number)
    wait_until(display, "window.__played.some((p) => p.state !== 'playing')")
    played = display.evaluate("window.__played")
    assert [(p["src"][:5], p["state"]) for p in played] == [("blob:", "ended")]
    expect(phone.locator("#call")).to_be_visible()
    expect(phone.locator("#call-number")).to_have_text(number)

    for page in (display, kiosk, phone):
        watcher.of(page).assert_clean()
    watcher.of(counter).assert_clean(SESSION_BEFORE_LOGIN)


def test_dashboard_admin_and_public_pages_work_under_the_policy(live_server, live_center, watcher):
    live_server.issue(live_center, "pension-new")

    manage = watcher.new_page(1400, 1000)
    log_in_to_manage(manage, live_server, manager_username(live_center))
    expect(manage.locator("#k-waiting")).to_have_text("1")
    for chart in ("chart-arrivals", "chart-waits", "chart-week"):  # drawn on the server
        wait_until(manage, f"document.getElementById('{chart}').naturalWidth > 0")

    admin = watcher.new_page(1400, 900)
    admin.goto(f"{live_server.url}/manage/admin?lang=en")
    admin.fill("#username", manager_username(live_center))
    admin.fill("#password", live_center.password)
    admin.click("#login-form button[type=submit]")
    expect(admin.locator("tr[data-service='pension-new']")).to_be_visible()
    admin.click("button[data-tab=audit]")
    expect(admin.locator("#panel table")).to_be_visible()

    public = watcher.new_page(1280, 800)
    public.goto(f"{live_server.url}/public/{live_center.code}?lang=en")
    waiting = public.locator('#services tr[data-service="pension-new"] .waiting')
    expect(waiting).to_have_text("1")
    live_server.issue(live_center, "pension-new")
    expect(waiting).to_have_text("2")  # followed live

    watcher.of(manage).assert_clean(SESSION_BEFORE_LOGIN)
    watcher.of(admin).assert_clean(SESSION_BEFORE_LOGIN)
    watcher.of(public).assert_clean()


def test_the_policy_blocks_inline_script_and_the_watch_sees_it(live_server, live_center, watcher):
    """The control: an injected inline script does not run, and it is reported."""
    public = watcher.new_page(1280, 800)
    public.goto(f"{live_server.url}/public/{live_center.code}")
    ran = public.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.head.append(script);
          return window.__inlineRan === true;
        }"""
    )
    assert ran is False
    wait_until(public, "window.__violations.length > 0")
    assert public.evaluate("window.__violations") == ["script-src-elem blocked inline"]
    assert any("Content Security Policy" in text for text in watcher.of(public).console)


def test_the_long_polling_fallback_works_under_the_policy(live_server, live_center, watcher):
    """Where WebSockets are blocked the screens fall back to long-polling, whose POSTs
    must still carry this page's Origin (Engine.IO refuses others) under no-referrer."""
    public = watcher.new_page(1280, 800)
    public.goto(f"{live_server.url}/public/{live_center.code}")
    public.evaluate(
        """(code) => {
          const socket = io("/live", { transports: ["polling"], auth: { public: code } });
          socket.on("snapshot", () => {
            window.__polledSnapshot = socket.io.engine.transport.name;
          });
        }""",
        live_center.code,
    )
    assert wait_until(public, "window.__polledSnapshot") == "polling"
    watcher.of(public).assert_clean()
