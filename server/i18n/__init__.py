"""The screens' words in az, ru and en.

Each surface keeps one ``translations.json`` beside its code (``kiosk/``,
``display/``, ``counter/``, ``manage/``) and the shared words live in
``server/i18n/common.json``.
A file maps each key to its three texts side by side, so a missing language is
visible at a glance, and ``tests/test_i18n.py`` refuses any gap. Pages get the
catalog of their surface as JSON and the browser switches language without a
reload (the kiosk changes language per visitor).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ..models.base import LANGUAGES  # noqa: F401  (the screens' languages are the tickets')

# The Web Speech API's voices, and the lang attribute of the page.
SPEECH_LANGS = {"az": "az-AZ", "ru": "ru-RU", "en": "en-US"}
COMMON = Path(__file__).with_name("common.json")


class CatalogError(ValueError):
    pass


@cache
def load(path: Path) -> dict[str, dict[str, str]]:
    """``{key: {lang: text}}`` from one file, checked for all three languages."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    for key, texts in entries.items():
        missing = [lang for lang in LANGUAGES if not (texts.get(lang) or "").strip()]
        if missing:
            raise CatalogError(f"{path}: '{key}' has no text in {', '.join(missing)}")
    return entries


def catalog(surface_file: Path | None = None) -> dict[str, dict[str, str]]:
    """``{lang: {key: text}}``: the common words plus one surface's."""
    entries = dict(load(COMMON))
    if surface_file is not None:
        entries.update(load(surface_file))
    return {lang: {key: texts[lang] for key, texts in entries.items()} for lang in LANGUAGES}


def pick_language(requested: str | None, default: str = "az") -> str:
    return requested if requested in LANGUAGES else default
