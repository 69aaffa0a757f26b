"""Every visible word exists in az, ru and en, and every key a screen uses is defined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.i18n import COMMON, LANGUAGES, CatalogError, catalog, load

ROOT = Path(__file__).resolve().parent.parent
SURFACES = ["kiosk", "display", "counter", "manage"]
# data-i18n="key" in templates, t("key") / Novbe.t("key") in scripts.
KEY_USES = [
    re.compile(r'data-i18n="([a-z0-9_.]+)"'),
    re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']"""),
]
# Keys handed to macros: the staff screens' login form (server/templates/staff.html)
# and the report tables' head (manage/templates/manage/manage.html).
MACRO_CALL = re.compile(r"\{\{\s*(?:login_view|report_head)\(([^)]*)\)")
QUOTED_KEY = re.compile(r'"([a-z0-9_.]+)"')


def used_keys(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    folder = ROOT / package
    for path in [*folder.rglob("*.html"), *folder.rglob("*.js")]:
        text = path.read_text(encoding="utf-8")
        keys = [key for pattern in KEY_USES for key in pattern.findall(text)]
        keys += [key for call in MACRO_CALL.findall(text) for key in QUOTED_KEY.findall(call)]
        for key in keys:
            found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("surface", SURFACES)
def test_every_key_has_all_three_languages(surface):
    for path in (COMMON, ROOT / surface / "translations.json"):
        entries = json.loads(path.read_text(encoding="utf-8"))
        for key, texts in entries.items():
            assert set(texts) == set(LANGUAGES), f"{path.name}: {key} has {sorted(texts)}"
            for lang in LANGUAGES:
                assert texts[lang].strip(), f"{path.name}: {key} is empty in {lang}"


@pytest.mark.parametrize("surface", [*SURFACES, "server"])
def test_every_key_a_screen_uses_is_defined(surface):
    words = catalog(ROOT / surface / "translations.json" if surface != "server" else None)
    missing = {key: files for key, files in used_keys(surface).items() if key not in words["en"]}
    assert missing == {}


def test_a_gap_in_a_catalog_is_refused_with_the_key_and_language(tmp_path):
    broken = tmp_path / "translations.json"
    broken.write_text(json.dumps({"greeting": {"az": "Salam", "ru": "", "en": "Hello"}}))
    with pytest.raises(CatalogError, match="'greeting' has no text in ru"):
        load(broken)


def test_placeholders_match_across_languages():
    for path in [COMMON, *(ROOT / s / "translations.json" for s in SURFACES)]:
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            names = {lang: set(re.findall(r"\{(\w+)\}", texts[lang])) for lang in LANGUAGES}
            assert names["az"] == names["ru"] == names["en"], f"{path.name}: {key} {names}"
