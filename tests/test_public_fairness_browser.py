"""The public page's fairness sentence and ledger proof in a real browser: the sentence
follows the calls live (in order, out of order with its reason, a no-show) in English
and in Russian (three plural forms), the proof shows today's chain and, once a day is
sealed, its signature, the public key and the command that checks it; nothing spills
out of the page at 1280x800 nor on a phone 390 px wide with the long Russian texts."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from server.i18n import Words

from .browser_helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
DISPLAY = ROOT / "display" / "translations"
SIZES = {"en": (1280, 800), "ru": (390, 844)}

# Everything on the page within its width: the page does not scroll sideways and no
# shown element reaches past the viewport's right edge.
SPILLS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) out.push("the page scrolls sideways");
  for (const e of document.querySelectorAll("#app *")) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) out.push(`${e.tagName}#${e.id}.${e.className}`);
  }
  return out;
}"""


def act(live_server, center, ticket_id: int, action: str) -> None:
    r = live_server.api("POST", f"/tickets/{ticket_id}/{action}", center.staff_token)
    assert r.status_code == 200, r.text


def call_out_of_order(live_server, center, label: str, ticket_id: int, reason: str) -> None:
    r = live_server.api(
        "POST",
        f"/counters/{center.counters[label]}/call",
        center.staff_token,
        json={"ticket": ticket_id, "reason": reason},
    )
    assert r.status_code == 200, r.text


def assert_nothing_spills(page) -> None:
    assert page.evaluate(SPILLS) == []


def public(live_server, center) -> dict:
    r = live_server.api("GET", f"/public/centers/{center.code}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_fairness_sentence_and_the_proof_follow_the_calls_live(
    new_page, live_server, live_center, language
):
    words = Words(DISPLAY, language)
    center = live_center
    page = new_page(*SIZES[language])
    page.goto(f"{live_server.url}/public/{center.code}?lang={language}")
    order, out, no_shows = (page.locator(f"#fairness-{x}") for x in ("order", "out", "no-shows"))
    expect(order).to_have_text(words("public.nobody_called"))
    expect(out).to_be_hidden()
    expect(no_shows).to_be_hidden()
    ledger = public(live_server, center)["ledger"]
    day, before = ledger["today"]["day"], ledger["today"]["entries"]
    entries = page.locator("#proof-today-entries")
    expect(entries).to_have_text(words.plural("public.proof_entries", before, day=day))
    expect(page.locator("#proof-sealed-none")).to_have_text(words("public.proof_not_sealed"))
    expect(page.locator("#proof-key-row")).to_be_hidden()  # no key before the first seal
    expect(page.locator("#proof-command")).to_be_hidden()

    a1, a2, a3, a4 = (live_server.issue(center, "pension-new") for _ in range(4))
    assert live_server.call_next(center, "1")["id"] == a1["id"]
    expect(order).to_have_text(words.plural("public.fairness_share", 1, share=100, in_order=1))
    expect(out).to_have_text(words("public.out_of_order_none"))
    expect(no_shows).to_have_text(words("public.no_shows_none"))
    expect(entries).not_to_have_text(words.plural("public.proof_entries", before, day=day))

    # Two called out of order, for two reasons: the sentence changes by itself.
    act(live_server, center, a1["id"], "start")
    call_out_of_order(live_server, center, "1", a4["id"], "accessibility")
    call_out_of_order(live_server, center, "2", a3["id"], "appointment")
    expect(order).to_have_text(words.plural("public.fairness_share", 3, share=33, in_order=1))
    # Equal counts keep the engine's order of reasons: appointment first.
    reasons = [
        words.plural(f"public.reason.{code}", 1) for code in ("appointment", "accessibility")
    ]
    expect(out).to_have_text(words("public.out_of_order", list=", ".join(reasons)))

    # A manager seals the day as it stands; the next change brings the seal to the page.
    r = live_server.api("POST", f"/centers/{center.code}/ledger/{day}/seal", center.manager_token)
    assert r.status_code == 201, r.text
    seal = r.json()
    act(live_server, center, a4["id"], "start")
    assert live_server.call_next(center, "1")["id"] == a2["id"]  # in order
    act(live_server, center, a2["id"], "recall")  # not a call
    act(live_server, center, a2["id"], "no-show")
    expect(order).to_have_text(words.plural("public.fairness_share", 4, share=50, in_order=2))
    expect(no_shows).to_have_text(words.plural("public.no_shows", 1))

    # The proof: the sealed day, its head, signature and key, and how to check it.
    expect(page.locator("#proof-sealed-none")).to_be_hidden()
    expect(page.locator("#proof-sealed-entries")).to_have_text(
        words.plural("public.proof_entries", seal["entries"], day=day)
    )
    expect(page.locator("#proof-signature")).to_have_text(seal["signature"])
    expect(page.locator("#proof-key")).to_have_text(seal["public_key"])
    head = page.locator("#proof-sealed-head")
    expect(head).to_have_text(seal["head"])  # whole in the page (a copy takes all)
    expect(head).to_have_attribute("title", seal["head"])
    assert head.evaluate("e => e.scrollWidth > e.clientWidth"), "the hash is not cut short"
    ledger = public(live_server, center)["ledger"]
    expect(entries).to_have_text(
        words.plural("public.proof_entries", ledger["today"]["entries"], day=day)
    )
    expect(page.locator("#proof-key-id")).to_have_text(ledger["key_id"])
    file = f"novbe-ledger-{center.code}-{day}.jsonl"
    expect(page.locator("#proof-command")).to_have_text(
        f"novbe verify-ledger --file {file} --public-key {seal['public_key']}"
    )
    link = page.locator("#proof-download-sealed")
    expect(link).to_have_text(words("public.proof_download_sealed", day=day))
    href = link.get_attribute("href")
    assert href == f"/api/v1/public/centers/{center.code}/ledger/{day}"
    assert link.get_attribute("download") == file
    # Nothing personal: no ticket numbers on the page.
    text = page.locator("body").inner_text()
    assert not any(ticket["number"] in text for ticket in (a1, a2, a3, a4))
    screenshot(page, f"public-fairness-{language}", full_page=True)
    assert_nothing_spills(page)

    # The link gets the day's entries and seals, to check with the command.
    r = requests.get(live_server.url + href, timeout=10)
    assert r.status_code == 200 and '"signature"' in r.text
