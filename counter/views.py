"""The counter page; staff log in through the API and work over the API and live channel."""

from __future__ import annotations

from flask import request

from server.i18n import LANGUAGES
from server.queue import PAUSE_REASONS
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/counter")
def index():
    # The browser's language first; the page remembers a staff member's own choice.
    language = request.accept_languages.best_match(LANGUAGES)
    return render_screen(
        "counter/counter.html",
        TRANSLATIONS,
        language=language,
        # The pause reasons the server accepts, so the page offers exactly those.
        pause_reasons=list(PAUSE_REASONS),
    )
