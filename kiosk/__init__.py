"""The visitor's side: the touchscreen kiosk (/kiosk/<device>) and the phone page that
a ticket's QR code opens (/t/<tracking_token>)."""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations.json")

bp = Blueprint(
    "kiosk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/kiosk",
)

from . import views  # noqa: E402,F401  (registers the routes)
