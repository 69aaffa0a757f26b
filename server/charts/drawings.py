"""The three charts as SVG documents: a day's arrivals (stacked bars) and waits (lines)
by local hour, and a week's arrivals as a day x hour heat map."""

from __future__ import annotations

from datetime import date

from ..models import Center
from .figures import DayByHour, HourFigures
from .svg import (
    MARGIN,
    OTHER,
    Plot,
    Svg,
    Words,
    colours,
    hour_range,
    legend,
    nice_step,
    no_data,
    series,
    text_width,
)

# Heat map: white to dark blue, readable numbers on both ends.
HEAT_LOW, HEAT_HIGH = (0xF2, 0xF6, 0xFB), (0x08, 0x30, 0x6B)
WIDTH = 960
PLOT_TOP, PLOT_HEIGHT = 52, 270
AXIS_TITLE_BELOW = 44  # the hour axis' title, under the plot (Plot.x_hours)
# A day chart without its key, which grows it (svg.legend).
HEIGHT = PLOT_TOP + PLOT_HEIGHT + AXIS_TITLE_BELOW + MARGIN


def _day_plot(y_max: float, step: float) -> Plot:
    """The plot under the title, its left margin wide enough for the y axis' numbers
    next to its rotated title."""
    numbers = max(text_width(f"{v:g}") for v in (y_max, y_max - step))
    left = max(64, round(28 + numbers + 8))
    return Plot(left, PLOT_TOP, WIDTH - left - MARGIN, PLOT_HEIGHT, y_max)


def _day_legend(svg: Svg, plot: Plot, all_series) -> None:
    """The key under the hour axis' title: the SVG grows with its rows."""
    legend(svg, all_series, plot.top + plot.height + AXIS_TITLE_BELOW + 32)


def arrivals_svg(data: DayByHour, lang: str | None) -> str:
    """Stacked bars: visitors who took a ticket in each hour, one colour per service."""
    words = Words(lang)
    services = [s for s in data.services if s.active or s.id in data.figures]
    hours_with_data = {h for by_hour in data.figures.values() for h in by_hour}
    hours = hour_range(data.center, hours_with_data)
    totals = {
        h: sum(data.figures.get(s.id, {}).get(h, HourFigures()).arrivals for s in services)
        for h in hours
    }
    top = max(totals.values(), default=0)
    step = nice_step(top)
    y_max = max(step * -(-top // step), step)
    volume = {s.id: sum(f.arrivals for f in data.figures.get(s.id, {}).values()) for s in services}
    all_series = series(services, volume, words)
    colour = colours(all_series)
    services = [s for one in all_series for s in one.services]  # the others stack on top
    svg = Svg(WIDTH, HEIGHT, words("chart.arrivals_title", date=data.day.isoformat()), "arrivals")
    plot = _day_plot(y_max, step)
    plot.y_axis(svg, step, lambda v: f"{v:g}", words("chart.visitors"))
    column = plot.x_hours(svg, hours, words("chart.hour"))
    bar = column * 0.7
    for i, hour in enumerate(hours):
        x = round(plot.left + i * column + (column - bar) / 2, 1)
        base = 0
        for service in services:
            count = data.figures.get(service.id, {}).get(hour, HourFigures()).arrivals
            if not count:
                continue
            y_top, y_bottom = plot.y(base + count), plot.y(base)
            svg.add("rect", x=x, y=round(y_top, 2), width=round(bar, 1),
                    height=round(y_bottom - y_top, 2), fill=colour[service.id],
                    class_="bar", data_service=service.code, data_hour=hour,
                    data_count=count)  # fmt: skip
            base += count
        if totals[hour]:
            svg.text(x + bar / 2, round(plot.y(totals[hour]) - 6, 1), totals[hour],
                     size=13, anchor="middle", class_="total", data_hour=hour)  # fmt: skip
    if not top:
        no_data(svg, plot, words)
    _day_legend(svg, plot, all_series)
    return svg.render()


def waits_svg(data: DayByHour, lang: str | None) -> str:
    """Average wait (issue to first call) of each hour's arrivals, a line per service,
    with each service's target wait as a dashed line of the same colour."""
    words = Words(lang)
    services = [s for s in data.services if s.active or s.id in data.figures]
    hours_with_data = {h for by_hour in data.figures.values() for h in by_hour}
    hours = hour_range(data.center, hours_with_data)
    waits = {
        s.id: {h: f.average_wait_s for h, f in data.figures.get(s.id, {}).items() if f.called}
        for s in services
    }
    top_min = max(
        [w / 60 for by_hour in waits.values() for w in by_hour.values()]
        + [s.target_wait_min for s in services],
        default=0,
    )
    step = nice_step(top_min)
    y_max = max(step * -(-top_min // step), step)
    volume = {s.id: sum(f.arrivals for f in data.figures.get(s.id, {}).values()) for s in services}
    all_series = series(services, volume, words)
    svg = Svg(WIDTH, HEIGHT, words("chart.waits_title", date=data.day.isoformat()), "waits")
    plot = _day_plot(y_max, step)
    plot.y_axis(svg, step, lambda v: f"{v:g}", words("chart.minutes"))
    column = plot.x_hours(svg, hours, words("chart.hour"))
    # The grey "other services" first, so the named ones are drawn over them.
    for one in sorted(all_series, key=lambda one: one.key != OTHER):
        for service in one.services:
            _wait_line(svg, plot, column, hours, one, service, waits[service.id])
    if not any(waits.values()):
        no_data(svg, plot, words)
    _day_legend(svg, plot, all_series)
    return svg.render()


def _wait_line(svg: Svg, plot: Plot, column: float, hours, one, service, waits) -> None:
    """A service's waits by hour, and its target as a dashed line; thin and without the
    target when it is one of the "other services"."""
    colour, named = one.colour, one.key != OTHER
    right = plot.left + plot.width
    if named:
        y = round(plot.y(service.target_wait_min), 1)
        svg.add("line", x1=plot.left, y1=y, x2=right, y2=y, stroke=colour, stroke_width=1.5,
                stroke_dasharray="6 5", class_="target", data_service=service.code,
                data_target_min=service.target_wait_min)  # fmt: skip
    points = [
        (round(plot.left + (i + 0.5) * column, 1), round(plot.y(waits[h] / 60), 1), h)
        for i, h in enumerate(hours)
        if h in waits
    ]
    if len(points) > 1:
        path = " ".join(f"{x},{y}" for x, y, _ in points)
        svg.add("polyline", points=path, fill="none", stroke=colour,
                stroke_width=3 if named else 1.5)  # fmt: skip
    for x, y, hour in points:
        svg.add("circle", cx=x, cy=y, r=5 if named else 3, fill=colour, class_="point",
                data_service=service.code, data_hour=hour, data_wait_s=waits[hour])  # fmt: skip


def _heat_colour(count: int, top: int) -> tuple[str, str]:
    """Cell fill and a text colour that stays readable on it."""
    share = count / top if top else 0
    rgb = [round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in rgb), ("#ffffff" if share > 0.5 else "#111111")


def week_svg(center: Center, cells: dict[date, dict[int, int]], lang: str | None) -> str:
    """Seven rows (days) by the opening hours: each cell's arrivals, darker for more."""
    words = Words(lang)
    days = sorted(cells)
    hours = hour_range(center, {h for by_hour in cells.values() for h in by_hour})
    top = max((c for by_hour in cells.values() for c in by_hour.values()), default=0)
    title = words("chart.week_title", first=days[0].isoformat(), last=days[-1].isoformat())
    labels = [
        f"{words(f'chart.weekday.{day.isoweekday()}')} {day.day:02d}.{day.month:02d}"
        for day in days
    ]
    # The day labels, right-aligned 10 px before the grid, start at the margin or later.
    widest = max([text_width(label) for label in labels] + [text_width(words("chart.hour"), 12)])
    left, top_y, row_h = max(150, round(MARGIN + widest + 10)), 60, 40
    col_w = (WIDTH - left - 16) / len(hours)
    height = top_y + row_h * len(days) + 90
    svg = Svg(WIDTH, height, title, "week")
    for i, hour in enumerate(hours):
        svg.text(round(left + (i + 0.5) * col_w, 1), top_y - 8, f"{hour:02d}", anchor="middle")
    for r, day in enumerate(days):
        y = top_y + r * row_h
        svg.text(left - 10, y + row_h / 2 + 5, labels[r], anchor="end")
        for i, hour in enumerate(hours):
            count = cells[day].get(hour, 0)
            fill, ink = _heat_colour(count, top)
            x = round(left + i * col_w, 1)
            svg.add("rect", x=x, y=y, width=round(col_w - 2, 1), height=row_h - 2, fill=fill,
                    class_="cell", data_day=day.isoformat(), data_hour=hour,
                    data_count=count)  # fmt: skip
            if count:
                svg.text(round(x + col_w / 2 - 1, 1), y + row_h / 2 + 4, count, size=13,
                         anchor="middle", fill=ink)  # fmt: skip
    # The scale: what light and dark mean.
    y = top_y + row_h * len(days) + 30
    svg.text(left - 10, top_y - 8, words("chart.hour"), anchor="end", size=12)
    values = sorted({round(top * i / 4) for i in range(5)})
    scale_x = WIDTH - 16 - len(values) * 44
    svg.text(scale_x - 10, y + 14, words("chart.visitors"), anchor="end")
    for i, value in enumerate(values):
        fill, ink = _heat_colour(value, top)
        svg.add("rect", x=scale_x + i * 44, y=y, width=42, height=20, fill=fill,
                stroke="#999999", class_="scale")  # fmt: skip
        svg.text(scale_x + i * 44 + 21, y + 15, value, size=12, anchor="middle", fill=ink)
    if not top:
        svg.text(WIDTH / 2, y + 50, words("chart.no_data"), size=18, anchor="middle")
    return svg.render()
