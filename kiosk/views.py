"""Kiosk and phone pages. They carry no data of their own: the browser fetches
everything over the API and the live channel with its credential."""

from __future__ import annotations

from flask import request, send_from_directory

from server import limits
from server.appointments.booking import appointment_by_token
from server.errors import NotFound
from server.extensions import db
from server.i18n import LANGUAGES
from server.queue.lookup import get_center, get_ticket_by_token
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/kiosk/<device>")
def kiosk(device: str):
    return render_screen("kiosk/kiosk.html", TRANSLATIONS, device=device)


@bp.get("/t/sw.js")
def push_worker():
    """The phone page's service worker (push_sw.js) under /t/, so that its scope is /t/
    without a Service-Worker-Allowed header. A literal rule: Flask matches it before
    /t/<tracking_token> (and "sw.js" is no token anyway). Never cached for long: a
    browser checks it for updates."""
    response = send_from_directory(bp.static_folder, "push_sw.js", max_age=0)
    response.headers["Content-Type"] = "application/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    return response


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


def _visitor_language(fallback: str | None = None) -> str:
    """?lang=, else the booking's language, else the phone's preferred one."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return fallback or request.accept_languages.best_match(LANGUAGES) or "az"


@bp.get("/book/<center_code>")
def book(center_code: str):
    """The public booking page: service, day, slot, then the code and its QR."""
    found = limits.can_name_a_row(center_code)
    if found:
        try:
            with db.read() as s:
                get_center(s, center_code)
        except NotFound:
            found = False
    body = render_screen(
        "kiosk/book.html",
        TRANSLATIONS,
        language=_visitor_language(),
        view="book",
        center=center_code if found else None,
    )
    return body, 200 if found else 404


@bp.get("/a/<token>")
def appointment(token: str):
    """A booking's own page (its private link): see it, cancel it."""
    language = None
    if limits.can_name_a_row(token):
        try:
            with db.read() as s:
                language = appointment_by_token(s, token).language
        except NotFound:
            pass
    body = render_screen(
        "kiosk/appointment.html",
        TRANSLATIONS,
        language=_visitor_language(language),
        view="appointment",
        token=token if language else None,
    )
    return body, 200 if language else 404
