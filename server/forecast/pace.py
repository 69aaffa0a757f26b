"""Today's pace: the arrivals a service's usual day promises, scaled by what today has
brought so far. Pure, so the server (history.demand) and the benchmark (bench/forecast.py)
blend the same way.

Two factors, each (arrived + k) / (expected + k), clamped:

* the day's, over everything since midnight (k = 10: a few visitors more or less than
  usual do not move it), for the rest of the day;
* the last :data:`RECENT_S`'s (k = 2: a crowd shows), for the next minutes, fading
  linearly into the day's over :data:`RECENT_FADE_S`. Without it a surge was invisible:
  on the benchmark's days a service's half hour expected 12 arrivals while 38 came, and
  the forecast saw no breach coming (docs/forecast.md).

Invariants: the past is kept as it was expected (the forecast only looks ahead); a day
with no history (all bins 0) stays 0 here (history.py then uses today's pace alone);
the same arrivals give the same bins.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from .state import BIN_S, BINS_PER_DAY

DAY_K = 10.0
DAY_CLAMP = (0.5, 3.0)
RECENT_S = 20 * 60
RECENT_K = 2.0
RECENT_CLAMP = (0.5, 5.0)
RECENT_FADE_S = 45 * 60


def share(b: int, lo: float, hi: float) -> float:
    """The share of quarter hour ``b`` that lies in [lo, hi)."""
    start, end = max(b * BIN_S, lo), min((b + 1) * BIN_S, hi)
    return max(end - start, 0.0) / BIN_S


def expected(bins: Sequence[float], lo: float, hi: float) -> float:
    """Arrivals the bins promise in [lo, hi) (seconds of the day)."""
    first, last = max(int(lo // BIN_S), 0), min(int(hi // BIN_S), BINS_PER_DAY - 1)
    return sum(bins[b] * share(b, lo, hi) for b in range(first, last + 1))


def _factor(arrived: float, promised: float, k: float, clamp: tuple[float, float]) -> float:
    return min(max((arrived + k) / (promised + k), clamp[0]), clamp[1])


def paced(bins: Sequence[float], arrivals_s: Sequence[float], now_s: float) -> list[float]:
    """``bins`` (a service's expected arrivals per quarter hour) with the future scaled by
    today's pace; ``arrivals_s``: today's arrival instants up to now, sorted."""
    arrived = bisect_left(arrivals_s, now_s)
    day = _factor(arrived, expected(bins, 0.0, now_s), DAY_K, DAY_CLAMP)
    recent_from = max(now_s - RECENT_S, 0.0)
    lately = arrived - bisect_left(arrivals_s, recent_from)
    recent = _factor(lately, expected(bins, recent_from, now_s), RECENT_K, RECENT_CLAMP)
    out = []
    for b in range(BINS_PER_DAY):
        past = share(b, 0.0, now_s)
        ahead = 1.0 - past
        if ahead <= 0:
            out.append(bins[b])
            continue
        # The factor at the middle of the bin's future part: the recent pace fading out.
        middle = max(b * BIN_S, now_s) + ahead * BIN_S / 2
        weight = max(0.0, 1.0 - (middle - now_s) / RECENT_FADE_S)
        factor = day + (recent - day) * weight
        out.append(bins[b] * (past + factor * ahead))
    return out
