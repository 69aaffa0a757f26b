"""When a center is open on a day: its hours, minus breaks, closed weekdays and days.

Everything is reckoned in the center's local wall time (``Center.timezone``) and handed
out as aware UTC instants. On a day the clocks change, a wall time that does not exist
(spring forward) is left out and one that happens twice (fall back) is taken once, at
its first occurrence (``fold=0``), so a grid of wall times has no duplicates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..models import Center


def parse_hhmm(text: str) -> time:
    """ "13:00" -> time(13, 0) (breaks are stored as text in the center's JSON)."""
    hours, _, minutes = str(text).partition(":")
    return time(int(hours), int(minutes or 0))


def is_closed_day(center: Center, day: date) -> bool:
    return day.weekday() in (center.closed_weekdays or []) or day.isoformat() in (
        center.closed_days or []
    )


def local_windows(center: Center, day: date) -> list[tuple[datetime, datetime]]:
    """The day's opening hours minus breaks, as naive local wall times (ends exclusive).
    A center closing at or before it opens (00:00 to 00:00) is open until midnight."""
    if is_closed_day(center, day):
        return []
    opens = datetime.combine(day, center.opens_at)
    closes = datetime.combine(day, center.closes_at)
    if closes <= opens:
        closes = datetime.combine(day + timedelta(days=1), time(0))
    windows = [(opens, closes)]
    for pause in center.breaks or []:
        start = datetime.combine(day, parse_hhmm(pause["from"]))
        end = datetime.combine(day, parse_hhmm(pause["to"]))
        cut: list[tuple[datetime, datetime]] = []
        for lo, hi in windows:
            if end <= lo or start >= hi:
                cut.append((lo, hi))
                continue
            if lo < start:
                cut.append((lo, start))
            if end < hi:
                cut.append((end, hi))
        windows = cut
    return windows


def to_utc(center: Center, wall: datetime) -> datetime | None:
    """The instant of a local wall time, or None when the clocks skip it."""
    zone = ZoneInfo(center.timezone)
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # in the gap of a spring-forward
    return instant


def _instant(center: Center, wall: datetime) -> datetime:
    """A window's edge as an instant: a skipped wall time moves to the gap's end."""
    instant = to_utc(center, wall)
    while instant is None:
        wall += timedelta(minutes=15)
        instant = to_utc(center, wall)
    return instant


def opening_windows(center: Center, day: date) -> list[tuple[datetime, datetime]]:
    """The local day's opening hours minus breaks, as aware UTC intervals ([] when
    closed by weekday or by the calendar of closed days)."""
    return [(_instant(center, lo), _instant(center, hi)) for lo, hi in local_windows(center, day)]


def is_open(center: Center, at: datetime) -> bool:
    """Whether the center is open (and not on a break) at instant ``at``."""
    day = at.astimezone(ZoneInfo(center.timezone)).date()
    return any(lo <= at < hi for lo, hi in opening_windows(center, day))
