"""GET /openapi.json: the API's OpenAPI 3.1 document."""

import json
from functools import cache
from pathlib import Path

from flask import jsonify

from . import bp

SPEC_PATH = Path(__file__).with_name("openapi.json")


@cache
def load_spec() -> dict:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(load_spec())
