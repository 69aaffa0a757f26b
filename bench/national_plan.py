"""The national network (scenario 9's plan): 66 centers, 11 regional and 55 branches,
each with its catalog, counters and hourly arrival profile, drawn from a fixed seed so
every run sees the same network.

Invariants: the same seed gives the same network; every center's services have
prefixes unique in the center (1-3 uppercase letters, the server's rule); every
counter serves at least one of its center's services, and every service is served by
at least one counter; the day's visitors are split over the centers by their counter
count and sum to ``visitors``. Times are simulated minutes as in bench/day_plan.py.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from tests import factories

from .day_plan import CATALOG, HOURLY_PROFILE, OPEN_MIN, PREFIXES, ServiceSpec

SEED = 13
CENTERS = 66
REGIONAL = 11
VISITORS = 200_000
REGIONAL_SERVICES = (90, 130)
BRANCH_SERVICES = (40, 80)
REGIONAL_COUNTERS = (20, 30)
BRANCH_COUNTERS = (10, 20)
TRANSFER_SHARE = 0.02  # of the visitors served: sent on to another service of the center
# Waiting visitors at the peak: about this many minutes of a center's arrivals (the
# peak hour's waits), the backlog each measured window starts from.
BACKLOG_MIN = 35.0


@dataclass(frozen=True)
class Service:
    code: str
    prefix: str
    category: str
    spec: ServiceSpec  # the catalog service it varies (service time, weight)


@dataclass(frozen=True)
class CenterPlan:
    code: str
    regional: bool
    services: tuple[Service, ...]
    counters: tuple[tuple[str, tuple[str, ...]], ...]  # label, services in preference order
    profile: tuple[float, ...]  # relative arrivals per hour from 09:00, summing to 1
    visitors: int  # over the day

    def hourly_rate(self, hour: int) -> float:
        """Arrivals per simulated minute in hour ``hour`` (0 = 09:00)."""
        return self.visitors * self.profile[hour] / 60

    def weights(self) -> list[float]:
        return [s.spec.weight for s in self.services]


def _variants(rng: random.Random, count: int) -> list[Service]:
    """``count`` services: the 40 of the catalog first, then variants of them (a
    regional office's extra desks for the same kind of case), prefix + one letter."""
    base = [
        Service(s.code, PREFIXES[s.code], cat, s) for cat, _, _, group in CATALOG for s in group
    ]
    out = base[: min(count, len(base))]
    extra = count - len(out)
    letters = string.ascii_uppercase
    for k in range(extra):
        parent = base[k % len(base)]
        n = k // len(base)  # 0, 1, 2: the variant's round
        out.append(
            Service(
                f"{parent.code}-v{n + 2}",
                parent.prefix + letters[n],
                parent.category,
                parent.spec,
            )
        )
    rng.shuffle(out)
    return out


def _counters(rng: random.Random, services: list[Service], count: int) -> list[tuple]:
    """Teams by category (a desk leads with its category's services, rotated), some
    desks helping a second category, and express desks for the quick services; then
    every service nobody serves goes to the desk of its category with the fewest."""
    by_category: dict[str, list[str]] = {}
    for s in services:
        by_category.setdefault(s.category, []).append(s.code)
    categories = sorted(by_category)
    quick = [s.code for s in services if s.spec.mean_min <= 3]
    plans: list[list[str]] = []
    express = max(1, count // 10)
    for k in range(count - express):
        own = by_category[categories[k % len(categories)]]
        shift = rng.randrange(len(own))
        mix = own[shift:] + own[:shift]
        if rng.random() < 0.25:  # helps a neighbouring team
            other = by_category[categories[(k + 1) % len(categories)]]
            mix += rng.sample(other, min(3, len(other)))
        plans.append(mix)
    for _ in range(express):
        plans.append(rng.sample(quick, len(quick)))
    served = {code for plan in plans for code in plan}
    for s in services:
        if s.code not in served:
            team = [p for p in plans if p and SERVICES_OF.get(p[0]) == s.category] or plans
            min(team, key=len).append(s.code)
    return [(str(i + 1), tuple(plan)) for i, plan in enumerate(plans)]


def _profile(rng: random.Random) -> tuple[float, ...]:
    """bench/day_plan's hourly profile, shifted by up to an hour either way (some towns
    come early, some late) and each hour scaled by ±15%; normalised to sum to 1."""
    shift = rng.choice((-1, 0, 0, 1))
    hours = len(HOURLY_PROFILE)
    raw = [
        HOURLY_PROFILE[min(max(h - shift, 0), hours - 1)] * rng.uniform(0.85, 1.15)
        for h in range(hours)
    ]
    total = sum(raw)
    return tuple(x / total for x in raw)


def network(centers: int = CENTERS, visitors: int = VISITORS, seed: int = SEED) -> list[CenterPlan]:
    """The network: the first ``centers * REGIONAL / CENTERS`` (at least one) regional."""
    rng = random.Random(seed)
    regional = max(1, round(centers * REGIONAL / CENTERS))
    shapes = []
    for i in range(centers):
        big = i < regional
        n_services = rng.randint(*(REGIONAL_SERVICES if big else BRANCH_SERVICES))
        n_counters = rng.randint(*(REGIONAL_COUNTERS if big else BRANCH_COUNTERS))
        services = _variants(rng, n_services)
        shapes.append((big, services, _counters(rng, services, n_counters), _profile(rng)))
    desks = sum(len(c) for _, _, c, _ in shapes)
    shares = [visitors * len(c) // desks for _, _, c, _ in shapes]
    shares[0] += visitors - sum(shares)
    return [
        CenterPlan(
            f"nat-{'r' if big else 'b'}{i + 1:02d}",
            big,
            tuple(services),
            tuple(counters),
            profile,
            shares[i],
        )
        for i, (big, services, counters, profile) in enumerate(shapes)
    ]


SERVICES_OF: dict[str, str] = {}  # a service code -> its category, for any variant


def _register_categories() -> None:
    for cat, _, _, group in CATALOG:
        for s in group:
            SERVICES_OF[s.code] = cat
            for n in range(2, 6):
                SERVICES_OF[f"{s.code}-v{n}"] = cat


_register_categories()


def peak_hour(plans: list[CenterPlan]) -> int:
    """The network's busiest hour (0 = 09:00)."""
    hours = range(len(HOURLY_PROFILE))
    return max(hours, key=lambda h: sum(p.hourly_rate(h) for p in plans))


def peak_rate_per_s(plans: list[CenterPlan]) -> float:
    """The network's tickets per real second in its busiest hour, uncompressed."""
    h = peak_hour(plans)
    return sum(p.hourly_rate(h) for p in plans) / 60


def peak_start_min(plans: list[CenterPlan]) -> float:
    return OPEN_MIN + 60 * peak_hour(plans)


def backlog(plan: CenterPlan, hour: int) -> int:
    """Visitors waiting at the center when the peak window opens."""
    return round(plan.hourly_rate(hour) * BACKLOG_MIN)


def center_spec(plan: CenterPlan, kiosks: int = 2, displays: int = 2) -> dict:
    """The center in ``novbe import-center``'s format (tests/factories' defaults for
    the rest). Targets 0 for the reason bench/day_plan.center_spec gives."""
    categories: dict[str, list[Service]] = {}
    for s in plan.services:
        categories.setdefault(s.category, []).append(s)
    names = {code: name for code, name, _, _ in CATALOG}
    return factories.center_spec(
        plan.code,
        timezone="UTC",
        hours={"open": "00:00", "close": "23:59"},
        call_policy="ratio",
        priority_ratio=2,
        recalls_before_no_show=1,
        categories=[
            {
                "code": cat,
                "name": factories.names(names[cat]),
                "services": [
                    {
                        "code": s.code,
                        "prefix": s.prefix,
                        "target_wait_min": 0,
                        "name": factories.names(s.code),
                    }
                    for s in services
                ],
            }
            for cat, services in sorted(categories.items())
        ],
        counters=[{"label": label, "services": list(codes)} for label, codes in plan.counters],
        devices=[
            *({"kind": "kiosk", "name": f"kiosk-{i + 1}"} for i in range(kiosks)),
            *({"kind": "display", "name": f"hall-{i + 1}"} for i in range(displays)),
        ],
    )


def summary(plans: list[CenterPlan]) -> dict:
    hour = peak_hour(plans)
    return {
        "centers": len(plans),
        "regional": sum(p.regional for p in plans),
        "services": [min(len(p.services) for p in plans), max(len(p.services) for p in plans)],
        "counters": sum(len(p.counters) for p in plans),
        "counters_range": [
            min(len(p.counters) for p in plans),
            max(len(p.counters) for p in plans),
        ],
        "visitors_per_day": sum(p.visitors for p in plans),
        "peak_hour": f"{9 + hour:02d}:00",
        "peak_tickets_per_s": round(peak_rate_per_s(plans), 2),
        "backlog_at_peak": sum(backlog(p, hour) for p in plans),
    }
