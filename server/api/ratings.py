"""Visitor approval and the public transparency data: no credentials on any of these.

* POST /tickets/{tracking_token}/rating: the visitor rates a done ticket, once;
* GET  /tickets/{tracking_token}/rating: whether the phone should ask (or thank);
* GET  /public/centers/{center_code}: the public page's figures, cacheable a few seconds.
"""

from __future__ import annotations

from flask import jsonify

from .. import ratings
from ..extensions import db
from ..public import public_center_json
from ..queue.lookup import get_center, get_ticket_by_token
from ..serializers import iso
from . import bp
from .request import field, json_body, reject_unknown

# The public page's figures may be this many seconds old: a crowd of phones opening
# the page costs the database one computation per interval (behind a caching proxy).
PUBLIC_MAX_AGE_S = 5


def rating_json(rating) -> dict:
    return {"score": rating.score, "created_at": iso(rating.created_at)}


@bp.post("/tickets/<tracking_token>/rating")
def rate_ticket(tracking_token: str):
    data = json_body()
    reject_unknown(data, {"score"})
    score = field(data, "score", int)
    with db.write() as s:
        body = rating_json(ratings.rate_ticket(s, tracking_token, score))
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.get("/tickets/<tracking_token>/rating")
def ticket_rating(tracking_token: str):
    with db.read() as s:
        ticket = get_ticket_by_token(s, tracking_token)
        rating = ratings.rating_of(s, ticket)
        body = {
            "can_rate": ticket.status == "done" and rating is None,
            "rating": rating_json(rating) if rating else None,
        }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/public/centers/<center_code>")
def public_center(center_code: str):
    with db.read() as s:
        body = public_center_json(s, get_center(s, center_code))
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE_S}"
    return response
