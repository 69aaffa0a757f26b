"""The benchmarks keep working: ``python -m bench.run --smoke`` runs every scenario
against a real server and writes a well-formed result file. No timing assertions:
the figures themselves are for ``make bench`` and docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_completes_and_writes_every_scenario(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    [path] = tmp_path.glob("*.json")
    report = json.loads(path.read_text())
    assert report["smoke"] is True
    assert report["machine"]["cores"] >= 1
    assert set(report["scenarios"]) == {s.NAME for s in SCENARIOS}
    for name, result in report["scenarios"].items():
        assert "error" not in result, (name, result.get("error"))

    s = report["scenarios"]
    assert s["ceiling"]["requests_per_s"] > 0
    assert all(step["ok"] > 0 and step["errors"] == 0 for step in s["issuance"]["rates"])
    assert all(size["n"] > 0 and not size["errors"] for size in s["call_next"]["sizes"])
    assert s["fanout"]["missed"] == 0 and s["fanout"]["received"] == s["fanout"]["clients"]
    assert s["memory"]["rss_mb"] > 0
    assert "| Measure |" in run.stdout  # the table is printed
