"""docs/benchmarks.md's "## National day" section from scenario 9's result
(bench/national.py): the network, a table of the steps, the headroom sentence against
the network's real peak, and the charts. bench/run.py puts it between its markers."""

from __future__ import annotations

HEADING = "## National day"


def _f(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _p(figures: dict | None) -> str:
    figures = figures or {}
    return f"{_f(figures.get('p50_ms'))} / {_f(figures.get('p99_ms'))}"


def step_row(setup: str, s: dict, note: str = "") -> str:
    q, cpu = s["requests"], s["cpu_ms_per_ticket"]
    missed = s["missed"]["display"] + s["missed"]["phone"]
    errors = sum(s["errors"].values())
    load = (cpu.get("desks") or 0) + (cpu.get("screens") or 0)
    return (
        f"| {setup} | {s['factor']}x{note} | {_f(s['issued_per_s'])} | {_p(q.get('issue'))} "
        f"| {_p(q.get('call_next'))} | {_f(s['displays']['p99_ms'])} "
        f"| {_f(s['phones']['p99_ms'])} | {missed} | {errors} | {_f(cpu.get('servers'))} "
        f"| {_f(cpu.get('database'))} / {_f(cpu.get('redis'))} / {_f(cpu.get('nginx'))} "
        f"| {_f(load)} | {'held' if s['ok'] else '**failed**'} |"
    )


def section(n: dict, report: dict) -> str:
    net, pg, lite = n["network"], n["postgres"], n["sqlite"]
    peak = n["real_peak_tickets_per_s"]
    mem, db = pg["memory"], pg.get("database") or {}
    smoke = " (smoke: a reduced network)" if report.get("smoke") else ""
    if reduced := n.get("reduced"):
        smoke += " (reduced: " + ", ".join(f"{k}={v}" for k, v in reduced.items()) + ")"
    lines = [
        HEADING,
        "",
        f"Run {report['started']}{smoke}, `make bench-national` (bench/national.py). "
        f"{net['centers']} centers ({net['regional']} regional), {net['services'][0]}–"
        f"{net['services'][1]} services each, {net['counters']:,} counters, "
        f"{net['visitors_per_day']:,} visitors over 09:00–18:00; the network's busiest hour "
        f"is {net['peak_hour']}, **{peak} tickets/s at 1x** (its real peak). Each step "
        f"replays that hour's arrivals {pg['steps'][0]['step_s']:.0f} real seconds long on a "
        "clock compressed by the factor, from a backlog of "
        f"{net['backlog_at_peak']:,} waiting visitors; kiosks and counter desks act through "
        "the API (calls, starts, completions, recalls and no-shows, transfers, priority "
        "visitors).",
        "",
        f"Screens: {pg['screens']:,} ({_kinds(pg['screens_by_kind'])}), "
        f"{pg['connected']:,} connected in {pg['connect_s']} s, {pg['refused']} refused. "
        f"Setup: {pg['label']}; each process's PostgreSQL pool holds up to 30 connections "
        "(server/db.py), so 3 processes keep within the shared max_connections of 100.",
        "",
        "| Setup | Factor | Issued/s | Issue p50 / p99 ms | Call-next p50 / p99 ms "
        "| Displays p99 ms | Phones p99 ms | Missed | Errors | Servers CPU ms/ticket "
        "| PostgreSQL / Redis / nginx ms/ticket | Load generator ms/ticket | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [step_row("PostgreSQL", s) for s in pg["steps"]]
    if pg.get("half_screens"):
        lines.append(step_row("PostgreSQL", pg["half_screens"], ", ½ screens"))
    lines += [step_row("SQLite, 1 process", s) for s in lite["steps"]]
    head = n["headroom"]
    lines += [
        "",
        (
            f"**Headroom: {head}x** the network's real peak ({peak} tickets/s → "
            f"{round(head * peak, 1)} tickets/s), the largest factor at which issue and "
            "call-next p99 stayed ≤ 100 ms and delivery p99 ≤ 250 ms with nothing missed "
            "(target: ≥ 20x)."
            if head
            else f"**Headroom: none**: even the first step ({pg['steps'][0]['factor']}x the "
            f"real peak of {peak} tickets/s) missed a target (target: ≥ 20x)."
        ),
        "",
        f"Memory: server processes' RSS {_list(mem['rss_before_mb'])} MB before the screens, "
        f"{_list(mem['rss_connected_mb'])} MB with {_list(mem['connections_per_process'])} "
        f"connections, {_list(mem['rss_after_mb'])} MB at the end: "
        f"~{_f(mem['kb_per_connection'])} kB per connection. Database: "
        f"{_f(db.get('bytes_per_ticket'))} bytes per ticket (every table of the schema), "
        f"**~{_f(db.get('mb_per_day'))} MB per day** of 200,000 visitors.",
        "",
        f"The single SQLite process ({lite['centers']} centers, {lite['screens']:,} screens, "
        f"{lite['connected']:,} connected): headroom "
        f"{_f(lite['headroom']) + 'x' if lite['headroom'] else 'none'} of those centers' own "
        "peak. The load generator's CPU is shown beside the servers' (its share of a core "
        f"in the PostgreSQL steps: {_shares(pg)}); "
        + (
            "the ½-screens row repeats the last held step with half the screens' processes "
            "stopped: figures that do not move show the screens' load generator is not what "
            "limits them."
            if pg.get("half_screens")
            else "no step held, so the ½-screens check (the last held step again with half "
            "the screens' processes stopped) did not run."
        ),
    ]
    loads = [s.get("load_1min") for s in [*pg["steps"], *lite["steps"]] if s.get("load_1min")]
    if loads:
        lines += [
            "",
            f"The machine's load average during the steps: {min(loads)}–{max(loads)} on "
            f"{report['machine']['cores']} cores (other runs shared it): wall-clock "
            "latencies are inflated by the wait for a core; CPU per ticket holds better.",
        ]
    if images := n.get("images"):
        lines.append("")
        lines += [f"![{_alt(p)}]({p.removeprefix('docs/')})" for p in images]
    return "\n".join(lines) + "\n"


def _shares(result: dict) -> str:
    return ", ".join(
        f"{s['factor']}x: servers {_f(s['cpu_share']['servers'], 2)}, load generator "
        f"{_f((s['cpu_share']['desks'] or 0) + (s['cpu_share']['screens'] or 0), 2)}"
        for s in result["steps"]
    )


def _kinds(kinds: dict) -> str:
    return ", ".join(f"{n:,} {k}s" for k, n in kinds.items())


def _list(values: list) -> str:
    return " / ".join(_f(v) for v in values)


def _alt(path: str) -> str:
    name = path.rsplit("-", 1)[-1].removesuffix(".svg")
    return {
        "latency": "Request latency over the national day's steps",
        "connections": "Connections of each server process",
        "cpu": "CPU per ticket by step and part",
    }.get(name, name)
