"""The README's forecast step on the demo's own data, at hours and days pinned: the
demo set up at that instant, ``novbe demo-surge``'s four child-benefit visitors within a
minute, the forecaster's round, the warning's checked change applied through the API,
and the forecast after it (in-process: the demo's clock is the instant given).

The browser test (test_demo_forecast_browser.py) tries the same once, at whatever hour
CI runs it. It failed there: child benefit was shared by two counters busy with other
services, and common enough in the demo's history that a crowd of four read as the
start of a long surge. At about half the hours tried no single change was enough, at
others the change left the wait over the target. Now (server/demo/morning.py,
SURGE_SERVICE) it is rare, first at a counter left free, with a closed reserve desk;
over 40 instants from 08:00 to 18:40 on 17 days, each gave a checked change and a wait
of at most 8 minutes a quarter hour on after it. These instants include hours that
failed before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.demo.morning import SURGE_SERVICE
from server.demo.setup import DEMO_PASSWORD, set_up_demo
from server.forecast import runner, warnings
from server.forecast.warnings import Settings
from server.models import Center, Service
from server.queue import SYSTEM, issue_ticket

BAKU = ZoneInfo("Asia/Baku")
SURGE = 4  # server/cli/surge.py's default: four visitors ...
OVER_S = 60  # ... within a minute

INSTANTS = [
    datetime(2026, 12, 6, 10, 17),  # no change was found
    datetime(2026, 12, 6, 10, 52),  # the change found left 10 min at a quarter hour
    datetime(2026, 12, 6, 11, 10),  # CI's failure: 11 min at a quarter hour after it
    datetime(2026, 12, 10, 13, 30),  # in the lunch break center.yaml sets
    datetime(2026, 12, 22, 11, 2),  # a change vetoed by noise in another service
    datetime(2026, 12, 24, 17, 40),  # late in the day
]


@pytest.mark.slow
@pytest.mark.parametrize("local", INSTANTS, ids=lambda t: t.strftime("%m%d-%H%M"))
def test_the_surge_warns_with_a_change_that_brings_the_wait_back(app, db, client, local):
    app.config["FORECAST_RUNS"] = 20  # as the browser test's demo runs it (the fewest)
    now = local.replace(tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now)
    with db.write() as s:
        for i in range(SURGE):
            at = now + timedelta(seconds=OVER_S * i / (SURGE - 1))
            issue_ticket(s, "baku-1", SURGE_SERVICE, "az", None, SYSTEM, now=at)
    with db.read() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == SURGE_SERVICE))
        target_s = s.get(Service, service_id).target_wait_min * 60

    runner.forecast_round(app, now + timedelta(seconds=OVER_S + 10))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        warning = warnings.open_warnings(s, center.id).get(service_id)
        assert warning is not None, "the surge raised no warning"
        assert warning.probability >= Settings.of(app.config).threshold
        assert warning.suggestion, "the warning has no change to apply"
        suggestion = dict(warning.suggestion)
        warning_id, center_id = warning.id, center.id
    assert suggestion["probability_after"] < Settings.of(app.config).threshold

    login = {"username": "manager", "password": DEMO_PASSWORD}
    token = client.post("/api/v1/auth/token", json=login).get_json()["token"]
    applied = client.post(
        f"/api/v1/centers/baku-1/forecast/warnings/{warning_id}/apply",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert applied.status_code == 200, applied.get_json()

    # A minute on, as the dashboard would show it: a newcomer a quarter hour from now is
    # within the target (the crowd already in is served over the next minutes).
    later = now + timedelta(seconds=OVER_S + 70)
    with db.read() as s:
        center = s.get(Center, center_id)
        forecast = warnings.assess(s, center, later, Settings.of(app.config), suggestions=False)
    points = forecast.forecast.services[service_id].points
    in_15 = min(points, key=lambda p: abs(p.at_s - points[0].at_s - 900))
    assert in_15.wait_p50_s <= target_s, (suggestion, in_15)
