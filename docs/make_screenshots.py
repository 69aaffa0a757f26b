"""Screenshots of every screen, at the sizes each is really used at, in Azerbaijani,
Russian and English, for the README: ``make screenshots`` (writes
docs/screenshots/*.png).

It runs the real thing: ``novbe serve`` on a free port over a scratch database
holding the demo center, a morning's queue issued and called through the API,
and Debian's chromium driven by Playwright.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from server.auth import create_staff, issue_staff_token, rotate_device_token  # noqa: E402
from server.demo.setup import CENTER_FILE  # noqa: E402
from server.importer import import_center, load_center_file  # noqa: E402
from server.models import Center, Device  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.live import LiveCenter, start_live_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LANGUAGES = ("az", "ru", "en")
PASSWORD = "screenshots-only"
# (name, width, height): two sizes per screen, as each is really used: a kiosk standing
# or lying, a TV and a small TV, a desk monitor and a wide one, a phone and the 320 px
# a phone reflows to when zoomed (WCAG 1.4.10).
SIZES = {
    "kiosk": [("portrait", 1080, 1920), ("landscape", 1920, 1080)],
    "display": [("landscape", 1920, 1080), ("small", 1280, 720)],
    "counter": [("desktop", 1440, 900), ("wide", 1920, 1080)],
    "phone": [("phone", 360, 740), ("small", 320, 740)],
    "manage": [("desktop", 1440, 900), ("wide", 1920, 1080)],
    "public": [("landscape", 1440, 900), ("phone", 360, 740)],
}


def demo_center(server) -> LiveCenter:
    data = load_center_file(CENTER_FILE)
    data["hours"] = {"open": "00:00", "close": "23:59"}  # whatever the hour of the run
    with server.db.write() as s:
        import_center(s, data)
        center = s.query(Center).filter_by(code=data["code"]).one()
        staff = create_staff(s, "aysel", PASSWORD, "staff", center.code)
        manager = create_staff(s, "boss", PASSWORD, "manager", center.code)
        s.flush()
        devices = {d.name: d for d in s.query(Device).filter_by(center_id=center.id)}
        return LiveCenter(
            code=center.code,
            kiosk_token=rotate_device_token(s, devices["kiosk-1"]),
            display_token=rotate_device_token(s, devices["hall"]),
            staff_token=issue_staff_token(s, staff, hours=1)[0],
            manager_token=issue_staff_token(s, manager, hours=1)[0],
            counters={c.label: c.id for c in center.counters},
            staff_username=staff.username,
            password=PASSWORD,
        )


def morning_queue(server, center: LiveCenter) -> dict:
    """A dozen visitors, five of them called at counters 2 to 6; returns one still waiting."""
    plan = [
        ("pension-recalc", "az", None),
        ("job-seeker", "ru", None),
        ("child-benefit", "az", "elderly"),
        ("consultation", "en", None),
        ("veteran-support", "az", "veteran"),
        ("pension-new", "az", None),
        ("pension-new", "ru", None),
        ("unemployment", "az", None),
        ("document-copy", "az", None),
        ("pension-new", "en", None),
        ("targeted-assistance", "az", None),
        ("pension-recalc", "az", None),
    ]
    tickets = [
        server.issue(center, service, language, priority) for service, language, priority in plan
    ]
    for label in ("2", "3", "4", "5", "6"):
        server.call_next(center, label)
    return tickets[-3]  # a pension-new ticket in English, waiting


def shoot(page, name: str) -> None:
    page.wait_for_timeout(400)  # let the last live update paint
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"  {path.relative_to(ROOT)}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_live_server(Path(tmp))
        try:
            center = demo_center(server)
            waiting = morning_queue(server, center)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for lang in LANGUAGES:
                    take_all(browser, server, center, waiting, lang)
                call_out_of_order(server, center, waiting)
                for lang in LANGUAGES:
                    phone_called(browser, server, waiting, lang)
                browser.close()
        finally:
            server.stop()


def page_for(browser, width: int, height: int, **options):
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    return context, context.new_page()


def take_all(browser, server, center: LiveCenter, waiting: dict, lang: str) -> None:
    url = server.url
    for size, width, height in SIZES["kiosk"]:
        context, page = page_for(browser, width, height)
        page.goto(f"{url}/kiosk/kiosk-1?idle=600#token={center.kiosk_token}")
        expect(page.locator(f"button[data-lang={lang}]")).to_be_enabled()
        if lang == LANGUAGES[0]:
            shoot(page, f"kiosk-start-{size}")
        page.click(f"button[data-lang={lang}]")
        page.click("button[data-category=pensions]")
        shoot(page, f"kiosk-services-{size}-{lang}")
        page.click("button[data-service=pension-certificate]")
        expect(page.locator("#ticket-qr")).to_be_visible()
        shoot(page, f"kiosk-ticket-{size}-{lang}")
        context.close()

    with server.db.write() as s:
        hall = (
            s.query(Device).filter_by(name="hall").join(Center).filter(Center.code == center.code)
        )
        hall.one().settings = {"language": lang}
    for size, width, height in SIZES["display"]:
        context, page = page_for(browser, width, height)
        page.goto(f"{url}/display/hall#token={center.display_token}")
        expect(page.locator("#calls .call").first).to_be_visible()
        shoot(page, f"display-{size}-{lang}")
        context.close()

    for size, width, height in SIZES["counter"]:
        context, page = page_for(
            browser, width, height, locale={"az": "az-AZ", "ru": "ru-RU"}.get(lang, "en-US")
        )
        page.goto(f"{url}/counter")
        page.click(f"#langs button[data-lang={lang}]")
        page.fill("#username", center.staff_username)
        page.fill("#password", center.password)
        page.click("#login-submit")
        page.click(f'.counter-choice[data-counter="{center.counters["2"]}"]')
        expect(page.locator("#ticket-box")).to_contain_text("B")
        shoot(page, f"counter-{size}-{lang}")
        context.close()

    for size, width, height in SIZES["manage"]:
        context, page = page_for(browser, width, height)
        page.goto(f"{url}/manage")
        page.click(f"#langs button[data-lang={lang}]")
        page.fill("#username", "boss")
        page.fill("#password", center.password)
        page.click("#login-submit")
        expect(page.locator("#center-view")).to_be_visible()
        expect(page.locator("#k-waiting")).not_to_have_text("")
        page.wait_for_timeout(1500)  # the charts are images loaded after the figures
        shoot(page, f"manage-{size}-{lang}")
        context.close()

    for size, width, height in SIZES["public"]:
        context, page = page_for(browser, width, height)
        page.goto(f"{url}/public/{center.code}?lang={lang}")
        expect(page.locator("#services")).not_to_be_empty()
        shoot(page, f"public-{size}-{lang}")
        context.close()

    for size, width, height in SIZES["phone"]:
        context, page = page_for(browser, width, height, is_mobile=True, has_touch=True)
        page.goto(f"{url}/t/{waiting['tracking_token']}")
        page.click(f".phone-languages button[data-lang={lang}]")
        expect(page.locator("#number")).to_have_text(waiting["number"])
        shoot(page, f"phone-{size}-{lang}")
        context.close()


def call_out_of_order(server, center: LiveCenter, ticket: dict) -> None:
    response = server.api(
        "POST",
        f"/counters/{center.counters['1']}/call",
        center.staff_token,
        json={"ticket": ticket["id"], "reason": "appointment"},
    )
    response.raise_for_status()


def phone_called(browser, server, ticket: dict, lang: str) -> None:
    size, width, height = SIZES["phone"][0]
    # Reduced motion: the call's flash does not catch the screen at white.
    context, page = page_for(
        browser, width, height, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    page.goto(f"{server.url}/t/{ticket['tracking_token']}")
    expect(page.locator("#call")).to_be_visible()
    # The full-screen call covers the switcher; press it anyway, as the page would.
    page.locator(f".phone-languages button[data-lang={lang}]").dispatch_event("click")
    shoot(page, f"phone-called-{size}-{lang}")
    context.close()


if __name__ == "__main__":
    main()
