"""Which words the code uses: Babel extraction methods for the screens' scripts,
templates and Python, and each domain's ``messages.pot`` (``make words``).

    python -m server.i18n.extract     # writes the templates that changed, prints the folders

``babel.cfg`` (beside the packages) maps files to the methods here: ``javascript`` and
``python`` are Babel's own, keeping only arguments that are keys (a template literal
such as ``t(`status.${s}`)`` names a family of keys, not one); ``html`` reads a
template's ``data-i18n="key"``, the keys handed to its macros and ``i18n[lang]["key"]``.
``tn("key", n)`` (and ``words.plural("key", n)``) is extracted as an entry with plural
forms (keyword spec ``tn:1,1``: msgid and msgid_plural are both the key).

The keys are sorted into domains: a key the common words hold stays there, a key a
domain already holds stays in that domain, and a new key goes where it is used (to the
common words if a shared template or script uses it). A domain's template is the keys
its English catalog holds, in that order (English is the source language: keys chosen at
run time, such as ``status.<status>``, are added there by hand), then the new ones.
Each key lists the files that use it (no line numbers, so moving code does not change
the template). Then ``pybabel update`` brings each language's .po in line.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_javascript, extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from . import DOMAINS, ROOT, Domain
from .catalogs import TEMPLATE, entries, po_path

MAPPING = "babel.cfg"
KEY = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
SKIPPED_DIRS = {"node_modules", "tests", "docs", "bench", "deploy", "instance", "build"}
HEADER = """\
# Növbə: the keys of the {name} words, from the code and the English
# catalog (`make words`, server/i18n/extract.py). Do not edit."""

# ---- extraction methods (babel.cfg) ------------------------------------------------------


def _keys_only(messages):
    """Babel's arguments with anything that is not a key (a variable, a template
    literal with ${...}) as None, which Babel then skips."""
    if isinstance(messages, str) or messages is None:
        return messages if messages and KEY.fullmatch(messages) else None
    return tuple(_keys_only(message) for message in messages)


def javascript(fileobj, keywords, comment_tags, options):
    """Keys in the calls the section's ``keywords`` name: ``t("key")``, ``tn("key", n)``."""
    options = {"template_string": True, **options}
    for lineno, funcname, messages, comments in extract_javascript(
        fileobj, keywords, comment_tags, options
    ):
        yield lineno, funcname, _keys_only(messages), comments


def python(fileobj, keywords, comment_tags, options):
    """Keys in ``words("key")`` and ``words.plural("key", n)`` calls. An f-string key
    (``words(f"chart.weekday.{day}")``) is a family of keys: skipped without Babel's
    warning, like a template literal in a script."""
    with contextlib.redirect_stderr(io.StringIO()):
        found = list(extract_python(fileobj, keywords, comment_tags, options))
    for lineno, funcname, messages, comments in found:
        yield lineno, funcname, _keys_only(messages), comments


ATTRIBUTE = re.compile(r'data-i18n="([a-z0-9_.]+)"')
LOOKUP = re.compile(r"""i18n\[[^\]]+\]\[\s*["']([a-z0-9_.]+)["']\s*\]""")
QUOTED = re.compile(r"""["']([a-z0-9_.]+)["']""")


def html(fileobj, keywords, comment_tags, options):
    """Keys in a Jinja template: ``data-i18n="key"``, ``page.i18n[lang]["key"]``, and
    the quoted keys handed to the macros the section's ``macros`` option names
    (``{{ login_view("login.title", ...) }}``)."""
    text = fileobj.read().decode("utf-8")
    macros = options.get("macros", "").split()
    names = "|".join(map(re.escape, macros)) or "-"
    calls = re.compile(r"\{\{\s*(?:" + names + r")\(([^)]*)\)")
    found: list[tuple[int, str]] = []
    for pattern in (ATTRIBUTE, LOOKUP):
        found += [(match.start(), match.group(1)) for match in pattern.finditer(text)]
    for call in calls.finditer(text):
        found += [(call.start(), key) for key in QUOTED.findall(call.group(1))]
    for offset, key in sorted(found):
        yield text.count("\n", 0, offset) + 1, None, key, []


# ---- the templates -------------------------------------------------------------------------


@dataclass
class Use:
    plural: bool = False
    files: set[str] = field(default_factory=set)


def uses(root: Path = ROOT) -> dict[str, Use]:
    """Every key the code uses, with the files that use it (babel.cfg)."""
    mapping = root / MAPPING
    if not mapping.exists():
        raise SystemExit(f"{mapping}: not found: extract words in a source tree")
    with mapping.open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file, str(mapping))

    def wanted(path: str) -> bool:
        name = os.path.basename(path)
        return not (
            name.startswith((".", "_")) or name in SKIPPED_DIRS or name.endswith(".egg-info")
        )

    found: dict[str, Use] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        root, method_map, options_map, directory_filter=wanted
    ):
        plural = isinstance(message, tuple)
        key = message[0] if plural else message
        use = found.setdefault(key, Use())
        use.plural |= plural
        use.files.add(filename.replace(os.sep, "/"))
    return found


def domain_of(path: str) -> Domain | None:
    for domain in DOMAINS:
        if any(path == source or path.startswith(source + "/") for source in domain.sources):
            return domain
    return None


def templates(root: Path = ROOT) -> dict[str, list[tuple[str, bool, list[str]]]]:
    """Each domain's template as ``[(key, plural, files)]``, in order: the keys its
    English catalog holds, then the keys its files use that neither it nor the common
    words hold (a page gets the common words and its own domain's, nothing else)."""
    used = uses(root)
    held = {domain.name: _english(root, domain) for domain in DOMAINS}
    common = DOMAINS[0].name
    result: dict[str, list[tuple[str, bool, list[str]]]] = {}
    for domain in DOMAINS:
        keys = dict(held[domain.name])
        for key, use in used.items():
            homes = {home.name for file in use.files if (home := domain_of(file))}
            if domain.name in homes and key not in keys and key not in held[common]:
                keys[key] = use.plural
        result[domain.name] = [
            (
                key,
                plural or (key in used and used[key].plural),
                sorted(used[key].files) if key in used else [],
            )
            for key, plural in keys.items()
        ]
    return result


def _english(root: Path, domain: Domain) -> dict[str, bool]:
    path = po_path(root / domain.folder.relative_to(ROOT), "en")
    if not path.exists():
        return {}
    with path.open("rb") as file:
        return entries(read_po(file, locale="en"))


def on_disk(path: Path) -> list[tuple[str, bool, list[str]]] | None:
    if not path.exists():
        return None
    with path.open("rb") as file:
        catalog = read_po(file)
    return [
        (
            message.id[0] if message.pluralizable else message.id,
            message.pluralizable,
            sorted(filename for filename, _ in message.locations),
        )
        for message in catalog
        if message.id
    ]


def write_templates(root: Path = ROOT) -> list[Path]:
    """Writes each domain's messages.pot that differs from the code; returns the folders."""
    folders = []
    wanted_by_domain = templates(root)
    for domain in DOMAINS:
        folder = root / domain.folder.relative_to(ROOT)
        folders.append(folder)
        wanted = wanted_by_domain[domain.name]
        path = folder / TEMPLATE
        if on_disk(path) == wanted:
            continue
        catalog = Catalog(
            header_comment=HEADER.format(name=domain.name), project="Növbə", version=_version(root)
        )
        catalog.msgid_bugs_address = catalog.last_translator = ""
        for key, plural, files in wanted:
            catalog.add((key, key) if plural else key, locations=[(f, None) for f in files])
        buffer = io.BytesIO()
        write_po(buffer, catalog, width=76, include_lineno=False)
        path.write_bytes(buffer.getvalue())
        print(f"wrote {path.relative_to(root)}", file=sys.stderr)
    return folders


def _version(root: Path) -> str:
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg", encoding="utf-8")
    return config.get("metadata", "version", fallback="0")


def main() -> None:
    for folder in write_templates():
        print(folder.relative_to(ROOT))


if __name__ == "__main__":
    main()
