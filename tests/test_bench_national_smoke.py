"""The national day benchmark keeps working: ``python -m bench.run --smoke --only
national`` builds a small network on PostgreSQL with several processes, Redis and
nginx (and on the embedded SQLite process), connects every screen, runs one step and
writes a well-formed result. No timing assertions: whether a step held is the
benchmark's figure, not the test's; what is asserted is that the instrument saw
everything (every screen connected, every call paired with its arrival on every
display of its center and on the phones whose ticket it was, the CPU counted).
Needs PostgreSQL, Redis and nginx, as tests/test_cluster.py does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import national_plan

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_network_plan_is_the_issues_network():
    plans = national_plan.network()
    summary = national_plan.summary(plans)
    assert (summary["centers"], summary["regional"]) == (66, 11)
    assert summary["visitors_per_day"] == 200_000
    assert summary["services"][0] >= 40 and summary["services"][1] <= 130
    assert summary["counters_range"][0] >= 10 and summary["counters_range"][1] <= 30
    for plan in plans:
        prefixes = [s.prefix for s in plan.services]
        assert len(set(prefixes)) == len(prefixes), plan.code
        served = {code for _, codes in plan.counters for code in codes}
        assert served == {s.code for s in plan.services}, plan.code
    assert national_plan.network() == plans  # seeded: the same network every run


def test_smoke_run_measures_every_screen_and_call(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--only",
            "national",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    [path] = tmp_path.glob("*.json")
    n = json.loads(path.read_text())["scenarios"]["national"]
    assert "error" not in n, n.get("error")
    assert n["real_peak_tickets_per_s"] > 0
    for part in ("postgres", "sqlite"):
        result = n[part]
        assert result["connected"] == result["screens"] > 0 and result["refused"] == 0, part
        kinds = result["screens_by_kind"]
        assert kinds["display"] == 2 * result["centers"] == 2 * kinds["public"], part
        assert kinds["phone"] > 0 and kinds["counter"] > 0, part
        [step] = result["steps"]
        assert step["requests"]["issue"]["n"] > 0 and step["requests"]["call_next"]["n"] > 0
        assert not step["errors"], (part, step["errors"])
        # Every call reached every display of its center, and each called phone.
        assert step["calls"] > 0 and step["missed"] == {"display": 0, "phone": 0}, part
        assert step["displays"]["n"] == step["expected"]["display"] == 2 * step["calls"], part
        assert step["phones"]["n"] == step["expected"]["phone"], part
        assert step["connected_after"] == result["screens"], part
        assert step["cpu_ms_per_ticket"]["servers"] > 0, part
        assert step["cpu_s"]["desks"] > 0 and step["cpu_s"]["screens"] > 0, part
    pg = n["postgres"]
    assert pg["processes"] == 2 and pg["steps"][0]["cpu_s"]["database"] > 0
    assert pg["database"]["bytes_per_ticket"] > 0
    assert len(pg["memory"]["rss_connected_mb"]) == 2
    assert n["sqlite"]["processes"] == 1
    for image in n["images"]:  # a smoke run keeps its charts out of docs/
        assert Path(image).parent == tmp_path and "<svg" in Path(image).read_text()
    assert "## National day" in run.stdout
