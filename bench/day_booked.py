"""5b. The simulated busy day with bookings: the day of scenario 5 (bench/day_plan.py:
its visitors, 40 services, 20 counters), where a share of the visitors booked a slot
the day before and behave as ASAN's visitors did on one day in 2020: 29 % never came,
43 % came about two hours early (refused at the kiosk as too early, they wait for the
check-in window or come back), a few came late within the grace and beyond it (those
take a walk-in ticket). Walk-ins' and bookings' waits side by side.

Why not through HTTP on the compressed clock of scenario 5: the booking rules are in
real minutes that the server reads from its own clock (slots of at least 5 minutes, a
30-minute check-in window, the 2-minute call lead); compressed 100 times, a slot would
be 9 seconds and the lead 200 simulated minutes. So this day runs the real engine in
process (server/appointments/ booking.book and checkin.check_in, server/queue/ issue,
call-next, start, complete, no-show; the upkeep's mark_no_show_bookings each minute),
each step in its own ``db.write()`` as the API does, on a SQLite file with the
production settings, with ``now`` set to the simulated instant: a discrete-event
simulation, as fast as the engine goes. Each operation's CPU time (this process: the
engine, SQLAlchemy and SQLite) is measured, so the rates come with their cost.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server import create_app
from server.appointments import booking, checkin, upkeep
from server.errors import NovbeError
from server.extensions import db
from server.migrate import upgrade
from server.models import Counter, Ticket
from server.queue import call_next, complete, issue_ticket, no_show, recall, start
from tests import factories

from . import day_plan
from .common import percentile

NAME = "bookings"
TITLE = "Simulated day with bookings: walk-ins and booked visitors side by side"
VISITORS, SMOKE_VISITORS = 3000, 200
BOOKED_SHARE = 0.3  # of the day's visitors, booked the day before
# ASAN, one day in 2020 (12,458 bookings): 29 % no-show, 43 % about two hours early,
# 497 late (4 %); the rest on time. Late ones split within / beyond the grace.
NO_SHOW, EARLY_2H, LATE_IN_GRACE, LATE_BEYOND = 0.29, 0.43, 0.03, 0.01
COME_BACK_SHARE = 0.2  # of those refused as too early: leave and come back near the slot
SLOT_MIN, CHECKIN_EARLY_MIN, LATE_GRACE_MIN = 15, 30, 10
SLOT_HEADROOM = 1.5  # places per slot over the expected bookings of an average slot
DAY = date(2030, 3, 11)  # a Monday; Asia/Baku has no daylight saving time
ZONE = "Asia/Baku"


@dataclass
class Visit:
    """One visitor's day: what they planned and what the engine made of it."""

    visitor: day_plan.Visitor
    booked: bool = False
    behaviour: str = "walk_in"  # walk_in | no_show | early | on_time | late | too_late
    slot: float | None = None  # simulated minutes since midnight
    code: str | None = None
    arrive: float | None = None  # first time at the kiosk
    refused_early: int = 0
    ticket_id: int | None = None
    kind: str | None = None  # the ticket's kind
    checked_in: float | None = None  # when the ticket was made (issue or check-in)
    callable: float | None = None
    called: float | None = None
    outcome: str | None = None


@dataclass
class Ops:
    """CPU and wall seconds per engine operation (each one its own transaction)."""

    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @contextmanager
    def timed(self, kind: str):
        cpu, wall = time.process_time(), time.perf_counter()
        with db.write() as s:
            yield s
        self.cpu[kind].append(time.process_time() - cpu)
        self.wall[kind].append(time.perf_counter() - wall)

    def summary(self) -> dict:
        out = {}
        for kind in sorted(self.cpu):
            cpu, wall = self.cpu[kind], self.wall[kind]
            total_wall = sum(wall)
            out[kind] = {
                "n": len(cpu),
                "cpu_ms_per_op": round(1000 * statistics.fmean(cpu), 3),
                "p95_ms": round(1000 * percentile(wall, 95), 3),
                # Back to back on one core: what the engine alone could sustain.
                "ops_per_s": round(len(wall) / total_wall, 1) if total_wall else None,
            }
        return out


def minutes_to(base: datetime, minutes: float) -> datetime:
    return base + timedelta(minutes=minutes)


class BookedDay:
    def __init__(self, visitors: int, seed: int = day_plan.SEED) -> None:
        self.rng = random.Random(seed * 7919)
        self.visits = [Visit(v) for v in day_plan.visitors(visitors, seed)]
        self.ops = Ops()
        midnight = datetime.combine(DAY, day_time(0), tzinfo=ZoneInfo(ZONE))
        self.base = midnight.astimezone(UTC)
        self.events: list[tuple[float, int, str, object]] = []
        self.seq = 0
        self.desk_free: dict[int, bool] = {}
        self.desk_services: dict[int, set[str]] = {}
        # What a counter's screen shows: per service, when each waiting ticket becomes
        # callable. Desks press call-next only when one of their services has one.
        self.callable_at: dict[str, dict[int, float]] = defaultdict(dict)
        self.by_ticket: dict[int, Visit] = {}

    def at(self, minutes: float) -> datetime:
        return minutes_to(self.base, minutes)

    def push(self, when: float, kind: str, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    # -- the center and the bookings made the day before

    def setup(self) -> None:
        spec = day_plan.center_spec(ZONE, 1)
        spec["call_policy"] = "strict"
        per_slot = self._places_per_slot()
        for category in spec["categories"]:
            for service in category["services"]:
                plan = day_plan.SERVICES[service["code"]]
                service.update(
                    target_wait_min=plan.target_min,  # real minutes: no compression here
                    bookable=True,
                    slot_min=SLOT_MIN,
                    bookings_per_slot=per_slot[service["code"]],
                    checkin_early_min=CHECKIN_EARLY_MIN,
                    late_grace_min=LATE_GRACE_MIN,
                    after_grace="walk_in",
                )
        with db.write() as s:
            center = factories.make_center(s, "booked-day", **spec)
            self.code = center.code
            self.kiosk = factories.kiosk_actor(s, center)
            counters = s.scalars(
                select(Counter).where(Counter.center_id == center.id).order_by(Counter.id)
            ).all()
            self.desks = {}
            plans = dict(day_plan.counters())
            for counter in counters:
                actor = factories.make_staff(s, f"clerk-{counter.label}", "staff", center.code)
                self.desks[counter.id] = actor
                self.desk_services[counter.id] = set(plans[counter.label])
                self.desk_free[counter.id] = True
        self._book()

    def _places_per_slot(self) -> dict[str, int]:
        slots = (day_plan.CLOSE_MIN - day_plan.OPEN_MIN) / SLOT_MIN
        weights = {code: spec.weight for code, spec in day_plan.SERVICES.items()}
        total = sum(weights.values())
        n = len(self.visits) * BOOKED_SHARE
        return {
            c: max(1, math.ceil(n * w / total / slots * SLOT_HEADROOM)) for c, w in weights.items()
        }

    def _book(self) -> None:
        """Booked visitors take the first slot at or after the time they mean to come
        (the next ones if it is full); booked the day before at noon."""
        booked_at = self.at(-12 * 60)
        for visit in self.visits:
            v = visit.visitor
            if self.rng.random() >= BOOKED_SHARE:
                continue
            first = day_plan.OPEN_MIN + SLOT_MIN * math.ceil(
                (v.arrival_min - day_plan.OPEN_MIN) / SLOT_MIN
            )
            for slot in (first + k * SLOT_MIN for k in range(4)):
                if slot + SLOT_MIN > day_plan.CLOSE_MIN:
                    break
                try:
                    with self.ops.timed("book") as s:
                        appointment = booking.book(
                            s, self.code, v.service, self.at(slot), v.language, now=booked_at
                        )
                        visit.code = appointment.code
                except NovbeError as exc:
                    self.ops.refused[f"book {exc.code}"] += 1
                    continue
                visit.booked, visit.slot = True, slot
                break
            if visit.booked:
                self._plan_arrival(visit)

    def _plan_arrival(self, visit: Visit) -> None:
        r, slot = self.rng.random(), visit.slot
        if r < NO_SHOW:
            visit.behaviour = "no_show"
            return
        r -= NO_SHOW
        if r < EARLY_2H:
            visit.behaviour = "early"
            arrive = slot - self.rng.uniform(90, 150)
            visit.arrive = max(arrive, day_plan.OPEN_MIN - 15)  # the doors open at 08:45
        elif r - EARLY_2H < LATE_IN_GRACE:
            visit.behaviour = "late"
            visit.arrive = slot + self.rng.uniform(0.5, LATE_GRACE_MIN - 0.5)
        elif r - EARLY_2H - LATE_IN_GRACE < LATE_BEYOND:
            visit.behaviour = "too_late"
            visit.arrive = slot + self.rng.uniform(LATE_GRACE_MIN + 1, 40)
        else:
            visit.behaviour = "on_time"
            visit.arrive = slot - self.rng.uniform(0, CHECKIN_EARLY_MIN - 5)

    # -- the day

    def run(self) -> None:
        for index, visit in enumerate(self.visits):
            if visit.booked:
                if visit.arrive is not None:
                    self.push(visit.arrive, "check_in", index)
            else:
                self.push(visit.visitor.arrival_min, "walk_in", index)
        upkeep_until = day_plan.CLOSE_MIN + 30
        for minute in range(day_plan.OPEN_MIN, upkeep_until):
            self.push(minute + 0.5, "upkeep")  # the maintenance loop, each minute
        while self.events:
            now, _, kind, payload = heapq.heappop(self.events)
            getattr(self, f"_on_{kind}")(now, payload)
            self._call_idle_desks(now)

    def _on_upkeep(self, now: float, _payload) -> None:
        with self.ops.timed("upkeep") as s:
            upkeep.mark_no_show_bookings(s, self.at(now))

    def _on_walk_in(self, now: float, index: int) -> None:
        visit = self.visits[index]
        v = visit.visitor
        with self.ops.timed("issue") as s:
            ticket = issue_ticket(
                s, self.code, v.service, v.language, v.priority, self.kiosk, now=self.at(now)
            ).ticket
            self._waiting(visit, ticket, now)

    def _on_check_in(self, now: float, index: int) -> None:
        visit = self.visits[index]
        v = visit.visitor
        try:
            with self.ops.timed("check_in") as s:
                result = checkin.check_in(
                    s, self.code, visit.code, self.kiosk, now=self.at(now), priority=v.priority
                )
                self._waiting(visit, result.issued.ticket, now)
        except NovbeError as exc:
            self.ops.refused[f"check_in {exc.code}"] += 1
            if exc.code != "too_early":
                return
            visit.refused_early += 1
            opens = visit.slot - CHECKIN_EARLY_MIN
            if self.rng.random() < COME_BACK_SHARE:  # leave, come back near the slot
                retry = visit.slot - self.rng.uniform(0, CHECKIN_EARLY_MIN - 5)
            else:  # wait in the hall and try again when the window opens
                retry = opens + self.rng.uniform(0, 3)
            self.push(max(retry, opens), "check_in", index)

    def _waiting(self, visit: Visit, ticket: Ticket, now: float) -> None:
        visit.ticket_id, visit.kind, visit.checked_in = ticket.id, ticket.kind, now
        ready = ticket.callable_at
        visit.callable = now if ready is None else (ready - self.base).total_seconds() / 60
        self.by_ticket[ticket.id] = visit
        self.callable_at[ticket.service.code][ticket.id] = visit.callable
        if visit.callable > now:
            self.push(visit.callable, "wake")

    def _on_wake(self, now: float, _payload) -> None:
        pass  # a booked visitor became callable: the idle desks look again

    def _call_idle_desks(self, now: float) -> None:
        for counter_id, free in self.desk_free.items():
            if not free or not self._work_for(counter_id, now):
                continue
            with self.ops.timed("call_next") as s:
                ticket = call_next(s, counter_id, self.desks[counter_id], now=self.at(now))
                ticket_id = ticket.id if ticket is not None else None
                service = ticket.service.code if ticket is not None else None
            if ticket_id is None:
                continue
            self.callable_at[service].pop(ticket_id, None)
            visit = self.by_ticket[ticket_id]
            visit.called = now
            self.desk_free[counter_id] = False
            self.push(now + day_plan.WALK_MIN, "arrive_at_desk", (counter_id, ticket_id))

    def _work_for(self, counter_id: int, now: float) -> bool:
        return any(
            t <= now
            for code in self.desk_services[counter_id]
            for t in self.callable_at[code].values()
        )

    def _on_arrive_at_desk(self, now: float, payload) -> None:
        counter_id, ticket_id = payload
        visit, actor = self.by_ticket[ticket_id], self.desks[counter_id]
        if visit.kind == "walk_in" and visit.visitor.no_show and visit.booked is False:
            with self.ops.timed("recall") as s:
                recall(s, ticket_id, actor, now=self.at(now + day_plan.NO_SHOW_WAIT_MIN))
            with self.ops.timed("no_show") as s:
                no_show(s, ticket_id, actor, now=self.at(now + 2 * day_plan.NO_SHOW_WAIT_MIN))
            visit.outcome = "no_show"
            self.push(now + 2 * day_plan.NO_SHOW_WAIT_MIN, "desk_free", counter_id)
            return
        with self.ops.timed("start") as s:
            start(s, ticket_id, actor, now=self.at(now))
        self.push(now + visit.visitor.service_min, "complete", (counter_id, ticket_id))

    def _on_complete(self, now: float, payload) -> None:
        counter_id, ticket_id = payload
        with self.ops.timed("complete") as s:
            complete(s, ticket_id, self.desks[counter_id], now=self.at(now))
        self.by_ticket[ticket_id].outcome = "done"
        self.desk_free[counter_id] = True

    def _on_desk_free(self, now: float, counter_id: int) -> None:
        self.desk_free[counter_id] = True


# --- figures ------------------------------------------------------------------------------


def wait_figures(waits: list[float], targets: list[int]) -> dict:
    within = sum(1 for w, t in zip(waits, targets, strict=True) if w <= t)
    return {
        "n": len(waits),
        "mean_min": round(statistics.fmean(waits), 1) if waits else None,
        "p90_min": round(percentile(waits, 90), 1) if waits else None,
        "within_target": round(within / len(waits), 3) if waits else None,
    }


def figures(day: BookedDay) -> dict:
    """Walk-ins (their wait from the ticket to the call) and bookings (from check-in to
    the call, and after the slot's start: from the later of start and check-in) side
    by side, in simulated minutes; a booking's target is its service's target wait."""
    target = {code: spec.target_min for code, spec in day_plan.SERVICES.items()}
    walk, walk_t, hall, after, booked_t = [], [], [], [], []
    for v in day.visits:
        if v.called is None:
            continue
        t = target[v.visitor.service]
        if v.kind == "appointment":
            hall.append(v.called - v.checked_in)
            after.append(max(0.0, v.called - max(v.slot, v.checked_in)))
            booked_t.append(t)
        else:  # walk-ins, and late bookings who took a walk-in ticket
            walk.append(v.called - v.checked_in)
            walk_t.append(t)
    behaviours = defaultdict(int)
    for v in day.visits:
        if v.booked:
            behaviours[v.behaviour] += 1
    booked = sum(behaviours.values())
    return {
        "walk_ins": wait_figures(walk, walk_t),
        "bookings": {
            **wait_figures(hall, booked_t),
            "after_start": wait_figures(after, booked_t),
            "booked": booked,
            "behaviour": dict(sorted(behaviours.items())),
            "refused_too_early": sum(v.refused_early for v in day.visits),
            "checked_in": sum(1 for v in day.visits if v.kind == "appointment"),
            "late_walk_ins": sum(1 for v in day.visits if v.booked and v.kind == "walk_in"),
            "called_before_start": sum(
                1
                for v in day.visits
                if v.kind == "appointment" and v.called is not None and v.called < v.slot
            ),
        },
        "left_waiting": sum(1 for v in day.visits if v.ticket_id is not None and v.called is None),
        "refused": dict(sorted(day.ops.refused.items())),
    }


@contextmanager
def _app(path: Path):
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "SQLITE_SYNCHRONOUS": "FULL",  # as production: an fsync per commit
            "SOCKETIO_MESSAGE_QUEUE": "",
            "LEDGER_KEY_FILE": str(path.with_suffix(".pem")),
        }
    )
    with app.app_context():
        upgrade(db.engine)
        try:
            yield app
        finally:
            db.dispose()


def run(ctx) -> dict:
    visitors = SMOKE_VISITORS if ctx.smoke else VISITORS
    with _app(ctx.tmp / "booked-day.db"):
        day = BookedDay(visitors)
        started = time.monotonic()
        day.setup()
        day.run()
        elapsed = time.monotonic() - started
        result = figures(day)
    return {
        "visitors": visitors,
        "booked_share": BOOKED_SHARE,
        "seed": day_plan.SEED,
        "shares": {
            "no_show": NO_SHOW,
            "early_2h": EARLY_2H,
            "late_in_grace": LATE_IN_GRACE,
            "late_beyond_grace": LATE_BEYOND,
        },
        "rules": {
            "slot_min": SLOT_MIN,
            "checkin_early_min": CHECKIN_EARLY_MIN,
            "late_grace_min": LATE_GRACE_MIN,
            "call_policy": "strict",
        },
        "simulated_s": round(elapsed, 1),
        **result,
        "operations": day.ops.summary(),
    }


# --- the report ---------------------------------------------------------------------------

SECTION = "## Simulated day with bookings: walk-ins and booked visitors"


def _f(value, unit: str = "") -> str:
    return "–" if value is None else f"{value}{unit}"


def _share(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def rows(result: dict) -> list[tuple[str, str, str]]:
    """The main table's rows: both kinds of visitor's waits, and the engine's CPU."""
    w, b = result["walk_ins"], result["bookings"]
    a, ops = b["after_start"], result["operations"]
    return [
        (
            f"Day with bookings ({result['visitors']:,} visitors, "
            f"{_share(result['booked_share'])} booked): walk-ins",
            f"wait avg {_f(w['mean_min'])} / p90 {_f(w['p90_min'])} min, "
            f"{_share(w['within_target'])} within target (n={w['n']:,})",
            "–",
        ),
        (
            "Day with bookings: booked visitors",
            f"after slot start avg {_f(a['mean_min'])} / p90 {_f(a['p90_min'])} min, "
            f"{_share(a['within_target'])} within target; in the hall from check-in "
            f"avg {_f(b['mean_min'])} / p90 {_f(b['p90_min'])} min (n={b['n']:,}; "
            f"{b['refused_too_early']:,} refused as too early)",
            "–",
        ),
        (
            "Day with bookings: engine CPU per operation (in process)",
            ", ".join(
                f"{kind} {ops[kind]['cpu_ms_per_op']} ms"
                for kind in ("book", "check_in", "issue", "call_next", "start", "complete")
                if kind in ops
            ),
            "–",
        ),
    ]


def section(report: dict) -> str:
    """docs/benchmarks.md's section: the day, both kinds of visitor side by side, and
    each engine operation's rate with its CPU."""
    d = report["scenarios"].get(NAME)
    if not d or "error" in d:
        return ""
    w, b = d["walk_ins"], d["bookings"]
    a, r, shares = b["after_start"], d["rules"], d["shares"]
    behaviour = ", ".join(f"{kind} {n:,}" for kind, n in b["behaviour"].items())
    lines = [
        SECTION,
        "",
        f"Scenario 5's day ({d['visitors']:,} visitors, seed {d['seed']}) where "
        f"{_share(d['booked_share'])} of the visitors booked a {r['slot_min']}-minute slot the "
        f"day before, behaving as ASAN's did: {_share(shares['no_show'])} never came, "
        f"{_share(shares['early_2h'])} came about two hours early (refused at the kiosk, they "
        "wait for the check-in window or come back), "
        f"{_share(shares['late_in_grace'])} came late within the {r['late_grace_min']}-minute "
        f"grace and {_share(shares['late_beyond_grace'])} after it (a walk-in ticket). Check-in "
        f"opens {r['checkin_early_min']} minutes before the slot; {r['call_policy']} policy. "
        "The real engine in process on a simulated clock (bench/day_booked.py says why not "
        f"HTTP); {d['simulated_s']} s for the day. Minutes are real minutes of the day.",
        "",
        "| | Visitors | Wait avg | Wait p90 | Within target |",
        "|---|---:|---:|---:|---:|",
        f"| Walk-ins: ticket to call | {w['n']:,} | {_f(w['mean_min'])} | {_f(w['p90_min'])} "
        f"| {_share(w['within_target'])} |",
        f"| Bookings: after slot start (or check-in, if later) | {a['n']:,} "
        f"| {_f(a['mean_min'])} | {_f(a['p90_min'])} | {_share(a['within_target'])} |",
        f"| Bookings: in the hall, check-in to call | {b['n']:,} | {_f(b['mean_min'])} "
        f"| {_f(b['p90_min'])} | {_share(b['within_target'])} |",
        "",
        f"Bookings: {b['booked']:,} made ({behaviour}); "
        f"{b['checked_in']:,} checked in, {b['refused_too_early']:,} refusals as too early, "
        f"{b['late_walk_ins']:,} late visitors given a walk-in ticket, "
        f"{b['called_before_start']:,} called in the lead before their slot. "
        f"Left waiting at the end: {d['left_waiting']}.",
        "",
        "| Engine operation | n | CPU per operation | p95 | Back to back |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, op in d["operations"].items():
        lines.append(
            f"| {kind} | {op['n']:,} | {op['cpu_ms_per_op']} ms | {op['p95_ms']} ms "
            f"| {_f(op['ops_per_s'], '/s')} |"
        )
    lines += [
        "",
        "Issue and check-in include the wait the visitor is promised. On this simulated "
        "clock each computes its services' loads afresh (three queries over 40 services, "
        "~2.5 ms): the engine reads the per-process load cache only for the present "
        "(loads.py), as a server does. A whole server's issuance, cache and all, is "
        "`python -m bench.compare`'s figure.",
    ]
    return "\n".join(lines) + "\n"
