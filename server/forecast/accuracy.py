"""How good were a day's estimates and warnings (docs/queue.md, "Position and estimated wait")?

* Estimates: each ticket keeps the wait it was promised at issue
  (Ticket.promised_wait_s, server/queue/issuing.py); its real wait is called_at -
  issued_at (the first call). Over the day's tickets with both: the mean absolute
  error, the mean real wait, their ratio (the MAE share), and the share of tickets
  whose estimate was within max(25% of the real wait, 60 s) of it (a wait of a few
  seconds cannot be promised to 25%).
* Warnings: of the breach warnings raised that (local) day, how many were scored
  (their window has passed), how many of those came true (``breached``), and the
  precision right / scored.

Figures are None when there is nothing to measure: never a 0 that looks like a result.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from ..models import Center, ForecastWarning, Ticket
from .history import local_midnight

WITHIN_SHARE = 0.25
WITHIN_FLOOR_S = 60.0


def estimate_accuracy(session: Session, center: Center, day: date) -> dict:
    """``{"served", "mae_s", "mean_wait_s", "mae_share", "within_25"}`` over the day's
    tickets that were promised a wait and were called."""
    errors, waits, within = [], [], 0
    rows = session.execute(_tickets_statement(), {"center": center.id, "day": day})
    for promised, issued_at, called_at in rows:
        wait = (called_at - issued_at).total_seconds()
        error = abs(promised - wait)
        errors.append(error)
        waits.append(wait)
        within += error <= max(WITHIN_SHARE * wait, WITHIN_FLOOR_S)
    served = len(waits)
    if not served:
        return {
            "served": 0,
            "mae_s": None,
            "mean_wait_s": None,
            "mae_share": None,
            "within_25": None,
        }
    mae, mean_wait = sum(errors) / served, sum(waits) / served
    return {
        "served": served,
        "mae_s": round(mae),
        "mean_wait_s": round(mean_wait),
        # Everyone called at once: no wait to compare the error with.
        "mae_share": round(mae / mean_wait, 3) if mean_wait > 0 else None,
        "within_25": round(within / served, 3),
    }


@lru_cache(maxsize=1)
def _tickets_statement():
    """The day's promised and called tickets: a range of ix_tickets_day."""
    return select(Ticket.promised_wait_s, Ticket.issued_at, Ticket.called_at).where(
        Ticket.center_id == bindparam("center"),
        Ticket.business_day == bindparam("day", type_=Ticket.business_day.type),
        Ticket.promised_wait_s.is_not(None),
        Ticket.called_at.is_not(None),
    )


def warning_scores(session: Session, center: Center, day: date) -> dict:
    """``{"raised", "scored", "right", "precision"}`` of the warnings raised on the
    center's local ``day``."""
    start, end = (local_midnight(center, d) for d in (day, day + timedelta(days=1)))
    scored_now = ForecastWarning.state == "scored"
    raised, scored, right = session.execute(
        select(
            func.count(ForecastWarning.id),
            func.sum(case((scored_now, 1), else_=0)),
            func.sum(case((scored_now & ForecastWarning.breached.is_(True), 1), else_=0)),
        ).where(
            ForecastWarning.center_id == center.id,
            ForecastWarning.raised_at >= start,
            ForecastWarning.raised_at < end,
        )
    ).one()
    scored, right = int(scored or 0), int(right or 0)  # SUM of no rows: NULL
    return {
        "raised": raised,
        "scored": scored,
        "right": right,
        "precision": round(right / scored, 3) if scored else None,
    }


def accuracy(session: Session, center: Center, day: date) -> dict:
    """The API's body: GET /centers/{c}/forecast/accuracy."""
    return {
        "day": day.isoformat(),
        "estimates": estimate_accuracy(session, center, day),
        "warnings": warning_scores(session, center, day),
    }
