"""Managers' ``alert`` events: edge-triggered, so a manager hears once that a queue has
gone over its target (and once that it is back), not with every queue.stats.

* ``wait``: a service's longest current wait passed its target wait (or fell back);
* ``printer``: a kiosk's printer is out of paper, offline or open (or fixed). A kiosk
  whose agent has reported a printer once and now has nobody printing counts as
  offline; a kiosk that never had a printer (e-tickets only) raises nothing;
* ``forecast``: the forecast expects a service to pass its target soon (or no longer
  does). Its edges are the forecast warnings' own rows (server/forecast/warnings.py),
  written by the one process holding the ``forecast`` lease: no swap needed.

What was last announced is kept by the cluster (server/cluster/), which every server
process shares: ``swap`` stores the new state and returns the old in one step, so of
several processes seeing one breach exactly one announces it. After a restart of a
one-process installation (the state was in its memory) a condition still true is
announced again on the next change: once more is better than never. The dashboard
also derives the current alerts from its data, so one missed edge is never a missed
alert.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..cluster import Cluster
from ..serializers import iso


def _now_iso() -> str:
    return iso(datetime.now(UTC))


def printer_problem(printer: dict) -> str | None:
    """Why a kiosk's printer cannot print now, from ``printing.printer_json``."""
    if printer.get("problem"):
        return printer["problem"]
    if printer.get("mode") is None and printer.get("online") is not None:
        return "offline"  # it had a printer (an agent reported one) and nobody prints now
    return None


class AlertState:
    """What managers were last told: per center the services over their target
    (``alert:wait:<center>``, a JSON list), per kiosk its printer's problem
    (``alert:printer:<device>``)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def waits(self, center_id: int, stats: dict) -> list[dict]:
        """The ``alert`` events for one center's fresh ``queue.stats``."""
        over = {
            row["service"]: row
            for row in stats["services"]
            if row["longest_wait_s"] > row["target_wait_min"] * 60
        }
        stored = self.cluster.swap(f"alert:wait:{center_id}", json.dumps(sorted(over)))
        before = set(json.loads(stored)) if stored else set()
        events = [
            _wait_alert(over[code], True, stats.get("at")) for code in sorted(set(over) - before)
        ]
        rows = {row["service"]: row for row in stats["services"]}
        events += [
            _wait_alert(rows[code], False, stats.get("at"))
            for code in sorted(before - set(over))
            if code in rows
        ]
        return events

    def printer(self, device_id: int, printer: dict) -> dict | None:
        """The ``alert`` event for a kiosk's new printer status, if its problem changed."""
        problem = printer_problem(printer)
        before = self.cluster.swap(f"alert:printer:{device_id}", problem)
        if problem == before:
            return None
        return {
            "kind": "printer",
            "active": problem is not None,
            "device": printer["device"],
            "problem": problem or before,
            "at": printer.get("at") or _now_iso(),
        }


def _wait_alert(row: dict, active: bool, at: str | None) -> dict:
    return {
        "kind": "wait",
        "active": active,
        "service": row["service"],
        "name": row["name"],
        "prefix": row["prefix"],
        "longest_wait_s": row["longest_wait_s"],
        "target_wait_min": row["target_wait_min"],
        "waiting": row["waiting"],
        "at": at or _now_iso(),
    }


def forecast_alert(warning: dict, active: bool) -> dict:
    """The ``alert`` event for a forecast warning raised (``active``) or withdrawn;
    ``warning`` as server/forecast/warnings.py's ``warning_json`` gives it."""
    return {
        "kind": "forecast",
        "active": active,
        "service": warning["service"],
        "warning": warning["id"],
        "probability": warning["probability"],
        "window_start": warning["window_start"],
        "window_end": warning["window_end"],
        "predicted_wait_s": warning["predicted_wait_s"],
        "target_wait_s": warning["target_wait_s"],
        "suggestion": warning["suggestion"],
        "at": _now_iso(),
    }
