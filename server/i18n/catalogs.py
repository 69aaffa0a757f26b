"""A gettext domain's .po files read into the words the screens use, checked whole.

A domain is a folder: ``<folder>/<lang>/LC_MESSAGES/messages.po`` per language and
``<folder>/messages.pot``, the template ``make words`` extracts from the code. The
msgids are symbolic keys (``kiosk.wait``), so templates and scripts name a word the
same way in every language. A domain compiles to ``{lang: {key: text}}``, where an
entry with plural forms is ``{category: text}`` (see plurals.py).

A catalog is refused, naming the file and the key, if a key of the template or of
another language is missing, a text or a plural form is empty, an entry (or the
whole catalog) is marked fuzzy, or an entry is plural in one language and not in
another: a screen never shows a key or a word in the wrong language.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from . import plurals

TEMPLATE = "messages.pot"

Text = str | dict[str, str]


class CatalogError(ValueError):
    pass


def po_path(folder: Path, lang: str) -> Path:
    return folder / lang / "LC_MESSAGES" / "messages.po"


def read(path: Path, lang: str | None = None) -> Catalog:
    try:
        with path.open("rb") as file:
            return read_po(file, locale=lang, abort_invalid=True)
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such catalog") from None
    except Exception as err:  # babel's PoFileError and the locale's errors
        raise CatalogError(f"{path}: {err}") from err


def entries(catalog: Catalog) -> dict[str, bool]:
    """``{key: is plural}`` of a catalog's current (not obsolete) entries, in order."""
    return {
        message.id[0] if message.pluralizable else message.id: message.pluralizable
        for message in catalog
        if message.id
    }


def compile_domain(folder: Path, languages: tuple[str, ...]) -> dict[str, dict[str, Text]]:
    """``{lang: {key: text or {category: text}}}``, or CatalogError."""
    catalogs = {lang: read(po_path(folder, lang), lang) for lang in languages}
    expected: dict[str, bool] = {}
    template = folder / TEMPLATE
    if template.exists():
        expected.update(entries(read(template)))
    for catalog in catalogs.values():
        for key, plural in entries(catalog).items():
            expected.setdefault(key, plural)
    return {
        lang: _compile(po_path(folder, lang), lang, catalog, expected)
        for lang, catalog in catalogs.items()
    }


def _compile(path: Path, lang: str, catalog: Catalog, expected: dict[str, bool]) -> dict:
    if catalog.fuzzy:
        raise CatalogError(f"{path}: the catalog is marked fuzzy (its header's #, fuzzy)")
    words: dict[str, Text] = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if message.pluralizable else message.id
        if message.fuzzy:
            raise CatalogError(f"{path}: '{key}' is marked fuzzy: check its text")
        if message.pluralizable != expected.get(key, message.pluralizable):
            kind = "plural forms" if expected[key] else "one text"
            raise CatalogError(f"{path}: '{key}' must have {kind}, as in the other catalogs")
        if not message.pluralizable:
            if not (message.string or "").strip():
                raise CatalogError(f"{path}: '{key}' has no text")
            words[key] = message.string
            continue
        forms = tuple(message.string) if isinstance(message.string, (list, tuple)) else ()
        filled = [form for form in forms if form.strip()]
        if len(forms) != catalog.num_plurals or len(filled) != len(forms):
            raise CatalogError(
                f"{path}: '{key}' needs {catalog.num_plurals} plural forms, has {len(filled)}"
            )
        try:
            words[key] = plurals.by_category(lang, catalog.plural_expr, forms)
        except ValueError as err:
            raise CatalogError(f"{path}: {err}") from None
    missing = [key for key in expected if key not in words]
    if missing:
        raise CatalogError(f"{path}: '{missing[0]}' is missing ({len(missing)} keys missing)")
    return words
