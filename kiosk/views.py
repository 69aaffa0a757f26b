"""Kiosk and phone pages. They carry no data of their own: the browser fetches
everything over the API and the live channel with its credential."""

from __future__ import annotations

from flask import request

from server import limits
from server.errors import NotFound
from server.extensions import db
from server.i18n import LANGUAGES
from server.queue.lookup import get_ticket_by_token
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/kiosk/<device>")
def kiosk(device: str):
    return render_screen("kiosk/kiosk.html", TRANSLATIONS, device=device)


@bp.get("/t/<tracking_token>")
def phone(tracking_token: str):
    if not limits.can_name_a_row(tracking_token):
        return phone_missing()
    try:
        with db.read() as s:
            language = get_ticket_by_token(s, tracking_token).language
    except NotFound:
        return phone_missing()
    return render_screen("kiosk/phone.html", TRANSLATIONS, language=language, ticket=tracking_token)


def phone_missing():
    """A friendly page for an unknown ticket link (a phone shows it, not JSON), in the
    phone's preferred language first and then the other two."""
    preferred = request.accept_languages.best_match(LANGUAGES) or "az"
    order = [preferred, *(lang for lang in LANGUAGES if lang != preferred)]
    body = render_screen(
        "kiosk/phone_missing.html", TRANSLATIONS, language=preferred, languages=order
    )
    return body, 404
