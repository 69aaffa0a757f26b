"""The fuzzing job: schemathesis against a live server, every role, on each backend
(tests/fuzz.py says what is fuzzed and what fails). The CI budget, 200 requests per role
(1,400 per backend), takes about a minute on SQLite and two on PostgreSQL on 2 cores; the
full run is ``python -m tests.fuzz --requests 25000 --backend postgresql``."""

from __future__ import annotations

import os

import pytest

from . import fuzz

BACKENDS = ["sqlite", "postgresql"] if os.environ.get("NOVBE_TEST_POSTGRES_URL") else ["sqlite"]
REQUESTS_PER_ROLE = 200
SEED = int(os.environ.get("NOVBE_FUZZ_SEED", fuzz.DEFAULT_SEED))  # another seed, other cases
pytestmark = pytest.mark.e2e


@pytest.mark.fuzz
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_fuzzed_request_gets_a_server_error(backend, tmp_path):
    with fuzz.live_server(backend, tmp_path) as server:
        reports = fuzz.fuzz(server, REQUESTS_PER_ROLE, SEED)
        alive = server.process.poll() is None

    assert alive, "the server process died"
    for report in reports:
        assert report.sent >= REQUESTS_PER_ROLE * 0.9, report.summary()
        if report.role != "anonymous":  # its credential held to the end
            assert report.statuses[401] < report.sent * 0.05, report.summary()
            assert sum(n for status, n in report.statuses.items() if status < 300) > 0
    assert not any(report.findings for report in reports), f"seed {SEED}\n{fuzz.render(reports)}"
