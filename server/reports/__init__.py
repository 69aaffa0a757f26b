"""Managers' figures: reports over a date range, and the live dashboard of one center.

Every figure is an SQL aggregate (see docs/reports.md for the definitions): a
report reads a few grouped rows per query, never one row per ticket, so a year of
a 30-center network costs the same Python work as a day.

Which tickets a report counts: those *issued* on the center's local days
``date_from`` to ``date_to`` (``tickets.business_day``, the day their number
belongs to), whatever happened to them later.

- ``dates``: the date range a caller asks for (parse_day, check_range);
- ``figures``: the SQL that computes the figures of a set of tickets;
- ``period``: the report over a date range, and its CSV form;
- ``live``: the live dashboard of one center.
"""

from .dates import MAX_RANGE_DAYS, check_range, parse_day
from .figures import FIGURES, PERCENTILE, empty_figures
from .live import dashboard
from .period import CSV_HEADER, csv_rows, report, visible_centers

__all__ = [
    "CSV_HEADER",
    "FIGURES",
    "MAX_RANGE_DAYS",
    "PERCENTILE",
    "check_range",
    "csv_rows",
    "dashboard",
    "empty_figures",
    "parse_day",
    "report",
    "visible_centers",
]
