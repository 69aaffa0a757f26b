"""The what-if and the policy check (server/forecast/whatif.py), and their API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from server import queue
from server.errors import InvalidInput, NotFound
from server.forecast import whatif
from server.models import Center

from . import factories
from .api_helpers import PREFIX, SPEC, assert_error, setup_api
from .test_simulate import Arrival, run_engine
from .test_simulate import _busy_morning as busy_morning

MONDAY = date(2024, 3, 11)


def _valid(body: dict, schema: str) -> None:
    validator = Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]}
    )
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, errors[0]


def _recorded_day(db, **center) -> int:
    """A busy morning run through the real engine (the recorded day is MONDAY)."""
    center.setdefault("call_policy", "ratio")
    return run_engine(db, busy_morning(priority_every=3), **center).center_id


def test_a_recorded_day_as_it_was_and_with_fewer_counters(db):
    center_id = _recorded_day(db)
    with db.read() as s:
        center = s.get(Center, center_id)
        same = whatif.what_if(s, center, day=MONDAY)
        fewer = whatif.what_if(s, center, day=MONDAY, counters=[{"label": "2", "open": False}])
    assert same["source"] == "recorded" and same["day"] == "2024-03-11"
    assert same["visitors"] == 30
    # the simulation of the day as it was is the day as it was
    assert same["baseline"] == same["recorded"] == same["changed"]
    assert fewer["baseline"] == same["baseline"]
    before, after = fewer["baseline"]["overall"], fewer["changed"]["overall"]
    assert after["visitors"] == before["visitors"] == 30
    assert after["p90_wait_s"] > before["p90_wait_s"]
    assert after["within_target"] <= before["within_target"]
    _valid(fewer, "WhatIf")


def test_a_recorded_day_with_other_services_and_policy(db):
    center_id = _recorded_day(db)
    with db.read() as s:
        center = s.get(Center, center_id)
        # counter 3 takes pension-new first instead of job-seeker
        moved = whatif.what_if(
            s, center, day=MONDAY, counters=[{"label": "3", "services": ["pension-new"]}]
        )
        strict = whatif.what_if(s, center, day=MONDAY, call_policy="strict")
        fcfs = whatif.what_if(s, center, day=MONDAY, call_policy="fcfs")
    figures = {f["service"]: f for f in moved["changed"]["services"]}
    before = {f["service"]: f for f in moved["baseline"]["services"]}
    assert figures["pension-new"]["p90_wait_s"] < before["pension-new"]["p90_wait_s"]
    assert figures["job-seeker"]["p90_wait_s"] > before["job-seeker"]["p90_wait_s"]
    assert (
        strict["changed"]["overall"]["priority_p90_wait_s"]
        <= strict["baseline"]["overall"]["priority_p90_wait_s"]
    )
    assert (
        fcfs["changed"]["overall"]["priority_p90_wait_s"]
        > strict["changed"]["overall"]["priority_p90_wait_s"]
    )


def test_what_if_refuses_bad_input_naming_the_field(db):
    center_id = _recorded_day(db)
    with db.read() as s:
        center = s.get(Center, center_id)
        cases = [
            ({"day": MONDAY, "counters": [{"label": "9"}]}, "counters[0].label"),
            (
                {"day": MONDAY, "counters": [{"label": "1"}, {"label": "2", "services": ["x"]}]},
                "counters[1].services",
            ),
            ({"day": MONDAY, "weekday": 0}, "day"),
            ({}, "day"),
            ({"weekday": 7}, "weekday"),
            ({"day": date.today() + timedelta(days=2)}, "day"),
            ({"day": MONDAY, "call_policy": "random"}, "call_policy"),
            ({"day": MONDAY, "priority_ratio": 0}, "priority_ratio"),
        ]
        for arguments, field in cases:
            with pytest.raises(InvalidInput) as caught:
                whatif.what_if(s, center, **arguments)
            assert caught.value.details["field"] == field, arguments
        with pytest.raises(NotFound) as caught:
            whatif.what_if(s, center, day=MONDAY - timedelta(days=1))
        assert caught.value.code == "no_data"


def test_a_typical_weekday_is_stable_and_answers_the_change(db, monkeypatch):
    today = datetime.now(UTC)
    with db.write() as s:
        center = factories.make_center(s, call_policy="ratio")
        kiosk = factories.kiosk_actor(s, center)
        for weeks in (1, 2, 3):
            day = today - timedelta(weeks=weeks)
            start = datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)  # 10:00 Baku
            for i in range(40):
                queue.issue_ticket(
                    s,
                    center.code,
                    ("pension-new", "pension-recalc", "job-seeker")[i % 3],
                    "az",
                    "elderly" if i % 5 == 0 else None,
                    kiosk,
                    now=start + timedelta(minutes=3 * i),
                )
        center_id = center.id
    weekday = today.weekday()
    with db.read() as s:
        center = s.get(Center, center_id)
        one = whatif.what_if(s, center, weekday=weekday, counters=[{"label": "1", "open": False}])
        again = whatif.what_if(s, center, weekday=weekday, counters=[{"label": "1", "open": False}])
    one.pop("elapsed_ms"), again.pop("elapsed_ms")
    assert one == again
    assert one["source"] == "typical" and one["recorded"] is None and one["weekday"] == weekday
    assert 20 <= one["visitors"] <= 60  # 40 expected
    # one desk of three closed all day: the change is seen (not the baseline again)
    assert one["changed"]["overall"]["p90_wait_s"] > one["baseline"]["overall"]["p90_wait_s"]
    assert one["runs"] == whatif.TYPICAL_RUNS
    _valid({**one, "elapsed_ms": 0}, "WhatIf")
    # out of time: the medians of the first 3 runs, not a stalled request
    monkeypatch.setattr(whatif, "BUDGET_S", 0.0)
    with db.read() as s:
        hurried = whatif.what_if(s, s.get(Center, center_id), weekday=weekday)
    assert hurried["runs"] == whatif.MIN_TYPICAL_RUNS
    assert hurried["visitors"] > 0


def test_opening_a_counter_that_was_closed_all_day_shortens_the_waits(db):
    center_id = _recorded_day(db, close_at={"3": 0.0})
    with db.read() as s:
        center = s.get(Center, center_id)
        body = whatif.what_if(s, center, day=MONDAY, counters=[{"label": "3", "open": True}])
        with pytest.raises(InvalidInput) as caught:
            whatif.what_if(s, center, day=MONDAY, counters=[{"label": "3", "services": []}])
    assert caught.value.details["field"] == "counters[0].services"
    scenario_open = {c["service"]: c for c in body["changed"]["services"]}
    assert body["changed"]["overall"]["p90_wait_s"] < body["baseline"]["overall"]["p90_wait_s"]
    assert sum(f["visitors"] for f in scenario_open.values()) == 30
    _valid(body, "WhatIf")


def test_the_policy_check_puts_the_policy_next_to_fcfs(db):
    center_id = _recorded_day(db, call_policy="strict")
    with db.read() as s:
        check = whatif.policy_check(s, s.get(Center, center_id), MONDAY)
    assert check["day"] == "2024-03-11"
    assert check["policy"] == {"call_policy": "strict", "priority_ratio": 2}
    overall = check["overall"]
    # strict serves the priority lane first: its p90 is lower than first come first served
    assert overall["policy"]["priority_p90_wait_s"] < overall["fcfs"]["priority_p90_wait_s"]
    assert sum(s["visitors"] for s in check["services"]) == 30
    _valid(check, "PolicyCheck")


# --- the API ------------------------------------------------------------------------


@pytest.fixture
def api_day(db):
    center_id = _recorded_day(db)
    with db.read() as s:
        center = s.get(Center, center_id)
        s.expunge(center)
    return setup_api(db, center)


def test_what_if_api_and_who_may_call_it(client, api_day):
    url = f"{PREFIX}/centers/baku-1/what-if"
    body = {"day": "2024-03-11", "counters": [{"label": "2", "open": False}]}
    assert_error(client.post(url, json=body), 401, "unauthorized")
    for who in (api_day.staff, api_day.kiosk, api_day.other_manager):
        assert client.post(url, json=body, headers=who).status_code == 403
    for who in (api_day.manager, api_day.admin):
        response = client.post(url, json=body, headers=who)
        assert response.status_code == 200, response.get_json()
        found = response.get_json()
        assert found["source"] == "recorded" and found["visitors"] == 30
        _valid(found, "WhatIf")
    assert (
        client.post(
            f"{PREFIX}/centers/nowhere/what-if", json=body, headers=api_day.admin
        ).status_code
        == 404
    )


def test_what_if_api_refuses_bad_input(client, api_day):
    url = f"{PREFIX}/centers/baku-1/what-if"
    h = api_day.manager
    cases = [
        ({"day": "2024-03-11", "counters": [{"label": "9"}]}, "counters[0].label"),
        (
            {"day": "2024-03-11", "counters": [{"label": "1", "services": ["nope"]}]},
            "counters[0].services",
        ),
        ({"day": "2024-03-11", "weekday": 1}, "day"),
        ({}, "day"),
        ({"day": "2024-02-30"}, "day"),
        ({"day": "2099-01-01"}, "day"),
        ({"weekday": 9}, "weekday"),
        ({"day": "2024-03-11", "color": "red"}, None),
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=h)
        assert response.status_code == 422, (body, response.get_json())
        if field:
            assert response.get_json()["error"]["details"]["field"] == field, body
    assert_error(client.post(url, json={"day": "2024-03-10"}, headers=h), 404, "no_data")
    # a counter with no service is no change anyone meant: refused (closing is open: false)
    response = client.post(
        url, json={"weekday": 2, "counters": [{"label": "1", "services": []}]}, headers=h
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"].endswith("services")
    # no history for a typical day (the recorded one is years ago): nobody, no figures;
    # call_policy and priority_ratio null are the center's own
    response = client.post(
        url,
        json={
            "weekday": 2,
            "counters": [{"label": "1", "open": False}],
            "call_policy": None,
            "priority_ratio": None,
        },
        headers=h,
    )
    assert response.status_code == 200, response.get_json()
    found = response.get_json()
    assert found["visitors"] == 0 and found["changed"]["overall"]["p90_wait_s"] is None
    _valid(found, "WhatIf")


def test_policy_check_api(client, api_day):
    url = f"{PREFIX}/centers/baku-1/reports/policy-check"
    assert_error(client.get(f"{url}?day=2024-03-11"), 401, "unauthorized")
    assert client.get(f"{url}?day=2024-03-11", headers=api_day.staff).status_code == 403
    assert client.get(f"{url}?day=2024-03-11", headers=api_day.other_manager).status_code == 403
    response = client.get(f"{url}?day=2024-03-11", headers=api_day.manager)
    assert response.status_code == 200
    _valid(response.get_json(), "PolicyCheck")
    assert response.get_json()["policy"]["call_policy"] == "ratio"
    assert_error(client.get(url, headers=api_day.manager), 422, "invalid_input", field="day")
    assert_error(
        client.get(f"{url}?day=2024-03-11&x=1", headers=api_day.manager), 422, "invalid_input"
    )
    assert_error(client.get(f"{url}?day=2024-03-10", headers=api_day.admin), 404, "no_data")


def test_the_engine_day_has_the_arrivals_it_was_given(db):
    """A guard for the helpers above: the busy morning is what the figures count."""
    arrivals = busy_morning(priority_every=3)
    assert len(arrivals) == 30 and sum(a.priority is not None for a in arrivals) == 10
    assert isinstance(arrivals[0], Arrival)
