"""The charts' drawing kit: SVG primitives with every text escaped, a plotting area
with its axes, the services' colour key, and the charts' words in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .. import i18n
from ..models import Center, Service

# Okabe-Ito: told apart by people with any common colour blindness, and on a projector.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


class Words(i18n.Words):
    """The charts' words (server/i18n/charts/) in the reader's language."""

    def __init__(self, lang: str | None) -> None:
        super().__init__(i18n.CHARTS, lang)

    def named(self, names: dict) -> str:
        return names.get(self.lang) or names.get("az") or next(iter(names.values()), "")


def nice_step(top: float, ticks: int = 5) -> float:
    """A round axis step (1, 2 or 5 times a power of ten) giving about ``ticks`` lines."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return max(mult * power, 1)
    return 10 * power


def hour_range(center: Center, hours_with_data) -> list[int]:
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


def legend(svg: Svg, words: Words, services: list[Service], y: int) -> int:
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


def no_data(svg: Svg, plot: Plot, words: Words) -> None:
    svg.text(plot.left + plot.width / 2, plot.top + plot.height / 2, words("chart.no_data"),
             size=18, anchor="middle", fill="#555555")  # fmt: skip
