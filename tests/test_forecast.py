"""The live forecast and its suggestions, on plain states (no database)."""

from __future__ import annotations

from dataclasses import replace

from server.forecast.forecast import (
    MIN_OVER,
    SERVICE_LEVEL,
    WARN_S,
    draw,
    evaluate,
    forecast,
    window_breached,
)
from server.forecast.simulate import FOREVER, Policy, SimCounter, SimService
from server.forecast.state import BINS_PER_DAY, Demand, HallState, ServiceTime, WaitingTicket
from server.forecast.suggest import NOISE, moves_breach, suggest

NOW = 10 * 3600.0  # 10:00
A, B, C = 1, 2, 3


def services() -> dict[int, SimService]:
    return {A: SimService(A, "a", 900), B: SimService(B, "b", 900), C: SimService(C, "c", 600)}


def waiting(service_id: int, count: int, first_key: int = 1) -> list[WaitingTicket]:
    return [
        WaitingTicket(
            first_key + i, service_id, NOW - 60 * (count - i), NOW - 60 * (count - i) + 900
        )
        for i in range(count)
    ]


def counter(cid: int, *served: int, is_open: bool = True) -> SimCounter:
    return SimCounter(cid, str(cid), served, [(NOW, FOREVER)] if is_open else [], NOW)


def demand(per_quarter: dict[int, float] | None = None) -> Demand:
    times = {s: ServiceTime(300.0, 0.5) for s in (A, B, C)}
    arrivals = {s: [rate] * BINS_PER_DAY for s, rate in (per_quarter or {}).items()}
    return Demand(arrivals, times)


def state(counters, tickets=(), close_s=18 * 3600.0) -> HallState:
    return HallState(NOW, services(), list(counters), list(tickets), Policy("ratio", 2), close_s)


def test_a_quiet_hall_expects_no_breach():
    result = forecast(state([counter(10, A, B)], waiting(A, 1)), demand())
    assert set(result.services) == {A, B}  # C: no counter, nobody waiting, nobody expected
    for service in result.services.values():
        assert len(service.points) == 13  # every 5 minutes over the hour
        assert service.probability() < 0.1  # the second in line, 5 minutes on average


def test_a_surge_on_one_counter_is_a_likely_breach_that_passes():
    result = forecast(state([counter(10, A)], waiting(A, 6)), demand())
    points = result.services[A].points
    assert points[0].breach_probability >= 0.9  # the 7th in line behind ~30 minutes
    assert points[0].wait_p50_s > 900
    assert points[0].wait_p90_s >= points[0].wait_p50_s
    assert points[-1].breach_probability == 0.0  # an hour later the queue is gone


def test_expected_arrivals_count_and_fill_the_queue():
    quiet = forecast(state([counter(10, A)]), demand())
    busy = forecast(state([counter(10, A)]), demand({A: 6.0}))  # 24 an hour, 12 served
    assert busy.services[A].points[0].expected_arrivals == 2.0  # 6 a quarter, 5 minutes
    assert busy.services[A].points[-1].breach_probability > 0.5
    assert quiet.services[A].probability() == 0.0


def test_a_service_nobody_serves_always_breaches():
    result = forecast(state([counter(10, A)], waiting(C, 1)), demand())
    assert result.services[C].probability() == 1.0


def test_no_probes_after_closing():
    result = forecast(state([counter(10, A)], waiting(A, 1), close_s=NOW + 1000), demand())
    assert [p.at_s for p in result.services[A].points] == [NOW, NOW + 300, NOW + 600, NOW + 900]


def test_the_same_seed_gives_the_same_forecast_and_another_differs():
    hall = state([counter(10, A)], waiting(A, 3))
    one, two = forecast(hall, demand({A: 1.0}), seed=1), forecast(hall, demand({A: 1.0}), seed=1)
    other = forecast(hall, demand({A: 1.0}), seed=2)
    assert one.services[A].points == two.services[A].points
    assert one.services[A].points != other.services[A].points


def test_draws_do_not_depend_on_the_counters():
    """Common random numbers: the same futures, whatever the counters."""
    one = draw(state([counter(10, A)], waiting(A, 3)), demand({A: 1.0}), runs=5, seed=3)
    two = draw(
        state([counter(10, A), counter(11, B)], waiting(A, 3)), demand({A: 1.0}), runs=5, seed=3
    )
    assert [[v for v in run if not v.probe] for run in one.runs] == [
        [v for v in run if not v.probe] for run in two.runs
    ]


def test_the_priority_lane_waits_less():
    tickets = waiting(A, 6)
    ahead = [WaitingTicket(100, A, NOW, NOW + 900, priority=True)]
    hall = state([counter(10, A)], tickets + ahead)
    result = evaluate(hall, draw(hall, demand(), runs=10))
    assert result.services[A].points[0].breach_probability >= 0.9  # the normal newcomer


def test_suggests_opening_a_closed_counter_that_serves_the_service():
    hall = state([counter(10, A), counter(11, A, B, is_open=False)], waiting(A, 5))
    need = demand()
    before = forecast(hall, need).services[A].probability(NOW + 1800)
    assert before >= 0.6
    s = suggest(hall, need, A)
    assert s is not None and s.action == "open_counter" and s.counter_id == 11
    assert s.probability_before == before
    assert s.probability_after < 0.6 and s.wait_after_s < s.wait_before_s


def test_prefers_adding_the_service_to_an_idle_counter_over_opening_one():
    hall = state([counter(10, A), counter(11, B), counter(12, A, is_open=False)], waiting(A, 5))
    s = suggest(hall, demand(), A)
    assert s is not None and (s.action, s.counter_id) == ("add_service", 11)
    assert s.services_after == (B, A)


def test_moves_a_service_with_slack_when_adding_is_not_enough():
    """B's steady visitors keep counters 11 and 12 going: A last at 11 comes too late,
    A instead of B at 11 works, and 12 alone keeps B within its target."""
    hall = state([counter(10, A), counter(11, B), counter(12, B)], waiting(A, 8))
    need = demand({B: 2.0})
    s = suggest(hall, need, A)
    assert s is not None and s.action == "move_service"
    assert (s.counter_id, s.from_service_id, s.services_after) == (11, B, (A,))
    assert s.probability_after < 0.6 <= s.probability_before
    assert all(p < 0.6 for _, p in s.others)


def test_a_lasting_breach_is_judged_on_the_visitors_a_change_can_still_help():
    """A crowd that keeps coming: visitors of the next minutes find the queue it left
    whatever is done, but a second counter saves those arriving from ten minutes on."""
    hall = state([counter(10, A), counter(11, B)], waiting(A, 8))
    need = demand({A: 3.0})  # 12 an hour at 5 minutes each: one counter's whole hour
    base = forecast(hall, need).services[A]
    assert base.points[0].breach_probability >= 0.9  # the next minutes: lost anyway
    s = suggest(hall, need, A)
    assert s is not None and (s.action, s.counter_id) == ("add_service", 11)
    assert s.probability_after < 0.6 <= s.probability_before
    helped = evaluate(
        replace(hall, counters=[counter(10, A), counter(11, B, A)]), draw(hall, need)
    ).services[A]
    assert helped.points[0].breach_probability >= 0.6  # still: a crowd already waits
    assert helped.probability(NOW + 1800, NOW + 600) < 0.6


def test_only_allowed_counters_are_opened():
    hall = state([counter(10, A), counter(11, A, B, is_open=False)], waiting(A, 5))
    assert suggest(hall, demand(), A, allowed_counters={99}) is None
    assert suggest(hall, demand(), A, allowed_counters={11}).action == "open_counter"


def test_raises_the_service_at_a_counter_that_has_it_last():
    """Counter 11 takes D first, whose visitors can wait an hour: A first there helps A
    and costs D nothing that matters."""
    d = 4
    tickets = waiting(A, 6) + [WaitingTicket(50 + i, d, NOW - 60, NOW + 3540) for i in range(2)]
    hall = state([counter(10, A), counter(11, d, A)], tickets)
    hall.services[d] = SimService(d, "d", 3600)
    need = demand()
    need.service_times[d] = ServiceTime(300.0, 0.5)
    s = suggest(hall, need, A)
    assert s is not None
    assert s.action == "raise_service" and s.services_after == (A, d)
    assert s.probability_after < 0.6 <= s.probability_before
    assert s.others == ()  # D stays within its hour


def test_no_suggestion_when_nothing_helps_enough():
    hall = state([counter(10, A)], waiting(A, 30))
    assert suggest(hall, demand(), A) is None


def test_no_suggestion_that_only_moves_the_breach():
    """The only other counter is busy with C (near its target): taking A from it would
    push C over."""
    hall = state([counter(10, A), counter(11, C)], waiting(A, 5) + waiting(C, 2, 50))
    s = suggest(hall, demand(), A)
    assert s is None or all(p < 0.6 for _, p in s.others)


def test_a_rise_within_the_noise_is_not_moving_the_breach():
    """Another service taken over the threshold vetoes a change only by a rise the dice
    do not make on their own (one run in 20 is 0.05)."""
    assert not moves_breach(0.55, 0.6, 0.6)  # one run
    assert not moves_breach(0.6 - NOISE * 0.8, 0.6, 0.6)
    assert moves_breach(0.5, 0.6, 0.6)  # two runs: 0.6 - 0.5 is 0.0999... in floats
    assert moves_breach(0.2, 0.9, 0.6)
    assert not moves_breach(0.6, 0.9, 0.6)  # at risk already: not moved there
    assert not moves_breach(0.1, 0.55, 0.6)  # still under


def test_opens_the_counter_someone_works_at_first():
    hall = state(
        [counter(10, A), counter(11, A, is_open=False), counter(12, A, is_open=False)],
        waiting(A, 5),
    )
    assert suggest(hall, demand(), A).counter_id == 11  # the same: the first
    assert suggest(hall, demand(), A, present={12}).counter_id == 12


def test_the_breach_is_a_service_level_of_at_least_two_visitors():
    assert (WARN_S, MIN_OVER, SERVICE_LEVEL) == (1800, 2, 0.8)
    assert not window_breached([], 900)
    assert not window_breached([1000], 900)  # one visitor over: not a breach
    assert not window_breached([1000, 100], 900)  # one of two, however rare the service
    assert window_breached([1000, 1200, 100], 900)  # two of three
    assert not window_breached([900, 900, 900], 900)  # at the target is within it
    # Two of ten are 20%: not more than 1 - 0.8; three of ten are.
    assert not window_breached([1000, 1000] + [60] * 8, 900)
    assert window_breached([1000, 1000, 1000] + [60] * 7, 900)


def test_the_window_is_its_arrivals_and_the_crowd_not_yet_past_the_target():
    # A crowd of six just came in (1 to 6 minutes ago), nobody more coming: its later
    # half will wait past the 15 minutes at one counter. That is the breach to warn of.
    crowd = forecast(state([counter(10, A)], waiting(A, 6)), demand())
    assert crowd.services[A].points[0].breach_probability >= 0.9
    assert crowd.services[A].window_probability >= 0.9
    # The same six, all past their target already: a breach that has happened, not one
    # to warn of; nobody else is in the window.
    late = [
        WaitingTicket(t.key, t.service_id, t.arrival_s - 1200, t.due_s - 1200)
        for t in waiting(A, 6)
    ]
    past = forecast(state([counter(10, A)], late), demand())
    assert past.services[A].points[0].breach_probability >= 0.9
    assert past.services[A].window_probability == 0.0
    # Arrivals behind them (4 in a quarter hour, 5 minutes each) are a breach again.
    busy = forecast(state([counter(10, A)], late), demand({A: 4.0}))
    assert busy.services[A].window_probability >= 0.9
    # One counter keeps up with one arrival a quarter hour: a quiet window.
    quiet = forecast(state([counter(10, A)]), demand({A: 1.0}))
    assert quiet.services[A].window_probability < 0.1
    # A window of 5 minutes holds fewer arrivals than one of 30.
    short = forecast(state([counter(10, A)], late), demand({A: 4.0}), window_s=300)
    assert short.services[A].window_s == 300
    assert short.services[A].window_probability < busy.services[A].window_probability


def test_a_suggestion_reports_the_window_probability_before_and_after():
    hall = state([counter(10, A), counter(11, A, B, is_open=False)], waiting(A, 5))
    need = demand({A: 3.0})
    before = forecast(hall, need).services[A].window_probability
    assert before >= 0.6
    s = suggest(hall, need, A)
    assert s is not None and s.action == "open_counter"
    assert s.window_probability_before == before
    assert s.window_probability_after < before
