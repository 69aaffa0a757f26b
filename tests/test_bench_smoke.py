"""The benchmarks keep working: ``python -m bench.run --smoke`` runs every scenario
against a real server and writes a well-formed result file. No timing assertions:
the figures themselves are for ``make bench`` and docs/benchmarks.md. The several
processes scenario starts its own installations: it needs PostgreSQL
(NOVBE_TEST_POSTGRES_URL, or the local ``test`` database), Redis and nginx, as
tests/test_cluster.py does; the ledger's scenario runs on SQLite and that PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


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
    day = s["day"]  # every visitor issued, called and finished, through the API alone
    assert day["day"]["visitors"] == day["visitors"] == day["day"]["called"]
    assert day["day"]["done"] + day["day"]["no_show"] == day["visitors"]
    assert day["day"]["left_waiting"] == 0 and not day["errors"]
    assert day["estimate"]["n"] == day["visitors"] and day["estimate"]["mae_min"] is not None
    assert len(day["per_service"]) == day["services"]
    for image in day["images"]:  # a smoke run keeps its charts out of docs/
        assert Path(image).parent == tmp_path and "<svg" in Path(image).read_text()
    booked = s["bookings"]  # walk-ins and booked visitors through the engine, side by side
    assert booked["walk_ins"]["n"] > 0 and booked["bookings"]["after_start"]["n"] > 0
    assert booked["bookings"]["refused_too_early"] > 0 and booked["left_waiting"] == 0
    assert booked["bookings"]["checked_in"] == booked["bookings"]["n"]
    assert all(op["cpu_ms_per_op"] > 0 for op in booked["operations"].values())
    durability = {m["synchronous"]: m for m in s["durability"]["modes"]}
    assert set(durability) == {"NORMAL", "FULL"}
    assert all(m["tickets"] == 50 and m["p50_ms"] > 0 for m in durability.values())
    setups = {setup["key"]: setup for setup in s["processes"]["setups"]}
    assert set(setups) == {"single", "bus", "cluster"}
    for setup in setups.values():  # every kiosk request made a ticket, and its CPU is counted
        fixed = setup["issuance"]["fixed"]
        assert fixed["errors"] == 0 and fixed["ok"] == fixed["tickets"] > 0, setup["key"]
        assert fixed["cpu_ms_per_ticket"] > 0 and fixed["database_cpu_ms_per_ticket"] > 0
        delivery = setup["delivery"]  # every call reached every display and the phone
        assert not any(delivery["missed"].values()), (setup["key"], delivery["missed"])
        assert delivery["phone"]["n"] == delivery["calls"] > 0
    cluster = setups["cluster"]
    assert len(cluster["issuance"]["fixed"]["process_cpu_ms_per_ticket"]) == 3
    assert cluster["issuance"]["fixed"]["nginx_cpu_ms_per_ticket"] is not None
    assert cluster["delivery"]["displays_on"] == [2, 3]  # across processes
    assert cluster["delivery"]["displays"]["n"] == 2 * cluster["delivery"]["calls"]
    centers = s["centers"]  # every ticket issued, its CPU counted, the centers watched
    assert [step["centers"] for step in centers["steps"]] == [1, 3]
    for step in centers["steps"]:
        assert step["tickets"] == centers["tickets"] and step["cpu_ms_per_ticket"] > 0
        assert step["stats_sent"] >= step["centers"]
    ledger = s["ledger"]  # both backends, both ops, ledger on and off, its entries written
    assert set(ledger["backends"]) == {"sqlite", "postgresql"}
    for backend in ledger["backends"].values():
        assert backend["grown"]["chain_at_start"] >= ledger["grown_entries"]
        for phase in ("fresh", "grown", "request"):  # the engine's, then whole requests
            assert backend[phase]["chain_at_end"] > backend[phase]["chain_at_start"]
            for op in ("issuance", "call_next"):
                figures = backend[phase][op]
                assert figures["on"]["ops"] == figures["off"]["ops"] > 0
                assert figures["on"]["nobody_waiting"] == figures["off"]["nobody_waiting"] == 0
                assert figures["write_pending_us"] > 0 and figures["off"]["ledger_cpu_us"] == 0
    assert "| Ledger on/off, sqlite, issuance" in run.stdout
    assert "| Measure |" in run.stdout  # the table is printed
    assert "## Simulated day, per service" in run.stdout
