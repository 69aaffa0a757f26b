"""Fuzzing the HTTP API with schemathesis, against a real ``novbe serve`` process.

What is fuzzed: every operation of the live OpenAPI document (``/api/v1/openapi.json``),
once per role: ``anonymous`` (no credential), ``kiosk`` and ``display`` (device tokens),
``staff`` (a counter clerk), ``manager``, ``admin`` (network-wide) and ``session`` (a
manager through the web screens' cookie and X-CSRF-Token). Each role has a center of its
own, seeded with counters, tickets, a spare device and a spare staff account; path
parameters are drawn half the time from those real values (so requests reach the
handlers' logic past the lookups) and half the time generated from the document. Cases
are both valid (schemathesis' positive mode) and invalid (negative mode) by the document.

Budget: ``requests`` per role, spread evenly over the role's operations, both modes and
both kinds of path parameters; generation is seeded (``seed``), so a run repeats. Every
credential is made before the first request (tokens straight in the database, the cookie
by one login), so the fuzzer never depends on a login after it fuzzed the login routes
(only the anonymous role fuzzes those: rate limiting may then lock the address out). The
session role skips ``DELETE /auth/session``, which would end its own session.

What fails: a response with status >= 500, no response at all (the server hung up or
timed out), and, under /api/v1, an error (4xx) that is not the one JSON error shape
``{"error": {"code", "message"}}`` (except gunicorn's own 414 and 431) or a JSON content
type whose body does not parse.
Whether responses match the document (status codes, schemas, headers) is counted per
check and operation in ``RoleReport.conformance`` but fails nothing.

``python -m tests.fuzz --requests 25000 --backend postgresql`` runs the full attack run
(see ``main``); tests/test_fuzz_api.py runs a CI-sized one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode, Response
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi import checks as conformance_checks
from sqlalchemy import select

from server.auth import issue_staff_token
from server.models import Center

from . import factories
from .api_helpers import PREFIX, add_staff
from .live import LiveServer, postgres_database, start_live_server

DEFAULT_SEED = 9
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception)\b.*$", re.MULTILINE)
TIMEOUT_S = 30
TRUNCATE = 300
# Answered by gunicorn itself (URL or headers too long) before the app could make it JSON.
SERVER_LIMITS = {414, 431}
ROLES = ("anonymous", "kiosk", "display", "staff", "manager", "admin", "session")
LOGIN_OPERATIONS = frozenset({"POST /auth/token", "POST /auth/session"})
CONFORMANCE_CHECKS = [
    conformance_checks.status_code_conformance,
    conformance_checks.content_type_conformance,
    conformance_checks.response_headers_conformance,
    conformance_checks.response_schema_conformance,
    conformance_checks.negative_data_rejection,
]


@dataclass(frozen=True)
class Role:
    """Who sends the requests, and the real values its path parameters may take."""

    name: str
    headers: dict[str, str]
    cookies: dict[str, str]
    path_values: dict[str, list[Any]]  # path parameter name -> real values
    skip: frozenset[str] = frozenset()  # operation labels ("METHOD /path") not fuzzed


@dataclass
class Finding:
    """One failing response (or none): what was sent, what came back, what the log says."""

    role: str
    operation: str
    kind: str  # "server error", "no response", "not a JSON error" or "body is not JSON"
    status: int | None
    curl: str
    body: str
    response: str
    log: str

    @property
    def exception(self) -> str:
        """The exception the server logged, e.g. ``OverflowError: Python int too large...``
        (for SQLAlchemy's, the driver's error in its first line, not the SQL after it)."""
        found = EXCEPTION_LINE.findall(self.log)
        return found[-1] if found else ""

    def render(self) -> str:
        return (
            f"[{self.role}] {self.operation}: {self.kind} {self.status or ''}\n"
            f"  request:  {self.curl[:2000]}\n  body:     {self.body}\n"
            f"  response: {self.response}\n  server:   {self.exception or '(nothing logged)'}"
        )


@dataclass
class RoleReport:
    role: str
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unsendable: int = 0  # cases the HTTP client refused to send (e.g. control bytes in headers)
    findings: list[Finding] = field(default_factory=list)
    # (check, operation, status) -> how many responses the document does not describe
    conformance: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    conformance_examples: dict[tuple[str, str, int], str] = field(default_factory=dict)  # curl

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        histogram = " ".join(f"{status}:{n}" for status, n in sorted(self.statuses.items()))
        return (
            f"{self.role:<10} sent {self.sent:>6}  5xx {self.server_errors:>4}  "
            f"failures {len(self.findings):>4}  unsendable {self.unsendable:>4}  [{histogram}]"
        )


# --- the data each role fuzzes against ---------------------------------------------------


def make_roles(server: LiveServer) -> list[Role]:
    """A center per role, and every credential, before the first fuzzed request."""
    roles = []
    for name in ROLES:
        center = server.new_center(
            devices=[
                {"kind": "kiosk", "name": "kiosk-1"},
                {"kind": "display", "name": "hall"},
                {"kind": "kiosk", "name": "spare"},
            ]
        )
        with server.db.write() as s:
            center_row = s.scalar(select(Center).where(Center.code == center.code))
            spare = add_staff(s, f"spare-{center.code}", "staff", center_row)
            admin = add_staff(s, f"admin-{center.code}", "admin", None)
            manager = add_staff(s, f"web-{center.code}", "manager", center_row)
            admin_token = issue_staff_token(s, admin, hours=12)[0]
            spare_username, manager_username = spare.username, manager.username
        tickets = [
            server.issue(center, code) for code in ("pension-new", "job-seeker", "job-seeker")
        ]
        server.call_next(center, "1")
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        token = {
            "kiosk": center.kiosk_token,
            "display": center.display_token,
            "staff": center.staff_token,
            "manager": center.manager_token,
            "admin": admin_token,
        }.get(name)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if name == "session":
            headers["X-CSRF-Token"], cookies = _web_login(server, manager_username)
        roles.append(
            Role(
                name=name,
                headers=headers,
                cookies=cookies,
                path_values={
                    "center_code": [center.code],
                    "counter_id": sorted(center.counters.values()),
                    "ticket_id": [t["id"] for t in tickets],
                    "tracking_token": [t["tracking_token"] for t in tickets],
                    "service_code": ["pension-new", "pension-recalc", "job-seeker", "unemployment"],
                    "category_code": ["pensions", "employment"],
                    "username": [spare_username],
                    "name": ["spare"],
                },
                skip=_skipped(name),
            )
        )
    return roles


def _skipped(role: str) -> frozenset[str]:
    """Only the anonymous role fuzzes the login routes (the others would only add password
    checks), and the session role keeps its session to the end."""
    if role == "anonymous":
        return frozenset()
    return LOGIN_OPERATIONS | ({"DELETE /auth/session"} if role == "session" else set())


def _web_login(server: LiveServer, username: str) -> tuple[str, dict[str, str]]:
    response = requests.post(
        f"{server.url}{PREFIX}/auth/session",
        json={"username": username, "password": factories.PASSWORD},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 201, response.text
    return response.json()["csrf_token"], dict(response.cookies)


# --- generating and sending -------------------------------------------------------------


def _variant_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def _strategies(operation: APIOperation, role: Role) -> dict[str, st.SearchStrategy]:
    """Positive and negative cases, with real path parameters and with generated ones."""
    names = {p.name for p in operation.path_parameters}
    real = {name: st.sampled_from(values) for name, values in role.path_values.items()}
    real = {name: strategy for name, strategy in real.items() if name in names}
    variants = {}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        variants[f"{mode.value}"] = operation.as_strategy(generation_mode=mode)
        if real:
            variants[f"{mode.value}, real path"] = st.fixed_dictionaries(real).flatmap(
                lambda values, mode=mode: operation.as_strategy(
                    generation_mode=mode, path_parameters=values
                )
            )
    return variants


def _draw(strategy: st.SearchStrategy, count: int, seed: int) -> list[Case] | None:
    """Up to ``count`` distinct cases (fewer when the strategy has no more to give), or
    None when it has none at all (e.g. no invalid value exists for a free-form string)."""
    cases: list[Case] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=False,  # the seed decides, also under Hypothesis' CI profile
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:
        return None
    return cases


def fuzz_role(
    server: LiveServer,
    schema: BaseSchema,
    role: Role,
    requests_per_role: int,
    seed: int = DEFAULT_SEED,
    unsatisfiable: set[tuple[str, str]] | None = None,
) -> RoleReport:
    """Send ``requests_per_role`` fuzzed requests as ``role`` (fewer if the document has no
    more distinct cases to give); see the module doc. ``unsatisfiable``: variants known to
    have no case at all (finding that out costs a second each), shared between roles."""
    report = RoleReport(role.name)
    unsatisfiable = set() if unsatisfiable is None else unsatisfiable
    operations = [result.ok() for result in schema.get_all_operations()]
    live = {
        (op.label, name): strategy
        for op in operations
        if op.label not in role.skip
        for name, strategy in _strategies(op, role).items()
        if (op.label, name) not in unsatisfiable
    }
    session = requests.Session()
    round_ = 0
    while live and (remaining := requests_per_role - report.sent - report.unsendable) > 0:
        # An even share each round, in a new order, so a cut-off budget favours no operation.
        count = max(1, remaining // len(live))
        keys = sorted(live)
        random.Random(_variant_seed(seed, round_, role.name)).shuffle(keys)
        for key in keys:
            # Every draw starts with the same simplest case: later rounds skip it.
            skip = 1 if round_ else 0
            cases = _draw(live[key], count + skip, _variant_seed(seed, round_, role.name, *key))
            if cases is None:
                unsatisfiable.add(key)
            if cases is None or len(cases) < count + skip:
                del live[key]  # exhausted: later rounds give its share to the others
            for case in (cases or [])[skip:]:
                if report.sent + report.unsendable >= requests_per_role:
                    return report
                _send(server, session, role, case, report)
        round_ += 1
    return report


def _send(
    server: LiveServer, session: requests.Session, role: Role, case: Case, report: RoleReport
) -> None:
    """Send one case with the role's credential; count it, and keep what fails."""
    label = case.operation.label
    log_offset = server.log_path.stat().st_size
    try:
        response = case.call(
            base_url=f"{server.url}{PREFIX}",
            session=session,
            headers=role.headers,
            cookies=role.cookies,
            timeout=TIMEOUT_S,
        )
    except (requests.ConnectionError, requests.Timeout) as error:
        report.sent += 1
        finding = _finding(server, role, case, "no response", None, repr(error), log_offset)
        report.findings.append(finding)
        return
    except (ValueError, requests.RequestException):
        report.unsendable += 1  # e.g. a header value requests will not encode
        return
    report.sent += 1
    report.statuses[response.status_code] += 1
    problem = _problem(response)
    if problem:
        text = response.text_lossy()
        report.findings.append(
            _finding(server, role, case, problem, response.status_code, text, log_offset)
        )
    try:
        case.validate_response(response, checks=CONFORMANCE_CHECKS, headers=role.headers)
    except (Failure, FailureGroup) as error:
        for failure in error.exceptions if isinstance(error, FailureGroup) else [error]:
            key = (failure.title, label, response.status_code)
            report.conformance[key] += 1
            report.conformance_examples.setdefault(key, _curl(case, role))


def _problem(response: Response) -> str | None:
    """What fails the job in this response, if anything."""
    if response.status_code >= 500:
        return "server error"
    headers = {name.lower(): values for name, values in response.headers.items()}
    content_type = headers.get("content-type", [""])[0].split(";")[0].strip()
    is_json = content_type == "application/json"
    try:
        body = response.json() if is_json else None
    except ValueError:
        return "not a JSON error" if response.status_code >= 400 else "body is not JSON"
    if response.status_code in SERVER_LIMITS:
        return None
    if response.status_code >= 400 and not (
        is_json
        and isinstance(body, dict)
        and isinstance(body.get("error"), dict)
        and {"code", "message"} <= set(body["error"])
    ):
        return "not a JSON error"
    return None


def _curl(case: Case, role: Role) -> str:
    """The request as curl, with placeholders for the role's secrets."""
    cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in role.cookies.items())}
    curl = case.as_curl_command(headers=role.headers | (cookie if role.cookies else {}))
    secrets = {
        role.headers.get("Authorization"): f"Bearer ${role.name.upper()}_TOKEN",
        role.headers.get("X-CSRF-Token"): "$CSRF_TOKEN",
        cookie["Cookie"]: "novbe_session=$SESSION_COOKIE",
    }
    for value, placeholder in secrets.items():
        if value:
            curl = curl.replace(value, placeholder)
    return curl


def _finding(
    server: LiveServer,
    role: Role,
    case: Case,
    kind: str,
    status: int | None,
    text: str,
    log_offset: int,
) -> Finding:
    # The worker logs (and flushes) the traceback before it answers, so it is there already.
    with open(server.log_path, "rb") as log:
        log.seek(log_offset)
        logged = log.read(20_000).decode(errors="replace")
    try:
        body = "" if case.body is NOT_SET else json.dumps(case.body, ensure_ascii=True)
    except (TypeError, ValueError):
        body = repr(case.body)
    return Finding(
        role=role.name,
        operation=case.operation.label,
        kind=kind,
        status=status,
        curl=_curl(case, role),
        body=body[:TRUNCATE],
        response=text[:TRUNCATE],
        log=logged,
    )


# --- whole runs ---------------------------------------------------------------------------


@contextmanager
def live_server(backend: str, tmp_dir: Path) -> Iterator[LiveServer]:
    """``novbe serve`` on SQLite, or on PostgreSQL at NOVBE_TEST_POSTGRES_URL."""
    with ExitStack() as stack:
        database_url = None
        if backend == "postgresql":
            base_url = os.environ.get("NOVBE_TEST_POSTGRES_URL")
            if not base_url:
                raise RuntimeError("set NOVBE_TEST_POSTGRES_URL to fuzz on PostgreSQL")
            database_url = stack.enter_context(postgres_database(base_url))
        server = start_live_server(tmp_dir, database_url=database_url)
        stack.callback(server.stop)
        yield server


def fuzz(
    server: LiveServer,
    requests_per_role: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[RoleReport], object] | None = None,
) -> list[RoleReport]:
    """Every role against the live document, in turn; ``progress(report)`` after each."""
    roles = make_roles(server)
    document = requests.get(f"{server.url}{PREFIX}/openapi.json", timeout=TIMEOUT_S).json()
    # Credentials are the role's own; only the anonymous role sends generated ones. Curl
    # commands show generated credentials (_curl hides the roles' own).
    output = {"sanitization": {"enabled": False}}
    with_credentials = schemathesis.openapi.from_dict(
        document, config=schemathesis.Config.from_dict({"output": output})
    )
    without = schemathesis.openapi.from_dict(
        document,
        config=schemathesis.Config.from_dict(
            {"generation": {"with-security-parameters": False}, "output": output}
        ),
    )
    unsatisfiable: set[tuple[str, str]] = set()
    reports = []
    for role in roles:
        schema = with_credentials if role.name == "anonymous" else without
        reports.append(fuzz_role(server, schema, role, requests_per_role, seed, unsatisfiable))
        if progress:
            progress(reports[-1])
    return reports


def group_findings(reports: list[RoleReport]) -> dict[tuple[str, str, str], list[Finding]]:
    """Findings by (operation, kind, exception type): one root cause per group, mostly."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for report in reports:
        for finding in report.findings:
            # The exception without the values in it (positions, characters, numbers).
            cause = re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'…'", finding.exception))[:120]
            groups.setdefault((finding.operation, finding.kind, cause), []).append(finding)
    return groups


def render(reports: list[RoleReport], conformance: bool = False) -> str:
    """Each role's figures, then one example per group of findings (and mismatches)."""
    lines = [report.summary() for report in reports]
    total = sum(r.sent for r in reports)
    lines.append(f"{'total':<10} sent {total:>6}  5xx {sum(r.server_errors for r in reports):>4}")
    for (operation, kind, cause), findings in sorted(group_findings(reports).items()):
        roles = sorted({f.role for f in findings})
        lines.append(f"\n{len(findings)} x {kind} on {operation} as {', '.join(roles)}: {cause}")
        lines.append(findings[0].render())
    if conformance:
        counts: Counter[tuple[str, str, int]] = Counter()
        examples: dict[tuple[str, str, int], str] = {}
        for report in reports:
            counts.update(report.conformance)
            examples = report.conformance_examples | examples
        lines.append("\nDocument mismatches (not failures): check | operation | status: count")
        for key, n in sorted(counts.items()):
            lines.append(f"  {' | '.join(map(str, key))}: {n}\n    e.g. {examples[key][:TRUNCATE]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.fuzz [--requests N] [--backend sqlite|postgresql] [--seed S]``:
    N requests in all, split over the roles; exit status 1 on any failure."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=25_000, help="in all, over every role")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--conformance", action="store_true", help="list document mismatches")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="novbe-fuzz-") as tmp,
        live_server(args.backend, Path(tmp)) as server,
    ):
        reports = fuzz(
            server,
            -(-args.requests // len(ROLES)),
            args.seed,
            progress=lambda report: print(report.summary(), file=sys.stderr, flush=True),
        )
        alive = server.process.poll() is None
        server_cpu = _cpu_seconds(server.process.pid)
    sent = sum(r.sent for r in reports)
    print(render(reports, args.conformance))
    fuzzer_ms, server_ms = (1000 * cpu / max(sent, 1) for cpu in (time.process_time(), server_cpu))
    print(
        f"\n{args.backend}, seed {args.seed}, {time.monotonic() - started:.0f} s;"
        f" CPU per request: fuzzer {fuzzer_ms:.0f} ms, server {server_ms:.0f} ms"
    )
    if not alive:
        print("the server process died", file=sys.stderr)
    return 0 if alive and not any(r.findings for r in reports) else 1


def _cpu_seconds(pid: int) -> float:
    """CPU time of the server: gunicorn's master and its worker (Linux /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


if __name__ == "__main__":
    sys.exit(main())
