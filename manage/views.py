"""The pages; the figures come from the API (/api/v1/centers/<c>/dashboard, the
charts as SVG, .../report, .../admin, .../services) and then live over /live."""

from __future__ import annotations

from flask import request

from server.i18n import LANGUAGES
from server.screens import render_screen

from . import TRANSLATIONS, bp


def _language() -> str | None:
    # ?lang= first, then the browser's language; the page remembers a manager's choice.
    return request.args.get("lang") or request.accept_languages.best_match(LANGUAGES)


@bp.get("/manage")
def dashboard():
    return render_screen("manage/manage.html", TRANSLATIONS, language=_language())


@bp.get("/manage/admin")
def admin():
    return render_screen("manage/admin.html", TRANSLATIONS, language=_language())


@bp.get("/reception")
def reception():
    """The volunteers' tablet at the door (manage/static/reception.js)."""
    return render_screen("manage/reception.html", TRANSLATIONS, language=_language())
