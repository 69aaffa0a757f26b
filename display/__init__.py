"""The waiting-room display (/display/<device>): latest calls, voice, queue lengths."""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations.json")

bp = Blueprint(
    "display",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/display",
)

# Register the routes: views (displays, the public page), manage_views (/manage),
# admin_views (/manage/admin).
from . import admin_views, manage_views, views  # noqa: E402,F401
