"""``novbe demo-surge`` against a real server: a crowd's tickets issued through the API
as a reception tablet would, and a clear line when it cannot."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from server.cli import main

pytestmark = pytest.mark.e2e


def waiting_for(live_server, center, service: str) -> int:
    queue = live_server.api("GET", f"/centers/{center.code}/queue", center.manager_token).json()
    return next(s["waiting"] for s in queue["services"] if s["service"] == service)


def test_the_surge_issues_its_visitors_through_the_api(live_server, live_center):
    before = waiting_for(live_server, live_center, "pension-recalc")
    result = CliRunner().invoke(
        main,
        [
            "demo-surge",
            *("--url", live_server.url, "--center", live_center.code),
            *("--service", "pension-recalc", "--visitors", "3", "--over", "0"),
            *("--username", live_center.staff_username, "--password", live_center.password),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("estimated wait") == 3
    assert waiting_for(live_server, live_center, "pension-recalc") == before + 3


def test_a_wrong_password_or_no_server_is_said_plainly(live_server, live_center):
    wrong = CliRunner().invoke(
        main,
        ["demo-surge", "--url", live_server.url, "--center", live_center.code]
        + ["--username", live_center.staff_username, "--password", "wrong-password"],
    )
    assert wrong.exit_code == 1 and "answered 401" in wrong.output
    down = CliRunner().invoke(main, ["demo-surge", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "cannot reach http://127.0.0.1:9" in down.output
