"""The landing page: links to the API and, as later screens land, to them."""

from flask import Blueprint, jsonify, url_for

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    return jsonify(
        {
            "name": "Növbə",
            "api": url_for("api.openapi_document"),
        }
    )


@bp.get("/healthz")
def health():
    return jsonify({"status": "ok"})
