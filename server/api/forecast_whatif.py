"""Managers' what-if and policy check (server/forecast/whatif.py): a recorded or a
typical day simulated as it was and with other counters or another call policy."""

from __future__ import annotations

from flask import jsonify, request

from ..errors import InvalidInput
from ..forecast import whatif
from ..reports import parse_day
from . import bp
from .admin import managing
from .request import json_body, only_parameters

WHAT_IF_KEYS = ("day", "weekday", "counters", "call_policy", "priority_ratio")


@bp.post("/centers/<center_code>/what-if")
def what_if(center_code: str):
    with managing(center_code) as (s, _actor, center):
        data = json_body()
        unknown = sorted(set(data) - set(WHAT_IF_KEYS))
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
        day = data.get("day")
        # Read inside the session, simulate after it ends (no pooled connection held).
        job = whatif.prepare_what_if(
            s,
            center,
            day=parse_day(day, "day") if day is not None else None,
            weekday=data.get("weekday"),
            counters=data.get("counters"),
            call_policy=data.get("call_policy"),
            priority_ratio=data.get("priority_ratio"),
        )
    return jsonify(job())


@bp.get("/centers/<center_code>/reports/policy-check")
def policy_check(center_code: str):
    with managing(center_code) as (s, _actor, center):
        only_parameters(("day",))
        day = parse_day(request.args.get("day"), "day")
        job = whatif.prepare_policy_check(s, center, day)
    return jsonify(job())
