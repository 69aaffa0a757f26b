"""Managers' charts, drawn on the server as SVG: arrivals and average wait by hour of
the day per service, and a week's arrivals as a day x hour heat map.

- ``figures``: the per-hour figures, aggregated in the database (never by loading
  tickets into Python) and turned into the center's local hours;
- ``svg``: the drawing kit (SVG primitives, axes, legend, the charts' words);
- ``drawings``: the three charts.

Every drawn mark carries data attributes (``data-service``, ``data-hour``,
``data-count``, ``data-wait-s``, ``data-day``) so tests and scripts read the figures
without reverse-engineering pixel positions.
"""

from .drawings import arrivals_svg, waits_svg, week_svg
from .figures import DayByHour, HourFigures, day_by_hour, week_by_hour

__all__ = [
    "DayByHour",
    "HourFigures",
    "arrivals_svg",
    "day_by_hour",
    "waits_svg",
    "week_by_hour",
    "week_svg",
]
