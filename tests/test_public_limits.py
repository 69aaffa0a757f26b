"""Request-rate limits (server/api/public_limits.py): the public booking routes per client
(an IPv6 client's whole /64 is one client) and failed check-ins per kiosk or account, each
refused with 429 and Retry-After once its configured budget is spent. The limits are set
low here; tests/live.py raises them for the end-to-end tests."""

from __future__ import annotations

import json
import time as clock
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import create_app
from server.api.openapi import SPEC_PATH
from server.config import TestConfig
from server.models import Center, Service, utcnow

from .api_helpers import PREFIX, assert_error, setup_api
from .arrival_helpers import book
from .test_openapi import check

SPEC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
CENTER = f"{PREFIX}/public/centers/baku-1"


@pytest.fixture
def open_center(db, center):
    """pension-new bookable; job-seeker joinable from home; open all day, every day."""
    with db.write() as s:
        row = s.get(Center, center.id)
        row.opens_at, row.closes_at = time(0), time(0)
        row.closed_weekdays, row.closed_days, row.breaks = [], [], []
        row.remote_joining = True
        for service in s.scalars(select(Service).where(Service.center_id == center.id)):
            service.bookable = service.code == "pension-new"
            service.remote_joining = service.code == "job-seeker"
            service.booking_days_ahead = 7
    return center


def client_of(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def first_starts(client, n: int, address: str = "10.0.0.99") -> list[str]:
    day = (utcnow().astimezone(ZoneInfo("Asia/Baku")).date() + timedelta(days=2)).isoformat()
    response = client.get(f"{CENTER}/slots?service=pension-new&date={day}", **client_of(address))
    return [slot["start"] for slot in response.get_json()["slots"][:n]]


def book_one(client, start: str, address: str):
    body = {"service": "pension-new", "start": start, "language": "en"}
    return client.post(f"{CENTER}/appointments", json=body, **client_of(address))


def join(client, address: str):
    body = {"service": "job-seeker", "language": "en"}
    return client.post(f"{CENTER}/remote-tickets", json=body, **client_of(address))


def assert_throttled(response, code: str = "too_many_requests") -> int:
    """The refusal's shape; returns its Retry-After in seconds."""
    error = assert_error(response, 429, code)
    retry_after = error["details"]["retry_after"]
    assert response.headers["Retry-After"] == str(retry_after)
    assert 1 <= retry_after <= 61
    assert f"try again in {retry_after} seconds" in error["message"]
    return retry_after


# --- the public writes ------------------------------------------------------------------


def test_book_cancel_and_join_share_one_budget_per_client(app, client, open_center):
    app.config["PUBLIC_BOOKING_WRITE_LIMITS"] = "3 per minute"
    one, two, three = first_starts(client, 3)
    me, other = "203.0.113.7", "198.51.100.4"
    booked = book_one(client, one, me)
    assert booked.status_code == 201, booked.get_json()
    token = booked.get_json()["token"]
    assert client.delete(f"{PREFIX}/appointments/{token}", **client_of(me)).status_code == 200
    assert join(client, me).status_code == 201
    refused = book_one(client, two, me)
    assert_throttled(refused)
    check(SPEC, refused, "POST", "/public/centers/{center_code}/appointments")
    assert_throttled(join(client, me))
    assert_throttled(client.delete(f"{PREFIX}/appointments/{token}", **client_of(me)))
    # Nothing was written for the refused requests; another client is not held up.
    assert book_one(client, two, other).status_code == 201
    assert book_one(client, three, me).status_code == 429


def test_an_ipv6_clients_whole_64_is_one_client(app, client, open_center):
    app.config["PUBLIC_BOOKING_WRITE_LIMITS"] = "2 per minute"
    assert join(client, "2001:db8:1:2::1").status_code == 201
    assert join(client, "2001:db8:1:2:ffff::9").status_code == 201
    assert_throttled(join(client, "2001:db8:1:2:abcd::3"))  # same /64: same client
    assert join(client, "2001:db8:1:3::1").status_code == 201  # the next /64: another


def test_the_per_client_booking_cap_counts_a_64_as_one_client(app, client, open_center):
    """The engine's daily cap (booking.py) is keyed the same way: changing the address
    inside one /64 does not reset it."""
    app.config["APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY"] = 1
    one, two, three = first_starts(client, 3)
    assert book_one(client, one, "2001:db8:5:6::1").status_code == 201
    assert_error(book_one(client, two, "2001:db8:5:6::2"), 429, "client_limit")
    assert book_one(client, three, "2001:db8:5:7::1").status_code == 201


# --- the public reads -----------------------------------------------------------------


def test_the_booking_pages_reads_share_their_own_budget(app, client, open_center):
    app.config["PUBLIC_BOOKING_READ_LIMITS"] = "3 per minute"
    app.config["PUBLIC_BOOKING_WRITE_LIMITS"] = "5 per minute"
    me = "192.0.2.1"
    (start,) = first_starts(client, 1, me)  # one read
    assert client.get(f"{CENTER}/booking", **client_of(me)).status_code == 200
    days = client.get(f"{CENTER}/booking-days?service=pension-new", **client_of(me))
    assert days.status_code == 200
    day = start[:10]
    for path in ("/booking", "/booking-days?service=pension-new", f"/slots?service=x&date={day}"):
        refused = client.get(f"{CENTER}{path}", **client_of(me))
        assert_throttled(refused)
    check(SPEC, refused, "GET", "/public/centers/{center_code}/slots")
    # The writes have a budget of their own; another client reads on.
    assert book_one(client, start, me).status_code == 201
    assert client.get(f"{CENTER}/booking", **client_of("192.0.2.2")).status_code == 200


def test_tiers_name_when_the_longest_lock_ends(app, client, open_center):
    app.config["PUBLIC_BOOKING_READ_LIMITS"] = "1 per second;2 per minute"
    assert client.get(f"{CENTER}/booking").status_code == 200
    assert assert_throttled(client.get(f"{CENTER}/booking")) <= 2  # the second's tier
    clock.sleep(1.1)
    # The refused request took the minute's second place: now that tier is full.
    assert assert_throttled(client.get(f"{CENTER}/booking")) > 50


# --- failed check-ins -----------------------------------------------------------------


def post_check_in(client, headers, code, center="baku-1"):
    return client.post(f"{PREFIX}/centers/{center}/check-in", json={"code": code}, headers=headers)


def test_failed_check_ins_lock_the_kiosk_not_others(app, client, db, center):
    app.config["CHECKIN_FAILURE_LIMITS"] = "3 per minute"
    app.config["CHECKIN_BURST_LIMITS"] = "100 per second"  # its own test below
    api = setup_api(db, center)
    soon = utcnow() + timedelta(minutes=5)
    with db.write() as s:
        codes = ["KKKKK2", "KKKKK3", "KKKKK4", "KKKKK5", "KKKKK6"]
        for code in codes:
            book(s, center.id, soon, code=code)
    # Successes do not count.
    for code in codes[:3]:
        assert post_check_in(client, api.kiosk, code).status_code == 201
    assert_error(post_check_in(client, api.kiosk, "AAAAA2"), 404, "appointment_not_found")
    assert_error(post_check_in(client, api.kiosk, f"{PREFIX}/t/nope"), 404, "ticket_not_found")
    # A refusal a guess cannot get does not count either (the code is real).
    assert_error(post_check_in(client, api.kiosk, codes[0]), 409, "already_checked_in")
    assert_error(post_check_in(client, api.kiosk, "AAAAA3"), 404, "appointment_not_found")
    # Three failures: even a right code waits until the window frees.
    refused = post_check_in(client, api.kiosk, codes[3])
    assert_throttled(refused, "too_many_attempts")
    assert "unknown codes" in refused.get_json()["error"]["message"]
    check(SPEC, refused, "POST", "/centers/{center_code}/check-in")
    # Another actor of the same center is not locked; staff are counted on their own.
    assert post_check_in(client, api.staff, codes[3]).status_code == 201
    # Another center's codes count too (409 wrong_center), for that kiosk.
    for _ in range(3):
        refusal = post_check_in(client, api.other_kiosk, codes[4], "ganja-1")
        assert_error(refusal, 409, "wrong_center")
    assert_throttled(
        post_check_in(client, api.other_kiosk, codes[4], "ganja-1"), "too_many_attempts"
    )


def test_a_burst_of_guesses_at_once_cannot_outrun_the_failure_count(app, db, center):
    """A failure is counted after its lookup: without the burst limit, guesses sent at
    once all passed the test before any was counted. With it (3 a second, tested and
    counted in one step), at most the failure limit plus 2 get an answer."""
    import threading

    app.config["CHECKIN_FAILURE_LIMITS"] = "3 per minute"
    api = setup_api(db, center)
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def guess(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(
            post_check_in(client, api.kiosk, f"AAAA{'234567'[i % 6]}{'2345'[i % 4]}").status_code
        )

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) == [404, 429]
    assert statuses.count(404) <= 3 + 2


# --- shared storage and a real server -----------------------------------------------


def test_redis_storage_shares_failed_check_ins_between_processes(database_url, db, center):
    """Two apps on one Redis stand for two server processes: failures on one lock the
    kiosk on the other."""
    import redis

    store = redis.Redis.from_url("redis://127.0.0.1:6379/5")

    def forget() -> None:
        for name in store.scan_iter("*checkin-failures*"):
            store.delete(name)

    forget()  # kiosk ids repeat between runs and backends
    config = type(
        "Config",
        (TestConfig,),
        {
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/5",
            "CHECKIN_FAILURE_LIMITS": "2 per minute",
        },
    )
    api = setup_api(db, center)
    try:
        first = create_app(config).test_client()
        for code in ("AAAAA2", "AAAAA3"):
            assert_error(post_check_in(first, api.kiosk, code), 404, "appointment_not_found")
        second = create_app(config).test_client()
        assert_throttled(post_check_in(second, api.kiosk, "AAAAA4"), "too_many_attempts")
        assert post_check_in(second, api.staff, "AAAAA4").status_code == 404
    finally:
        forget()


def test_live_server_limits_an_ipv6_64_behind_the_proxy(tmp_path):
    """``novbe serve`` behind one trusted proxy: the client is the forwarded address, and
    addresses of one /64 share a budget."""
    from .live import start_live_server

    server = start_live_server(
        tmp_path,
        env={"NOVBE_PUBLIC_BOOKING_READ_LIMITS": "2 per minute", "NOVBE_TRUSTED_PROXIES": "1"},
    )
    try:
        center = server.new_center()

        def read(address: str):
            path = f"/public/centers/{center.code}/booking"
            return server.api("GET", path, headers={"X-Forwarded-For": address})

        assert read("2001:db8:7:7::1").status_code == 200
        assert read("2001:db8:7:7::2").status_code == 200
        refused = read("2001:db8:7:7:1234::3")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert read("2001:db8:7:8::1").status_code == 200  # another /64
        assert read("203.0.113.5").status_code == 200
    finally:
        server.stop()


# --- the screens say it in words --------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """A server of its own that locks a kiosk or account after two unknown codes."""
    from .live import start_live_server

    server = start_live_server(
        tmp_path_factory.mktemp("strict"), env={"NOVBE_CHECKIN_FAILURE_LIMITS": "2 per minute"}
    )
    yield server
    server.stop()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_kiosk_and_reception_say_a_locked_check_in_in_words(new_page, strict_server, lang):
    from pathlib import Path

    from playwright.sync_api import expect

    from server.i18n import catalog

    from .test_checkin_browser import PORTRAIT, check_fits, type_on_keypad
    from .test_reception_browser import TABLET, log_in, reception_user

    root = Path(__file__).resolve().parent.parent
    kiosk_words = catalog(root / "kiosk" / "translations")[lang]
    manage_words = catalog(root / "manage" / "translations")[lang]
    center = strict_server.new_center()
    page = new_page(*PORTRAIT)
    page.goto(f"{strict_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    page.click("#checkin-start")
    page.click(f"button[data-checkin-lang={lang}]")
    for code, words in (("WXYWXY", "checkin.not_found"), ("WXYWX2", "checkin.not_found")):
        type_on_keypad(page, code)
        page.click("#checkin-send")
        expect(page.locator("#checkin-problem")).to_have_text(kiosk_words[words])
        page.click("#checkin-backspace")  # the code stays to be corrected: start over
        for _ in range(5):
            page.click("#checkin-backspace")
    type_on_keypad(page, "WXYWX3")
    page.click("#checkin-send")
    expect(page.locator("#checkin-problem")).to_have_text(kiosk_words["checkin.too_many"])
    check_fits(page, PORTRAIT)
    # Reception is counted on its own account, and told in its words too.
    desk = new_page(*TABLET)
    log_in(desk, strict_server, reception_user(strict_server, center), "/reception", lang)
    expect(desk.locator("#login-view")).to_be_hidden()
    title = desk.locator("#result-title")
    for _ in range(2):
        desk.fill("#checkin-code", "WXYWX4")
        desk.click("#checkin-submit")
        expect(title).to_have_text(manage_words["reception.refused.not_found"])
        desk.evaluate("document.querySelector('#result-title').textContent = ''")
    desk.fill("#checkin-code", "WXYWX4")
    desk.click("#checkin-submit")
    expect(title).to_have_text(manage_words["reception.refused.too_many"])
