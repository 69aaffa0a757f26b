"""Breach warnings from the forecast: raised, kept, cleared and scored (on SQLite and
PostgreSQL). The demand is pinned to "nobody more comes" (history.py's own tests cover
it), so that what waits now decides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.forecast import history, runner, warnings
from server.forecast.forecast import CenterForecast, Point, ServiceForecast
from server.forecast.state import Demand
from server.models import ForecastWarning, Service, Ticket, utcnow
from server.queue import SYSTEM, set_counter_state

from .api_helpers import issue, setup_api


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


@pytest.fixture(autouse=True)
def nobody_more_comes(monkeypatch):
    def pinned(session, center, now):
        return Demand({}, history.service_times(session, center.id, now))

    monkeypatch.setattr(warnings, "expected_demand", pinned)


def open_counter(db, api, label: str, state: str = "open") -> None:
    with db.write() as s:
        set_counter_state(s, api.counters[label], state, SYSTEM)


def surge(client, db, api, count: int = 5) -> list[int]:
    """Counter 1 open alone, ``count`` visitors for a new pension (5 minutes each,
    15-minute target)."""
    open_counter(db, api, "1")
    return [issue(client, api, "pension-new")["id"] for _ in range(count)]


def rows(db) -> list[ForecastWarning]:
    with db.read() as s:
        found = s.scalars(select(ForecastWarning).order_by(ForecastWarning.id)).all()
        s.expunge_all()
    return list(found)


def service_id(db, code: str) -> int:
    with db.read() as s:
        return s.scalar(select(Service.id).where(Service.code == code))


def run(app, now=None) -> list[tuple[int, dict]]:
    sent: list[tuple[int, dict]] = []
    runner.forecast_round(app, now, announce=lambda center, alert: sent.append((center, alert)))
    return sent


def test_a_surge_raises_one_warning_with_a_checked_suggestion(app, client, db, center, api):
    surge(client, db, api)
    sent = run(app)
    # Counter 1 takes new pensions before recalculations: a recalculation arriving now
    # waits until it is overdue (its target is 5 minutes), so it is warned of too.
    warning, recalc = rows(db)
    assert warning.service_id == service_id(db, "pension-new")
    assert recalc.service_id == service_id(db, "pension-recalc")
    assert warning.state == "open" and warning.probability >= 0.6
    assert warning.target_wait_s == 900 and warning.predicted_wait_s > 900
    assert warning.window_start < warning.window_end
    s = warning.suggestion
    # Counter 2 (closed) serves new pensions; opening it is the one remedy tried.
    assert s["action"] == "open_counter" and s["counter"]["id"] == api.counters["2"]
    assert s["probability_after"] < 0.6 <= s["probability_before"]
    assert s["wait_after_s"] < s["wait_before_s"]
    assert s["basis"] == {
        "state": "closed",
        "services": ["pension-recalc", "pension-new", "job-seeker"],
    }
    assert [(c, a["service"], a["active"]) for c, a in sent] == [
        (center.id, "pension-new", True),
        (center.id, "pension-recalc", True),
    ]
    alert = sent[0][1]
    assert alert["kind"] == "forecast" and alert["warning"] == warning.id
    assert alert["suggestion"]["action"] == "open_counter" and "basis" not in alert["suggestion"]

    assert run(app) == []  # still expected: the same warnings, no second alert
    assert [(w.id, w.state) for w in rows(db)] == [(warning.id, "open"), (recalc.id, "open")]


def test_a_quiet_center_raises_nothing(app, client, db, center, api):
    open_counter(db, api, "1")
    issue(client, api, "pension-new")
    assert run(app) == []
    assert rows(db) == []


def test_a_warning_clears_once_the_queue_is_gone_and_is_scored_later(app, client, db, center, api):
    ids = surge(client, db, api)
    run(app)
    with db.write() as s:  # the visitors left
        s.execute(update(Ticket).where(Ticket.id.in_(ids)).values(status="cancelled"))
    later = utcnow() + timedelta(minutes=1)
    sent = run(app, later)
    assert [(a["kind"], a["active"]) for _, a in sent] == [("forecast", False)] * 2
    warning = rows(db)[0]
    assert warning.state == "cleared" and warning.cleared_at is not None
    # It was cleared inside its window (which began at once): the window ends then, and
    # it is still scored once the window and the target have passed.
    assert warning.window_end == later
    run(app, later + timedelta(minutes=16))
    warning = rows(db)[0]
    assert warning.state == "scored"
    assert warning.breached is False  # those who came in the window left uncalled


def fake_assessment(db, center, service: int, probability: float, now) -> warnings.Assessment:
    state_now = 10 * 3600.0
    points = [Point(state_now + i * 300, 0.0, 1000.0, 1200.0, probability) for i in range(7)]
    forecast = CenterForecast(
        state_now, 1800, 300, 40, {service: ServiceForecast(service, 900, points)}
    )
    with db.read() as s:
        hall = warnings.hall_state(s, center, now)
    hall.now_s = state_now
    return warnings.Assessment(
        center.id,
        now,
        now - timedelta(seconds=state_now),
        hall,
        Demand({}, {}),
        forecast,
        {service: "pension-new"},
    )


def test_hysteresis_keeps_a_warning_between_the_two_thresholds(db, center):
    sid = service_id(db, "pension-new")
    settings = warnings.Settings()
    now = utcnow()
    with db.write() as s:
        edges = warnings.record(s, center, fake_assessment(db, center, sid, 0.55, now), settings)
    assert edges == [] and rows(db) == []  # under 0.6: nothing raised
    with db.write() as s:
        edges = warnings.record(s, center, fake_assessment(db, center, sid, 0.7, now), settings)
    assert [active for _, active in edges] == [True]
    with db.write() as s:
        edges = warnings.record(s, center, fake_assessment(db, center, sid, 0.45, now), settings)
    assert edges == []
    [warning] = rows(db)
    assert warning.state == "open" and warning.probability == 0.45
    with db.write() as s:
        edges = warnings.record(s, center, fake_assessment(db, center, sid, 0.35, now), settings)
    assert [(body["id"], active) for body, active in edges] == [(warning.id, False)]
    assert rows(db)[0].state == "cleared"


def test_scoring_takes_the_worst_ten_minutes_median(client, db, center, api):
    sid = service_id(db, "pension-new")
    ids = [issue(client, api, "pension-new")["id"] for _ in range(4)]
    now = utcnow()
    start = now - timedelta(hours=2)
    # Slot 1 (0-10 min): waits 2 and 4 minutes; slot 2 (10-20 min): 20 and 30 minutes.
    arrivals = [(1, 2), (3, 4), (12, 20), (14, 30)]
    with db.write() as s:
        for ticket_id, (arrived, waited) in zip(ids, arrivals, strict=True):
            issued = start + timedelta(minutes=arrived)
            s.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(
                    issued_at=issued,
                    called_at=issued + timedelta(minutes=waited),
                    status="done",
                )
            )
        for end, target in ((20, 900), (10, 900), (20, 1800)):
            s.add(
                ForecastWarning(
                    center_id=center.id,
                    service_id=sid,
                    raised_at=start,
                    window_start=start,
                    window_end=start + timedelta(minutes=end),
                    probability=0.8,
                    predicted_wait_s=1000,
                    target_wait_s=target,
                    state="open",
                )
            )
        # Its window and target have not passed yet: not scored.
        s.add(
            ForecastWarning(
                center_id=center.id,
                service_id=sid,
                raised_at=now,
                window_start=now - timedelta(minutes=5),
                window_end=now + timedelta(minutes=5),
                probability=0.8,
                predicted_wait_s=1000,
                target_wait_s=900,
                state="open",
            )
        )
    with db.write() as s:
        edges = warnings.score_due(s, center, now)
    assert [active for _, active in edges] == [False, False, False]
    scored = [(w.state, w.breached, w.worst_wait_s) for w in rows(db)]
    assert scored == [
        ("scored", True, 25 * 60),  # the second slot's median: 25 minutes > 15
        ("scored", False, 3 * 60),  # only the first slot in its window
        ("scored", False, 25 * 60),  # a 30-minute target
        ("open", None, None),
    ]


def test_one_failing_center_does_not_stop_the_others(app, client, db, center, api, monkeypatch):
    surge(client, db, api)
    with db.write() as s:
        set_counter_state(s, api.other_counters["1"], "open", SYSTEM)
    real = warnings.assess
    failed = []

    def assess(session, c, *args, **kwargs):
        if c.code == "ganja-1":
            failed.append(c.code)
            raise ValueError("odd data")
        return real(session, c, *args, **kwargs)

    monkeypatch.setattr(warnings, "assess", assess)
    sent: list = []
    done = runner.forecast_round(app, announce=lambda c, a: sent.append(a))
    assert failed == ["ganja-1"] and done == 1
    assert [a["service"] for a in sent] == ["pension-new", "pension-recalc"]


def test_alerts_go_to_the_webhooks_that_want_them(app, client, db, center, api):
    from server.models import OutboxMessage

    from .api_helpers import PREFIX

    hook = client.post(
        f"{PREFIX}/webhooks",
        json={"center": "baku-1", "url": "http://127.0.0.1:9/hook", "events": ["alert"]},
        headers=api.manager,
    )
    assert hook.status_code == 201, hook.get_data(as_text=True)
    surge(client, db, api)
    runner.forecast_round(app, announce=runner.announcer(app))
    with db.read() as s:
        bodies = [
            m.body for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        ]
    assert sorted(b["data"]["service"] for b in bodies) == ["pension-new", "pension-recalc"]
    assert all(b["data"]["kind"] == "forecast" and b["data"]["center"] == "baku-1" for b in bodies)


def test_only_centers_with_something_going_on_are_forecast(app, client, db, center, api):
    with db.read() as s:
        assert runner.active_centers(s, utcnow()) == []
    issue(client, api, "job-seeker")
    with db.read() as s:
        assert runner.active_centers(s, utcnow()) == [center.id]


def test_the_hall_state_from_the_database(client, db, center, api):
    from server.forecast.simulate import FOREVER
    from server.forecast.snapshot import hall_state

    from .api_helpers import call_next

    open_counter(db, api, "1")
    with db.write() as s:
        set_counter_state(s, api.counters["2"], "paused", SYSTEM, reason="break")
    first = issue(client, api, "pension-new")
    waiting_normal = issue(client, api, "pension-new")
    waiting_priority = issue(client, api, "job-seeker", priority="elderly")
    assert call_next(client, api, "1").get_json()["id"] == first["id"]
    now = utcnow()
    with db.read() as s:
        hall = hall_state(s, center, now)
    new, recalc = service_id(db, "pension-new"), service_id(db, "pension-recalc")
    assert hall.services[new].target_s == 900 and hall.policy.kind == "strict"
    counters = {c.label: c for c in hall.counters}
    assert counters["1"].open == [(hall.now_s, FOREVER)]
    assert counters["1"].services == (new, recalc)
    # Counter 1 has a visitor just called: about a whole service (5 minutes) to go.
    assert hall.now_s + 250 < counters["1"].busy_until <= hall.now_s + 300
    assert counters["2"].open == [] and counters["3"].open == []
    tickets = {t.key: t for t in hall.waiting}
    assert set(tickets) == {waiting_normal["id"], waiting_priority["id"]}
    assert tickets[waiting_priority["id"]].priority is True
    assert tickets[waiting_normal["id"]].priority is False
    assert tickets[waiting_normal["id"]].due_s == pytest.approx(
        tickets[waiting_normal["id"]].arrival_s + 900, abs=1
    )
    assert 0 < hall.now_s < 2 * 24 * 3600 and hall.close_s == 18 * 3600


def test_a_warning_for_a_service_nobody_needs_any_more_clears(app, client, db, center, api):
    ids = surge(client, db, api)
    run(app)
    with db.write() as s:
        s.execute(update(Ticket).where(Ticket.id.in_(ids)).values(status="cancelled"))
        set_counter_state(s, api.counters["1"], "closed", SYSTEM)
    sent = run(app)  # no counter, nobody waiting, nobody expected: no forecast at all
    assert sorted((a["service"], a["active"]) for _, a in sent) == [
        ("pension-new", False),
        ("pension-recalc", False),
    ]
    assert {w.state for w in rows(db)} == {"cleared"}
