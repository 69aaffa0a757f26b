"""The three charts as SVG documents: a day's arrivals (stacked bars) and waits (lines)
by local hour, and a week's arrivals as a day x hour heat map."""

from __future__ import annotations

from datetime import date

from ..models import Center
from .figures import DayByHour, HourFigures
from .svg import PALETTE, Plot, Svg, Words, hour_range, legend, nice_step, no_data

# Heat map: white to dark blue, readable numbers on both ends.
HEAT_LOW, HEAT_HIGH = (0xF2, 0xF6, 0xFB), (0x08, 0x30, 0x6B)
WIDTH, HEIGHT = 960, 400


def _day_plot(legend_bottom: int, y_max: float) -> Plot:
    top = legend_bottom + 26
    return Plot(64, top, WIDTH - 64 - 16, HEIGHT - top - 56, y_max)


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
    svg = Svg(WIDTH, HEIGHT, words("chart.arrivals_title", date=data.day.isoformat()), "arrivals")
    plot = _day_plot(legend(svg, words, services, 52), y_max)
    plot.y_axis(svg, step, lambda v: f"{v:g}", words("chart.visitors"))
    column = plot.x_hours(svg, hours, words("chart.hour"))
    bar = column * 0.7
    for i, hour in enumerate(hours):
        x = round(plot.left + i * column + (column - bar) / 2, 1)
        base = 0
        for index, service in enumerate(services):
            count = data.figures.get(service.id, {}).get(hour, HourFigures()).arrivals
            if not count:
                continue
            y_top, y_bottom = plot.y(base + count), plot.y(base)
            svg.add("rect", x=x, y=round(y_top, 2), width=round(bar, 1),
                    height=round(y_bottom - y_top, 2), fill=PALETTE[index % len(PALETTE)],
                    class_="bar", data_service=service.code, data_hour=hour,
                    data_count=count)  # fmt: skip
            base += count
        if totals[hour]:
            svg.text(x + bar / 2, round(plot.y(totals[hour]) - 6, 1), totals[hour],
                     size=13, anchor="middle", class_="total", data_hour=hour)  # fmt: skip
    if not top:
        no_data(svg, plot, words)
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
    svg = Svg(WIDTH, HEIGHT, words("chart.waits_title", date=data.day.isoformat()), "waits")
    plot = _day_plot(legend(svg, words, services, 52), y_max)
    plot.y_axis(svg, step, lambda v: f"{v:g}", words("chart.minutes"))
    column = plot.x_hours(svg, hours, words("chart.hour"))
    right = plot.left + plot.width
    for index, service in enumerate(services):
        colour = PALETTE[index % len(PALETTE)]
        y = round(plot.y(service.target_wait_min), 1)
        svg.add("line", x1=plot.left, y1=y, x2=right, y2=y, stroke=colour, stroke_width=1.5,
                stroke_dasharray="6 5", class_="target", data_service=service.code,
                data_target_min=service.target_wait_min)  # fmt: skip
        points = [
            (
                round(plot.left + (i + 0.5) * column, 1),
                round(plot.y(waits[service.id][h] / 60), 1),
                h,
            )
            for i, h in enumerate(hours)
            if h in waits[service.id]
        ]
        if len(points) > 1:
            path = " ".join(f"{x},{y}" for x, y, _ in points)
            svg.add("polyline", points=path, fill="none", stroke=colour, stroke_width=3)
        for x, y, hour in points:
            wait = waits[service.id][hour]
            svg.add("circle", cx=x, cy=y, r=5, fill=colour, class_="point",
                    data_service=service.code, data_hour=hour, data_wait_s=wait)  # fmt: skip
    if not any(waits.values()):
        no_data(svg, plot, words)
    return svg.render()


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
    left, top_y, row_h = 150, 60, 40
    col_w = (WIDTH - left - 16) / len(hours)
    height = top_y + row_h * len(days) + 90
    svg = Svg(WIDTH, height, title, "week")
    for i, hour in enumerate(hours):
        svg.text(round(left + (i + 0.5) * col_w, 1), top_y - 8, f"{hour:02d}", anchor="middle")
    for r, day in enumerate(days):
        y = top_y + r * row_h
        svg.text(left - 10, y + row_h / 2 + 5,
                 f"{words(f'chart.weekday.{day.isoweekday()}')} {day.day:02d}.{day.month:02d}",
                 anchor="end")  # fmt: skip
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
