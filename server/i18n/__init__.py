"""The screens' words in az, ru and en: gettext catalogs read with Babel.

One gettext domain per package: ``kiosk/translations/``, ``display/``, ``counter/``,
``manage/`` likewise, the shared words in ``server/i18n/common/``, the charts' in
``server/i18n/charts/`` and the printed ticket's in ``hardware/translations/``; each
holds ``<lang>/LC_MESSAGES/messages.po`` and the template ``messages.pot``. The msgids
are keys (``kiosk.wait``); an entry counting something has plural forms. See
docs/screens.md, "Words", for adding and translating words (``make words``).

Every domain is read once per process and checked whole when the server starts
(``check_catalogs``): a missing, empty or fuzzy translation stops it, naming the file
and the key. Pages get the common words plus their package's as
``{lang: {key: text}}``, a plural entry as ``{category: text}`` with CLDR's categories,
and the browser switches language without a reload (novbe.js ``t()`` and ``tn()``);
the server words its own text with :class:`Words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..models.base import LANGUAGES
from . import formats, plurals
from .catalogs import CatalogError, Text, compile_domain

__all__ = [
    "CHARTS", "COMMON", "DOMAINS", "LANGUAGES", "SPEECH_LANGS", "CatalogError", "Domain", "Text",
    "Words", "catalog", "check_catalogs", "fill", "formats", "load", "pick_language", "plurals",
]  # fmt: skip

# The Web Speech API's voices, and the lang attribute of the page.
SPEECH_LANGS = {"az": "az-AZ", "ru": "ru-RU", "en": "en-US"}
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the folder holding the packages: the source tree or site-packages


@dataclass(frozen=True)
class Domain:
    name: str
    folder: Path
    sources: tuple[str, ...]  # where its words are used, relative to ROOT (server/i18n/extract.py)


DOMAINS = (
    Domain("common", HERE / "common", ("server/templates", "server/static")),
    Domain("charts", HERE / "charts", ("server/charts",)),
    Domain("kiosk", ROOT / "kiosk" / "translations", ("kiosk",)),
    Domain("display", ROOT / "display" / "translations", ("display",)),
    Domain("counter", ROOT / "counter" / "translations", ("counter",)),
    Domain("manage", ROOT / "manage" / "translations", ("manage",)),
    Domain("ticket", ROOT / "hardware" / "translations", ("hardware",)),
)
COMMON = DOMAINS[0].folder
CHARTS = DOMAINS[1].folder


@cache
def load(folder: Path) -> dict[str, dict[str, Text]]:
    """One domain's words, ``{lang: {key: text}}``; CatalogError if any is missing."""
    return compile_domain(Path(folder), LANGUAGES)


@cache
def catalog(folder: Path | None = None) -> dict[str, dict[str, Text]]:
    """``{lang: {key: text}}``: the common words plus one domain's."""
    common = load(COMMON)
    if folder is None or Path(folder) == COMMON:
        return common
    own = load(folder)
    return {lang: {**common[lang], **own[lang]} for lang in LANGUAGES}


def check_catalogs() -> None:
    """Read every domain now, so an incomplete catalog stops the server at start."""
    for domain in DOMAINS:
        catalog(domain.folder)


def pick_language(requested: str | None, default: str = "az") -> str:
    return requested if requested in LANGUAGES else default


def fill(text: str, values: dict) -> str:
    """``{name}`` placeholders filled in, as novbe.js's ``t()`` does."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


class Words:
    """One language's words of a domain (with the common ones), for text the server
    writes: ``words("key", name=value)``, and ``words.plural("key", n)`` for an entry
    with plural forms (gettext's ngettext; the same choice as the browser's ``tn()``)."""

    def __init__(self, folder: Path | None, lang: str | None) -> None:
        self.lang = pick_language(lang)
        self.entries = catalog(folder)[self.lang]

    def __call__(self, key: str, **values) -> str:
        text = self.entries.get(key, key)
        if isinstance(text, dict):
            return self.plural(key, values.pop("n"), **values) if "n" in values else text["other"]
        return fill(text, values)

    def plural(self, key: str, n: int, **values) -> str:
        text = self.entries.get(key, key)
        if isinstance(text, dict):
            text = plurals.choose(text, n, self.lang)
        # Plain digits, as novbe.js writes them (Chromium has no az number formats).
        return fill(text, {"n": n, **values})
