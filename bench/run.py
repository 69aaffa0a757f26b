"""``python -m bench.run [--smoke] [--only NAME] [--results-dir DIR]``: start one
production-mode server, run the scenarios, write a JSON result file, print a table.
A full run of every scenario also rewrites docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from tests.live import start_live_server

from . import (
    call_next,
    ceiling,
    centers,
    day,
    day_booked,
    durability,
    fanout,
    forecast,
    issuance,
    ledger,
    memory,
    national,
    national_doc,
    processes,
)
from .common import Context, machine

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [
    ceiling,
    issuance,
    call_next,
    fanout,
    memory,
    day,
    day_booked,
    durability,
    processes,
    centers,
    ledger,
    forecast,
    national,
]
# Run in full only when named (`make bench-national`): ~10 minutes of its own on 2 cores.
# A smoke run covers it like every other scenario.
ON_REQUEST = {national.NAME}
NOTES = "## What limits the figures"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--smoke", action="store_true", help="few requests, few clients")
    parser.add_argument(
        "--only", action="append", choices=[s.NAME for s in SCENARIOS], help="repeatable"
    )
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    chosen = [
        s
        for s in SCENARIOS
        if (s.NAME in args.only if args.only else args.smoke or s.NAME not in ON_REQUEST)
    ]
    command = "python -m bench.run" + "".join(f" {a}" for a in (argv or sys.argv[1:]))

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "started": started.isoformat(timespec="seconds"),
        "command": command,
        "smoke": args.smoke,
        "machine": machine(),
        "python": platform.python_version(),
        "server": "novbe serve: gunicorn, 1 gevent worker, SQLite (tests/live.py)",
        "scenarios": {},
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="novbe-bench-") as tmp:
        # Every simulated kiosk and screen connects from 127.0.0.1: lift the per-client
        # caps meant for real clients (docs/security.md), or they would be the ceiling.
        for name in ("NOVBE_MAX_REQUESTS_PER_CLIENT", "NOVBE_MAX_SOCKETS_PER_CLIENT"):
            os.environ.setdefault(name, "100000")
        # The production pacing of today's figures (tests/live.py shortens it for tests).
        os.environ.setdefault("NOVBE_REALTIME_DAY_FIGURES_S", "10")
        server = start_live_server(Path(tmp))
        try:
            ctx = Context(server, args.smoke, Path(tmp), args.results_dir, stamp)
            for scenario in chosen:
                print(f"== {scenario.TITLE}", file=sys.stderr, flush=True)
                t0 = time.monotonic()
                try:
                    result = scenario.run(ctx)
                except Exception:
                    failed = True
                    result = {"error": traceback.format_exc()}
                    print(result["error"], file=sys.stderr)
                result["elapsed_s"] = round(time.monotonic() - t0, 1)
                report["scenarios"][scenario.NAME] = result
        finally:
            server.stop()

    path = args.results_dir / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    table = render_table(report)
    print(table)
    if section := day_section(report, images=False):
        print("\n" + section)
    print(f"\nresults: {path}")
    if not args.smoke and not args.only and not failed:
        (ROOT / "docs" / "benchmarks.md").write_text(render_doc(report, table))
        print("docs/benchmarks.md updated")
    if (fc := report["scenarios"].get(forecast.NAME)) and "error" not in fc:
        section = forecast.section(fc, report["command"])
        print("\n" + section)
        if not args.smoke:
            doc = ROOT / "docs" / "benchmarks.md"
            doc.write_text(forecast.with_section(doc.read_text(), section, NOTES))
            print("docs/benchmarks.md: its forecast section updated")
    if section := national_section(report):
        print("\n" + section)
        if not args.smoke and "error" not in report["scenarios"]["national"]:
            doc = ROOT / "docs" / "benchmarks.md"
            doc.write_text(with_national(doc.read_text(), section))
            print("docs/benchmarks.md: its national day section updated")
    return 1 if failed else 0


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def rows(report: dict) -> list[tuple[str, str, str]]:
    """(measure, figure, target) rows."""
    s = report["scenarios"]
    out: list[tuple[str, str, str]] = []
    if (c := s.get("ceiling")) and "error" not in c:
        out.append(("Ceiling: GET /healthz", f"{_fmt(c['requests_per_s'])}/s ({c['tool']})", "–"))
    if (i := s.get("issuance")) and "error" not in i:
        ceiling_rate = (s.get("ceiling") or {}).get("requests_per_s")
        for step in i["rates"] + i["search"]:
            out.append(
                (
                    f"Issuance at {step['offered_per_s']}/s offered",
                    f"p50 {_fmt(step['p50_ms'])} / p95 {_fmt(step['p95_ms'])} / "
                    f"p99 {_fmt(step['p99_ms'])} ms, {_fmt(step['achieved_per_s'])}/s done, "
                    f"{step['errors']} errors; {_fmt(step.get('cpu_ms_per_ticket'))} ms "
                    "server CPU/ticket",
                    "p99 ≤ 25 ms" if step["offered_per_s"] == 200 else "–",
                )
            )
        best = i["max_sustained_per_s"]
        share = f" ({best / ceiling_rate:.0%} of ceiling)" if best and ceiling_rate else ""
        out.append(
            ("Issuance, highest sustained", f"{_fmt(best)}/s{share}", "≥ 500/s and ≥ ⅓ ceiling")
        )
        if i.get("trivial_cpu_ms_per_request"):
            out.append(
                (
                    "Issuance: server CPU per ticket at 200/s, against GET /healthz",
                    f"{_fmt(i.get('cpu_ms_per_ticket_at_200'))} ms; the trivial route "
                    f"{_fmt(i['trivial_cpu_ms_per_request'])} ms "
                    f"({_fmt(i.get('cpu_ratio_to_trivial'))}x)",
                    "≤ 2 ms",
                )
            )
    if (cn := s.get("call_next")) and "error" not in cn:
        for size in cn["sizes"]:
            # 204: nobody waits for that counter's services (a small queue can run dry
            # for one counter); not a failure, but not a call either.
            errors = sum(size["errors"].values())
            empty = size.get("nobody_waiting", 0)
            out.append(
                (
                    f"Call-next and start in one press, 20 counters at once, "
                    f"{size['waiting']:,} waiting",
                    f"p50 {_fmt(size['p50_ms'])} / p99 {_fmt(size['p99_ms'])} ms "
                    f"(n={size['n']}, {errors} errors"
                    + (f", {empty} found nobody waiting" if empty else "")
                    + ")",
                    "p99 ≤ 50 ms",
                )
            )
            if cpu := size.get("cpu_ms"):
                out.append(
                    (
                        f"Server CPU per visitor called, {size['waiting']:,} waiting",
                        f"call {_fmt(cpu['call'])} + start {_fmt(cpu['start'])} = "
                        f"{_fmt(cpu['call_start'])} ms; in one press {_fmt(cpu['one_press'])} ms",
                        "≤ 7 ms",
                    )
                )
            for mode, eight in (size.get("eight") or {}).items():
                out.append(
                    (
                        f"8 counters calling ({mode.replace('_', ' ')}), "
                        f"{size['waiting']:,} waiting",
                        f"{_fmt(eight['calls_per_s'])} calls/s, "
                        f"{_fmt(eight['cpu_ms_per_call'])} ms server CPU per call",
                        "≥ 250/s",
                    )
                )
            solo = size.get("solo") or {}
            out.append(
                (
                    f"Call-next, {size['waiting']:,} waiting, one counter alone",
                    f"p50 {_fmt(solo.get('p50_ms'))} / p99 {_fmt(solo.get('p99_ms'))} ms "
                    f"(n={solo.get('n')})",
                    "–",
                )
            )
        p99s = [x["p99_ms"] for x in cn["sizes"] if x["p99_ms"]]
        if len(p99s) >= 2:
            out.append(
                ("Call-next growth, largest/smallest p99", f"{p99s[-1] / p99s[0]:.2f}x", "≤ 2x")
            )
    if (f := s.get("fanout")) and "error" not in f:
        out.append(
            (
                f"Fan-out to {f['clients']:,} clients",
                f"p50 {_fmt(f['p50_ms'])} / p99 {_fmt(f['p99_ms'])} / max {_fmt(f['max_ms'])} ms, "
                f"{f['missed']} missed",
                "p99 ≤ 100 ms, none missed",
            )
        )
    if (m := s.get("memory")) and "error" not in m:
        out.append(
            (
                f"Worker RSS with {m['connected']:,} clients",
                f"{_fmt(m['rss_mb'])} MB (before: {_fmt(m['rss_before_mb'])} MB)",
                "≤ 200 MB",
            )
        )
    if (d := s.get("day")) and "error" not in d:
        waits, est = d["day"], d["estimate"]
        errors = sum(d["errors"].values())
        out.append(
            (
                f"Simulated day: {d['visitors']:,} visitors, {d['counters']} counters, "
                f"{d['services']} services ({d['factor']}x)",
                f"wait avg {_fmt(waits['avg_wait_min'])} / p90 {_fmt(waits['p90_wait_min'])} "
                f"min, service level {_pct(waits['service_level'])}, {waits['called']:,} called "
                f"(no-shows: {waits['no_show']}, left waiting: {waits['left_waiting']}), "
                f"{errors} errors",
                "–",
            )
        )
        out.append(
            (
                "Simulated day: estimated wait at issue vs real wait",
                f"MAE {_fmt(est['mae_min'])} min = {_pct(est['mae_share'])} of the real wait "
                f"(bias {_fmt(est['bias_min'])} min); {_pct(est['within'])} within 25% or "
                f"1 min (n={_fmt(est['n'])})",
                "MAE ≤ 25% of the real wait",
            )
        )
    if (booked := s.get(day_booked.NAME)) and "error" not in booked:
        out += day_booked.rows(booked)
    if (du := s.get("durability")) and "error" not in du:
        for mode in du["modes"]:
            out.append(
                (
                    f"SQLite synchronous={mode['synchronous']}: one ticket per transaction",
                    f"{_fmt(mode['per_s'])}/s, p50 {_fmt(mode['p50_ms'])} / p99 "
                    f"{_fmt(mode['p99_ms'])} ms, {_fmt(mode['cpu_ms_per_ticket'])} ms CPU/ticket",
                    "–",
                )
            )
    if (p := s.get("processes")) and "error" not in p:
        out += processes_rows(p)
    if (ce := s.get("centers")) and "error" not in ce:
        for step in ce["steps"]:
            out.append(
                (
                    f"A ticket with {step['centers']} center(s), tickets spread over them",
                    f"{_fmt(step['cpu_ms_per_ticket'])} ms server CPU/ticket; "
                    f"{_fmt(step['per_s'])}/s, p99 {_fmt(step['p99_ms'])} ms "
                    f"({ce['clients']} clients, closed loop)",
                    "–",
                )
            )
        out.append(
            (
                "A ticket's CPU, most centers / one center",
                f"{_fmt(ce['cpu_ratio'])}x",
                "≈ 1x (independent of the network's size)",
            )
        )
    if (lg := s.get("ledger")) and "error" not in lg:
        out += ledger_rows(lg, s)
    if (fc := s.get(forecast.NAME)) and "error" not in fc:
        out += forecast.rows(fc)
    for name, result in s.items():
        if "error" in result:
            out.append((name, "FAILED: " + result["error"].strip().splitlines()[-1], "–"))
    return out


def processes_rows(p: dict) -> list[tuple[str, str, str]]:
    """Scenario 8 (bench/processes.py): each setup's issuance with the CPU it cost, and
    its delivery of a call made on process 1."""
    out: list[tuple[str, str, str]] = []
    for setup in p["setups"]:
        label, i, d = setup["label"], setup["issuance"], setup["delivery"]
        fixed = i["fixed"]
        out.append(
            (
                f"{label}: issuance at {fixed['offered_per_s']}/s",
                f"p50 {_fmt(fixed['p50_ms'])} / p99 {_fmt(fixed['p99_ms'])} ms, "
                f"{fixed['errors']} errors; {_cpu(fixed)}",
                "–",
            )
        )
        best = i["max_sustained_per_s"]
        step = next(
            (x for x in [fixed, *i["search"]] if x["offered_per_s"] == best),
            None,
        )
        out.append(
            (
                f"{label}: issuance, highest sustained",
                f"{_fmt(best)}/s; {_cpu(step)}" if step else "none held",
                "–",
            )
        )
        displays = ", ".join(str(n) for n in d["displays_on"])
        missed = d["missed"]
        for what, figures, lost in (
            (f"displays on {displays}", d["displays"], sum(missed.values()) - missed["phone"]),
            (f"a phone on {d['phone_on']} (its new place)", d["phone"], missed["phone"]),
        ):
            out.append(
                (
                    f"{label}: call on process {d['made_on']} to {what}",
                    f"p50 {_fmt(figures['p50_ms'])} / p99 {_fmt(figures['p99_ms'])} ms "
                    f"from the call's request (n={figures['n']}, {lost} missed)",
                    "–",
                )
            )
    if (bus := p.get("bus_cpu_ms_per_ticket")) is not None:
        rounds = ", ".join(f"{x:+.2f}" for x in p.get("bus_cpu_ms_per_ticket_by_round", []))
        out.append(
            (
                "The Redis bus: server CPU per ticket, with it − without",
                f"{bus:+.2f} ms" + (f" (by round: {rounds})" if rounds else ""),
                "–",
            )
        )
    return out


LEDGER_OPS = {"issuance": "issuance", "call_next": "call-next (one press)"}
LEDGER_PHASES = {
    "fresh": "engine, a fresh day",
    "grown": "engine, a long day",
    "request": "whole request in process",
}


def ledger_rows(lg: dict, scenarios: dict) -> list[tuple[str, str, str]]:
    """Scenario 10 (bench/ledger.py): each backend's issuance and call-next with the
    ledger and without, in process, through the engine and as whole requests; the
    engine's figure also against a server's CPU per request (this run's issuance and
    call-next scenarios, or the latest earlier result file)."""
    issuance_ms, call_next_ms = ledger.request_cpu_ms(scenarios)
    ref = lg.get("http_reference") or {}
    source = "this run"
    if issuance_ms is None and call_next_ms is None:
        issuance_ms, call_next_ms = ref.get("issuance_ms"), ref.get("call_next_ms")
        source = ref.get("source")
    request_ms = {"issuance": issuance_ms, "call_next": call_next_ms}
    out: list[tuple[str, str, str]] = []
    for backend, b in lg["backends"].items():
        for phase, label in LEDGER_PHASES.items():
            if phase not in b:
                continue
            p = b[phase]
            for op, name in LEDGER_OPS.items():
                x = p[op]
                on, off, thread = x["on"], x["off"], x["thread"]
                whole = request_ms[op]
                share = ""  # the whole request's own row says it
                if phase != "request":
                    share = (
                        f"; {x['overhead_us'] / 10 / whole:+.1f}% of a server's "
                        f"{_fmt(whole)} ms per request ({source})"
                        if whole
                        else "; no HTTP figure to compare with"
                    )
                out.append(
                    (
                        f"Ledger on/off, {backend}, {name}, {label} "
                        f"({p['chain_at_start']:,}–{p['chain_at_end']:,} entries)",
                        f"CPU/op on {_fmt(on['cpu_us'])} µs ({_fmt(on['per_s_cpu'])}/s a core), "
                        f"off {_fmt(off['cpu_us'])} µs ({_fmt(off['per_s_cpu'])}/s a core): "
                        f"{x['overhead_us']:+.1f} µs, {x['overhead_pct']:+.1f}% "
                        f"(median of rounds {x['overhead_pct_median']:+.1f}%; write_pending "
                        f"alone {_fmt(x['write_pending_us'])} µs; the calling thread's CPU "
                        f"{thread['overhead_us']:+.1f} µs, {thread['overhead_pct']:+.1f}%)"
                        f"{share}; "
                        f"wall p50/p99 on {_fmt(on['p50_ms'])}/{_fmt(on['p99_ms'])}, "
                        f"off {_fmt(off['p50_ms'])}/{_fmt(off['p99_ms'])} ms "
                        f"({x['rounds']}×{x['block']} each)",
                        "≤ +10%",
                    )
                )
    return out


def _cpu(step: dict) -> str:
    """CPU per ticket: the server processes', then nginx's, PostgreSQL's and the load
    generator's (on the same cores)."""
    parts = [f"CPU/ticket: servers {_fmt(step['cpu_ms_per_ticket'])} ms"]
    if step.get("nginx_cpu_ms_per_ticket") is not None:
        parts.append(f"nginx {_fmt(step['nginx_cpu_ms_per_ticket'])}")
    if step.get("database_cpu_ms_per_ticket") is not None:
        parts.append(f"PostgreSQL {_fmt(step['database_cpu_ms_per_ticket'])}")
    if step.get("kiosks_cpu_ms_per_ticket") is not None:
        parts.append(f"load generator {_fmt(step['kiosks_cpu_ms_per_ticket'])}")
    return ", ".join(parts)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


DAY_SECTION = "## Simulated day, per service"
DAY_IMAGES = (
    ("Visitors waiting over the simulated day", "benchmarks/day-queue.svg"),
    ("Waits by time of issue, and the estimates shown", "benchmarks/day-waits.svg"),
    ("Estimated wait against the real wait, per visitor", "benchmarks/day-estimates.svg"),
)


def day_section(report: dict, images: bool = True) -> str:
    """Scenario 5's per-service table (too long for the main table), and its charts."""
    d = report["scenarios"].get("day")
    if not d or "error" in d:
        return ""
    load = d["offered_load"]
    lines = [
        DAY_SECTION,
        "",
        f"{d['visitors']:,} visitors from 09:00 to 18:00 by an hourly profile (morning peak, "
        f"lunch dip at 13:00, afternoon peak), {d['services']} services, {d['counters']} "
        f"counters with different service mixes, on a clock {d['factor']}x faster (a real "
        f"second is {d['factor']} simulated seconds; bench/day.py). Work offered: "
        f"{load['day']:.2f} of the counters' capacity over the day, {load['peak_hour']:.2f} "
        f"in the busiest hour. Last call at {d['day']['last_call']}. Times in simulated "
        "minutes; service level: share of visitors called within the service's target; "
        f"estimate within 25%: {d['estimate_rule']}.",
        "",
        "| Service | Visitors | Avg wait | p90 wait | Target | Service level "
        "| Estimate MAE | Estimate bias |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in d["per_service"]:
        est = row["estimate"]
        lines.append(
            f"| {row['prefix']} {row['name']} | {row['visitors']} | {_fmt(row['avg_wait_min'])} "
            f"| {_fmt(row['p90_wait_min'])} | {row['target_min']} | {_pct(row['service_level'])} "
            f"| {_fmt(est['mae_min'])} | {_fmt(est['bias_min'])} |"
        )
    if images:
        lines.append("")
        lines += [f"![{alt}]({src})" for alt, src in DAY_IMAGES]
    return "\n".join(lines) + "\n"


def render_table(report: dict) -> str:
    lines = ["| Measure | Figure | Target (2 cores, SQLite) |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(report)]
    return "\n".join(lines)


def render_doc(report: dict, table: str) -> str:
    m = report["machine"]
    # The hand-written analysis below the table survives a rerun.
    doc = ROOT / "docs" / "benchmarks.md"
    old = doc.read_text() if doc.exists() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else ""
    return (
        "# Benchmarks\n\n"
        f"Latest run: {report['started']} on {m['cores']} cores, {m['memory_gb']} GB "
        f"({m['cpu']}), Python {report['python']}.\n"
        f"Server: {report['server']}. Command: `make bench` (`{report['command']}`).\n"
        "Load generators run on the same machine and share its cores with the server.\n\n"
        f"{table}\n"
        + (f"\n{section}" if (section := day_section(report)) else "")
        + (f"\n{booked}" if (booked := day_booked.section(report)) else "")
        + (f"\n{kept}" if (kept := national_block(old)) else "")
        + (f"\n{fc}" if (fc := forecast.block(old)) else "")
        + (f"\n{notes}" if notes else "")
    )


NATIONAL_START, NATIONAL_END = "<!-- national day: start -->", "<!-- national day: end -->"


def national_block(doc: str) -> str:
    """The national day's section of ``doc`` with its markers, or "" (a full run of
    the other scenarios keeps it as it is: only `make bench-national` rewrites it)."""
    if NATIONAL_START not in doc or NATIONAL_END not in doc:
        return ""
    start, end = doc.index(NATIONAL_START), doc.index(NATIONAL_END) + len(NATIONAL_END)
    return doc[start:end] + "\n"


def with_national(doc: str, section: str) -> str:
    """``doc`` with its national day section replaced by ``section`` (or put before the
    hand-written notes, the first time); the rest untouched."""
    block = f"{NATIONAL_START}\n{section}{NATIONAL_END}\n"
    if old := national_block(doc):
        return doc.replace(old, block, 1)
    at = doc.index(NOTES) if NOTES in doc else len(doc)
    return doc[:at] + block + "\n" + doc[at:]


def national_section(report: dict) -> str:
    n = report["scenarios"].get("national")
    if not n or "error" in n:
        return ""
    return national_doc.section(n, report)


if __name__ == "__main__":
    sys.exit(main())
