"""What the forecast starts from, as plain data: the hall now (:class:`HallState`) and
what the center expects of the rest of the day (:class:`Demand`). Built from the
database by snapshot.py and history.py, or from a simulated day by the benchmarks,
so the forecast itself (forecast.py) never reads the database.

Times are seconds since the center's local midnight of the business day: arrival
profiles are by time of day, and a day's simulation starts at its opening.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .simulate import Policy, SimCounter, SimService

BIN_S = 15 * 60  # arrival profiles are counted per quarter of an hour
BINS_PER_DAY = 24 * 3600 // BIN_S


@dataclass(frozen=True)
class WaitingTicket:
    """A visitor waiting now. ``due_s``: when they are due (as call-next orders them);
    ``callable_s``: not callable before (a booking's slot), else None; ``lane``: the
    ticket's lane (simulate.FRONT/PRIORITY/NORMAL; None: by ``priority``);
    ``target_counter``: sent to that counter (simulate.Visitor has the same fields)."""

    key: int  # the ticket's id
    service_id: int
    arrival_s: float
    due_s: float
    priority: bool = False
    callable_s: float | None = None
    lane: int | None = None
    target_counter: int | None = None


@dataclass
class HallState:
    """The hall at ``now_s``: services, counters (open ones open from now on, with
    ``busy_until`` the expected end of the visitor they have; closed or paused ones
    with no opening), who waits, and the call policy."""

    now_s: float
    services: dict[int, SimService]
    counters: list[SimCounter]
    waiting: list[WaitingTicket]
    policy: Policy = field(default_factory=Policy)
    close_s: float | None = None  # doors close: no arrivals after this
    # A desk's own time between a visit's end and its next call (history.desk_turnaround
    # over today's calls; 0: none measured).
    turnaround_s: float = 0.0


@dataclass(frozen=True)
class ServiceTime:
    """A service's time at the counter, call to end: lognormal with this mean and
    coefficient of variation (``samples``: how many recent visits it comes from)."""

    mean_s: float
    cv: float = 0.5
    samples: int = 0


@dataclass
class Demand:
    """Expected arrivals per service per quarter hour of the day (``BINS_PER_DAY``
    values each; walk-ins and checked-in bookings alike), and service times."""

    arrivals: dict[int, list[float]]
    service_times: dict[int, ServiceTime]

    def expected(self, service_id: int, start_s: float, end_s: float) -> float:
        """Expected arrivals of one service in [start_s, end_s), bins pro rata."""
        profile = self.arrivals.get(service_id)
        if not profile or end_s <= start_s:
            return 0.0
        total = 0.0
        first = int(start_s // BIN_S)
        last = int((end_s - 1e-9) // BIN_S)
        for b in range(max(first, 0), min(last, BINS_PER_DAY - 1) + 1):
            lo, hi = max(start_s, b * BIN_S), min(end_s, (b + 1) * BIN_S)
            total += profile[b] * (hi - lo) / BIN_S
        return total
