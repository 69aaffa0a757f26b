"""Breach warnings from the forecast: raised, kept, cleared and scored (on SQLite and
PostgreSQL). The demand is pinned (history.py's own tests cover it): three new pension
visitors a quarter hour, nobody else, so that what waits now and those arrivals
decide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.forecast import history, runner, warnings
from server.forecast.forecast import CenterForecast, Point, ServiceForecast
from server.forecast.state import BINS_PER_DAY, Demand
from server.models import ABSENT, ForecastWarning, Service, Ticket, utcnow
from server.queue import SYSTEM, set_counter_state

from .api_helpers import issue, setup_api


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
    # Recalculations: a probe arriving now would wait past its 5-minute target behind
    # the pensions, but nobody is expected to come for one: no window to breach.
    [warning] = rows(db)
    assert warning.service_id == service_id(db, "pension-new")
    assert warning.state == "open" and warning.probability >= 0.6
    assert warning.target_wait_s == 900 and warning.predicted_wait_s > 900
    # About the visitors arriving in the next 30 minutes.
    assert warning.window_start == warning.raised_at
    assert warning.window_end == warning.raised_at + timedelta(minutes=30)
    s = warning.suggestion
    # Counter 2 (closed) serves new pensions; opening it is the one remedy tried.
    assert s["action"] == "open_counter" and s["counter"]["id"] == api.counters["2"]
    assert s["probability_after"] < 0.6 <= s["probability_before"]
    assert s["wait_after_s"] < s["wait_before_s"]
    assert s["basis"] == {
        "state": "closed",
        "services": ["pension-recalc", "pension-new", "job-seeker"],
    }
    assert [(c, a["service"], a["active"]) for c, a in sent] == [(center.id, "pension-new", True)]
    alert = sent[0][1]
    assert alert["kind"] == "forecast" and alert["warning"] == warning.id
    assert alert["suggestion"]["action"] == "open_counter" and "basis" not in alert["suggestion"]

    later = warning.raised_at + timedelta(minutes=5)
    assert run(app, later) == []  # still expected: the same warning, no second alert
    [kept] = rows(db)
    assert (kept.id, kept.state) == (warning.id, "open")
    # Its window starts where it did and reaches 30 minutes past the latest pass.
    assert kept.window_start == warning.window_start
    assert kept.window_end == later + timedelta(minutes=30)


def counting(monkeypatch, name: str) -> list[int]:
    """Counts the calls warnings.py makes to its ``name`` (suggest, evaluate)."""
    real = getattr(warnings, name)
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(warnings, name, counted)
    return calls


def test_a_kept_suggestion_is_rechecked_not_searched_again(
    app, client, db, center, api, monkeypatch
):
    surge(client, db, api)
    searches = counting(monkeypatch, "suggest")
    forecasts = counting(monkeypatch, "evaluate")  # suggest's own are not counted here
    run(app)
    [raised] = rows(db)
    assert raised.suggestion["action"] == "open_counter" and len(searches) == 1
    # Nothing changed: the stored suggestion is checked with one more forecast (the same
    # futures, counter 2 opened) and kept, with this pass's figures.
    forecasts.clear()
    assert run(app, raised.raised_at + timedelta(minutes=1)) == []
    [kept] = rows(db)
    assert len(searches) == 1 and len(forecasts) == 2
    assert kept.state == "open"
    s = kept.suggestion
    assert (s["action"], s["counter"], s["basis"]) == (
        "open_counter",
        raised.suggestion["counter"],
        raised.suggestion["basis"],
    )
    assert s["probability_after"] < 0.6 <= s["probability_before"]
    # Counter 2 paused meanwhile: the suggestion (opening it as it was, closed) no longer
    # holds, and is searched for again at once: the page never says "nothing would
    # help" while something would.
    with db.write() as session:
        set_counter_state(session, api.counters["2"], "paused", SYSTEM, reason="break")
    run(app, raised.raised_at + timedelta(minutes=2))
    [fresh] = rows(db)
    assert fresh.state == "open" and len(searches) == 2
    assert fresh.suggestion["action"] == "open_counter"
    assert fresh.suggestion["basis"]["state"] == "paused"
    # And that one is kept again without a search.
    run(app, raised.raised_at + timedelta(minutes=3))
    assert len(searches) == 2 and rows(db)[0].suggestion["basis"]["state"] == "paused"


def test_a_warning_without_a_working_suggestion_is_searched_every_5_minutes(
    app, client, db, center, api, monkeypatch
):
    surge(client, db, api)
    searches: list[int] = []
    # Nothing works (found nothing: None).
    monkeypatch.setattr(warnings, "suggest", lambda *args, **kwargs: searches.append(1))
    run(app)
    [raised] = rows(db)
    assert raised.suggestion is None and len(searches) == 1
    for minutes in (1, 2, 4):
        run(app, raised.raised_at + timedelta(minutes=minutes))
    assert len(searches) == 1
    run(app, raised.raised_at + timedelta(minutes=5))
    assert len(searches) == 2 and rows(db)[0].state == "open"


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
    raised = rows(db)[0]
    later = raised.raised_at + timedelta(minutes=1)
    # Nobody waits now and nobody serves (pinned arrivals alone, no queue): no breach.
    with db.write() as s:
        set_counter_state(s, api.counters["2"], "open", SYSTEM)
    sent = run(app, later)
    assert [(a["kind"], a["active"]) for _, a in sent] == [("forecast", False)]
    warning = rows(db)[0]
    assert warning.state == "cleared" and warning.cleared_at == later
    # The window stays what it claimed; it is scored once it has passed.
    assert warning.window_end == raised.window_end
    run(app, raised.window_end - timedelta(minutes=1))
    assert rows(db)[0].state == "cleared"
    run(app, raised.window_end + timedelta(minutes=1))
    warning = rows(db)[0]
    assert warning.state == "scored"
    assert warning.breached is False  # nobody arrived in the window
    assert warning.worst_wait_s is None


def fake_assessment(db, center, service: int, probability: float, now) -> warnings.Assessment:
    """A forecast whose window probability is ``probability``; its probes say the
    opposite, so that only the window can decide."""
    state_now = 10 * 3600.0
    points = [Point(state_now + i * 300, 0.0, 1000.0, 1200.0, 1 - probability) for i in range(7)]
    forecast = CenterForecast(
        state_now, 1800, 300, 40, {service: ServiceForecast(service, 900, points, probability)}
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


def put_tickets(db, ids: list[int], start, arrivals) -> None:
    """Each ticket issued ``arrived`` minutes after ``start``, then called after
    ``waited`` minutes, or left (``status``) then, or still waiting (None)."""
    with db.write() as s:
        for ticket_id, (arrived, waited, status) in zip(ids, arrivals, strict=True):
            issued = start + timedelta(minutes=arrived)
            values = {"issued_at": issued, "status": status or "waiting"}
            if status == "done":
                values["called_at"] = issued + timedelta(minutes=waited)
            elif status is not None:
                values["ended_at"] = issued + timedelta(minutes=waited)
            s.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))


def add_warning(db, center, sid, start, minutes: int = 30, target: int = 900) -> None:
    with db.write() as s:
        s.add(
            ForecastWarning(
                center_id=center.id,
                service_id=sid,
                raised_at=start,
                window_start=start,
                window_end=start + timedelta(minutes=minutes),
                probability=0.8,
                predicted_wait_s=1000,
                target_wait_s=target,
                state="open",
            )
        )


def scored(db) -> list[tuple]:
    return [(w.state, w.breached, w.worst_wait_s) for w in rows(db)]


def test_one_visitor_over_the_target_is_no_breach_two_of_three_are(client, db, center, api):
    sid = service_id(db, "pension-new")
    now = utcnow()
    one = [issue(client, api, "pension-new")["id"] for _ in range(3)]
    put_tickets(
        db, one, now - timedelta(hours=3), [(1, 20, "done"), (5, 2, "done"), (9, 4, "done")]
    )
    add_warning(db, center, sid, now - timedelta(hours=3))
    two = [issue(client, api, "pension-new")["id"] for _ in range(3)]
    put_tickets(
        db, two, now - timedelta(hours=2), [(1, 20, "done"), (5, 30, "done"), (9, 4, "done")]
    )
    add_warning(db, center, sid, now - timedelta(hours=2))
    with db.write() as s:
        edges = warnings.score_due(s, center, now)
    assert [active for _, active in edges] == [False, False]
    assert scored(db) == [("scored", False, 20 * 60), ("scored", True, 30 * 60)]


def test_scoring_uses_the_real_tickets_of_the_window(client, db, center, api):
    sid = service_id(db, "pension-new")
    now = utcnow()
    start = now - timedelta(hours=1)
    ids = [issue(client, api, "pension-new")["id"] for _ in range(6)]
    put_tickets(
        db,
        ids,
        start,
        [
            (1, 20, "done"),  # over
            (2, 3, "cancelled"),  # left before the target: not counted
            (3, 25, "expired"),  # left uncalled after the target: over
            (4, 2, "done"),
            (29, 1, "done"),
            (31, 40, "done"),  # arrived after the window: not its
        ],
    )
    add_warning(db, center, sid, start)
    with db.write() as s:
        warnings.score_due(s, center, now)
    # 2 of the 4 counted over: a service level of 50%.
    assert scored(db) == [("scored", True, 25 * 60)]


def test_a_window_is_scored_once_its_visitors_were_called_or_two_hours_on(client, db, center, api):
    sid = service_id(db, "pension-new")
    now = utcnow()
    start = now - timedelta(minutes=40)
    ids = [issue(client, api, "pension-new")["id"] for _ in range(3)]
    put_tickets(db, ids, start, [(1, 2, "done"), (2, 3, "done"), (3, 0, None)])
    add_warning(db, center, sid, start)
    # Not before its end, nor while someone who arrived in it still waits.
    with db.write() as s:
        assert warnings.score_due(s, center, start + timedelta(minutes=20)) == []
        assert warnings.score_due(s, center, now) == []
    assert scored(db) == [("open", None, None)]
    # Two hours after its end it is scored: the one still waiting is over its target,
    # but one of three over is no breach.
    later = start + timedelta(minutes=30, hours=2)
    with db.write() as s:
        assert [a for _, a in warnings.score_due(s, center, later)] == [False]
    assert scored(db) == [("scored", False, round((later - start).total_seconds()) - 180)]


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
    assert [a["service"] for a in sent] == ["pension-new"]


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
    assert [b["data"]["service"] for b in bodies] == ["pension-new"]
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


def test_visitors_not_in_the_hall_are_neither_forecast_nor_scored(client, db, center, api):
    """A remote or outside ticket never checked in (callable_at ABSENT) is not in the
    queue: counted, it waited 'until the end' in every run, a breach out of nothing."""
    from server.forecast.snapshot import hall_state

    sid = service_id(db, "pension-new")
    now = utcnow()
    start = now - timedelta(hours=1)
    ids = [issue(client, api, "pension-new")["id"] for _ in range(4)]
    put_tickets(db, ids, start, [(1, 2, "done"), (2, 3, "done"), (3, 0, None), (4, 0, None)])
    with db.write() as s:  # the last two joined from home and never came in
        s.execute(update(Ticket).where(Ticket.id.in_(ids[2:])).values(callable_at=ABSENT))
    with db.read() as s:
        hall = hall_state(s, center, now)
    assert not {t.key for t in hall.waiting} & set(ids)
    add_warning(db, center, sid, start)
    with db.write() as s:
        warnings.score_due(s, center, now)  # scored now: nobody of its window still waits
    assert scored(db) == [("scored", False, 3 * 60)]


def test_the_crowd_waiting_at_the_window_start_counts_in_its_score(client, db, center, api):
    """Two who came in just before the warning and waited past the target, two in the
    window on time: half are over, a breach; one long past its target at the start
    belongs to an earlier breach and is left out."""
    sid = service_id(db, "pension-new")
    now = utcnow()
    start = now - timedelta(hours=1)
    ids = [issue(client, api, "pension-new")["id"] for _ in range(5)]
    put_tickets(
        db,
        ids,
        start - timedelta(minutes=5),
        [(-20, 30, "done"), (1, 20, "done"), (3, 20, "done"), (7, 2, "done"), (9, 3, "done")],
    )
    add_warning(db, center, sid, start)
    with db.write() as s:
        warnings.score_due(s, center, now)
    assert scored(db) == [("scored", True, 20 * 60)]


def test_a_warning_for_a_service_nobody_needs_any_more_clears(
    app, client, db, center, api, monkeypatch
):
    import sys

    ids = surge(client, db, api)
    run(app)
    with db.write() as s:
        s.execute(update(Ticket).where(Ticket.id.in_(ids)).values(status="cancelled"))
        set_counter_state(s, api.counters["1"], "closed", SYSTEM)
    monkeypatch.setattr(sys.modules[__name__], "NEW_PENSIONS_PER_QUARTER", 0.0)
    sent = run(app)  # no counter, nobody waiting, nobody expected: no forecast at all
    assert [(a["service"], a["active"]) for _, a in sent] == [("pension-new", False)]
    assert {w.state for w in rows(db)} == {"cleared"}
