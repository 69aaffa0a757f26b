"""The managers' screens: the live dashboard (/manage: a center's figures, alerts,
charts and reports, or every center side by side for a network admin) and the admin
pages (/manage/admin: a center's catalog, counters, staff, devices, hours, booking
settings and audit log), and the reception's tablet at the door (/reception: tickets
issued on a visitor's behalf, bookings checked in, how long for each service).

The pages hold no data: the browser logs in with the session cookie
(server/static/staff_session.js, shared with the counter page) and reads and changes
everything through the JSON API, which checks the role on every request.
"""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations")  # its gettext domain (server/i18n)

bp = Blueprint(
    "manage",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/manage",
)

from . import views  # noqa: E402,F401  (registers the routes)
