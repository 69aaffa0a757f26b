"""Small SVG charts for the benchmark docs, written by hand: lines, steps, dots and bars
on one pair of axes, with a legend. No plotting library, so `make bench` needs nothing
more than the server does."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

# Okabe-Ito: told apart with the common colour blindnesses (as server/charts/).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
GREY = "#9A9A9A"
FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='12'"


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    color: str
    kind: str = "line"  # line | step | dots | bars
    dashed: bool = False
    bar_width: float = 1.0  # in x units, for bars
    width: float = 1.6  # stroke width, or dot radius


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    x_range: tuple[float, float]
    x_ticks: list[tuple[float, str]]
    series: list[Series] = field(default_factory=list)
    y_max: float | None = None  # default: the data's maximum, rounded up
    size: tuple[int, int] = (900, 380)
    note: str = ""  # one line under the title
    legend_left: bool = False  # where the data leaves room for it


MARGIN = (64, 24, 62, 58)  # left, right, top, bottom


def nice_step(span: float, ticks: int = 5) -> float:
    """1, 2 or 5 times a power of ten, giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def number_ticks(low: float, high: float, ticks: int = 6) -> list[tuple[float, str]]:
    step = nice_step(high - low, ticks)
    first = math.ceil(low / step) * step
    count = int((high - first) / step + 1e-9) + 1
    return [(first + i * step, _label(first + i * step)) for i in range(count)]


def hour_ticks(first_min: float, last_min: float) -> list[tuple[float, str]]:
    """Whole hours between two times of day given in minutes, labelled 09:00."""
    hours = range(math.ceil(first_min / 60), math.floor(last_min / 60) + 1)
    return [(h * 60.0, f"{h:02d}:00") for h in hours]


def render(chart: Chart) -> str:
    width, height = chart.size
    left, right, top, bottom = MARGIN
    plot_w, plot_h = width - left - right, height - top - bottom
    x0, x1 = chart.x_range
    y_top = chart.y_max or _data_max(chart.series)
    step = nice_step(y_top)
    y_top = max(step, math.ceil(y_top / step) * step)

    def px(x: float) -> float:
        return left + (min(max(x, x0), x1) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - min(max(y, 0.0), y_top) / y_top * plot_h

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT}>",
        f"<rect width='{width}' height='{height}' fill='white'/>",
        f"<text x='{left}' y='20' font-size='15' font-weight='bold'>{escape(chart.title)}</text>",
    ]
    if chart.note:
        out.append(f"<text x='{left}' y='38' fill='#555'>{escape(chart.note)}</text>")
    # grid and axes
    y = 0.0
    while y <= y_top + 1e-9:
        out.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{py(y):.1f}' y2='{py(y):.1f}' "
            "stroke='#e4e4e4'/>"
        )
        out.append(f"<text x='{left - 6}' y='{py(y) + 4:.1f}' text-anchor='end'>{_label(y)}</text>")
        y += step
    for x, text in chart.x_ticks:
        if x0 <= x <= x1:
            out.append(
                f"<line x1='{px(x):.1f}' x2='{px(x):.1f}' y1='{top}' y2='{top + plot_h}' "
                "stroke='#f0f0f0'/>"
            )
            out.append(
                f"<text x='{px(x):.1f}' y='{top + plot_h + 16}' text-anchor='middle'>"
                f"{escape(text)}</text>"
            )
    out.append(
        f"<path d='M{left},{top} V{top + plot_h} H{left + plot_w}' fill='none' stroke='#333'/>"
    )
    out.append(
        f"<text x='{left + plot_w / 2}' y='{height - 10}' text-anchor='middle'>"
        f"{escape(chart.x_label)}</text>"
    )
    out.append(
        f"<text transform='translate(16,{top + plot_h / 2}) rotate(-90)' text-anchor='middle'>"
        f"{escape(chart.y_label)}</text>"
    )
    for series in chart.series:
        out.extend(_draw(series, px, py, plot_w / (x1 - x0)))
    out.extend(_legend(chart.series, left, left + plot_w, top, chart.legend_left))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _draw(series: Series, px, py, x_scale: float) -> list[str]:
    if not series.points:
        return []
    label = quoteattr(series.label)
    if series.kind == "bars":
        w = max(series.bar_width * x_scale - 1, 1)
        return [
            f"<g data-series={label} fill='{series.color}' fill-opacity='0.35'>",
            *(
                f"<rect x='{px(x):.1f}' y='{py(y):.1f}' width='{w:.1f}' "
                f"height='{py(0) - py(y):.1f}'/>"
                for x, y in series.points
                if y > 0
            ),
            "</g>",
        ]
    if series.kind == "dots":
        return [
            f"<g data-series={label} fill='{series.color}' fill-opacity='0.45'>",
            *(
                f"<circle cx='{px(x):.1f}' cy='{py(y):.1f}' r='{series.width}'/>"
                for x, y in series.points
            ),
            "</g>",
        ]
    path = []
    for i, (x, y) in enumerate(series.points):
        if i == 0:
            path.append(f"M{px(x):.1f},{py(y):.1f}")
        elif series.kind == "step":
            path.append(f"H{px(x):.1f}V{py(y):.1f}")
        else:
            path.append(f"L{px(x):.1f},{py(y):.1f}")
    dash = " stroke-dasharray='6 4'" if series.dashed else ""
    return [
        f"<path data-series={label} d='{''.join(path)}' fill='none' stroke='{series.color}' "
        f"stroke-width='{series.width}' stroke-linejoin='round'{dash}/>"
    ]


def _legend(
    series: list[Series], left_edge: float, right_edge: float, top: float, on_left: bool
) -> list[str]:
    labelled = [s for s in series if s.label]
    if not labelled:
        return []
    # a white box, so the legend stays readable over the data it covers
    box_w = 40 + 7 * max(len(s.label) for s in labelled)
    if on_left:
        right_edge = left_edge + box_w + 12
    out = [
        f"<rect x='{right_edge - box_w - 4:.1f}' y='{top - 4}' width='{box_w:.1f}' "
        f"height='{17 * len(labelled) + 4}' fill='white' fill-opacity='0.85'/>"
    ]
    y = top + 6
    for s in labelled:
        x = right_edge - 10
        out.append(f"<text x='{x - 30}' y='{y + 4}' text-anchor='end'>{escape(s.label)}</text>")
        if s.kind in ("bars", "dots"):
            out.append(
                f"<rect x='{x - 22}' y='{y - 5}' width='18' height='10' fill='{s.color}' "
                "fill-opacity='0.45'/>"
            )
        else:
            dash = " stroke-dasharray='6 4'" if s.dashed else ""
            out.append(
                f"<line x1='{x - 24}' x2='{x - 2}' y1='{y}' y2='{y}' stroke='{s.color}' "
                f"stroke-width='{max(s.width, 2)}'{dash}/>"
            )
        y += 17
    return out


def _data_max(series: list[Series]) -> float:
    return max((y for s in series for _, y in s.points), default=1.0) or 1.0


def _label(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def write_charts(charts: dict[str, Chart], out_dir: Path, prefix: str) -> list[Path]:
    """Each chart as ``<prefix>-<name>.svg`` in ``out_dir``; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, chart in charts.items():
        path = out_dir / f"{prefix}-{name}.svg"
        path.write_text(render(chart))
        paths.append(path)
    return paths
