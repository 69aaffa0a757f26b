"""How a center's estimates and forecast warnings did on a day, for its managers
(server/forecast/accuracy.py)."""

from __future__ import annotations

from flask import jsonify, request

from ..forecast.accuracy import accuracy
from ..models import utcnow
from ..queue.numbering import business_day
from ..reports import parse_day
from . import bp
from .admin import managing
from .request import only_parameters


@bp.get("/centers/<center_code>/forecast/accuracy")
def forecast_accuracy(center_code: str):
    """``day`` (YYYY-MM-DD, the center's local day; default: its today)."""
    with managing(center_code) as (s, _actor, center):
        only_parameters(("day",))
        text = request.args.get("day")
        day = business_day(center, utcnow()) if text is None else parse_day(text, "day")
        body = accuracy(s, center, day)
    return jsonify(body)
