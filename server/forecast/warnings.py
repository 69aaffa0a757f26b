"""Breach warnings: raised, kept up to date, withdrawn and scored from the forecast
(docs/forecast.md).

Per service, with p = the highest breach probability of a visitor arriving within the
next ``warn`` minutes (FORECAST_WARN_MIN):

* no open warning and p >= threshold (FORECAST_THRESHOLD): a warning is raised, its
  window from the first probe over the threshold to the last one plus 10 minutes, with
  the checked suggestion (suggest.py) if any;
* an open one is updated while p >= CLEAR_BELOW (hysteresis: a probability hovering
  around the threshold does not raise and clear in turns): probability, predicted
  wait, its window widened to the new probes over the threshold, and its suggestion
  while nobody has applied one;
* p < CLEAR_BELOW: cleared. Cleared before its window began, it is withdrawn for good;
  inside its window, the window ends now and it is still scored;
* once ``window_end`` + the target have passed, it is scored: ``breached`` when the
  median wait of the visitors who arrived in the window's worst 10-minute slot passed
  the target (a visitor still waiting counts with its wait so far; one who left
  without being called is not counted). Nobody arrived: not breached.

One open warning per service at a time. Only the process holding the ``forecast``
lease writes them (runner.py), so each raise and clear is announced once.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Center, Counter, ForecastWarning, Service, Ticket
from ..queue.numbering import business_day
from ..serializers import iso
from .forecast import CenterForecast, draw, evaluate
from .history import demand as expected_demand
from .snapshot import day_start, hall_state
from .state import Demand, HallState
from .suggest import Suggestion, suggest

CLEAR_BELOW = 0.4
WINDOW_TAIL = timedelta(minutes=10)  # the window outlasts the last probe over the threshold
SLOT = timedelta(minutes=10)  # scoring: the median wait per 10 minutes of arrivals


@dataclass(frozen=True)
class Settings:
    threshold: float = 0.6
    warn_s: float = 1800
    horizon_s: float = 3600
    step_s: float = 300
    runs: int = 40
    seed: int = 0

    @classmethod
    def of(cls, config) -> Settings:
        return cls(
            threshold=float(config.get("FORECAST_THRESHOLD", 0.6)),
            warn_s=float(config.get("FORECAST_WARN_MIN", 30)) * 60,
            horizon_s=float(config.get("FORECAST_HORIZON_MIN", 60)) * 60,
            runs=int(config.get("FORECAST_RUNS", 40)),
        )


@dataclass
class Assessment:
    """A center's forecast now, with what the warnings need of it."""

    center_id: int
    now: datetime
    midnight: datetime
    state: HallState
    demand: Demand
    forecast: CenterForecast
    codes: dict[int, str]  # service id -> code
    suggestions: dict[int, Suggestion | None] = field(default_factory=dict)

    def at(self, seconds: float) -> datetime:
        return self.midnight + timedelta(seconds=seconds)


def assess(
    session: Session,
    center: Center,
    now: datetime,
    settings: Settings,
    *,
    no_suggestion: Collection[int] = (),
    suggestions: bool = True,
    allowed_counters: Collection[int] | None = None,
    present: Collection[int] | None = None,
    between: Callable[[], None] | None = None,
) -> Assessment:
    """The forecast from the present state (read only), and a checked suggestion for
    each service at risk but those of ``no_suggestion`` (one was applied already)."""
    need = expected_demand(session, center, now)
    state = hall_state(session, center, now, need.service_times)
    draws = draw(
        state,
        need,
        horizon_s=settings.horizon_s,
        step_s=settings.step_s,
        runs=settings.runs,
        seed=settings.seed,
    )
    result = evaluate(state, draws, between=between)
    codes = {sid: s.code for sid, s in state.services.items()}
    out = Assessment(center.id, now, day_start(center, now), state, need, result, codes)
    until = state.now_s + settings.warn_s
    for sid, service in result.services.items():
        if service.probability(until) < settings.threshold:
            continue
        if not suggestions or sid in no_suggestion:
            continue
        out.suggestions[sid] = suggest(
            state,
            need,
            sid,
            threshold=settings.threshold,
            warn_s=settings.warn_s,
            draws=draws,
            allowed_counters=allowed_counters,
            present=present,
            between=between,
        )
    return out


def open_warnings(session: Session, center_id: int) -> dict[int, ForecastWarning]:
    """The center's open warnings, by service."""
    rows = session.scalars(
        select(ForecastWarning)
        .where(ForecastWarning.center_id == center_id, ForecastWarning.state == "open")
        .order_by(ForecastWarning.id)
    )
    return {w.service_id: w for w in rows}


def suggestion_json(s: Suggestion, codes: dict[int, str], counter_state: str) -> dict:
    """As stored and shown; ``basis`` (not shown) is what it was checked against, for
    applying it only to the counter as it was then."""
    return {
        "action": s.action,
        "counter": {"id": s.counter_id, "label": s.counter_label},
        "service": codes.get(s.service_id),
        "from_service": codes.get(s.from_service_id) if s.from_service_id else None,
        "probability_before": round(s.probability_before, 3),
        "probability_after": round(s.probability_after, 3),
        "wait_before_s": round(s.wait_before_s),
        "wait_after_s": round(s.wait_after_s),
        "others": [
            {"service": codes.get(sid), "probability_after": round(p, 3)} for sid, p in s.others
        ],
        "basis": {
            "state": counter_state,
            "services": [codes[sid] for sid in s.services_before if sid in codes],
        },
    }


def warning_json(w: ForecastWarning, code: str) -> dict:
    suggestion = dict(w.suggestion) if w.suggestion else None
    if suggestion is not None:
        suggestion.pop("basis", None)
    return {
        "id": w.id,
        "service": code,
        "raised_at": iso(w.raised_at),
        "window_start": iso(w.window_start),
        "window_end": iso(w.window_end),
        "probability": round(w.probability, 3),
        "predicted_wait_s": w.predicted_wait_s,
        "target_wait_s": w.target_wait_s,
        "state": w.state,
        "applied_at": iso(w.applied_at),
        "suggestion": suggestion,
    }


def record(
    session: Session, center: Center, a: Assessment, settings: Settings
) -> list[tuple[dict, bool]]:
    """Raise, update and clear the center's warnings from the assessment (in a write
    transaction); the (warning json, active) alerts to announce."""
    now = a.now
    until = a.state.now_s + settings.warn_s
    states = _counter_states(session, center)
    alerts: list[tuple[dict, bool]] = []
    current = open_warnings(session, center.id)
    for sid, warning in current.items():
        if sid not in a.forecast.services:  # nobody serves, waits or is expected now
            _clear(warning, 0.0, now)
            alerts.append((warning_json(warning, a.codes.get(sid, "")), False))
    for sid, service in a.forecast.services.items():
        warning = current.get(sid)
        p = service.probability(until)
        over = service.over(settings.threshold, until)
        worst = service.worst(until)
        if warning is None:
            if p < settings.threshold or not over:
                continue
            warning = ForecastWarning(
                center_id=center.id,
                service_id=sid,
                raised_at=now,
                window_start=a.at(over[0].at_s),
                window_end=a.at(over[-1].at_s) + WINDOW_TAIL,
                probability=p,
                predicted_wait_s=round(worst.wait_p50_s),
                target_wait_s=round(service.target_s),
                suggestion=_suggestion(a, sid, states),
                state="open",
            )
            session.add(warning)
            session.flush()
            alerts.append((warning_json(warning, a.codes[sid]), True))
        elif p < CLEAR_BELOW:
            _clear(warning, p, now)
            alerts.append((warning_json(warning, a.codes[sid]), False))
        else:
            warning.probability = p
            warning.predicted_wait_s = round(worst.wait_p50_s)
            if over:
                warning.window_start = min(warning.window_start, a.at(over[0].at_s))
                warning.window_end = max(warning.window_end, a.at(over[-1].at_s) + WINDOW_TAIL)
            if warning.applied_at is None and sid in a.suggestions:
                warning.suggestion = _suggestion(a, sid, states)
    return alerts


def _clear(warning: ForecastWarning, probability: float, now: datetime) -> None:
    warning.state = "cleared"
    warning.cleared_at = now
    warning.probability = probability
    if warning.window_start <= now:  # inside its window: it ends now
        warning.window_end = max(min(warning.window_end, now), warning.window_start)


def _suggestion(a: Assessment, sid: int, states: dict[int, str]) -> dict | None:
    s = a.suggestions.get(sid)
    if s is None:
        return None
    return suggestion_json(s, a.codes, states.get(s.counter_id, "closed"))


def _counter_states(session: Session, center: Center) -> dict[int, str]:
    return dict(
        session.execute(
            select(Counter.id, Counter.state).where(Counter.center_id == center.id)
        ).all()
    )


def score_due(session: Session, center: Center, now: datetime) -> list[tuple[dict, bool]]:
    """Score the center's warnings whose window and target have passed; the alerts of
    the open ones among them (now over)."""
    alerts = []
    rows = session.scalars(
        select(ForecastWarning).where(
            ForecastWarning.center_id == center.id,
            ForecastWarning.state.in_(("open", "cleared")),
            ForecastWarning.window_end <= now,
        )
    ).all()
    codes = dict(
        session.execute(
            select(Service.id, Service.code).where(Service.center_id == center.id)
        ).all()
    )
    for w in rows:
        if now < w.window_end + timedelta(seconds=w.target_wait_s):
            continue
        if w.state == "cleared" and (w.cleared_at is None or w.cleared_at < w.window_start):
            continue  # withdrawn before its window: it claimed nothing
        was_open = w.state == "open"
        worst = worst_slot_wait(session, center, w.service_id, w.window_start, w.window_end, now)
        w.worst_wait_s = None if worst is None else round(worst)
        w.breached = worst is not None and worst > w.target_wait_s
        w.state = "scored"
        if was_open:
            alerts.append((warning_json(w, codes.get(w.service_id, "")), False))
    return alerts


def worst_slot_wait(
    session: Session, center: Center, service_id: int, start: datetime, end: datetime, now: datetime
) -> float | None:
    """The highest median wait over the 10-minute slots of arrivals in [start, end);
    None when nobody arrived."""
    days = {business_day(center, start), business_day(center, end)}
    slots: dict[int, list[float]] = {}
    for issued, called, status in session.execute(
        select(Ticket.issued_at, Ticket.called_at, Ticket.status).where(
            Ticket.service_id == service_id,
            Ticket.business_day.in_(sorted(days)),
            Ticket.issued_at >= start,
            Ticket.issued_at < end,
        )
    ):
        if called is not None:
            wait = (called - issued).total_seconds()
        elif status == "waiting":
            wait = (now - issued).total_seconds()
        else:
            continue  # left without being called
        slots.setdefault(int((issued - start) / SLOT), []).append(wait)
    if not slots:
        return None
    return max(statistics.median(waits) for waits in slots.values())
