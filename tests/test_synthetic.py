"""The synthetic day (server/forecast/synthetic.py) that the benchmarks and the forecast's
benchmark share: the same seed gives the same day, and a day's shares are the spec's."""

from __future__ import annotations

import math
from collections import Counter

from server.forecast import synthetic
from server.forecast.simulate import simulate
from server.forecast.state import BIN_S

DAY = 6000  # visitors: enough for shares within a few points


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    assert synthetic.visitors(500, 7) == synthetic.visitors(500, 7)
    assert synthetic.visitors(500, 7) != synthetic.visitors(500, 8)
    day = synthetic.visitors(500, 7)
    surged = synthetic.surge(day, 500, "id-card-pickup", 600, seed=3)
    assert surged == synthetic.surge(day, 500, "id-card-pickup", 600, seed=3)


def test_services_priority_and_no_shows_come_in_the_specs_shares():
    day = synthetic.visitors(DAY, 11)
    weights = {code: spec.weight for code, spec in synthetic.SERVICES.items()}
    total = sum(weights.values())
    counts = Counter(v.service for v in day)
    for code, weight in weights.items():
        expected = DAY * weight / total
        # Binomial: within 4 standard deviations.
        assert abs(counts[code] - expected) <= 4 * math.sqrt(expected) + 1, code
    priority = sum(1 for v in day if v.priority) / DAY
    assert abs(priority - synthetic.PRIORITY_SHARE) < 0.015
    assert abs(sum(v.no_show for v in day) / DAY - synthetic.NO_SHOW_SHARE) < 0.01


def test_arrivals_follow_the_hourly_profile_within_opening_hours():
    day = synthetic.visitors(DAY, 12)
    assert all(synthetic.OPEN_MIN <= v.arrival_min < synthetic.CLOSE_MIN for v in day)
    assert [v.arrival_min for v in day] == sorted(v.arrival_min for v in day)
    hours = Counter(int((v.arrival_min - synthetic.OPEN_MIN) // 60) for v in day)
    profile = synthetic.HOURLY_PROFILE
    for hour, weight in enumerate(profile):
        assert abs(hours[hour] / DAY - weight / sum(profile)) < 0.02, hour


def test_service_times_have_the_specs_mean_and_a_cut_tail():
    day = synthetic.visitors(DAY, 13)
    for code in ("id-card-pickup", "passport-new", "pension-statement"):
        spec = synthetic.SERVICES[code]
        times = [v.service_min for v in day if v.service == code]
        mean = sum(times) / len(times)
        assert abs(mean - spec.mean_min) < 0.1 * spec.mean_min, code
        assert max(times) <= synthetic.MAX_SERVICE_FACTOR * spec.mean_min


def test_the_expected_profile_sums_to_the_day_and_a_surge_adds_its_extra():
    profile = synthetic.expected_arrivals(2000)
    assert abs(sum(sum(bins) for bins in profile.values()) - 2000) < 1e-6
    sid = synthetic.SERVICE_IDS["id-card-pickup"]
    assert sum(profile[sid][: synthetic.OPEN_MIN * 60 // BIN_S]) == 0  # nobody before 09:00
    # Three times the rate for 45 minutes: about twice the expected count more.
    day = synthetic.visitors(2000, 14)
    extra = [
        len(synthetic.surge(day, 2000, "id-card-pickup", 600, seed=s)) - len(day) for s in range(20)
    ]
    expected = 2 * 45 * synthetic.rate_per_min(2000, "id-card-pickup", 600)
    assert abs(sum(extra) / len(extra) - expected) < 0.25 * expected


def test_the_day_runs_in_the_simulation_and_everyone_is_served():
    day = synthetic.visitors(800, 15)
    scenario = synthetic.scenario(day)
    assert len(scenario.counters) == 20 and len(scenario.services) == 40
    served = {s for c in scenario.counters for s in c.services}
    assert served == set(scenario.services)  # every service has a counter
    result = simulate(scenario)
    assert len(result.calls) == len(day) and not result.unserved
    for v in scenario.visitors:
        assert result.calls[v.key].called_s >= v.arrival_s
