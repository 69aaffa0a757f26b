"""GET /centers/<c>/forecast and applying a warning's suggestion, over HTTP (on SQLite
and PostgreSQL). As in test_forecast_warnings.py the demand is pinned to three new
pension visitors a quarter hour (a warning is about the visitors arriving in its
window), so that those and the visitors waiting decide."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.forecast import history, runner, warnings
from server.forecast.state import BINS_PER_DAY, Demand
from server.models import AuditEntry, Counter, CounterEvent, ForecastWarning, Service
from server.queue import SYSTEM, set_counter_state

from . import factories
from .api_helpers import PREFIX, SPEC, assert_error, issue, setup_api
from .test_openapi import check

FORECAST = "/centers/{center_code}/forecast"
APPLY = "/centers/{center_code}/forecast/warnings/{warning_id}/apply"


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


NEW_PENSIONS_PER_QUARTER = 3.0


@pytest.fixture(autouse=True)
def pinned_demand(monkeypatch):
    def pinned(session, center, now):
        new = session.scalar(
            select(Service.id).where(Service.center_id == center.id, Service.code == "pension-new")
        )
        arrivals = {new: [NEW_PENSIONS_PER_QUARTER] * BINS_PER_DAY}
        return Demand(arrivals, history.service_times(session, center.id, now))

    monkeypatch.setattr(warnings, "expected_demand", pinned)


def record_yesterday_arrivals(db, center_code: str, service: str = "pension-new") -> None:
    """Yesterday from five minutes before this time of day, a visitor of ``service``
    every four minutes for an hour, each served at once: the history a live server's
    demand (history.py) expects about as many of today (a warning is about arrivals)."""
    from datetime import timedelta

    from server import queue
    from server.models import Center, Ticket, utcnow

    now = utcnow()
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == center_code))
        kiosk = factories.kiosk_actor(s, center)
        for i in range(15):
            when = now - timedelta(days=1, minutes=5) + timedelta(minutes=4 * i)
            ticket = queue.issue_ticket(s, center_code, service, "az", None, kiosk, now=when).ticket
            s.flush()
            s.get(Ticket, ticket.id).status = "done"
            s.get(Ticket, ticket.id).called_at = when
            s.get(Ticket, ticket.id).ended_at = when + timedelta(minutes=5)


def url(center: str = "baku-1") -> str:
    return f"{PREFIX}/centers/{center}/forecast"


def apply_url(warning_id: int, center: str = "baku-1") -> str:
    return f"{PREFIX}/centers/{center}/forecast/warnings/{warning_id}/apply"


def surge(app, client, db, api) -> dict:
    """Counter 1 open alone with five new pensions waiting; the forecaster's round; the
    new-pension warning as the API shows it."""
    with db.write() as s:
        set_counter_state(s, api.counters["1"], "open", SYSTEM)
    for _ in range(5):
        issue(client, api, "pension-new")
    runner.forecast_round(app)
    body = client.get(url(), headers=api.manager).get_json()
    return next(w for w in body["warnings"] if w["service"] == "pension-new")


def test_who_may_read_the_forecast(client, api):
    assert client.get(url(), headers=api.manager).status_code == 200
    assert client.get(url(), headers=api.admin).status_code == 200
    for caller in (api.staff, api.kiosk, api.display, api.other_manager):
        assert client.get(url(), headers=caller).status_code == 403
    assert client.get(url()).status_code == 401
    assert_error(client.get(url("nowhere"), headers=api.admin), 404, "center_not_found")


def test_a_quiet_center_forecasts_no_breach(client, db, api):
    with db.write() as s:
        set_counter_state(s, api.counters["1"], "open", SYSTEM)
    issue(client, api, "pension-new")
    body = check(SPEC, client.get(url(), headers=api.manager), "GET", FORECAST)
    assert body["center"] == "baku-1" and body["warnings"] == []
    assert body["horizon_min"] == 60 and body["runs"] == 40 and body["threshold"] == 0.6
    services = {row["service"]: row for row in body["services"]}
    # Counter 1 serves these two; nobody waits for or is expected at the others.
    assert set(services) == {"pension-new", "pension-recalc"}
    new = services["pension-new"]
    assert new["name"]["en"] == "New pension" and new["target_wait_min"] == 15
    assert new["warning"] is None and len(new["points"]) >= 1
    assert all(p["breach_probability"] < 0.6 for p in new["points"])
    assert 0 <= new["window_breach_probability"] < 0.6
    assert new["points"][0]["wait_p50_s"] <= new["points"][0]["wait_p90_s"]


def test_applying_the_suggestion_opens_the_counter_and_lowers_the_probability(app, client, db, api):
    warning = surge(app, client, db, api)
    assert warning["state"] == "open" and warning["suggestion"]["action"] == "open_counter"
    assert "basis" not in warning["suggestion"]
    forecast = check(SPEC, client.get(url(), headers=api.manager), "GET", FORECAST)
    row = next(r for r in forecast["services"] if r["service"] == "pension-new")
    assert row["warning"]["id"] == warning["id"]
    before = max(p["breach_probability"] for p in row["points"][:7])
    assert before >= 0.6 and row["window_breach_probability"] >= 0.6

    for caller in (api.staff, api.other_manager):
        assert client.post(apply_url(warning["id"]), headers=caller).status_code == 403
    response = client.post(apply_url(warning["id"]), headers=api.manager)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = check(SPEC, response, "POST", APPLY)
    assert body["counter"]["id"] == api.counters["2"] and body["counter"]["state"] == "open"
    assert body["warning"]["applied_at"] is not None
    after = max(p["breach_probability"] for p in body["forecast"]["points"][:7])
    assert after < before and after < 0.6
    assert body["forecast"]["window_breach_probability"] < row["window_breach_probability"]
    with db.read() as s:
        assert s.get(Counter, api.counters["2"]).state == "open"
        event = s.scalars(
            select(CounterEvent).where(CounterEvent.counter_id == api.counters["2"])
        ).all()[-1]
        assert event.to_state == "open" and event.staff_id == api.staff_ids["maria"]
        assert s.get(ForecastWarning, warning["id"]).applied_by == api.staff_ids["maria"]

    again = client.post(apply_url(warning["id"]), headers=api.manager)
    assert_error(again, 409, "already_applied")
    check(SPEC, again, "POST", APPLY)


def test_a_changed_counter_makes_the_suggestion_stale(app, client, db, api):
    warning = surge(app, client, db, api)
    with db.write() as s:  # someone opened counter 2 meanwhile
        set_counter_state(s, api.counters["2"], "paused", SYSTEM, reason="break")
    response = client.post(apply_url(warning["id"]), headers=api.manager)
    assert_error(response, 409, "stale_suggestion")
    with db.read() as s:
        assert s.get(Counter, api.counters["2"]).state == "paused"
        assert s.get(ForecastWarning, warning["id"]).applied_at is None


def test_a_service_change_is_applied_through_the_audited_path(app, client, db, api, monkeypatch):
    """A suggestion to add the service to counter 3 (open, idle): applied like the
    admin page's PUT /counters/<id>/services, audited. Fewer arrivals, so that counter
    3 taking new pensions last is enough."""
    import sys

    monkeypatch.setattr(sys.modules[__name__], "NEW_PENSIONS_PER_QUARTER", 2.5)
    with db.write() as s:
        set_counter_state(s, api.counters["3"], "open", SYSTEM)
    warning = surge(app, client, db, api)
    assert warning["suggestion"]["action"] == "add_service"
    assert warning["suggestion"]["counter"]["label"] == "3"
    response = client.post(apply_url(warning["id"]), headers=api.admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["counter"]["services"] == [
        "job-seeker",
        "unemployment",
        "pension-new",
    ]
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.entity_type == "counter" and entry.staff_id == api.staff_ids["root"]


def test_unknown_and_foreign_warnings_are_not_found(app, client, db, api):
    warning = surge(app, client, db, api)
    assert_error(client.post(apply_url(999999), headers=api.manager), 404, "warning_not_found")
    foreign = client.post(apply_url(warning["id"], "ganja-1"), headers=api.admin)
    assert_error(foreign, 404, "warning_not_found")
    bad = client.post(apply_url(warning["id"]), headers=api.manager, data="x")
    assert bad.status_code == 400


@pytest.mark.e2e
def test_a_managers_socket_hears_the_forecast_alert(tmp_path):
    """A real server forecasting every second: a surge raises a warning, and a manager's
    live connection receives the ``alert`` (kind ``forecast``) with its suggestion."""
    import socketio

    from .live import start_live_server

    server = start_live_server(tmp_path, env={"NOVBE_FORECAST_INTERVAL_S": "1"})
    try:
        center = server.new_center()
        record_yesterday_arrivals(server.db, center.code)
        manager = socketio.SimpleClient()
        manager.connect(
            server.url,
            namespace="/live",
            auth={"token": center.manager_token},
            transports=["websocket"],
        )
        try:
            server.set_counter_state(center, "1", "open")
            for _ in range(8):
                server.issue(center, "pension-new")
            deadline = 30.0
            seen = []
            while True:
                try:
                    event, *args = manager.receive(timeout=deadline)
                except socketio.exceptions.TimeoutError:
                    pytest.fail(f"no forecast alert; saw {seen}\n{server.log()[-3000:]}")
                data = args[0] if args else None
                seen.append(event)
                if event == "alert" and data.get("kind") == "forecast":
                    break
            assert data["active"] is True and data["service"] == "pension-new"
            assert data["probability"] >= 0.6 and isinstance(data["warning"], int)
            body = server.api("GET", f"/centers/{center.code}/forecast", center.manager_token)
            assert body.status_code == 200
            assert data["warning"] in [w["id"] for w in body.json()["warnings"]]
            assert "Traceback" not in server.log()  # no round failed
        finally:
            manager.disconnect()
    finally:
        server.stop()
