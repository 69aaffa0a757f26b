"""The simulated day's charts (SVG): visitors waiting over the day, waits by time of
issue beside the estimates shown, and each estimate against its real wait."""

from __future__ import annotations

import math
from pathlib import Path

from . import day_stats
from .common import percentile
from .day_plan import CLOSE_MIN, OPEN_MIN, PREFIXES
from .day_stats import Ticket
from .plots import (
    GREY,
    PALETTE,
    Chart,
    Series,
    hour_ticks,
    nice_step,
    number_ticks,
    write_charts,
)

SLOT_MIN = 15
TOP_SERVICES = 4


def draw(tickets: list[Ticket], out_dir: Path, prefix: str, note: str) -> list[Path]:
    """Write the three charts to ``out_dir/<prefix>-*.svg``; return their paths."""
    last = max((t.called for t in tickets if t.called is not None), default=CLOSE_MIN)
    end = max(CLOSE_MIN, math.ceil(last / 60) * 60)
    charts = {
        "queue": queue_chart(tickets, end, note),
        "waits": waits_chart(tickets, note),
        "estimates": estimates_chart(tickets, note),
    }
    return write_charts(charts, out_dir, prefix)


def queue_chart(tickets: list[Ticket], end: float, note: str) -> Chart:
    slots = day_stats.by_issue_time(tickets, OPEN_MIN, CLOSE_MIN, SLOT_MIN)
    total = day_stats.queue_length(tickets, OPEN_MIN, end)
    peaks = {
        code: max(y for _, y in day_stats.queue_length(tickets, OPEN_MIN, end, code))
        for code in {t.service for t in tickets}
    }
    top = sorted(peaks, key=lambda c: -peaks[c])[:TOP_SERVICES]
    series = [
        Series(
            f"arrivals per {SLOT_MIN} min",
            [(s["from"], s["arrivals"]) for s in slots],
            GREY,
            kind="bars",
            bar_width=SLOT_MIN,
        ),
        Series("waiting, all services", total, PALETTE[0], kind="step", width=2.2),
    ]
    for i, code in enumerate(top):
        points = day_stats.queue_length(tickets, OPEN_MIN, end, code)
        series.append(
            Series(f"{PREFIXES[code]} {code}", points, PALETTE[i + 1], kind="step", width=1.2)
        )
    return Chart(
        "Visitors waiting over the simulated day",
        "simulated time of day",
        "visitors",
        (OPEN_MIN, end),
        hour_ticks(OPEN_MIN, end),
        series,
        note=note,
    )


def waits_chart(tickets: list[Ticket], note: str) -> Chart:
    slots = day_stats.by_issue_time(tickets, OPEN_MIN, CLOSE_MIN, SLOT_MIN)

    def line(key: str) -> list[tuple[float, float]]:
        return [(s["from"] + SLOT_MIN / 2, s[key]) for s in slots if s[key] is not None]

    return Chart(
        f"Waits by time of issue ({SLOT_MIN}-minute slots)",
        "simulated time of issue",
        "wait, simulated minutes",
        (OPEN_MIN, CLOSE_MIN),
        hour_ticks(OPEN_MIN, CLOSE_MIN),
        [
            Series("real wait, 90th percentile", line("p90_wait"), PALETTE[5], width=1.4),
            Series("real wait, average", line("avg_wait"), PALETTE[0], width=2.2),
            Series(
                "estimate shown at issue, average",
                line("avg_estimate"),
                PALETTE[2],
                dashed=True,
                width=2.2,
            ),
        ],
        note=note,
    )


def estimates_chart(tickets: list[Ticket], note: str) -> Chart:
    pairs = [(t.wait, t.estimate) for t in tickets if t.wait is not None and t.estimate is not None]
    # The axes stop at the 99th percentile, so a few outliers do not squash the rest
    # (points beyond it sit on the edge).
    raw = max(
        percentile([w for w, _ in pairs], 99) or 1.0,
        percentile([e for _, e in pairs], 99) or 1.0,
        1.0,
    )
    step = nice_step(raw)
    top = math.ceil(raw / step) * step
    share = day_stats.TOLERANCE_SHARE
    return Chart(
        "Estimated wait at issue against the real wait, per visitor",
        "real wait, simulated minutes",
        "estimate, simulated minutes",
        (0, top),
        number_ticks(0, top),
        [
            Series("visitor", pairs, PALETTE[0], kind="dots", width=1.6),
            Series("estimate = real", [(0, 0), (top, top)], "#333", width=1.2),
            Series(
                f"within {share:.0%}",
                [(0, 0), (top / (1 + share), top)],  # ends on the top edge: no clipping
                GREY,
                dashed=True,
                width=1.0,
            ),
            Series("", [(0, 0), (top, top * (1 - share))], GREY, dashed=True, width=1.0),
        ],
        y_max=top,
        size=(620, 560),
        note=note,
        legend_left=True,
    )
