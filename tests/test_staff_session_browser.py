"""The staff screens' shared login (server/static/staff_session.js) in a real browser
against a real server: a change whose CSRF token went stale is sent once more and
succeeds, but never as another user; logging out, or a session the server ended, signs
out every tab of the browser, whichever staff screen it shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from server.models import StaffSession, StaffUser, utcnow

from . import factories

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def manager_username(center) -> str:
    return "manager-" + center.code.removeprefix("live-")  # as tests/live.py names them


def log_in_with_the_form(page, username: str, password: str = factories.PASSWORD) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def log_in_behind_the_page(page, live_server, username: str) -> None:
    """A new login with this browser's cookies, that no tab of it hears of (as when the
    server rotates the session): the cookie and the CSRF token change under the pages."""
    response = page.context.request.post(
        f"{live_server.url}/api/v1/auth/session",
        data={"username": username, "password": factories.PASSWORD},
    )
    assert response.status == 201, response.text()


def target_wait(live_server, center, service: str) -> int:
    response = live_server.api("GET", f"/centers/{center.code}/services", center.manager_token)
    services = {s["code"]: s for c in response.json()["categories"] for s in c["services"]}
    return services[service]["target_wait_min"]


def open_admin(live_server, center, new_page):
    page = new_page(1400, 900)
    page.goto(f"{live_server.url}/manage/admin?lang=en")
    log_in_with_the_form(page, manager_username(center))
    expect(page.locator("tr[data-service='pension-new']")).to_be_visible()
    return page


def service_changes(page) -> list[tuple[int, str | None]]:
    """Each PATCH of a service the page sends, as (status, error code), in order."""
    answers: list[tuple[int, str | None]] = []

    def on_response(response) -> None:
        if response.request.method == "PATCH" and "/admin/services/" in response.url:
            body = response.json() if response.status >= 400 else {}
            answers.append((response.status, body.get("error", {}).get("code")))

    page.on("response", on_response)
    return answers


def test_a_change_whose_csrf_token_went_stale_is_sent_again_and_succeeds(
    live_server, live_center, new_page
):
    page = open_admin(live_server, live_center, new_page)
    answers = service_changes(page)
    log_in_behind_the_page(page, live_server, manager_username(live_center))

    row = page.locator("tr[data-service='pension-new']")
    row.get_by_label("Target wait (min)").fill("31")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    assert answers == [(403, "csrf_failed"), (200, None)]
    assert target_wait(live_server, live_center, "pension-new") == 31

    # The page now holds the new token: the next change goes through at once.
    row.get_by_label("Target wait (min)").fill("32")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#message")).to_have_text("Saved")
    assert answers[2:] == [(200, None)]
    assert target_wait(live_server, live_center, "pension-new") == 32


def test_a_stale_change_is_never_replayed_as_the_user_who_logged_in_since(
    live_server, live_center, new_page
):
    page = open_admin(live_server, live_center, new_page)
    answers = service_changes(page)
    before = target_wait(live_server, live_center, "pension-new")
    log_in_behind_the_page(page, live_server, live_center.staff_username)

    row = page.locator("tr[data-service='pension-new']")
    row.get_by_label("Target wait (min)").fill(str(before + 7))
    row.get_by_role("button", name="Save").click()
    # The page follows the login it found: a staff member, who may not use it.
    expect(page.locator("#refused-view")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text(live_center.staff_username)
    assert answers == [(403, "csrf_failed")]
    assert target_wait(live_server, live_center, "pension-new") == before


def test_logging_out_in_one_tab_signs_out_every_staff_screen(live_server, live_center, new_page):
    manager = manager_username(live_center)
    dashboard = new_page(1400, 1000)
    dashboard.goto(f"{live_server.url}/manage?lang=en")
    log_in_with_the_form(dashboard, manager)
    expect(dashboard.locator("#center-view")).to_be_visible()
    # Other tabs of the same browser: the login cookie is theirs too.
    admin = dashboard.context.new_page()
    admin.goto(f"{live_server.url}/manage/admin?lang=en")
    expect(admin.locator("#admin-view")).to_be_visible()
    counter = dashboard.context.new_page()
    counter.goto(f"{live_server.url}/counter")
    expect(counter.locator("#picker-view")).to_be_visible()

    admin.click("#logout")
    for page in (admin, dashboard, counter):
        expect(page.locator("#login-view")).to_be_visible()
        expect(page.locator("#login-error")).to_be_hidden()  # logged out, not expired
        expect(page.locator("#who")).to_be_hidden()
    session = dashboard.context.request.get(f"{live_server.url}/api/v1/auth/session")
    assert session.status == 401  # ended on the server too

    # Logging in again in one tab brings the others along.
    log_in_with_the_form(counter, manager)
    expect(counter.locator("#picker-view")).to_be_visible()
    expect(dashboard.locator("#center-view")).to_be_visible()
    expect(admin.locator("#admin-view")).to_be_visible()
    expect(admin.locator("tr[data-service='pension-new']")).to_be_visible()


def test_a_session_the_server_ended_signs_out_every_tab_saying_so(
    live_server, live_center, new_page
):
    admin = open_admin(live_server, live_center, new_page)
    # A tab on the counter picker: it has its list, and looks again only every 10 s,
    # so the admin tab is the one to find out (CI once saw the picker's first request
    # still on its way when the session ended, and that tab tell the others first).
    counter = admin.context.new_page()
    counter.goto(f"{live_server.url}/counter?lang=en")
    expect(counter.locator("#picker-view")).to_be_visible()
    expect(counter.locator(".counter-choice").first).to_be_visible()
    with live_server.db.write() as s:
        staff_id = s.scalar(
            select(StaffUser.id).where(StaffUser.username == manager_username(live_center))
        )
        s.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    row = admin.locator("tr[data-service='pension-new']")
    row.get_by_label("Target wait (min)").fill("44")
    row.get_by_role("button", name="Save").click()
    expect(admin.locator("#login-view")).to_be_visible()
    expect(admin.locator("#login-error")).to_have_text(
        "Your session has ended. Please log in again."
    )
    # Told by the tab that found out, and saying why.
    expect(counter.locator("#login-view")).to_be_visible()
    expect(counter.locator("#login-error")).to_have_text(
        "Your session has ended. Please log in again."
    )
    assert target_wait(live_server, live_center, "pension-new") != 44
