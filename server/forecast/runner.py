"""The forecaster: every FORECAST_INTERVAL_S, in the one process of the installation
holding the cluster's ``forecast`` lease, each center with activity today (an open
counter or someone waiting) is forecast and its warnings raised, updated, cleared and
scored (warnings.py). A raise or a clear goes to the center's managers as a live
``alert`` (kind ``forecast``, server/realtime/alerts.py) and to the webhooks that want
alerts, the way the wait alert goes.

Invariants: a center whose data trips the forecast up is logged and skipped, the others
go on, and the loop survives anything a round raises; the forecast (CPU work) runs on a
read session, only its outcome is written, in a short write transaction per center.
When a suggestion was last searched for each open warning is kept in this process
(warnings.assess searches at most every RESEARCH_AFTER per warning): a process taking
the lease over searches once more, no more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import exists, select

from ..cluster import cluster_of
from ..models import WAITING, Center, Counter, ForecastWarning, Ticket, utcnow
from ..notify import webhooks
from ..realtime.alerts import forecast_alert
from ..realtime.presence import at_counters
from ..realtime.rooms import center_room
from . import warnings
from .warnings import Settings

log = logging.getLogger(__name__)
LEASE = "forecast"


def _db(app: Flask):
    return app.extensions["novbe_db"]


def _searched(app: Flask) -> dict[tuple[int, int], datetime]:
    """(center, service) -> when a suggestion was last searched for its open warning."""
    return app.extensions.setdefault("novbe_forecast_searched", {})


def active_centers(session, now: datetime) -> list[int]:
    """Centers with an open counter or a waiting ticket, or a warning still to be
    cleared or scored. Waiting tickets by (center, business day, status): older days'
    are expired by the daily upkeep, and the index ix_tickets_day bounds the search."""
    since = (now - timedelta(days=1)).date()  # every center's local day, whatever its zone
    counters = select(Counter.id).where(Counter.center_id == Center.id, Counter.state == "open")
    waiting = select(Ticket.id).where(
        Ticket.center_id == Center.id, Ticket.business_day >= since, WAITING
    )
    warned = select(ForecastWarning.id).where(
        ForecastWarning.center_id == Center.id, ForecastWarning.state.in_(("open", "cleared"))
    )
    return list(
        session.scalars(
            select(Center.id)
            .where(exists(counters) | exists(waiting) | exists(warned))
            .order_by(Center.id)
        )
    )


Announce = Callable[[int, dict], None]


def forecast_center(
    app: Flask,
    center_id: int,
    now: datetime,
    settings: Settings,
    announce: Announce | None = None,
    between: Callable[[], None] | None = None,
) -> list[dict]:
    """One center's round: forecast, warnings, scores; the alerts announced."""
    database = _db(app)
    with database.read() as s:
        center = s.get(Center, center_id)
        if center is None:
            return []
        current = warnings.open_warnings(s, center_id)
        searched = _searched(app)
        for key in [k for k in searched if k[0] == center_id and k[1] not in current]:
            del searched[key]  # its warning is over
        applied = {sid for sid, w in current.items() if w.applied_at}
        held = {
            sid: warnings.Held(w.suggestion, searched.get((center_id, sid)))
            for sid, w in current.items()
            if not w.applied_at
        }
        assessment = warnings.assess(
            s,
            center,
            now,
            settings,
            no_suggestion=applied,
            present=_present(app, s, center_id),
            between=between,
            held=held,
        )
    for sid in assessment.suggestions:
        searched[(center_id, sid)] = now
    with database.write() as s:
        center = s.get(Center, center_id)
        if center is None:
            return []
        edges = warnings.record(s, center, assessment, settings)
        edges += warnings.score_due(s, center, now)
    alerts = [forecast_alert(body, active) for body, active in edges]
    for alert in alerts:
        if announce is not None:
            try:  # committed already: one failed announcement must not lose the others
                announce(center_id, alert)
            except Exception:
                log.exception("forecast alert for center %d not announced", center_id)
    return alerts


def _present(app: Flask, session, center_id: int) -> set[int] | None:
    """The center's counters someone works at now (their counter screen is connected);
    None when nobody is at any (a center without counter screens: no preference)."""
    ids = list(session.scalars(select(Counter.id).where(Counter.center_id == center_id)))
    try:
        staff, _ = at_counters(cluster_of(app), ids)
    except Exception:  # the cluster unreachable: suggest without it
        log.warning("counter presence unavailable for the forecast", exc_info=True)
        return None
    present = {counter_id for counter_id, people in staff.items() if people}
    return present or None


def forecast_round(
    app: Flask,
    now: datetime | None = None,
    announce: Announce | None = None,
    between: Callable[[], None] | None = None,
) -> int:
    """Every active center once; the centers done. A failing center is logged."""
    now = now or utcnow()
    settings = Settings.of(app.config)
    with _db(app).read() as s:
        centers = active_centers(s, now)
    done = 0
    for center_id in centers:
        try:
            forecast_center(app, center_id, now, settings, announce, between)
            done += 1
        except Exception:  # one center's odd data must not stop the others
            log.exception("forecast of center %d failed", center_id)
    return done


def _emitter(app: Flask):
    from ..realtime import live_of  # the realtime package imports much: only when run

    return live_of(app).publisher.figures.emitter


def announcer(app: Flask) -> Announce:
    """Sends an alert to the center's managers (live) and to the webhooks."""
    emitter = _emitter(app)
    database = _db(app)

    def announce(center_id: int, alert: dict) -> None:
        emitter.emit("alert", alert, center_room(center_id))
        webhooks.produce_alert(database, center_id, alert)

    return announce


def start_forecaster(app: Flask) -> threading.Thread | None:
    """Forecast in the background (a green thread under gevent) every
    FORECAST_INTERVAL_S; None when that is 0 (switched off)."""
    interval = float(app.config.get("FORECAST_INTERVAL_S") or 0)
    if interval <= 0:
        return None
    cluster = cluster_of(app)
    announce = announcer(app)
    emitter = _emitter(app)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                # Held a little longer than a round's interval: the holder renews it on
                # each round, another process takes over once it stopped.
                if cluster.lease(LEASE, interval * 2 + 10):
                    with app.app_context():
                        forecast_round(app, announce=announce, between=lambda: emitter.sleep(0))
            except Exception:  # keep the loop alive; the next round retries
                log.exception("forecast round failed")
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="novbe-forecast", daemon=True)
    thread.start()
    return thread
