"""The display and the public page. Neither carries data of its own: the display gets
its calls and queues over the live channel with its device token, the public page its
figures from the public API and then live."""

from __future__ import annotations

from flask import request

from server import limits
from server.errors import NotFound
from server.extensions import db
from server.i18n import LANGUAGES
from server.queue.lookup import get_center
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/display/<device>")
def display(device: str):
    return render_screen("display/display.html", TRANSLATIONS, device=device)


# ---- the public transparency page (anyone, no login) -------------------------------


@bp.get("/public/<center>")
def public_page(center: str):
    """Queue lengths, estimated waits, today's service level and approval rate; the
    browser gets the figures from /api/v1/public/centers/<center> and then live over
    /live with auth {"public": <center>}. ``?lang=az|ru|en`` picks the language, else
    the browser's preferred one."""
    language = request.args.get("lang") or request.accept_languages.best_match(LANGUAGES)
    try:
        if not limits.can_name_a_row(center):
            raise NotFound("no such center")
        with db.read() as s:
            name = get_center(s, center).name
    except NotFound:
        body = render_screen("display/public.html", TRANSLATIONS, language=language, center=None)
        return body, 404
    return render_screen(
        "display/public.html", TRANSLATIONS, language=language, center=center, center_name=name
    )
