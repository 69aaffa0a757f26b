"""Dates, times and numbers as CLDR writes them in az, ru and en, for what the server
puts in words itself (the printed ticket's time).

Babel's CLDR data, the data the browser's ``Intl`` formats with on the screens (but
Chromium carries no Azerbaijani date or number formats, only its plural rules). English
is British English, as the hall's display shows it (display.js formats with en-GB): day
before month and a 24-hour clock, as everyone in the center reads them.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime as DateTime
from functools import cache

from babel import Locale, dates, numbers

LOCALES = {"az": "az", "ru": "ru", "en": "en_GB"}


@cache
def locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, LOCALES["en"]))


def date(value: Date, lang: str, format: str = "medium") -> str:
    """``12 mar 2026``, ``12 мар. 2026 г.``, ``12 Mar 2026`` (``format``: CLDR's short,
    medium, long or full)."""
    return dates.format_date(value, format, locale=locale(lang))


def time(value: DateTime, lang: str, format: str = "short") -> str:
    """``10:42`` in ``value``'s own time zone (give it the center's local time)."""
    return dates.format_time(value, format, tzinfo=value.tzinfo, locale=locale(lang))


def date_time(value: DateTime, lang: str) -> str:
    """The date (medium) and the time (short) joined as the language joins them:
    ``12 mar 2026 10:42``, ``12 мар. 2026 г., 10:42``, ``12 Mar 2026, 10:42``."""
    pattern = dates.get_datetime_format("medium", locale=locale(lang))
    return pattern.replace("{1}", date(value, lang)).replace("{0}", time(value, lang))


def number(value: float, lang: str) -> str:
    """``1 000`` (ru), ``1.000`` (az), ``1,000`` (en)."""
    return numbers.format_decimal(value, locale=locale(lang))


def percent(share: float, lang: str) -> str:
    """``share`` (0..1) as a whole percentage: ``85%``, ``85 %``."""
    return numbers.format_percent(share, locale=locale(lang))
