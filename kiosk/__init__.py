"""The visitor's side: the touchscreen kiosk (/kiosk/<device>) that issues tickets, and
the phone page a ticket's QR code opens (/t/<tracking_token>), which follows that one
ticket. They live together because the kiosk's ticket leads to the phone page; the
screens the whole room or the public look at (the display, /public/<center>) are
``display/``."""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations")  # its gettext domain (server/i18n)

bp = Blueprint(
    "kiosk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/kiosk",
)

from . import views  # noqa: E402,F401  (registers the routes)
