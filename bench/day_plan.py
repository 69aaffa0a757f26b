"""The simulated busy day (scenario 5): the center for the real server, and the day's
visitors, drawn from a fixed seed so every run sees the same day. The catalog, the
counters, the arrival profile and the draws live in server/forecast/synthetic.py (the
forecast's benchmark and tests use the same day); this module gives them to the
benchmark's scenarios and adds what only the real server needs.

All times here are simulated minutes; bench/day.py compresses them onto the wall clock.
"""

from __future__ import annotations

from server.forecast.synthetic import (  # noqa: F401  (the benchmark's names for them)
    CATALOG,
    CATEGORY_OF,
    CLOSE_MIN,
    HOURLY_PROFILE,
    LANGUAGES,
    MAX_SERVICE_FACTOR,
    NO_SHOW_SHARE,
    NO_SHOW_WAIT_MIN,
    OPEN_MIN,
    PREFIXES,
    PRIORITY_CLASSES,
    PRIORITY_SHARE,
    SEED,
    SERVICES,
    WALK_MIN,
    ServiceSpec,
    counters,
    offered_load,
    service_time,
    visitors,
)
from server.forecast.synthetic import Arrival as Visitor  # noqa: F401
from tests import factories


def center_spec(timezone: str, kiosks: int) -> dict:
    """The center for tests/live.py's ``new_center``.

    Targets on the server are 0: a target is a whole number of real minutes, and a
    15-minute target compressed 100 times is 9 seconds, which the catalog cannot hold.
    With 0 every ticket is due when issued, so counters call the longest-waiting
    visitor of their services first (priority lane aside). Service levels are measured
    against the simulated targets above."""
    return {
        "timezone": timezone,
        "call_policy": "ratio",
        "priority_ratio": 2,
        "recalls_before_no_show": 1,
        "categories": [
            {
                "code": code,
                "name": factories.names(name),
                "services": [
                    {
                        "code": s.code,
                        "prefix": PREFIXES[s.code],
                        "target_wait_min": 0,
                        "name": factories.names(s.name),
                    }
                    for s in group
                ],
            }
            for code, name, _, group in CATALOG
        ],
        "counters": [{"label": label, "services": codes} for label, codes in counters()],
        "devices": [
            *({"kind": "kiosk", "name": f"kiosk-{i + 1}"} for i in range(kiosks)),
            {"kind": "display", "name": "hall"},
        ],
    }
