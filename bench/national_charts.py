"""The national day's charts (SVG, bench/plots.py): request latency over the run, each
server process's connections over the run, and CPU per ticket by step and part."""

from __future__ import annotations

from pathlib import Path

from .plots import GREY, PALETTE, Chart, Series, number_ticks, write_charts

CPU_PARTS = (
    ("servers", "novbe serve processes"),
    ("database", "PostgreSQL backends"),
    ("redis", "Redis"),
    ("nginx", "nginx"),
    ("desks", "load generator: kiosks and desks"),
    ("screens", "load generator: screens"),
)


def draw(postgres: dict, sqlite: dict, out_dir: Path, prefix: str) -> list[Path]:
    charts = {
        "latency": latency_chart(postgres),
        "connections": connections_chart(postgres),
        "cpu": cpu_chart(postgres, sqlite),
    }
    return write_charts(charts, out_dir, prefix)


def _steps(result: dict) -> list[dict]:
    return result["steps"] + ([result["half_screens"]] if result.get("half_screens") else [])


def latency_chart(result: dict) -> Chart:
    issue = [tuple(p) for s in _steps(result) for p in s["timeline"]["issue"]]
    call = [tuple(p) for s in _steps(result) for p in s["timeline"]["call_next"]]
    end = max([x for x, _ in issue + call], default=1.0)
    factors = ", ".join(f"{s['factor']}x" for s in _steps(result))
    return Chart(
        "Request latency over the run, p99 per 2 s (PostgreSQL + Redis, several processes)",
        "seconds since the screens started connecting",
        "ms",
        (0, end),
        number_ticks(0, end),
        [
            Series("issue (kiosks)", issue, PALETTE[0], kind="dots", width=2.2),
            Series("call-next (desks)", call, PALETTE[5], kind="dots", width=2.2),
            Series("target, 100 ms", [(0, 100), (end, 100)], GREY, dashed=True),
        ],
        note=f"steps in turn: {factors}; gaps between steps are the collection of events",
    )


def connections_chart(result: dict) -> Chart:
    samples = result["connections_over_time"]
    end = max((t for t, _ in samples), default=1.0)
    processes = max((len(c) for _, c in samples), default=0)
    series = [
        Series(
            f"process {k + 1}",
            [(t, counts[k]) for t, counts in samples if k < len(counts)],
            PALETTE[k % len(PALETTE)],
            kind="step",
        )
        for k in range(processes)
    ]
    return Chart(
        "Open connections of each server process over the run (its open files)",
        "seconds since the screens started connecting",
        "open files",
        (0, end),
        number_ticks(0, end),
        series,
        note=f"{result['screens']:,} screens of {result['centers']} centers, "
        f"{result['connected']:,} connected",
    )


def cpu_chart(postgres: dict, sqlite: dict) -> Chart:
    steps = [("PG " + _name(s), s) for s in _steps(postgres)]
    steps += [("SQLite " + _name(s), s) for s in sqlite["steps"]]
    width = 0.8 / len(CPU_PARTS)
    series = []
    for k, (part, label) in enumerate(CPU_PARTS):
        points = [
            (i + (k - len(CPU_PARTS) / 2 + 0.5) * width, s["cpu_ms_per_ticket"].get(part) or 0.0)
            for i, (_, s) in enumerate(steps)
        ]
        series.append(Series(label, points, PALETTE[k], kind="bars", bar_width=width))
    return Chart(
        "CPU per ticket (its whole life: issue, call, start, end), by step and part",
        "step",
        "ms of CPU per ticket",
        (-0.6, len(steps) - 0.4),
        [(i, name) for i, (name, _) in enumerate(steps)],
        series,
        legend_left=True,
    )


def _name(step: dict) -> str:
    half = " ½" if step.get("screens_connected") is not None else ""
    return f"{step['factor']}x{half}"
