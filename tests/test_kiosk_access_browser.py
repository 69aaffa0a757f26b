"""The kiosk's accessibility mode in a real browser against a real server: a visitor who
cannot see the screen starts the mode from the keypad, hears every screen in their
language and takes a ticket with keys alone; the warning before a time-out is spoken;
the ticket number is spoken digit by digit and repeated; the mode ends for the next
visitor; axe-core finds nothing serious in the mode. What is asserted is the text the
page asked the server to speak (Kiosk.spoken, whose texts are the server's
X-Spoken-Text answers), checked against the speech requests the page made."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from hardware.voice import spoken_number
from server.i18n import catalog

from .accessibility import assert_no_serious_violations, axe_violations
from .browser_helpers import screenshot, wait_until

KIOSK_WORDS = Path(__file__).resolve().parent.parent / "kiosk" / "translations"
WORDS = catalog(KIOSK_WORDS)
PORTRAIT = (1080, 1920)
SPEECH = "/kiosk-speech.wav"


@pytest.fixture
def center(live_server):
    return live_server.new_center()


def open_kiosk(new_page, live_server, center, query: str = ""):
    page = new_page(*PORTRAIT)
    requests: list[dict] = []

    def heard(request) -> None:
        if SPEECH in request.url:
            requests.append(parse_qs(urlparse(request.url).query))

    page.on("request", heard)
    page.goto(f"{live_server.url}/kiosk/kiosk-1{query}#token={center.kiosk_token}")
    expect(page.locator("button[data-lang=az]")).to_be_enabled()
    # No pointer at all from here on, for the keypad visitor: the page counts any.
    page.evaluate(
        """() => { window.novbePointers = 0;
          document.addEventListener("pointerdown", (e) => { if (e.isTrusted) novbePointers += 1; },
                                    true); }"""
    )
    page.speech_requests = requests
    return page


def sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?:" else text + "."


class Speech:
    """What the page asked to be said, step by step: each step's phrases, as
    (language, text), must be the next ones in the page's log."""

    def __init__(self, page, lang: str) -> None:
        self.page, self.lang, self.seen = page, lang, 0
        snapshot = page.evaluate("() => Kiosk.state.snapshot.catalog")
        self.names = {c["code"]: c["name"] for c in snapshot}
        self.names |= {s["code"]: s["name"] for c in snapshot for s in c["services"]}

    def text(self, *pieces: str, lang: str | None = None) -> tuple[str, str]:
        """The phrase the server makes of the pieces: words by key, names by code
        (``@code``), a ticket number (``#A001``)."""
        lang = lang or self.lang
        parts = []
        for piece in pieces:
            if piece.startswith("@"):
                parts.append(self.names[piece[1:]][lang])
            elif piece.startswith("#"):
                parts.append(spoken_number(piece[1:]))
            else:
                parts.append(WORDS[lang][piece])
        return lang, " ".join(sentence(part) for part in parts)

    def expect(self, *phrases: tuple[str, str]) -> None:
        end = self.seen + len(phrases)
        log = wait_until(
            self.page,
            f"""() => {{
              const log = Kiosk.spoken.slice({self.seen}, {end});
              return log.length === {len(phrases)} && log.every((e) => e.text || e.error)
                && log.map((e) => ({{language: e.language, text: e.text, error: e.error || null}}));
            }}""",
        )
        errors = [entry["error"] for entry in log if entry["error"]]
        assert not errors, errors
        assert [(entry["language"], entry["text"]) for entry in log] == list(phrases)
        self.seen = end
        # Nothing else was said meanwhile.
        assert self.page.evaluate("() => Kiosk.spoken.length") == end

    def instructions(self) -> tuple[str, str]:
        return self.text("kiosk.access.instructions")


def focused(page, attribute: str) -> str | None:
    return page.evaluate(f"() => document.activeElement.dataset.{attribute} || null")


def arrow_to(page, speech: Speech, attribute: str, value: str, lang: str | None = None) -> None:
    """ArrowDown until the item is focused, each item's name spoken on the way."""
    for _ in range(20):
        if focused(page, attribute) == value:
            return
        page.keyboard.press("ArrowDown")
        now = focused(page, attribute)
        if attribute == "lang":
            speech.expect(speech.text(f"lang.{now}", lang=now))
        elif now is not None:
            speech.expect(speech.text(f"@{now}"))
        else:
            speech.seen = page.evaluate("() => Kiosk.spoken.length")  # a chip or "back"
    raise AssertionError(f"no {attribute}={value} to move to")


def start_mode(page, how: str) -> None:
    if how == "hold-enter":
        page.keyboard.down("Enter")
        page.wait_for_timeout(2300)
        page.keyboard.up("Enter")
    else:
        page.keyboard.press(how)
    expect(page.locator("body")).to_have_class("kiosk access")


@pytest.mark.parametrize(
    "lang, how, category, service",
    [
        ("az", "NumpadMultiply", "pensions", "pension-new"),
        ("ru", "hold-enter", "employment", "job-seeker"),
        ("en", "F1", "pensions", "pension-recalc"),
    ],
)
def test_a_keypad_visitor_hears_every_step_and_takes_a_ticket(
    new_page, live_server, center, lang, how, category, service
):
    page = open_kiosk(new_page, live_server, center)
    speech = Speech(page, lang)

    start_mode(page, how)
    # Nobody has chosen a language: the mode says itself in all three, then the focus.
    speech.expect(
        *(
            speech.text(
                "kiosk.access.on", "kiosk.choose_language", "kiosk.access.instructions", lang=each
            )
            for each in ("az", "ru", "en")
        ),
        speech.text("lang.az", lang="az"),
    )
    arrow_to(page, speech, "lang", lang)
    page.keyboard.press("Enter")

    expect(page.locator("#app")).to_have_attribute("data-screen", "category")
    first = focused(page, "category")
    speech.expect(
        speech.text("kiosk.choose_category"), speech.text(f"@{first}"), speech.instructions()
    )
    assert_no_serious_violations(page, where=f"the category screen, accessibility mode ({lang})")
    arrow_to(page, speech, "category", category)
    page.keyboard.press("Enter")

    expect(page.locator("#app")).to_have_attribute("data-screen", "service")
    first = focused(page, "service")
    speech.expect(
        speech.text("kiosk.choose_service"), speech.text(f"@{first}"), speech.instructions()
    )
    if lang == "en":
        # Backspace goes back a screen, which is read again.
        page.keyboard.press("Backspace")
        expect(page.locator("#app")).to_have_attribute("data-screen", "category")
        first = focused(page, "category")
        speech.expect(
            speech.text("kiosk.choose_category"), speech.text(f"@{first}"), speech.instructions()
        )
        arrow_to(page, speech, "category", category)
        page.keyboard.press("Enter")
        speech.expect(
            speech.text("kiosk.choose_service"),
            speech.text(f"@{focused(page, 'service')}"),
            speech.instructions(),
        )
    screenshot(page, f"kiosk_access_{lang}_service")
    assert_no_serious_violations(page, where=f"the service screen, accessibility mode ({lang})")
    arrow_to(page, speech, "service", service)
    page.keyboard.press("Enter")

    expect(page.locator("#app")).to_have_attribute("data-screen", "ticket")
    number = page.text_content("#ticket-number")
    assert number.endswith("001"), number
    ticket = (
        speech.text(
            "kiosk.your_number", f"#{number}", "kiosk.access.repeat", f"#{number}", f"@{service}"
        ),
        speech.text("kiosk.access.ticket_help"),
    )
    speech.expect(*ticket)
    # The number digit by digit, twice in the phrase: "A, 0 0 1 ... A, 0 0 1".
    assert ticket[0][1].count(spoken_number(number)) == 2
    page.keyboard.press("NumpadMultiply")  # ✱ says it again
    speech.expect(*ticket)
    screenshot(page, f"kiosk_access_{lang}_ticket")
    assert_no_serious_violations(page, where=f"the ticket screen, accessibility mode ({lang})")

    # The page asked the server for exactly what its log says, in the visitor's words.
    asked = [(r["language"][0], r["say"]) for r in page.speech_requests]
    logged = page.evaluate("() => Kiosk.spoken.map((e) => [e.language, e.say])")
    assert asked == [tuple(entry) for entry in logged]
    assert page.evaluate("window.novbePointers") == 0

    # Enter on "done": the next visitor meets the ordinary kiosk.
    page.keyboard.press("Enter")
    expect(page.locator("#app")).to_have_attribute("data-screen", "start")
    expect(page.locator("body")).not_to_have_class("kiosk access")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert page.evaluate("() => Kiosk.spoken.length") == speech.seen


def test_a_time_out_is_longer_warned_aloud_and_ends_the_mode(new_page, live_server, center):
    """?idle=2: two seconds for the ordinary kiosk, six in the mode, with the warning
    before they end; then the start screen without the mode, for the next visitor."""
    page = open_kiosk(new_page, live_server, center, "?idle=2")
    speech = Speech(page, "en")
    start_mode(page, "F1")
    speech.seen = 4  # the three-language welcome and the focused language
    arrow_to(page, speech, "lang", "en")
    page.keyboard.press("Enter")
    speech.expect(
        speech.text("kiosk.choose_category"),
        speech.text(f"@{focused(page, 'category')}"),
        speech.instructions(),
    )
    # The time-out counts from the end of what was said: still there after 2 s.
    page.wait_for_timeout(2500)
    expect(page.locator("#app")).to_have_attribute("data-screen", "category")
    speech.expect(speech.text("kiosk.access.timeout_warning"))
    expect(page.locator("#app")).to_have_attribute("data-screen", "start", timeout=15_000)
    expect(page.locator("body")).not_to_have_class("kiosk access")


def test_the_button_and_a_long_press_start_the_mode(new_page, live_server, center):
    page = open_kiosk(new_page, live_server, center)
    button = page.locator("#access-start")
    expect(button).to_be_visible()
    box = button.bounding_box()
    # Low on the panel (the bottom fifth of a portrait kiosk: docs/screens.md), large.
    assert box["y"] > PORTRAIT[1] * 0.75 and box["y"] + box["height"] <= PORTRAIT[1], box
    assert box["height"] >= 110 and box["width"] >= 600, box
    for lang in ("az", "ru", "en"):
        expect(button.locator(f"[lang={lang}]").first).to_have_text(
            WORDS[lang]["kiosk.access.button"]
        )
    screenshot(page, "kiosk_access_start_button")
    button.click()
    expect(page.locator("body")).to_have_class("kiosk access")
    assert_no_serious_violations(page, where="the start screen, accessibility mode")
    page.evaluate("() => Kiosk.reset()")
    expect(page.locator("body")).not_to_have_class("kiosk access")

    # Two seconds on a language button: the mode, and no language chosen by the lift.
    language = page.locator("button[data-lang=ru]").bounding_box()
    page.mouse.move(language["x"] + 20, language["y"] + 20)
    page.mouse.down()
    page.wait_for_timeout(2400)
    page.mouse.up()
    expect(page.locator("body")).to_have_class("kiosk access")
    expect(page.locator("#app")).to_have_attribute("data-screen", "start")
    # A short tap is a tap.
    page.evaluate("() => Kiosk.reset()")
    page.click("button[data-lang=en]")
    expect(page.locator("#app")).to_have_attribute("data-screen", "category")
    expect(page.locator("body")).not_to_have_class("kiosk access")

    # A landscape panel: the button too, whole, in its lower half.
    wide = new_page(1920, 1080)
    wide.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
    expect(wide.locator("#access-start")).to_be_visible()
    box = wide.locator("#access-start").bounding_box()
    assert box["y"] > 1080 / 2 and box["y"] + box["height"] <= 1080, box
    screenshot(wide, "kiosk_access_start_button_landscape")


def test_the_server_speaks_only_the_kiosks_words_and_names(live_server, center):
    path = f"/centers/{center.code}/kiosk-speech.wav"

    def get(query: str, token: str = center.kiosk_token):
        return live_server.api("GET", f"{path}?{query}", token)

    ok = get("language=ru&say=k:kiosk.choose_service&say=service:job-seeker&say=number:C012")
    assert ok.status_code == 200, ok.text
    assert ok.headers["Content-Type"] == "audio/wav"
    assert ok.content[:4] == b"RIFF"
    text = WORDS["ru"]["kiosk.choose_service"]
    assert ok.headers["X-Spoken-Text"] == (
        requests_quote(f"{text}. Job seeker registration (ru). C, 0 1 2.")
    )
    for query in (
        "language=en&say=hello",  # free text
        "language=en&say=k:no.such.key",
        "language=en&say=k:kiosk.wait",  # a word with a blank to fill
        "language=en&say=service:nowhere",
        "language=en&say=number:12",
        "language=xx&say=k:kiosk.back",
        "language=en",
        "language=en&say=k:kiosk.back&text=hi",
        "language=en" + "&say=k:kiosk.back" * 9,
    ):
        assert get(query).status_code == 422, query
    assert get("language=en&say=k:kiosk.back", center.display_token).status_code == 403
    other = live_server.new_center()
    assert get("language=en&say=k:kiosk.back", other.kiosk_token).status_code == 403


def requests_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe=" ,.:;!?")


def test_the_axe_harness_reports_what_it_finds(new_page, live_server, center):
    """The harness can fail: an image without a text alternative and a button without a
    name are named, with their elements."""
    page = open_kiosk(new_page, live_server, center)
    page.evaluate(
        """() => {
          const img = document.createElement("img");
          img.id = "bad-image"; img.src = "/favicon.ico";
          const button = document.createElement("button");
          button.id = "bad-button";
          document.querySelector(".screen-start").append(img, button);
        }"""
    )
    found = {v["id"]: v for v in axe_violations(page)}
    assert {"image-alt", "button-name"} <= set(found), found
    assert ["#bad-image"] in [node["target"] for node in found["image-alt"]["nodes"]]
    with pytest.raises(AssertionError, match=r"button-name.*\n.*#bad-button"):
        assert_no_serious_violations(page)


def test_a_refused_ticket_is_explained_aloud(new_page, live_server, center):
    """A full service (its daily quota reached): the visitor, back on the services, hears
    why before the screen's words, and can choose another one."""
    for _ in range(3):  # the unemployment benefit's daily quota
        live_server.issue(center, "unemployment")
    page = open_kiosk(new_page, live_server, center)
    speech = Speech(page, "ru")
    start_mode(page, "NumpadMultiply")
    speech.seen = 4
    arrow_to(page, speech, "lang", "ru")
    page.keyboard.press("Enter")
    speech.expect(
        speech.text("kiosk.choose_category"),
        speech.text(f"@{focused(page, 'category')}"),
        speech.instructions(),
    )
    arrow_to(page, speech, "category", "employment")
    page.keyboard.press("Enter")
    speech.expect(
        speech.text("kiosk.choose_service"),
        speech.text(f"@{focused(page, 'service')}"),
        speech.instructions(),
    )
    arrow_to(page, speech, "service", "unemployment")
    page.keyboard.press("Enter")
    expect(page.locator("#service-problem")).to_be_visible()
    speech.expect(
        speech.text("kiosk.quota_reached", "kiosk.choose_service"),
        speech.text(f"@{focused(page, 'service')}"),
        speech.instructions(),
    )
    expect(page.locator("#app")).to_have_attribute("data-screen", "service")
