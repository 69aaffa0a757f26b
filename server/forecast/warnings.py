"""Breach warnings: raised, kept up to date, withdrawn and scored from the forecast
(docs/forecast.md).

The breach (forecast.window_breached): a service's visitors who arrive in a window of
WARN_S (30 minutes) breach when at least MIN_OVER (2) of them wait longer than the
target and they are more than 1 - SERVICE_LEVEL (20%) of the window's arrivals. Per
service, with p = the forecast's probability that those arriving in [now, now + 30
min) breach (ServiceForecast.window_probability):

* no open warning and p >= threshold (FORECAST_THRESHOLD): a warning is raised, its
  window [now, now + 30 min), with the checked suggestion (suggest.py) if any;
* an open one is updated while p >= CLEAR_BELOW (hysteresis: a probability hovering
  around the threshold does not raise and clear in turns): probability, predicted
  wait, its window's end moved to this pass's now + 30 min (its start kept), and its
  suggestion while nobody has applied one. A search costs up to a dozen forecasts,
  so an open warning's stored suggestion is re-checked instead, with one forecast of
  the same futures with its change (:func:`recheck`); it is searched again at once
  when it no longer holds, and when none was found, every RESEARCH_AFTER;
* p < CLEAR_BELOW: cleared; its window stays what the last pass claimed, and is
  scored like any other;
* once its window has ended and every visitor who arrived in it was called or left
  (or two hours after its end), it is scored on the real tickets: ``breached`` by the
  same definition (wait = called_at - issued_at; one still waiting counts as over once
  its wait passed the target; one who left uncalled before the target is not
  counted, after it counts as over); ``worst_wait_s`` the longest of those waits.

One open warning per service at a time. Only the process holding the ``forecast``
lease writes them (runner.py), so each raise and clear is announced once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Center, Counter, ForecastWarning, Service, Ticket
from ..queue.numbering import business_day
from ..serializers import iso
from .forecast import WARN_S, CenterForecast, Draws, draw, evaluate, window_breached
from .history import absent
from .history import demand as expected_demand
from .snapshot import day_start, hall_state
from .state import Demand, HallState
from .suggest import NOISE, REACTION_S, Suggestion, _with_counter, suggest

CLEAR_BELOW = 0.4
SCORE_BY = timedelta(hours=2)  # scored then at the latest, even with visitors still waiting
RESEARCH_AFTER = timedelta(minutes=5)  # a search that found nothing, repeated at most this often


@dataclass(frozen=True)
class Settings:
    threshold: float = 0.6
    warn_s: float = WARN_S
    horizon_s: float = 3600
    step_s: float = 300
    runs: int = 40
    seed: int = 0

    @classmethod
    def of(cls, config) -> Settings:
        return cls(
            threshold=float(config.get("FORECAST_THRESHOLD", 0.6)),
            warn_s=float(config.get("FORECAST_WARN_MIN", WARN_S / 60)) * 60,
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
    # Searched on this pass (None: nothing works).
    suggestions: dict[int, Suggestion | None] = field(default_factory=dict)
    # An open warning's stored suggestion re-checked on this pass: its json with this
    # pass's figures while it holds, None when it does not and was not searched again.
    rechecked: dict[int, dict | None] = field(default_factory=dict)
    zone: tzinfo = UTC  # the center's: the forecast's seconds are its wall clock's

    def at(self, seconds: float) -> datetime:
        """The instant of ``seconds`` on the day's wall clock (the forecast's times)."""
        wall = self.midnight.astimezone(self.zone).replace(tzinfo=None)  # 00:00 local
        return (wall + timedelta(seconds=seconds)).replace(tzinfo=self.zone).astimezone(UTC)


@dataclass(frozen=True)
class Held:
    """An open, unapplied warning's suggestion as stored (None: none worked), and when
    one was last searched for it (None: not known to this process)."""

    suggestion: dict | None
    searched_at: datetime | None = None


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
    held: Mapping[int, Held] | None = None,
) -> Assessment:
    """The forecast from the present state (read only), and a checked suggestion for
    each service at risk but those of ``no_suggestion`` (one was applied already).
    ``held``: by service, the open warnings' suggestions; each is re-checked, and only
    searched for again when it fails (at once) or none was found (after RESEARCH_AFTER)
    (``Assessment.suggestions`` has the services searched for)."""
    held = held or {}
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
    result = evaluate(state, draws, between=between, window_s=settings.warn_s)
    codes = {sid: s.code for sid, s in state.services.items()}
    out = Assessment(
        center.id,
        now,
        day_start(center, now),
        state,
        need,
        result,
        codes,
        zone=ZoneInfo(center.timezone),
    )
    states: dict[int, str] | None = None  # the counters' states, read once if needed
    for sid, service in result.services.items():
        # Only for a service a warning is (or stays) raised for.
        if service.window_probability < settings.threshold:
            continue
        if not suggestions or sid in no_suggestion:
            continue
        kept = held.get(sid)
        if kept is not None:
            if kept.suggestion is not None:
                if states is None:
                    states = _counter_states(session, center)
                checked = recheck(
                    state,
                    draws,
                    result,
                    sid,
                    kept.suggestion,
                    codes,
                    states,
                    threshold=settings.threshold,
                    warn_s=settings.warn_s,
                    allowed_counters=allowed_counters,
                    between=between,
                )
                if checked is not None:
                    out.rechecked[sid] = checked
                    continue
            # A search that found nothing is not repeated for RESEARCH_AFTER; one whose
            # suggestion stopped holding is repeated at once (else the page said "no
            # change would prevent it" for minutes when the dice or the hall moved).
            recent = kept.searched_at is not None and now - kept.searched_at < RESEARCH_AFTER
            if kept.suggestion is None and recent:
                out.rechecked[sid] = None
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


def recheck(
    state: HallState,
    draws: Draws,
    base: CenterForecast,
    service_id: int,
    stored: dict,
    codes: dict[int, str],
    counter_states: dict[int, str],
    *,
    threshold: float,
    warn_s: float = WARN_S,
    allowed_counters: Collection[int] | None = None,
    between: Callable[[], None] | None = None,
) -> dict | None:
    """A stored suggestion (:func:`suggestion_json`) checked again on this pass's
    futures ``draws`` (whose forecast is ``base``) with one forecast, the counter
    changed as it says, by suggest.py's rules: it holds while its counter is as it was
    (state and services, its ``basis``) and the change still brings the service under
    the threshold, clearly lower than without, without taking another service over it.
    Its json with this pass's figures then, else None."""
    if service_id not in base.services:
        return None
    counter_id = stored.get("counter", {}).get("id")
    counter = next((c for c in state.counters if c.id == counter_id), None)
    basis = stored.get("basis", {})
    if (
        counter is None
        or counter_states.get(counter.id) != basis.get("state")
        or [codes[s] for s in counter.services if s in codes] != basis.get("services")
    ):
        return None  # the counter changed since (applying it would be refused too)
    action = stored.get("action")
    ids = {code: sid for sid, code in codes.items()}
    if action == "raise_service":
        services = (service_id, *(s for s in counter.services if s != service_id))
    elif action == "add_service":
        services = (*counter.services, service_id)
    elif action == "move_service" and stored.get("from_service") in ids:
        gone = ids[stored["from_service"]]
        services = tuple(service_id if s == gone else s for s in counter.services)
    elif action == "open_counter" and (allowed_counters is None or counter.id in allowed_counters):
        services = counter.services
    else:
        return None
    # As suggest() judges (see its docstring): from REACTION_S on when the breach lasts.
    until = state.now_s + warn_s
    since = min(state.now_s + REACTION_S, until)
    target = base.services[service_id]
    if target.probability(until, since) < threshold:
        since = state.now_s
    own_before = target.probability(until, since)
    changed = _with_counter(state, counter, services, action == "open_counter")
    after = evaluate(changed, draws, until_s=until, between=between, window_s=warn_s)
    probability = after.services[service_id].probability(until, since)
    if probability >= threshold or probability > own_before - NOISE:
        return None
    before = {sid: f.probability(until) for sid, f in base.services.items()}
    others = {sid: f.probability(until) for sid, f in after.services.items() if sid != service_id}
    if any(p >= threshold > before.get(sid, 0.0) for sid, p in others.items()):
        return None
    hurt = sorted((sid, p) for sid, p in others.items() if p > before.get(sid, 0.0))
    worst_before = target.worst(until, since)
    worst_after = after.services[service_id].worst(until, since)
    return {
        **stored,
        "probability_before": round(own_before, 3),
        "probability_after": round(probability, 3),
        "wait_before_s": round(worst_before.wait_p50_s if worst_before else 0.0),
        "wait_after_s": round(worst_after.wait_p50_s if worst_after else 0.0),
        "others": [
            {"service": codes.get(sid), "probability_after": round(p, 3)} for sid, p in hurt
        ],
    }


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
    transaction); the (warning json, active) alerts to announce. The center's row is
    locked first (PostgreSQL; SQLite's write transaction holds the database): a second
    process whose forecasting lease overlapped finds the warning this one raised and
    updates it, never raising a second."""
    session.execute(select(Center.id).where(Center.id == center.id).with_for_update())
    now = a.now
    until = a.state.now_s + settings.warn_s
    window_end = now + timedelta(seconds=settings.warn_s)
    states = _counter_states(session, center)
    alerts: list[tuple[dict, bool]] = []
    current = open_warnings(session, center.id)
    for sid, warning in current.items():
        if sid not in a.forecast.services:  # nobody serves, waits or is expected now
            _clear(warning, 0.0, now)
            alerts.append((warning_json(warning, a.codes.get(sid, "")), False))
    for sid, service in a.forecast.services.items():
        warning = current.get(sid)
        p = service.window_probability
        worst = service.worst(until)
        predicted = round(worst.wait_p50_s) if worst else 0
        if warning is None:
            if p < settings.threshold:
                continue
            warning = ForecastWarning(
                center_id=center.id,
                service_id=sid,
                raised_at=now,
                window_start=now,
                window_end=window_end,
                probability=p,
                predicted_wait_s=predicted,
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
            warning.predicted_wait_s = predicted
            warning.window_end = max(warning.window_end, window_end)
            if warning.applied_at is None and sid in a.suggestions:
                warning.suggestion = _suggestion(a, sid, states)
            elif warning.applied_at is None and sid in a.rechecked:
                warning.suggestion = a.rechecked[sid]  # a new dict: the JSON column sees it
    return alerts


def _clear(warning: ForecastWarning, probability: float, now: datetime) -> None:
    """Cleared; the window keeps what the last pass claimed (it is still scored)."""
    warning.state = "cleared"
    warning.cleared_at = now
    warning.probability = probability


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
    """Score the center's warnings whose window has passed and whose visitors were all
    called or left (or SCORE_BY after its end); the alerts of the open ones among them
    (now over)."""
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
        outcome = window_outcome(
            session, center, w.service_id, w.window_start, w.window_end, now, w.target_wait_s
        )
        if outcome is None:
            continue  # someone who arrived in it still waits: not yet
        was_open = w.state == "open"
        w.breached, worst = outcome
        w.worst_wait_s = None if worst is None else round(worst)
        w.state = "scored"
        if was_open:
            alerts.append((warning_json(w, codes.get(w.service_id, "")), False))
    return alerts


def window_outcome(
    session: Session,
    center: Center,
    service_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    target_s: float,
) -> tuple[bool, float | None] | None:
    """(breached, the longest wait) of the window's visitors (forecast.window_visitor:
    those who arrived in [start, end), and those waiting at its start not yet past the
    target), by forecast.window_breached on their real waits; None while one of them
    still waits (before ``end`` + SCORE_BY). The longest wait is None when nobody
    counted arrived."""
    earliest = start - timedelta(seconds=target_s)
    days = {business_day(center, earliest), business_day(center, end)}
    waits: list[float] = []
    for issued, callable_at, called, ended, status in session.execute(
        select(
            Ticket.issued_at, Ticket.callable_at, Ticket.called_at, Ticket.ended_at, Ticket.status
        ).where(
            Ticket.service_id == service_id,
            Ticket.business_day.in_(sorted(days)),
            Ticket.issued_at >= earliest,
            Ticket.issued_at < end,
        )
    ):
        if absent(callable_at):
            continue  # joined from home or waited outside, never checked in: not in the hall
        if callable_at is not None and callable_at > issued:
            issued = callable_at  # in the queue from when it could be called (a booking)
        if issued >= end:
            continue
        if issued < start and (
            (called is not None and called <= start) or (ended is not None and ended <= start)
        ):
            continue  # gone from the hall before the window began: not its visitor
        if called is not None:
            waits.append((called - issued).total_seconds())
        elif status == "waiting":
            if now < end + SCORE_BY:
                return None
            waits.append((now - issued).total_seconds())
        elif ended is not None and (ended - issued).total_seconds() > target_s:
            waits.append((ended - issued).total_seconds())  # left once already over
        # else: left before the target without being called: not counted
    return window_breached(waits, target_s), max(waits, default=None)
