"""The managers' live dashboard (/manage). The page itself holds no figures: the
browser logs in with the session cookie and reads them from the API
(/api/v1/centers/<c>/dashboard, charts as SVG), then follows the center over /live."""

from __future__ import annotations

from flask import request

from server.i18n import LANGUAGES
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/manage")
def manage():
    # ?lang= first, then the browser's language; the page remembers a manager's choice.
    language = request.args.get("lang") or request.accept_languages.best_match(LANGUAGES)
    return render_screen("display/manage.html", TRANSLATIONS, language=language)
