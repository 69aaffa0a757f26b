"""The charts' drawing kit: SVG primitives with every text escaped, a plotting area
with its axes, the services' colour key, and the charts' words in the reader's language.

Text is measured with a conservative estimate (:func:`text_width`: no font metrics on the
server), so a label fitted with :func:`fit` stays inside its room in any sans-serif font."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .. import i18n
from ..models import Center, Service

# Okabe-Ito: told apart by people with any common colour blindness, and on a projector.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# The services past the busiest ones share one grey series: one colour each only while
# the colours last, so no two series in a key look alike.
OTHER_COLOUR = "#9a9a9a"
TOP_SERIES = len(PALETTE)
OTHER = "other"  # the data-legend of the shared series' key
MARGIN = 16
ELLIPSIS = "…"
# Wider than the usual sans-serif letter (about 0.6 em): estimated as a whole em.
WIDE = set("MWmwМШЩЖЮФЫшщжюфы@%—")


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


def text_width(text: str, size: float = 14) -> float:
    """An upper estimate of the text's width in pixels: 0.72 em a character (1 em for
    the widest letters), where sans-serif fonts average about 0.6 em."""
    return sum(size * (1.0 if ch in WIDE else 0.72) for ch in text)


def fit(text: str, width: float, size: float = 14) -> str:
    """The text, or as much of it as fits ``width`` followed by an ellipsis; cut at a
    word's end when one is near."""
    if text_width(text, size) <= width:
        return text
    room = width - text_width(ELLIPSIS, size)
    used, end = 0.0, 0
    for ch in text:
        used += text_width(ch, size)
        if used > room:
            break
        end += 1
    kept = text[:end]
    space = kept.rfind(" ")
    if space > len(kept) * 0.7:
        kept = kept[:space]
    return kept.rstrip(" ·,.;:-–") + ELLIPSIS


class Svg:
    """A few SVG primitives, every text and attribute escaped. The height may grow
    while drawing (the key goes under the plot); it is written out by :meth:`render`."""

    FONT = "system-ui, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"

    def __init__(self, width: int, height: int, title: str, kind: str) -> None:
        self.width, self.height = width, height
        self.title, self.kind = title, kind
        self.parts: list[str] = []
        self.text(MARGIN, 28, fit(title, width - 2 * MARGIN, 18), size=18, weight="bold")

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
        width, height = self.width, self.height
        head = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" '
            f'data-chart="{self.kind}" font-family="{self.FONT}" font-size="14">',
            f'<title id="chart-title">{escape(self.title)}</title>',
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        ]
        return "\n".join([*head, *self.parts, "</svg>"]) + "\n"


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


@dataclass
class Series:
    """One entry of a chart's key: a service, or the services past the busiest ones."""

    key: str  # the service's code, or OTHER
    label: str
    colour: str
    services: list[Service]


def series(services: list[Service], volume: dict[int, int], words: Words) -> list[Series]:
    """A series per service in the services' order while they fit the palette; past
    that, the busiest ``TOP_SERIES`` by ``volume`` and one grey series for the rest."""
    if len(services) <= TOP_SERIES:
        top, rest = services, []
    else:
        ranked = sorted(services, key=lambda s: -volume.get(s.id, 0))  # stable: ties in order
        busiest = {s.id for s in ranked[:TOP_SERIES]}
        top = [s for s in services if s.id in busiest]
        rest = [s for s in services if s.id not in busiest]
    result = [
        Series(s.code, f"{s.prefix} · {words.named(s.name)}", PALETTE[i], [s])
        for i, s in enumerate(top)
    ]
    if rest:
        label = words("chart.other_services", count=len(rest))
        result.append(Series(OTHER, label, OTHER_COLOUR, rest))
    return result


def colours(all_series: Iterable[Series]) -> dict[int, str]:
    """Each service's colour: its series'."""
    return {s.id: one.colour for one in all_series for s in one.services}


def legend(svg: Svg, all_series: list[Series], y: float) -> float:
    """A colour key per series from ``y`` down, wrapped to the width, each label cut to
    fit a row; grows the SVG to hold it and returns the last row's baseline."""
    right = svg.width - MARGIN
    x = MARGIN
    for one in all_series:
        label = fit(one.label, right - MARGIN - 20)
        width = 20 + text_width(label)
        if x > MARGIN and x + width > right:
            x, y = MARGIN, y + 22
        svg.add("rect", x=x, y=y - 12, width=14, height=14, fill=one.colour,
                data_legend=one.key)  # fmt: skip
        svg.text(x + 20, y, label, class_="legend")
        x += round(width) + 28
    svg.height = max(svg.height, round(y + MARGIN))
    return y


def no_data(svg: Svg, plot: Plot, words: Words) -> None:
    svg.text(plot.left + plot.width / 2, plot.top + plot.height / 2, words("chart.no_data"),
             size=18, anchor="middle", fill="#555555")  # fmt: skip
