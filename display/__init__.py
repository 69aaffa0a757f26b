"""The screens of the waiting room and of the public: the hall's display
(/display/<device>: latest calls, voice, queue lengths) and the public transparency
page (/public/<center>: every service's queue and wait, today's service level).

Both show a center's queue to whoever stands in front of them, with no login and no
personal data, and follow it over the live channel; they share their words. The phone
page a ticket's QR code opens lives in ``kiosk/``, beside the kiosk that issues the
ticket; the staff's screens are ``counter/`` and ``manage/``.
"""

from pathlib import Path

from flask import Blueprint

TRANSLATIONS = Path(__file__).with_name("translations")  # its gettext domain (server/i18n)

bp = Blueprint(
    "display",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/display",
)

from . import views  # noqa: E402,F401  (registers the routes)
