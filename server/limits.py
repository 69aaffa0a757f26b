"""The limits every input is held to, in one place.

The API (server/api/validation.py enforces openapi.json, whose bounds are these), the
admin changes (server/admin/) and the center file importer (server/importer.py) all
use these rules, so what one accepts the others accept, and nothing that reaches the
database can make it fail:

* **Text**: no NUL (U+0000; PostgreSQL cannot store it) and no lone surrogate
  (U+D800..U+DFFF unpaired; UTF-8 cannot encode it) in any string that is stored or
  looked up. Lengths are the columns' (``String(64)`` ...); a too-long value is refused,
  never cut short.
* **Ids**: 1 to 2**31 - 1, PostgreSQL's ``integer`` (SQLite's are wider).
* **Dates**: within 2000-01-01 .. 2100-12-31, so that a day plus or minus a week is
  still a date.
* **JSON bodies**: at most 64 KiB, nested at most 32 levels (Python's parser recurses).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from datetime import date, datetime
from itertools import accumulate
from typing import Any

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_ID = 2**31 - 1
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)

# Lengths of the columns values are stored in (server/models), and of names, which
# are JSON (a name in each language) shown on kiosk buttons and display rows.
MAX_CODE_LENGTH = 64  # centers, categories, services, devices, usernames
MAX_NAME_LENGTH = 200  # each language's text of a center, category or service name
MAX_LABEL_LENGTH = 16  # counters.label
MAX_REASON_LENGTH = 64  # ticket_events.reason (free text of cancel and park)
MAX_PRINTER_LENGTH = 255
MAX_PASSWORD_LENGTH = 1024  # hashed, not stored; bounded so hashing costs the same

# The character rule as openapi.json says it: a pattern can exclude NUL, but not portably
# an unpaired surrogate (Rust and ECMA regexes have no such characters); code checks both.
NO_NUL = "^[^\\u0000]*$"
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_INDEX = re.compile(r"\[[0-9]+\]")


class JSONTooDeep(ValueError):
    """A JSON text nested deeper than the limit (refused before parsing it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON may be nested at most {limit} levels deep")
        self.limit = limit


# --- text -------------------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """What is wrong with ``value``'s characters, or None if nothing is."""
    found = _BAD_CHARACTER.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters (U+0000)"
    return f"must not contain an unpaired surrogate (U+{ord(found.group()):04X})"


def can_name_a_row(value: str, max_length: int = MAX_CODE_LENGTH) -> bool:
    """Whether ``value`` (a code or token from a URL) can be looked up at all: a text
    breaking the rules names nothing stored, and must not reach the database."""
    return len(value) <= max_length and text_problem(value) is None


def length_problem(value: str, max_length: int) -> str | None:
    if len(value) > max_length:
        return f"must be at most {max_length} characters (it has {len(value)})"
    return None


def first_bad_text(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first string in a JSON-like value (object keys included) that breaks the
    character rule, as (where, problem); ``where`` is a path like ``name.az`` or
    ``services[2]``. None when every string is fine. Each object's or list's strings
    are searched together (one scan), so a long list costs little."""
    stack = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            return (path or "body", problem) if problem else None
        if isinstance(item, dict):
            keys = [key for key in item if isinstance(key, str)]
            if _BAD_CHARACTER.search("".join(keys)):
                key = next(key for key in keys if text_problem(key))
                return join_path(path, printable(key)), f"(a field name) {text_problem(key)}"
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        texts = [(name, child) for name, child in children if isinstance(child, str)]
        found = _BAD_CHARACTER.search("".join(text for _, text in texts))
        if found:  # which text holds it: the first whose end lies past the match
            ends = list(accumulate(len(text) for _, text in texts))
            name, text = texts[bisect_right(ends, found.start())]
            return _child_path(path, name), text_problem(text)
        stack.extend(
            (_child_path(path, name), child)
            for name, child in reversed(children)
            if isinstance(child, (dict, list))
        )
    return None


def _child_path(path: str, name: Any) -> str:
    return f"{path}[{name}]" if isinstance(name, int) else join_path(path, str(name))


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def field_of(path: str) -> str:
    """The field a path names, for ``details.field``: the list, not its item
    (``services[2]`` -> ``services``), as the API has always named fields."""
    return _INDEX.sub("", path)


def printable(text: str) -> str:
    """``text`` with NUL, surrogates and anything not ASCII escaped (``\\x00``,
    ``\\ud800``), safe to repeat in a message or a log line."""
    return text.encode("unicode_escape").decode("ascii")


# --- JSON ---------------------------------------------------------------------------

# An escape in a JSON string; the brackets that open and close levels; and what in a
# JSON text may decode to NUL or a surrogate (escaped, raw, or UTF-8 encoded).
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # for the depth, an object is like an array
_RUNS = re.compile(rb"\[+|\]+")
_MAYBE_BAD_TEXT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\x00|\xed[\xa0-\xbf]")


def json_depth_within(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``data`` (UTF-8) nests arrays and objects at most ``limit``
    deep, found without parsing, in a few fast scans whatever the text:

    strings are removed and ``{}`` become ``[]``; then, while that shortens the text by
    a tenth or more, the innermost pairs are removed, one level per pass (so the depth
    is the passes plus the depth of what is left); what is left is measured run by run.
    For a text that is not JSON the answer bounds how deep the parser can get before it
    gives up."""
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)  # an escaped quote does not end a string
    outside_strings = b"".join(data.split(b'"')[::2])
    brackets = outside_strings.translate(_ONE_KIND, _NOT_BRACKETS)
    if brackets.count(b"[") <= limit:
        return True
    passes = 0
    while brackets:
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) > len(brackets) * 0.9:
            break
        brackets, passes = shorter, passes + 1
        if passes > limit:
            return False
    depth = 0
    for run in _RUNS.findall(brackets):
        if run[0] == 0x5B:  # [
            depth += len(run)
            if passes + depth > limit:
                return False
        else:
            depth -= len(run)
    return True


def may_hold_bad_text(data: bytes) -> bool:
    """False when no string in the JSON text ``data`` can hold a NUL or a surrogate (so
    the parsed value need not be searched for them)."""
    return _MAYBE_BAD_TEXT.search(data) is not None


def loads_json(data: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that first refuses (JSONTooDeep) a text nested deeper than
    ``limit``: the parser recurses, so deep nesting would exhaust the stack."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif json.detect_encoding(data) != "utf-8":  # UTF-16/32 (allowed by json.loads)
        data = bytes(data).decode(json.detect_encoding(data)).encode("utf-8", "surrogatepass")
    if not json_depth_within(data, limit):
        raise JSONTooDeep(limit)
    return json.loads(data.decode("utf-8", "surrogatepass"))


# --- dates --------------------------------------------------------------------------


def day_problem(day: date | datetime) -> str | None:
    """What is wrong with a date or moment given as input, or None."""
    as_day = day.date() if isinstance(day, datetime) else day
    if not FIRST_DAY <= as_day <= LAST_DAY:
        return f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
    return None
