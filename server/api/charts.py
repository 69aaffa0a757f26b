"""Managers' charts as SVG images (server/charts/ draws them), for <img> tags on the
dashboard: the login cookie goes along with an image request, so no script is needed."""

from __future__ import annotations

from datetime import date

from flask import Response, request

from .. import charts
from ..auth import MANAGER_ROLES as MANAGERS
from ..auth import require_staff
from ..extensions import db
from ..models import utcnow
from ..queue import business_day
from ..queue.lookup import get_center
from ..reports import parse_day
from . import bp
from .access import caller


def _day(center, name: str) -> date:
    """The ``name`` query parameter (YYYY-MM-DD), or the center's today."""
    text = request.args.get(name)
    return parse_day(text, name) if text else business_day(center, utcnow())


def _svg(body: str) -> Response:
    # Figures change with every ticket: let the browser keep nothing.
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def _chart(center_code: str, draw) -> Response:
    actor = caller(roles=MANAGERS)
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        body = draw(s, center)
    return _svg(body)


@bp.get("/centers/<center_code>/charts/arrivals.svg")
def chart_arrivals(center_code: str):
    lang = request.args.get("lang")
    return _chart(
        center_code,
        lambda s, c: charts.arrivals_svg(charts.day_by_hour(s, c, _day(c, "date")), lang),
    )


@bp.get("/centers/<center_code>/charts/waits.svg")
def chart_waits(center_code: str):
    lang = request.args.get("lang")
    return _chart(
        center_code,
        lambda s, c: charts.waits_svg(charts.day_by_hour(s, c, _day(c, "date")), lang),
    )


@bp.get("/centers/<center_code>/charts/week.svg")
def chart_week(center_code: str):
    lang = request.args.get("lang")
    return _chart(
        center_code,
        lambda s, c: charts.week_svg(c, charts.week_by_hour(s, c, _day(c, "end")), lang),
    )
