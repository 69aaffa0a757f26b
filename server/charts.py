"""Managers' charts, drawn on the server as SVG: arrivals and average wait by hour of
the day per service, and a week's arrivals as a day x hour heat map.

The figures are aggregated in the database, never by loading tickets into Python.

Time zones: a chart's hours are the center's local hours, but tickets keep UTC
instants and SQLite has no time zone database. So the SQL groups tickets by
15-minute slot of UTC time (``epoch // 900``, the same on SQLite and PostgreSQL) and
Python turns each slot into the center's local hour with ``zoneinfo``. Every zone's
UTC offset is a whole number of quarter hours (+04:00 Baku, +05:30 India, +05:45
Nepal), so a slot never straddles a local hour, and a daylight-saving change in the
middle of the range is handled slot by slot. The day itself is the ticket's
``business_day`` (already the center's local day), so a date range is an index scan.
At most 96 rows per service per day come back.

Every drawn mark carries data attributes (``data-service``, ``data-hour``,
``data-count``, ``data-wait-s``, ``data-day``) so tests and scripts read the figures
without reverse-engineering pixel positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from .i18n import catalog, pick_language
from .models import Center, Service, Ticket

SLOT_S = 900  # 15 minutes: every zone's offset is a multiple of it
WORDS = Path(__file__).parent / "i18n" / "charts.json"
# Okabe-Ito: told apart by people with any common colour blindness, and on a projector.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# Heat map: white to dark blue, readable numbers on both ends.
HEAT_LOW, HEAT_HIGH = (0xF2, 0xF6, 0xFB), (0x08, 0x30, 0x6B)
WEEK_DAYS = 7


# ---- figures from the database -----------------------------------------------------


def _epoch(session: Session, column):
    """Seconds since 1970 (UTC) of a timestamp column, as an integer expression."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), Integer)
    # SQLite stores naive UTC text; strftime('%s') reads it as UTC.
    return cast(func.strftime("%s", column), Integer)


def _slot(session: Session, column):
    return _epoch(session, column) // SLOT_S


def _local_hour(slot: int, zone: ZoneInfo) -> int:
    return datetime.fromtimestamp(int(slot) * SLOT_S, UTC).astimezone(zone).hour


@dataclass
class HourFigures:
    arrivals: int = 0
    called: int = 0  # of those, called at least once (their wait is known)
    wait_total_s: float = 0.0

    @property
    def average_wait_s(self) -> int | None:
        return round(self.wait_total_s / self.called) if self.called else None


@dataclass
class DayByHour:
    """One day's figures: ``figures[service_id][hour]``."""

    center: Center
    day: date
    services: list[Service]
    figures: dict[int, dict[int, HourFigures]] = field(default_factory=dict)


def day_by_hour(session: Session, center: Center, day: date) -> DayByHour:
    """Arrivals (tickets issued) and average wait (issue to first call) per service and
    local hour of issue, for the center's ``day``."""
    slot = _slot(session, Ticket.issued_at).label("slot")
    wait_s = _epoch(session, Ticket.called_at) - _epoch(session, Ticket.issued_at)
    rows = session.execute(
        select(
            Ticket.service_id,
            slot,
            func.count(),
            func.count(Ticket.called_at),
            func.sum(wait_s),  # NULL (skipped) for tickets never called
        )
        .where(Ticket.center_id == center.id, Ticket.business_day == day)
        .group_by(Ticket.service_id, slot)
    )
    zone = ZoneInfo(center.timezone)
    result = DayByHour(center, day, list(center.services))
    for service_id, slot_value, arrivals, called, wait_total in rows:
        hour = _local_hour(slot_value, zone)
        cell = result.figures.setdefault(service_id, {}).setdefault(hour, HourFigures())
        cell.arrivals += arrivals
        cell.called += called
        cell.wait_total_s += float(wait_total or 0)
    return result


def week_by_hour(session: Session, center: Center, last_day: date) -> dict[date, dict[int, int]]:
    """Arrivals per local day and hour for the seven days ending with ``last_day``."""
    first_day = last_day - timedelta(days=WEEK_DAYS - 1)
    slot = _slot(session, Ticket.issued_at).label("slot")
    rows = session.execute(
        select(Ticket.business_day, slot, func.count())
        .where(
            Ticket.center_id == center.id,
            Ticket.business_day >= first_day,
            Ticket.business_day <= last_day,
        )
        .group_by(Ticket.business_day, slot)
    )
    zone = ZoneInfo(center.timezone)
    cells: dict[date, dict[int, int]] = {first_day + timedelta(days=i): {} for i in range(7)}
    for day, slot_value, count in rows:
        hour = _local_hour(slot_value, zone)
        cells[day][hour] = cells[day].get(hour, 0) + count
    return cells


# ---- drawing --------------------------------------------------------------------------


class Words:
    def __init__(self, lang: str | None) -> None:
        self.lang = pick_language(lang)
        self._words = catalog(WORDS)[self.lang]

    def __call__(self, key: str, **values) -> str:
        text = self._words.get(key, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def named(self, names: dict) -> str:
        return names.get(self.lang) or names.get("az") or next(iter(names.values()), "")


def _nice_step(top: float, ticks: int = 5) -> float:
    """A round axis step (1, 2 or 5 times a power of ten) giving about ``ticks`` lines."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return max(mult * power, 1)
    return 10 * power


def _hour_range(center: Center, hours_with_data) -> list[int]:
    """The opening hours, widened to any hour that has data."""
    first = center.opens_at.hour
    last = center.closes_at.hour - (1 if center.closes_at.minute == 0 else 0)
    hours = set(range(first, max(first, last) + 1)) | set(hours_with_data)
    return list(range(min(hours), max(hours) + 1)) if hours else list(range(9, 18))


class Svg:
    """A few SVG primitives, every text and attribute escaped."""

    FONT = "system-ui, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"

    def __init__(self, width: int, height: int, title: str, kind: str) -> None:
        self.width, self.height = width, height
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" '
            f'data-chart="{kind}" font-family="{self.FONT}" font-size="14">',
            f'<title id="chart-title">{escape(title)}</title>',
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        ]
        self.text(16, 28, title, size=18, weight="bold")

    @staticmethod
    def _attrs(attrs: dict) -> str:
        return "".join(
            f" {name.rstrip('_').replace('_', '-')}={quoteattr(str(value))}"
            for name, value in attrs.items()
            if value is not None
        )

    def add(self, tag: str, **attrs) -> None:
        self.parts.append(f"<{tag}{self._attrs(attrs)}/>")

    def text(self, x, y, content: str, *, size=14, weight=None, anchor=None, **attrs) -> None:
        attrs = {"x": x, "y": y, "font_size": size, "font_weight": weight,
                 "text_anchor": anchor, **attrs}  # fmt: skip
        self.parts.append(f"<text{self._attrs(attrs)}>{escape(str(content))}</text>")

    def render(self) -> str:
        return "\n".join([*self.parts, "</svg>"]) + "\n"


@dataclass
class Plot:
    """The plotting area inside the margins, and its y scale."""

    left: int
    top: int
    width: int
    height: int
    y_max: float

    def y(self, value: float) -> float:
        return self.top + self.height - value / self.y_max * self.height

    def y_axis(self, svg: Svg, step: float, label, title: str) -> None:
        value = 0.0
        while value <= self.y_max + 1e-9:
            y = round(self.y(value), 1)
            svg.add("line", x1=self.left, y1=y, x2=self.left + self.width, y2=y,
                    stroke="#d0d4da" if value else "#333333", stroke_width=1)  # fmt: skip
            svg.text(self.left - 8, y + 5, label(value), anchor="end")
            value += step
        x, y = 18, self.top + self.height / 2
        svg.parts.append(
            f'<text x="{x}" y="{y}" font-size="14" text-anchor="middle" '
            f'transform="rotate(-90 {x} {y})">{escape(title)}</text>'
        )

    def x_hours(self, svg: Svg, hours: list[int], title: str) -> float:
        """Hour labels under each column; returns a column's width."""
        column = self.width / len(hours)
        for i, hour in enumerate(hours):
            x = self.left + (i + 0.5) * column
            svg.text(round(x, 1), self.top + self.height + 20, f"{hour:02d}", anchor="middle")
        svg.text(self.left + self.width / 2, self.top + self.height + 44, title, anchor="middle")
        return column


def _legend(svg: Svg, words: Words, services: list[Service], y: int) -> int:
    """A colour key per service, wrapped to the width; returns the last row's y."""
    x = 16
    for index, service in enumerate(services):
        label = f"{service.prefix} · {words.named(service.name)}"
        width = 20 + round(8.5 * len(label)) + 28  # about 8.5 px a character at 14 px
        if x > 16 and x + width > svg.width - 16:
            x, y = 16, y + 22
        svg.add("rect", x=x, y=y - 12, width=14, height=14, fill=PALETTE[index % len(PALETTE)],
                data_legend=service.code)  # fmt: skip
        svg.text(x + 20, y, label)
        x += width
    return y


def _no_data(svg: Svg, plot: Plot, words: Words) -> None:
    svg.text(plot.left + plot.width / 2, plot.top + plot.height / 2, words("chart.no_data"),
             size=18, anchor="middle", fill="#555555")  # fmt: skip


WIDTH, HEIGHT = 960, 400


def _day_plot(legend_bottom: int, y_max: float) -> Plot:
    top = legend_bottom + 26
    return Plot(64, top, WIDTH - 64 - 16, HEIGHT - top - 56, y_max)


def arrivals_svg(data: DayByHour, lang: str | None) -> str:
    """Stacked bars: visitors who took a ticket in each hour, one colour per service."""
    words = Words(lang)
    services = [s for s in data.services if s.active or s.id in data.figures]
    hours_with_data = {h for by_hour in data.figures.values() for h in by_hour}
    hours = _hour_range(data.center, hours_with_data)
    totals = {
        h: sum(data.figures.get(s.id, {}).get(h, HourFigures()).arrivals for s in services)
        for h in hours
    }
    top = max(totals.values(), default=0)
    step = _nice_step(top)
    y_max = max(step * -(-top // step), step)
    svg = Svg(WIDTH, HEIGHT, words("chart.arrivals_title", date=data.day.isoformat()), "arrivals")
    plot = _day_plot(_legend(svg, words, services, 52), y_max)
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
        _no_data(svg, plot, words)
    return svg.render()


def waits_svg(data: DayByHour, lang: str | None) -> str:
    """Average wait (issue to first call) of each hour's arrivals, a line per service,
    with each service's target wait as a dashed line of the same colour."""
    words = Words(lang)
    services = [s for s in data.services if s.active or s.id in data.figures]
    hours_with_data = {h for by_hour in data.figures.values() for h in by_hour}
    hours = _hour_range(data.center, hours_with_data)
    waits = {
        s.id: {h: f.average_wait_s for h, f in data.figures.get(s.id, {}).items() if f.called}
        for s in services
    }
    top_min = max(
        [w / 60 for by_hour in waits.values() for w in by_hour.values()]
        + [s.target_wait_min for s in services],
        default=0,
    )
    step = _nice_step(top_min)
    y_max = max(step * -(-top_min // step), step)
    svg = Svg(WIDTH, HEIGHT, words("chart.waits_title", date=data.day.isoformat()), "waits")
    plot = _day_plot(_legend(svg, words, services, 52), y_max)
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
        _no_data(svg, plot, words)
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
    hours = _hour_range(center, {h for by_hour in cells.values() for h in by_hour})
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
