"""The waiting-room display (/display/<device>) in a real browser against a real server.

Speech: Chromium's speechSynthesis is replaced in the page (before its scripts run)
by a recorder that logs each utterance's text and language, notes any utterance that
starts while another is still speaking, and ends utterances either by itself or only
when the test says so (``hold``), so the page's announcement queue is observable.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.models import Center, Device

from .browser_helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RECONNECT_TIMEOUT_MS = 25_000  # Socket.IO's back-off waits up to 15 s between tries

SPEECH_RECORDER = """
(() => {
  const synth = window.speechSynthesis;
  const log = { spoken: [], overlaps: 0, cancels: 0, current: null, hold: %(hold)s };
  window.__speech = log;
  log.finish = () => {
    const utterance = log.current;
    if (!utterance) return false;
    log.current = null;
    utterance.dispatchEvent(new Event("end"));
    return true;
  };
  synth.speak = (utterance) => {
    if (log.current) log.overlaps += 1;
    log.spoken.push({ text: utterance.text, lang: utterance.lang });
    log.current = utterance;
    if (!log.hold) setTimeout(log.finish, 50);
  };
  synth.cancel = () => { log.cancels += 1; };
  // The chime's tones are made when an announcement starts: one made while an
  // utterance is still speaking is an overlap too.
  const createOscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    if (log.current) log.overlaps += 1;
    return createOscillator.call(this);
  };
  Object.defineProperty(synth, "speaking", { get: () => log.current !== null });
  Object.defineProperty(synth, "pending", { get: () => false });
})();
"""

NO_SPEECH = """
Object.defineProperty(window, "speechSynthesis", { get: () => undefined, configurable: true });
"""


def open_display(new_page, live_server, center, *, width=1920, height=1080, hold=False):
    page = new_page(width, height)
    page.add_init_script(SPEECH_RECORDER % {"hold": "true" if hold else "false"})
    page.goto(f"{live_server.url}/display/hall#token={center.display_token}")
    expect(page.locator("#services .service").first).to_be_visible()
    return page


def newest(page):
    return page.locator("#calls .call.newest")


def row(page, number: str):
    return page.locator(f'#calls .call[data-number="{number}"]')


def spoken(page) -> list[dict]:
    return page.evaluate("window.__speech.spoken")


def wait_spoken(page, count: int) -> list[dict]:
    wait_until(page, f"window.__speech.spoken.length >= {count}")
    return spoken(page)


def start(live_server, center, ticket) -> None:
    response = live_server.api("POST", f"/tickets/{ticket['id']}/start", center.staff_token)
    assert response.status_code == 200, response.text


def set_display_settings(live_server, center, settings: dict) -> None:
    with live_server.db.write() as s:
        device = s.scalar(
            select(Device)
            .join(Center, Center.id == Device.center_id)
            .where(Center.code == center.code, Device.name == "hall")
        )
        device.settings = settings


def waiting_on_server(live_server, center) -> dict[str, int]:
    response = live_server.api("GET", f"/centers/{center.code}/queue", center.display_token)
    assert response.status_code == 200, response.text
    return {s["service"]: s["waiting"] for s in response.json()["services"]}


def test_a_call_shows_newest_highlighted_and_a_recall_brings_it_back(
    new_page, live_server, live_center
):
    live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "pension-new")
    page = open_display(new_page, live_server, live_center)
    expect(page.locator("#calls .empty")).to_be_visible()

    first = live_server.call_next(live_center, "1")
    expect(newest(page)).to_have_attribute("data-number", first["number"])
    expect(newest(page)).to_have_attribute("data-counter", "1")
    expect(newest(page)).to_have_class("call newest flash")

    second = live_server.call_next(live_center, "2")
    expect(newest(page)).to_have_attribute("data-number", second["number"])
    expect(newest(page).locator(".counter")).to_have_text("2")
    expect(row(page, first["number"])).to_have_class("call")  # no longer highlighted

    response = live_server.api("POST", f"/tickets/{first['id']}/recall", live_center.staff_token)
    assert response.status_code == 200, response.text
    expect(newest(page)).to_have_attribute("data-number", first["number"])
    expect(newest(page)).to_have_class("call newest flash")
    expect(row(page, first["number"])).to_have_count(1)  # moved up, not repeated
    expect(page.locator("#calls .call")).to_have_count(2)

    texts = [u["text"] for u in wait_spoken(page, 3)]
    assert texts == [
        f"Bilet {number}, masa {counter}"
        for number, counter in [("A, 0 0 1", 1), ("A, 0 0 2", 2), ("A, 0 0 1", 1)]
    ]


def test_calls_are_announced_in_the_ticket_language_one_after_the_other(
    new_page, live_server, live_center
):
    live_server.issue(live_center, "pension-new", language="ru")
    live_server.issue(live_center, "job-seeker", language="en")
    live_server.issue(live_center, "pension-recalc", language="az")
    page = open_display(new_page, live_server, live_center, hold=True)

    assert live_server.call_next(live_center, "1")["number"] == "A001"
    assert wait_spoken(page, 1) == [{"text": "Талон A, 0 0 1, окно 1", "lang": "ru-RU"}]

    # Two quick calls while A001 is still being spoken: they wait their turn. Once the
    # display shows them it has handled them, so a chime started over A001 would
    # already be counted.
    assert live_server.call_next(live_center, "3")["number"] == "C001"
    assert live_server.call_next(live_center, "2")["number"] == "B001"
    expect(newest(page)).to_have_attribute("data-number", "B001")
    assert page.evaluate("NovbeDisplay.announcements") == {
        "current": "A001",
        "pending": ["C001", "B001"],
    }
    assert page.evaluate("[window.__speech.overlaps, window.__speech.spoken.length]") == [0, 1]

    assert page.evaluate("window.__speech.finish()")  # A001 has been said
    assert wait_spoken(page, 2)[1] == {"text": "Ticket C, 0 0 1, counter 3", "lang": "en-US"}
    assert page.evaluate("window.__speech.finish()")
    assert wait_spoken(page, 3)[2] == {"text": "Bilet B, 0 0 1, masa 2", "lang": "az-AZ"}
    assert page.evaluate("window.__speech.finish()")
    assert page.evaluate("[window.__speech.overlaps, window.__speech.cancels]") == [0, 0]


def test_without_speech_synthesis_the_announcement_goes_to_the_voice_fallback(
    new_page, live_server, live_center
):
    live_server.issue(live_center, "pension-new", language="az")
    page = new_page(1920, 1080)
    page.add_init_script(NO_SPEECH)
    page.goto(f"{live_server.url}/display/hall#token={live_center.display_token}")
    expect(page.locator("#services .service").first).to_be_visible()
    # Record what goes to the fallback instead of fetching the server's recording of it
    # (that recording: tests/test_voice.py).
    page.evaluate(
        """() => {
            window.__fallback = [];
            NovbeDisplay.voiceFallback = (announcement) => window.__fallback.push(announcement);
        }"""
    )

    live_server.call_next(live_center, "1")
    expect(newest(page)).to_have_attribute("data-number", "A001")
    wait_until(page, "window.__fallback.length >= 1")
    announcement = page.evaluate("window.__fallback[0]")
    assert announcement == {
        "text": "Bilet A, 0 0 1, masa 1",
        "lang": "az-AZ",
        "number": "A001",
        "counter": "1",
    }


def test_a_display_set_to_one_counter_shows_and_announces_only_its_calls(
    new_page, live_server, live_center
):
    set_display_settings(live_server, live_center, {"counters": ["1"]})
    live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "pension-new")
    page = open_display(new_page, live_server, live_center)
    # Counter 1 serves pensions only: job seekers' queue is not this display's.
    expect(page.locator("#services .service")).to_have_count(2)
    expect(page.locator('#services [data-service="job-seeker"]')).to_have_count(0)

    at_two = live_server.call_next(live_center, "2")
    at_one = live_server.call_next(live_center, "1")
    assert (at_two["number"], at_one["number"]) == ("A001", "A002")
    expect(newest(page)).to_have_attribute("data-number", "A002")
    # Events arrive in order, so the earlier call at counter 2 has been handled.
    expect(row(page, "A001")).to_have_count(0)
    expect(page.locator("#calls .call")).to_have_count(1)
    assert [u["text"] for u in wait_spoken(page, 1)] == ["Bilet A, 0 0 2, masa 1"]

    page.reload()  # the snapshot is filtered the same way
    expect(newest(page)).to_have_attribute("data-number", "A002")
    expect(page.locator("#calls .call")).to_have_count(1)


def test_a_display_set_to_one_service_from_the_center_file(new_page, live_server):
    devices = [
        {"kind": "kiosk", "name": "kiosk-1"},
        {"kind": "display", "name": "hall", "settings": {"services": ["job-seeker"]}},
    ]
    center = live_server.new_center(devices=devices)  # through the importer
    live_server.issue(center, "pension-new")
    live_server.issue(center, "job-seeker")
    page = open_display(new_page, live_server, center)
    expect(page.locator("#services .service")).to_have_count(1)
    expect(page.locator('#services [data-service="job-seeker"] .count')).to_have_text("1")

    live_server.call_next(center, "1")  # A001
    live_server.call_next(center, "3")  # C001
    expect(newest(page)).to_have_attribute("data-number", "C001")
    expect(row(page, "A001")).to_have_count(0)


# Notes each time the page marks itself offline (the banner shows): none is expected
# while the display reconnects on purpose for its new settings.
OFFLINE_WATCH = """
window.__offline = 0;
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => {
    if (document.body.classList.contains("offline")) window.__offline += 1;
  }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
});
"""


def test_a_display_follows_a_change_of_its_settings_without_a_reload(
    new_page, live_server, live_center
):
    """Its settings come from the center file (written here as the import writes them);
    saving the device through the admin API tells the screen (device.updated), which
    fetches everything again: the calls and queues of the counters it now shows. A call
    those settings kept off it is shown, not announced: it was another display's."""
    set_display_settings(live_server, live_center, {"counters": ["1"]})
    for _ in range(2):
        live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "job-seeker")
    page = new_page(1920, 1080)
    page.add_init_script(OFFLINE_WATCH)
    page.add_init_script(SPEECH_RECORDER % {"hold": "false"})
    page.goto(f"{live_server.url}/display/hall#token={live_center.display_token}")
    jobs = page.locator('#services [data-service="job-seeker"]')
    expect(page.locator("#services .service")).to_have_count(2)  # counter 1's services
    expect(jobs).to_have_count(0)
    assert live_server.call_next(live_center, "3")["number"] == "C001"  # not this display's
    assert live_server.call_next(live_center, "1")["number"] == "A001"
    expect(newest(page)).to_have_attribute("data-number", "A001")
    expect(row(page, "C001")).to_have_count(0)
    assert [u["text"] for u in wait_spoken(page, 1)] == ["Bilet A, 0 0 1, masa 1"]

    set_display_settings(live_server, live_center, {})  # the whole hall from now on
    response = live_server.api(
        "PATCH",
        f"/centers/{live_center.code}/devices/hall",
        live_center.manager_token,
        json={"printer": None},  # a display has none: the save alone
    )
    assert response.status_code == 200, response.text
    expect(row(page, "C001")).to_have_count(1)
    expect(row(page, "A001")).to_have_count(1)
    expect(jobs.locator(".count")).to_have_text("0")

    # The next call is announced next: C001 was not queued before it.
    assert live_server.call_next(live_center, "2")["number"] == "A002"
    expect(newest(page)).to_have_attribute("data-number", "A002")
    assert [u["text"] for u in wait_spoken(page, 2)] == [
        "Bilet A, 0 0 1, masa 1",
        "Bilet A, 0 0 2, masa 2",
    ]
    expect(page.locator("#connection")).to_be_hidden()
    assert page.evaluate("window.__offline") == 0


def test_waiting_counts_follow_the_queue(new_page, live_server, live_center):
    page = open_display(new_page, live_server, live_center)
    pension = page.locator('#services [data-service="pension-new"] .count')
    jobs = page.locator('#services [data-service="job-seeker"] .count')
    expect(pension).to_have_text("0")

    live_server.issue(live_center, "pension-new")
    expect(pension).to_have_text("1")
    live_server.issue(live_center, "job-seeker")
    live_server.issue(live_center, "job-seeker")
    expect(jobs).to_have_text("2")
    live_server.call_next(live_center, "3")
    expect(jobs).to_have_text("1")
    expect(pension).to_have_text("1")


def test_after_a_lost_connection_it_redraws_from_the_snapshot(new_page, live_server, live_center):
    for _ in range(3):
        live_server.issue(live_center, "pension-new", language="en")
    page = open_display(new_page, live_server, live_center)
    first = live_server.call_next(live_center, "1")
    expect(newest(page)).to_have_attribute("data-number", first["number"])
    wait_spoken(page, 1)

    page.context.set_offline(True)  # the browser's network goes: the socket drops
    expect(page.locator("#connection")).to_be_visible()
    expect(page.locator("#connection")).to_contain_text("Connection to the server lost")

    # Meanwhile the hall goes on.
    missed = live_server.call_next(live_center, "2")
    live_server.issue(live_center, "job-seeker")

    page.context.set_offline(False)
    expect(page.locator("#connection")).to_be_hidden(timeout=RECONNECT_TIMEOUT_MS)
    expect(newest(page)).to_have_attribute("data-number", missed["number"])
    expect(newest(page).locator(".counter")).to_have_text("2")
    expect(row(page, first["number"])).to_have_count(1)
    for service, waiting in waiting_on_server(live_server, live_center).items():
        expect(page.locator(f'#services [data-service="{service}"] .count')).to_have_text(
            str(waiting)
        )
    # A call made moments ago, while the screen was away, is still announced.
    assert wait_spoken(page, 2)[1]["text"] == "Ticket A, 0 0 2, counter 2"


def test_fits_a_720p_screen_and_keeps_a_bounded_list(new_page, live_server, live_center):
    tickets = 9
    for _ in range(tickets):
        live_server.issue(live_center, "pension-new")
    page = open_display(new_page, live_server, live_center, width=1280, height=720)
    for _ in range(tickets):
        ticket = live_server.call_next(live_center, "1")
        start(live_server, live_center, ticket)

    expect(newest(page)).to_have_attribute("data-number", "A009")
    rows = page.locator("#calls .call")
    expect(rows).to_have_count(7)  # A009 .. A003: older calls leave the screen
    expect(rows.last).to_have_attribute("data-number", "A003")
    assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")
    bottom = page.evaluate(
        "document.querySelector('#calls .call:last-child').getBoundingClientRect().bottom"
    )
    assert bottom <= 720

    page.reload()  # the snapshot carries more calls than fit; the same seven show
    expect(newest(page)).to_have_attribute("data-number", "A009")
    expect(rows).to_have_count(7)


def test_a_display_opened_without_its_token_says_how_to_set_it_up(new_page, live_server):
    page = new_page(1280, 720)
    page.goto(f"{live_server.url}/display/hall")
    setup = page.locator("#setup")
    expect(setup).to_be_visible()
    expect(setup).to_contain_text("Bu ekran hələ quraşdırılmayıb")
    expect(setup).to_contain_text("/display/hall#token=")
    expect(page.locator("#connection")).to_be_hidden()


def test_a_refused_token_is_said_in_three_languages_not_in_the_servers_english(
    new_page, live_server
):
    page = new_page(1280, 720)
    page.goto(f"{live_server.url}/display/hall#token=dv_not-a-token")
    banner = page.locator("#connection")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-status", "refused")
    expect(banner).to_contain_text("Server bu ekranın açarını qəbul etmir")
    expect(banner).to_contain_text("Сервер не принимает ключ этого экрана")
    expect(banner).to_contain_text("The server does not accept this screen's key")
    expect(banner).not_to_contain_text("invalid or expired token")


def test_without_speech_synthesis_the_display_plays_the_servers_voice(
    new_page, live_server, live_center
):
    # Records every sound the page plays: where from, how long, and that it ended.
    audio_recorder = """
    window.__audio = [];
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function () {
      const entry = { src: this.src, duration: 0, ended: false };
      window.__audio.push(entry);
      this.addEventListener("durationchange", () => { entry.duration = this.duration; });
      this.addEventListener("ended", () => { entry.ended = true; }, { once: true });
      return play.call(this);
    };
    """
    live_server.issue(live_center, "pension-new", language="ru")
    page = new_page(1920, 1080)
    page.add_init_script(NO_SPEECH)
    page.add_init_script(audio_recorder)
    voice_requests = []
    page.on(
        "request",
        lambda request: (
            voice_requests.append(request) if "announcement.wav" in request.url else None
        ),
    )
    page.goto(f"{live_server.url}/display/hall#token={live_center.display_token}")
    expect(page.locator("#services .service").first).to_be_visible()

    live_server.call_next(live_center, "1")
    expect(newest(page)).to_have_attribute("data-number", "A001")
    wait_until(page, "window.__audio.length >= 1 && window.__audio[0].ended")
    played = page.evaluate("window.__audio")
    assert len(played) == 1
    assert played[0]["src"].startswith("blob:")  # fetched with the token, then played
    assert played[0]["duration"] > 1  # a spoken sentence
    # The announcement has ended, so the queue is free for the next call.
    wait_until(page, "NovbeDisplay.announcements.current === null")

    assert len(voice_requests) == 1
    request = voice_requests[0]
    assert request.url == (
        f"{live_server.url}/api/v1/centers/{live_center.code}/announcement.wav"
        "?number=A001&counter=1&language=ru"
    )
    assert request.all_headers()["authorization"] == f"Bearer {live_center.display_token}"
    response = request.response()
    assert response.status == 200
    assert response.header_value("content-type") == "audio/wav"
