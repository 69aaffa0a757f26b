"""The JSON API under /api/v1 (documented in openapi.json beside this file)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import (  # noqa: E402, F401
    admin,
    appointments,
    appointments_staff,
    auth_routes,
    centers,
    charts,
    checkin,
    counters,
    errors,
    forecast,
    forecast_accuracy,
    forecast_whatif,
    ledger,
    notification_settings,
    notifications,
    openapi,
    prints,
    ratings,
    reports,
    ticket_history,
    tickets,
    voice,
    webhooks,
)
from .request import authenticate_request  # noqa: E402
from .validation import validate_request  # noqa: E402

# In this order: 401 before anything else, then the request held to openapi.json.
bp.before_request(authenticate_request)
bp.before_request(validate_request)
