"""A synthetic busy day of one center: its catalog of 40 services, 20 counters with
different service mixes, an arrival profile, and visitors drawn from a seed.

Promoted from the benchmark (bench/day_plan.py drives the real server with it) so the
forecast's benchmark, the tests and the benchmark's day share one generator. The
generator works in simulated minutes since midnight, as the benchmark's clock does;
:func:`scenario` and its neighbours turn a day into simulate.py's plain data
(seconds), with services and counters numbered from 1 in catalog order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .simulate import FOREVER, Policy, Scenario, SimCounter, SimService, Visitor
from .state import BIN_S, BINS_PER_DAY, ServiceTime

SEED = 5
OPEN_MIN = 9 * 60  # 09:00
CLOSE_MIN = 18 * 60  # doors close at 18:00; whoever is inside is still served
# Relative arrival rate for each hour from 09:00: a morning peak, the lunch dip at
# 13:00, a smaller afternoon peak, a quiet last hour.
HOURLY_PROFILE = (0.8, 1.3, 1.45, 1.1, 0.6, 0.95, 1.2, 1.05, 0.55)
PRIORITY_SHARE = 0.07
PRIORITY_CLASSES = (("elderly", 0.5), ("disability", 0.25), ("pregnant", 0.15), ("veteran", 0.1))
NO_SHOW_SHARE = 0.03
LANGUAGES = (("az", 0.8), ("ru", 0.15), ("en", 0.05))
WALK_MIN = 0.3  # from the call to the counter
NO_SHOW_WAIT_MIN = 1.0  # a clerk waits this long before recalling, and again before giving up
MAX_SERVICE_FACTOR = 5.0  # a lognormal tail is cut at 5x the service's mean


@dataclass(frozen=True)
class ServiceSpec:
    code: str
    name: str
    target_min: int  # the service level's target wait (simulated)
    mean_min: float  # mean service time, start to end
    cv: float  # its coefficient of variation (lognormal)
    weight: float  # share of the day's visitors, relative


# category code, name, prefix letter, services. Frequent services are short; the long
# ones (property, vehicles, marriages) are rare, as at a real one-stop center.
CATALOG: tuple[tuple[str, str, str, tuple[ServiceSpec, ...]], ...] = (
    (
        "benefits",
        "Pensions and benefits",
        "P",
        (
            ServiceSpec("pension-new", "New pension", 20, 12, 0.5, 0.6),
            ServiceSpec("pension-recalc", "Pension recalculation", 15, 4, 0.6, 2),
            ServiceSpec("pension-statement", "Pension statement", 10, 1.5, 0.4, 7),
            ServiceSpec("disability-benefit", "Disability benefit", 20, 10, 0.5, 0.6),
            ServiceSpec("child-benefit", "Child benefit", 15, 4, 0.6, 2),
            ServiceSpec("targeted-aid", "Targeted social aid", 20, 8, 0.6, 0.8),
            ServiceSpec("funeral-grant", "Funeral grant", 15, 6, 0.5, 0.25),
            ServiceSpec("social-card", "Social card", 10, 2, 0.5, 3),
        ),
    ),
    (
        "documents",
        "Identity documents",
        "D",
        (
            ServiceSpec("id-card-first", "ID card, first issue", 15, 4, 0.4, 2),
            ServiceSpec("id-card-renew", "ID card renewal", 10, 2.5, 0.4, 6),
            ServiceSpec("id-card-pickup", "ID card pickup", 5, 1.5, 0.3, 12),
            ServiceSpec("passport-new", "Passport application", 15, 3.5, 0.4, 5),
            ServiceSpec("passport-pickup", "Passport pickup", 5, 1.5, 0.3, 10),
            ServiceSpec("driving-licence", "Driving licence exchange", 15, 3.5, 0.5, 3),
            ServiceSpec("vehicle-reg", "Vehicle registration", 20, 15, 0.6, 0.5),
            ServiceSpec("residence-reg", "Residence registration", 10, 2.5, 0.5, 4),
        ),
    ),
    (
        "property",
        "Property and registry",
        "R",
        (
            ServiceSpec("property-extract", "Property register extract", 10, 2, 0.5, 4),
            ServiceSpec("property-sale", "Property sale registration", 30, 25, 0.5, 0.25),
            ServiceSpec("inheritance", "Inheritance registration", 30, 20, 0.6, 0.2),
            ServiceSpec("land-plan", "Land plot plan", 20, 10, 0.6, 0.35),
            ServiceSpec("mortgage", "Mortgage registration", 20, 12, 0.5, 0.3),
            ServiceSpec("tech-passport", "Building technical passport", 20, 8, 0.5, 0.5),
            ServiceSpec("rent-contract", "Rent contract registration", 15, 5, 0.5, 1),
            ServiceSpec("register-fix", "Register correction", 20, 6, 0.6, 0.6),
        ),
    ),
    (
        "employment",
        "Employment",
        "E",
        (
            ServiceSpec("job-seeker", "Job seeker registration", 10, 3, 0.5, 2.5),
            ServiceSpec("unemployment", "Unemployment benefit", 15, 6, 0.5, 1.5),
            ServiceSpec("work-record", "Electronic work record", 10, 2, 0.5, 4),
            ServiceSpec("training", "Vocational training", 15, 5, 0.5, 0.8),
            ServiceSpec("self-employment", "Self-employment programme", 20, 10, 0.6, 0.3),
            ServiceSpec("labour-contract", "Labour contract notice", 10, 2, 0.4, 2.5),
            ServiceSpec("work-permit", "Work permit, foreign worker", 20, 12, 0.5, 0.4),
            ServiceSpec("employer-reg", "Employer registration", 15, 6, 0.5, 0.6),
        ),
    ),
    (
        "civil",
        "Civil status and notary",
        "N",
        (
            ServiceSpec("birth-cert", "Birth certificate", 10, 2.5, 0.4, 3),
            ServiceSpec("marriage", "Marriage registration", 20, 15, 0.4, 0.3),
            ServiceSpec("death-cert", "Death certificate", 10, 4, 0.4, 0.8),
            ServiceSpec("name-change", "Change of name", 15, 6, 0.5, 0.3),
            ServiceSpec("certified-copy", "Certified copy", 5, 1.5, 0.4, 8),
            ServiceSpec("power-of-attorney", "Power of attorney", 15, 3, 0.5, 3),
            ServiceSpec("travel-consent", "Travel consent for a child", 10, 3, 0.4, 1.5),
            ServiceSpec("apostille", "Apostille", 10, 2, 0.4, 2.5),
        ),
    ),
)

SERVICES: dict[str, ServiceSpec] = {s.code: s for _, _, _, group in CATALOG for s in group}
PREFIXES: dict[str, str] = {
    s.code: letter + "ABCDEFGH"[i] for _, _, letter, group in CATALOG for i, s in enumerate(group)
}
CATEGORY_OF: dict[str, str] = {s.code: code for code, _, _, group in CATALOG for s in group}
# The simulation's ids: services and counters numbered from 1 in catalog order.
SERVICE_IDS: dict[str, int] = {code: n + 1 for n, code in enumerate(SERVICES)}


def _codes(category: str) -> list[str]:
    return [s.code for code, _, _, group in CATALOG if code == category for s in group]


def _short(*categories: str) -> list[str]:
    """The quick services (a mean of 3 minutes or less) of some categories."""
    return [c for cat in categories for c in _codes(cat) if SERVICES[c].mean_min <= 3]


def _rotate(codes: list[str], k: int) -> list[str]:
    return codes[k % len(codes) :] + codes[: k % len(codes)]


def counters() -> list[tuple[str, list[str]]]:
    """20 counters, each with its services in order of preference: teams per category
    (their own services, each desk leading with a different one), some desks that also
    help a neighbouring team, specialists for the long property and vehicle cases, and
    two express desks for pick-ups and copies from every category."""
    docs, benefits = _codes("documents"), _codes("benefits")
    prop, work, civil = _codes("property"), _codes("employment"), _codes("civil")
    long_docs = ["vehicle-reg", "driving-licence"]
    plans: list[list[str]] = []
    for k in range(6):  # documents: the busiest team; two desks also take vehicles
        own = [c for c in docs if c not in long_docs]
        plans.append(_rotate(own, k) + (long_docs if k < 2 else []))
    for k in range(4):  # benefits; one desk helps employment
        plans.append(_rotate(benefits, 2 * k) + (work[:3] if k == 3 else []))
    for k in range(2):  # property: long cases; extracts are also done at civil desks
        plans.append(_rotate(prop, 3 * k))
    for k in range(3):  # employment; one desk helps benefits
        plans.append(_rotate(work, 2 * k) + (benefits[:3] if k == 2 else []))
    for k in range(3):  # civil status and notary; one desk also does property extracts
        plans.append(_rotate(civil, 3 * k) + (["property-extract", "rent-contract"] if k else []))
    express = _short("documents", "civil", "benefits", "employment", "property")
    plans.append(express)
    plans.append(list(reversed(express)))
    return [(str(n + 1), services) for n, services in enumerate(plans)]


@dataclass(frozen=True)
class Arrival:
    """One planned visitor, in simulated minutes since midnight."""

    index: int
    arrival_min: float
    service: str  # the service's code
    priority: str | None  # the priority class, or None
    language: str
    service_min: float  # how long the counter will take, start to end
    no_show: bool


def service_time(rng: random.Random, spec: ServiceSpec) -> float:
    """Lognormal with the service's mean and coefficient of variation, tail cut."""
    sigma = math.sqrt(math.log(1 + spec.cv**2))
    mu = math.log(spec.mean_min) - sigma**2 / 2
    return min(rng.lognormvariate(mu, sigma), MAX_SERVICE_FACTOR * spec.mean_min)


def visitors(count: int, seed: int = SEED) -> list[Arrival]:
    """``count`` arrivals of a non-homogeneous Poisson process with the hourly profile
    (conditioned on its total: each arrival time is drawn from the profile's density),
    each with a service by weight, maybe a priority class, a service time."""
    rng = random.Random(seed)
    hours = list(range(len(HOURLY_PROFILE)))
    times = sorted(
        OPEN_MIN + 60 * (rng.choices(hours, HOURLY_PROFILE)[0] + rng.random()) for _ in range(count)
    )
    codes = list(SERVICES)
    weights = [SERVICES[c].weight for c in codes]
    return [
        _visitor(rng, i, arrival, rng.choices(codes, weights)[0]) for i, arrival in enumerate(times)
    ]


def _visitor(rng: random.Random, index: int, arrival: float, code: str) -> Arrival:
    priority = None
    if rng.random() < PRIORITY_SHARE:
        priority = _pick(rng, PRIORITY_CLASSES)
    return Arrival(
        index=index,
        arrival_min=arrival,
        service=code,
        priority=priority,
        language=_pick(rng, LANGUAGES),
        service_min=service_time(rng, SERVICES[code]),
        no_show=rng.random() < NO_SHOW_SHARE,
    )


def _pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


def surge(
    day: list[Arrival],
    count: int,
    code: str,
    start_min: float,
    *,
    minutes: float = 45,
    factor: float = 3.0,
    seed: int = 0,
) -> list[Arrival]:
    """``day`` with one service's arrivals ``factor`` times its expected rate for
    ``minutes`` from ``start_min``: the extra visitors a Poisson process at ``factor -
    1`` times the rate of a day of ``count`` visitors, numbered after the day's."""
    rng = random.Random(seed)
    extra: list[Arrival] = []
    index = max((v.index for v in day), default=-1) + 1
    t = start_min
    while True:
        rate = (factor - 1) * rate_per_min(count, code, t)
        t += rng.expovariate(rate) if rate > 0 else minutes
        if t >= start_min + minutes or t >= CLOSE_MIN:
            break
        extra.append(_visitor(rng, index, t, code))
        index += 1
    return sorted(day + extra, key=lambda v: (v.arrival_min, v.index))


def rate_per_min(count: int, code: str, minute: float) -> float:
    """Expected arrivals per minute of one service at ``minute``, on a day of ``count``."""
    hour = int((minute - OPEN_MIN) // 60)
    if not 0 <= hour < len(HOURLY_PROFILE):
        return 0.0
    share = SERVICES[code].weight / sum(s.weight for s in SERVICES.values())
    return count * share * HOURLY_PROFILE[hour] / sum(HOURLY_PROFILE) / 60


def expected_arrivals(count: int) -> dict[int, list[float]]:
    """The day's profile as state.Demand wants it: expected arrivals per service id
    per quarter hour, for a day of ``count`` visitors (what a history of such days
    knows: no surge in it)."""
    out = {}
    for code, service_id in SERVICE_IDS.items():
        profile = [0.0] * BINS_PER_DAY
        for b in range(BINS_PER_DAY):
            profile[b] = rate_per_min(count, code, b * BIN_S / 60) * BIN_S / 60
        out[service_id] = profile
    return out


def service_times() -> dict[int, ServiceTime]:
    """The services' times at the counter as history knows them (the spec's mean and
    spread, walking to the counter included: the server measures call to end)."""
    return {
        SERVICE_IDS[code]: ServiceTime((spec.mean_min + WALK_MIN) * 60, spec.cv, 1000)
        for code, spec in SERVICES.items()
    }


def sim_services() -> dict[int, SimService]:
    return {
        SERVICE_IDS[code]: SimService(SERVICE_IDS[code], code, spec.target_min * 60.0)
        for code, spec in SERVICES.items()
    }


def sim_counters(
    open_s: list[tuple[float, float]] | None = None,
) -> list[SimCounter]:
    """The 20 counters, numbered from 1, open over ``open_s`` (from the opening on)."""
    intervals = open_s or [(OPEN_MIN * 60.0, FOREVER)]
    return [
        SimCounter(int(label), label, tuple(SERVICE_IDS[c] for c in codes), open=list(intervals))
        for label, codes in counters()
    ]


def sim_visitors(day: list[Arrival]) -> list[Visitor]:
    """The day as the simulation's visitors: keys are the arrivals' indexes, a service
    time runs from the call to the end (walking to the counter included)."""
    return [
        Visitor(
            v.index,
            v.arrival_min * 60,
            SERVICE_IDS[v.service],
            (v.service_min + WALK_MIN) * 60,
            priority=v.priority is not None,
            no_show=v.no_show,
        )
        for v in day
    ]


def scenario(day: list[Arrival], policy: Policy | None = None) -> Scenario:
    """The day in the hall: every counter open from 09:00, the ratio policy of the
    benchmark's center, a no-show costing the clerk two waits of a minute."""
    return Scenario(
        sim_services(),
        sim_counters(),
        sim_visitors(day),
        policy or Policy("ratio", 2),
        start_s=OPEN_MIN * 60.0,
        no_show_s=2 * NO_SHOW_WAIT_MIN * 60,
    )


def offered_load(day: list[Arrival], counter_count: int) -> dict[str, float]:
    """Work brought in (service plus walking time) per counter-minute of opening hours:
    over the whole day, and in its busiest hour."""
    work_per_hour = [0.0] * len(HOURLY_PROFILE)
    for v in day:
        hour = min(int((v.arrival_min - OPEN_MIN) // 60), len(HOURLY_PROFILE) - 1)
        work_per_hour[hour] += v.service_min + WALK_MIN
    capacity_hour = 60.0 * counter_count
    return {
        "day": round(sum(work_per_hour) / (capacity_hour * len(HOURLY_PROFILE)), 2),
        "peak_hour": round(max(work_per_hour) / capacity_hour, 2),
    }
