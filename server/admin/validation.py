"""The field rules every administrative change is held to, whoever sends it: the admin
page and the API (as JSON bodies) and ``novbe import-center`` (as a center file).

Each rule takes a value and the name of its field and returns the value to store, or
raises :class:`InvalidInput` naming the field, with a message that starts with it
(``prefix: must be 1 to 3 uppercase Latin letters, e.g. A``), so that a caller can name
the field its own way (the importer says ``categories[0].services[1].prefix``). The
bounds are the columns' and openapi.json's (server/limits.py).

One rule is about the row a change is to: :func:`found` (it must be the center's, or
it is :class:`NotFound`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, NoReturn, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import limits
from ..errors import InvalidInput, NotFound
from ..models import LANGUAGES, Center

# \Z, not $: "$" also matches before a final newline, which would then be stored.
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
PREFIX_RE = re.compile(r"^[A-Z]{1,3}\Z")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")
MAX_MINUTES = 24 * 60
MAX_DAILY_QUOTA = 100_000
MAX_PRIORITY_CLASS_LENGTH = 32  # tickets.priority
MAX_POSITION = limits.MAX_ID


class _CenterRow(Protocol):
    center_id: Any


Row = TypeVar("Row", bound=_CenterRow)


def fail(field: str, problem: str) -> NoReturn:
    raise InvalidInput(f"{field}: {problem}", field=field)


def found(row: Row | None, center: Center, what: str, code: str) -> Row:
    """``row`` if it is one of ``center``'s; else NotFound ``unknown <what>`` with ``code``
    (another center's row is not found, as if it did not exist)."""
    if row is None or row.center_id != center.id:
        raise NotFound(f"unknown {what}", code=code)
    return row


def reject_unknown(data: dict, allowed: set[str]) -> None:
    """Refuse a body or change naming a field not in ``allowed`` (a misspelt field must
    not pass for one left out)."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )


def code(value: Any, field: str) -> str:
    """A code (center, category, service, device, username): what URLs name."""
    if not isinstance(value, str) or not CODE_RE.match(value):
        fail(field, "must be a code of lowercase letters, digits, '-' or '_' (max 64)")
    return value


def names(value: Any, field: str) -> dict[str, str]:
    """A name in every language, each trimmed."""
    if not isinstance(value, dict):
        fail(field, "must give the name in az, ru and en, e.g. {az: ..., ru: ..., en: ...}")
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            fail(f"{field}.{lang}", "is missing or empty")
        problem = limits.text_problem(text) or limits.length_problem(
            text.strip(), limits.MAX_NAME_LENGTH
        )
        if problem:
            fail(f"{field}.{lang}", problem)
    extra = set(value) - set(LANGUAGES)
    if extra:
        fail(field, f"unknown language(s): {', '.join(sorted(map(str, extra)))}")
    return {lang: value[lang].strip() for lang in LANGUAGES}


def whole_number(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        fail(field, f"must be a whole number from {minimum} to {maximum}")
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        fail(field, "must be true or false")
    return value


def one_of(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        fail(field, f"must be one of {', '.join(choices)}")
    return value


def text(value: Any, field: str, max_length: int) -> str:
    """A text to store: a string of at most ``max_length`` characters with no NUL and no
    unpaired surrogate."""
    if not isinstance(value, str):
        fail(field, "must be a string")
    problem = limits.text_problem(value) or limits.length_problem(value, max_length)
    if problem:
        fail(field, problem)
    return value


def prefix(value: Any, field: str = "prefix") -> str:
    """The letters before a service's ticket numbers (unique in the center: catalog.py)."""
    if not isinstance(value, str) or not PREFIX_RE.match(value):
        fail(field, "must be 1 to 3 uppercase Latin letters, e.g. A")
    return value


def minutes(value: Any, field: str, *, minimum: int) -> int:
    """A service's target wait (from 0) or default service time (from 1: a minute of
    service is the least an estimate can assume, or every estimate would be zero)."""
    return whole_number(value, field, minimum=minimum, maximum=MAX_MINUTES)


def daily_quota(value: Any, field: str = "daily_quota") -> int | None:
    """Tickets a day, or None for no limit."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAILY_QUOTA
    ):
        fail(field, f"must be a whole number of tickets, 0 to {MAX_DAILY_QUOTA}")
    return value


def position(value: Any, field: str = "position") -> int:
    """Where a category or service stands in the kiosk's list."""
    return whole_number(value, field, minimum=0, maximum=MAX_POSITION)


def label(value: Any, field: str = "label") -> str:
    """A counter's label, shown on displays: a short text (a number is taken as text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        fail(field, f'must be a short text such as "5" (max {limits.MAX_LABEL_LENGTH})')
    value = value.strip()
    if problem := limits.text_problem(value):
        fail(field, problem)
    if len(value) > limits.MAX_LABEL_LENGTH:
        fail(field, f'must be a short text such as "5" (max {limits.MAX_LABEL_LENGTH})')
    return value


def clock_time(value: Any, field: str) -> time:
    """A local time of day, "09:00"."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 09:00 unquoted as the sexagesimal number 540.
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not TIME_RE.match(value):
        fail(field, 'must be a time like "09:00"')
    hours, mins = value.split(":")
    return time(int(hours), int(mins))


def timezone(value: Any, field: str = "timezone") -> str:
    """An IANA time zone name (centers.timezone is String(64))."""
    try:
        if not isinstance(value, str) or len(value) > limits.MAX_CODE_LENGTH:
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a directory
        fail(field, f"unknown time zone {value!r}; use a name like Asia/Baku")
    return value


def priority_classes(value: Any, field: str = "priority_classes") -> list[str]:
    """The priority classes a ticket may name: different short codes."""
    if (
        not isinstance(value, list)
        or not all(
            isinstance(c, str) and CODE_RE.match(c) and len(c) <= MAX_PRIORITY_CLASS_LENGTH
            for c in value
        )
        or len(set(value)) != len(value)
    ):
        fail(field, "must be a list of different short lowercase codes")
    return list(value)


def code_list(value: Any, field: str) -> list[str]:
    """A list of different codes (a counter's services, in order of preference)."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        fail(field, "must be a list of service codes")
    if len(set(value)) != len(value):
        fail(field, "lists a service twice")
    return list(value)


# --- the booking settings and the center's calendar (docs/appointments.md, "Settings") ---

AFTER_GRACE = ("walk_in", "refuse")  # services.after_grace
MAX_BREAKS = 10
MAX_CLOSED_DAYS = 400  # a year of holidays ahead and some behind
MAX_HALL_CAPACITY = 100_000
MAX_BOOKINGS_PER_SLOT = 1_000
MIN_SLOT_MIN, MAX_SLOT_MIN = 5, 240  # services.slot_min's check
MAX_DAYS_AHEAD = 366


def optional_count(value: Any, field: str, *, minimum: int, maximum: int) -> int | None:
    """A whole number in bounds, or None (no limit)."""
    if value is None:
        return None
    return whole_number(value, field, minimum=minimum, maximum=maximum)


def breaks(value: Any, opens: time, closes: time, field: str = "breaks") -> list[dict]:
    """The center's daily breaks, ``[{from: "13:00", to: "14:00"}]``: each within the
    opening hours, none overlapping another. Stored in order of the day."""
    if not isinstance(value, list):
        fail(field, 'must be a list like [{from: "13:00", to: "14:00"}]')
    if len(value) > MAX_BREAKS:
        fail(field, f"at most {MAX_BREAKS} breaks")
    spans: list[tuple[time, time, int]] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            fail(where, 'must be a mapping like {from: "13:00", to: "14:00"}')
        extra = sorted(map(str, set(item) - {"from", "to"}))
        if extra:
            fail(f"{where}.{extra[0]}", "unknown field; a break has from and to")
        start = clock_time(item.get("from"), f"{where}.from")
        end = clock_time(item.get("to"), f"{where}.to")
        if end <= start:
            fail(where, "to must be later than from")
        if start < opens or end > closes:
            fail(
                where,
                f"must be within the opening hours {opens:%H:%M} to {closes:%H:%M}",
            )
        spans.append((start, end, i))
    spans.sort()
    for (_, first_end, i), (second_start, _, j) in zip(spans, spans[1:], strict=False):
        if second_start < first_end:
            fail(f"{field}[{max(i, j)}]", f"overlaps {field}[{min(i, j)}]")
    return [{"from": f"{s:%H:%M}", "to": f"{e:%H:%M}"} for s, e, _ in spans]


def weekdays(value: Any, field: str = "closed_weekdays") -> list[int]:
    """Weekdays the center is closed, 0 = Monday to 6 = Sunday, each once; sorted."""
    if (
        not isinstance(value, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value)
        or len(set(value)) != len(value)
    ):
        fail(field, "must be a list of different weekdays, 0 (Monday) to 6 (Sunday)")
    if len(value) == 7:
        fail(field, "cannot close every day of the week")
    return sorted(value)


def dates(value: Any, field: str = "closed_days") -> list[str]:
    """Days the center is closed (holidays), ISO dates; each once, sorted. A center
    file's unquoted 2026-12-31 arrives as a date and is taken as one."""
    if not isinstance(value, list):
        fail(field, 'must be a list of dates like ["2026-12-31"]')
    if len(value) > MAX_CLOSED_DAYS:
        fail(field, f"at most {MAX_CLOSED_DAYS} days")
    days: list[date] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if isinstance(item, date) and not isinstance(item, datetime):
            day = item
        else:
            try:
                if not isinstance(item, str) or len(item) != 10:
                    raise ValueError
                day = date.fromisoformat(item)
            except ValueError:
                fail(where, f'must be a date like "2026-12-31", not {item!r}')
        if problem := limits.day_problem(day):
            fail(where, problem)
        if day in days:
            fail(where, f"{day.isoformat()} is listed twice")
        days.append(day)
    return [day.isoformat() for day in sorted(days)]
