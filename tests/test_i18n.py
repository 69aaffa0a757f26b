"""Every visible word exists in az, ru and en: the gettext catalogs are whole, their
templates match the code, every key a screen uses is defined, plural forms follow
CLDR's rules, and an incomplete catalog stops the server."""

from __future__ import annotations

import gettext
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from server import i18n
from server.i18n import DOMAINS, LANGUAGES, CatalogError, Words, catalog, formats, load, plurals
from server.i18n.catalogs import TEMPLATE, entries, po_path
from server.i18n.extract import on_disk, templates, uses

ROOT = Path(__file__).resolve().parent.parent
NAMES = [domain.name for domain in DOMAINS]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture(scope="module")
def used():
    return uses(ROOT)


@pytest.fixture(scope="module")
def wanted():
    return templates(ROOT)


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("domain", DOMAINS, ids=NAMES)
def test_every_catalog_is_whole_in_three_languages(domain):
    # No missing, empty or fuzzy text, every plural form filled (load refuses otherwise).
    words = load(domain.folder)
    assert set(words) == set(LANGUAGES)
    assert words["az"].keys() == words["ru"].keys() == words["en"].keys()
    for lang in LANGUAGES:
        catalog = read(po_path(domain.folder, lang))
        assert not catalog.fuzzy and not any(message.fuzzy for message in catalog if message.id)


@pytest.mark.parametrize("domain", DOMAINS, ids=NAMES)
def test_the_template_is_up_to_date_with_the_code(domain, wanted):
    assert on_disk(domain.folder / TEMPLATE) == wanted[domain.name], "run `make words`"


@pytest.mark.parametrize("domain", DOMAINS, ids=NAMES)
def test_every_language_has_exactly_the_templates_keys(domain):
    template = entries(read(domain.folder / TEMPLATE))
    for lang in LANGUAGES:
        assert entries(read(po_path(domain.folder, lang))) == template, (
            f"{domain.name} {lang}: run `make words`"
        )


@pytest.mark.parametrize("domain", DOMAINS, ids=NAMES)
def test_every_key_a_screen_uses_is_defined(domain, used):
    words = catalog(domain.folder)
    mine = {
        key: sorted(use.files)
        for key, use in used.items()
        if any(file.startswith(source + "/") for source in domain.sources for file in use.files)
    }
    assert mine, f"no words found in {domain.sources}"
    for lang in LANGUAGES:
        assert {key: files for key, files in mine.items() if key not in words[lang]} == {}
    plural = {key for key, use in used.items() if use.plural and key in mine}
    assert {key for key in plural if not isinstance(words["en"][key], dict)} == set()


def test_a_key_lives_in_one_catalog_only():
    # A page's own words would silently hide a common word of the same key.
    seen: dict[str, str] = {}
    for domain in DOMAINS:
        for key in load(domain.folder)["en"]:
            assert key not in seen, f"{key} is in {seen.get(key)} and {domain.name}"
            seen[key] = domain.name


@pytest.mark.parametrize("domain", DOMAINS, ids=NAMES)
def test_placeholders_match_across_languages(domain):
    words = load(domain.folder)
    for key in words["en"]:
        names = {}
        for lang in LANGUAGES:
            texts = words[lang][key]
            forms = texts.values() if isinstance(texts, dict) else [texts]
            # A plural form may leave the count out ("once more"); the others stay.
            names[lang] = {name for f in forms for name in PLACEHOLDER.findall(f)} - (
                {"n"} if isinstance(texts, dict) else set()
            )
        assert names["az"] == names["ru"] == names["en"], f"{domain.name}: {key} {names}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_headers_are_cldrs_and_the_forms_match_gettext(lang):
    # The browser chooses by CLDR category (Intl.PluralRules), gettext by the header's
    # expression: for every count both pick the same text.
    babel = Catalog(locale=lang)
    assert (babel.num_plurals, lang) in {(2, "az"), (3, "ru"), (2, "en")}
    checked = 0
    for domain in DOMAINS:
        po = read(po_path(domain.folder, lang))
        assert (po.num_plurals, po.plural_expr) == (babel.num_plurals, babel.plural_expr)
        index = gettext.c2py(po.plural_expr)
        compiled = load(domain.folder)[lang]
        for message in po:
            if not message.pluralizable:
                continue
            forms = compiled[message.id[0]]
            for n in range(0, 250):
                assert plurals.choose(forms, n, lang) == message.string[index(n)], (message.id, n)
            checked += 1
    assert checked >= 7


def test_russian_counts_take_their_three_forms():
    ru = Words(None, "ru")
    said = {n: ru.plural("minutes_full", n) for n in (1, 2, 4, 5, 11, 12, 21, 22, 25, 101, 1000)}
    assert said == {
        1: "1 минута", 2: "2 минуты", 4: "4 минуты", 5: "5 минут", 11: "11 минут",
        12: "12 минут", 21: "21 минута", 22: "22 минуты", 25: "25 минут", 101: "101 минута",
        1000: "1000 минут",
    }  # fmt: skip
    counter = Words(ROOT / "counter" / "translations", "ru")
    assert counter.plural("why.recall_first", 2) == "Сначала вызовите повторно ещё 2 раза"
    assert Words(None, "en").plural("minutes_full", 1) == "1 minute"
    assert Words(None, "en")("minutes_full", n=3) == "3 minutes"
    assert Words(None, "az").plural("minutes_full", 5) == "5 dəqiqə"


def test_dates_and_numbers_as_cldr_writes_them():
    at = datetime(2026, 3, 12, 10, 42, tzinfo=ZoneInfo("Asia/Baku"))
    assert formats.date_time(at, "az") == "12 mar 2026 10:42"
    assert formats.date_time(at, "ru") == "12 мар. 2026\u202fг., 10:42"
    assert formats.date_time(at, "en") == "12 Mar 2026, 10:42"
    assert [formats.number(12345, lang) for lang in LANGUAGES] == ["12.345", "12\xa0345", "12,345"]


def write_domain(folder: Path, texts: dict[str, str], *, fuzzy: str | None = None) -> Path:
    """A one-key domain ``greeting`` with ``texts`` per language; ``fuzzy``: the language
    whose entry is marked fuzzy."""
    from babel.messages.pofile import write_po

    for lang in LANGUAGES:
        po = Catalog(locale=lang, fuzzy=False)
        po.add("greeting", texts[lang], flags=["fuzzy"] if lang == fuzzy else [])
        path = po_path(folder, lang)
        path.parent.mkdir(parents=True)
        with path.open("wb") as file:
            write_po(file, po)
    return folder


def test_a_gap_in_a_catalog_is_refused_with_the_file_and_key(tmp_path):
    folder = write_domain(tmp_path / "d", {"az": "Salam", "ru": "", "en": "Hello"})
    with pytest.raises(CatalogError, match=r"ru/LC_MESSAGES/messages.po: 'greeting' has no text"):
        load(folder)


def test_a_fuzzy_translation_is_refused(tmp_path):
    folder = write_domain(tmp_path / "d", {"az": "Salam", "ru": "Привет", "en": "Hi"}, fuzzy="az")
    with pytest.raises(
        CatalogError, match=r"az/LC_MESSAGES/messages.po: 'greeting' is marked fuzzy"
    ):
        load(folder)


def test_a_missing_plural_form_or_key_is_refused(tmp_path):
    people = {
        "az": ["{n} nəfər", "{n} nəfər"],
        "ru": ["{n} человек", "{n} человека", ""],
        "en": ["{n} person", "{n} people"],
    }
    folder = write_domain(tmp_path / "d", {"az": "Salam", "ru": "Привет", "en": "Hi"})
    for lang, forms in people.items():
        entry = "".join(f'msgstr[{i}] "{form}"\n' for i, form in enumerate(forms))
        with po_path(folder, lang).open("a", encoding="utf-8") as file:
            file.write(f'\nmsgid "people"\nmsgid_plural "people"\n{entry}')
    with pytest.raises(CatalogError, match=r"ru/.*: 'people' needs 3 plural forms, has 2"):
        load(folder)

    folder = write_domain(tmp_path / "e", {"az": "Salam", "ru": "Привет", "en": "Hi"})
    with po_path(folder, "en").open("a", encoding="utf-8") as file:
        file.write('\nmsgid "bye"\nmsgstr "Bye"\n')
    with pytest.raises(CatalogError, match=r"az/LC_MESSAGES/messages.po: 'bye' is missing"):
        load(folder)


def test_an_incomplete_catalog_stops_the_server_at_start(tmp_path, monkeypatch):
    from server import create_app
    from server.config import TestConfig

    broken = write_domain(tmp_path / "d", {"az": "Salam", "ru": "Привет", "en": ""})
    monkeypatch.setattr(i18n, "DOMAINS", (*DOMAINS, i18n.Domain("broken", broken, ())))
    with pytest.raises(CatalogError, match=r"en/LC_MESSAGES/messages.po: 'greeting' has no text"):
        create_app(TestConfig)


COUNTS = [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 1000, 1001]


def test_the_browser_says_every_count_as_the_server_does(live_server, new_page):
    # novbe.js picks the form with Intl.PluralRules, the server (printed tickets) with
    # Babel: the same CLDR rules, so the same words.
    page = new_page(360, 740)
    page.goto(f"{live_server.url}/public/nowhere")
    for lang in LANGUAGES:
        said = page.evaluate(
            "([lang, counts]) => counts.map((n) => Novbe.tnIn(lang, 'minutes_full', n))",
            [lang, COUNTS],
        )
        assert said == [Words(None, lang).plural("minutes_full", n) for n in COUNTS], lang
    # t() with {n} chooses the form too; a language the page lacks falls back to az.
    assert page.evaluate("Novbe.t('minutes_full', { n: 3 })") in ("3 dəqiqə", "3 minutes")
