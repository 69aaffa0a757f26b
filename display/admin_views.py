"""The admin pages (/manage/admin): a center's catalog, counters, staff, devices, hours
and audit log. The page holds no data: the browser logs in with the session cookie and
reads and changes everything through the JSON API (server/api/admin.py), which checks
the role on every request."""

from __future__ import annotations

from flask import request

from server.i18n import LANGUAGES
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/manage/admin")
def manage_admin():
    language = request.args.get("lang") or request.accept_languages.best_match(LANGUAGES)
    return render_screen("display/admin.html", TRANSLATIONS, language=language)
