"""Plural forms: a gettext catalog's forms named by CLDR's plural categories.

A .po file numbers an entry's forms (``msgstr[0]``, ``msgstr[1]``, ...) and its
``Plural-Forms`` header says which number takes which form. The browser chooses with
``Intl.PluralRules(lang).select(n)``, which answers with CLDR's categories (``one``,
``few``, ``many``, ``other``), so the forms go to the page under those names. Which form
a category gets is found by running the header's expression on the whole numbers CLDR
puts in that category (Babel's ``Locale.plural_form``); a catalog whose header
disagrees with CLDR is refused. The server chooses the same way, so a printed ticket
and a screen always agree.
"""

from __future__ import annotations

import gettext
from functools import cache

from babel import Locale

# Enough whole numbers to meet every integer category of az, ru and en (ru repeats per 100).
SAMPLES = range(0, 1000)


@cache
def locale(lang: str) -> Locale:
    return Locale.parse(lang)


def category(lang: str, n: float) -> str:
    """CLDR's plural category of ``n`` in ``lang``, as ``Intl.PluralRules`` answers."""
    return locale(lang).plural_form(n)


@cache
def form_of_category(lang: str, expression: str, count: int) -> dict[str, int]:
    """Which of a catalog's ``count`` forms (its ``Plural-Forms`` ``plural=expression``)
    each CLDR category of ``lang`` takes. ValueError if the two disagree."""
    choose = gettext.c2py(expression)
    forms: dict[str, int] = {}
    for n in SAMPLES:
        name, index = category(lang, n), choose(n)
        if not 0 <= index < count:
            raise ValueError(f"Plural-Forms gives {n} form {index}, but there are {count}")
        if forms.setdefault(name, index) != index:
            raise ValueError(
                f"Plural-Forms disagrees with CLDR's rules for {lang}: {n} is '{name}' "
                f"like numbers of form {forms[name]}, but gets form {index}"
            )
    if sorted(set(forms.values())) != list(range(count)):
        raise ValueError(f"CLDR's rules for {lang} never use some of the {count} forms")
    # A category that only fractions fall in (Russian 'other': 1,5 минуты) takes the
    # form of 'few' where the language has one (2 минуты: the genitive singular).
    for name in locale(lang).plural_form.tags | {"other"}:
        if name not in forms:
            forms[name] = forms.get("few", forms.get("other", count - 1))
    return forms


def by_category(lang: str, expression: str, texts: tuple[str, ...]) -> dict[str, str]:
    """An entry's forms (in the catalog's order) as ``{category: text}``."""
    forms = form_of_category(lang, expression, len(texts))
    return {name: texts[index] for name, index in sorted(forms.items())}


def choose(forms: dict[str, str], n: float, lang: str) -> str:
    """The form for ``n``: what the browser's ``tn()`` picks."""
    return forms.get(category(lang, n)) or forms["other"]
