"""The date range a report is asked for: ``YYYY-MM-DD`` parameters, at most a year."""

from __future__ import annotations

from datetime import date

from ..errors import InvalidInput

MAX_RANGE_DAYS = 366  # inclusive: a (leap) year


def parse_day(text: str | None, name: str) -> date:
    """A ``YYYY-MM-DD`` query parameter, or 422 naming it."""
    if not text:
        raise InvalidInput(f"'{name}' is required (YYYY-MM-DD)", field=name)
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a date as YYYY-MM-DD", field=name) from None


def check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidInput("'from' must not be after 'to'", field="from")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"the range may cover at most {MAX_RANGE_DAYS} days; ask for shorter ranges",
            field="to",
        )
