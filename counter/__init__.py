"""The staff workstation (/counter): log in, pick a counter, call and serve visitors."""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations")  # its gettext domain (server/i18n)

bp = Blueprint(
    "counter",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/counter",
)

from . import views  # noqa: E402,F401  (registers the routes)
