"""The display and the public page. Neither carries data of its own: the display gets
its calls and queues over the live channel with its device token, the public page its
figures from the public API and then live."""

from __future__ import annotations

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import limits
from server.errors import NotFound
from server.extensions import db
from server.i18n import LANGUAGES
from server.importer import CENTER_DEFAULTS
from server.models import Center, Device
from server.queue.lookup import get_center
from server.screens import render_screen

from . import TRANSLATIONS, bp


@bp.get("/display/<device>")
def display(device: str):
    """The page carries a time zone for its clock until its first snapshot brings its
    center's, and for good on a display not set up yet (no token: no center known)."""
    with db.read() as s:
        zone = local_zone(s, device)
    return render_screen("display/display.html", TRANSLATIONS, device=device, timezone=zone)


def local_zone(session: Session, device: str) -> str:
    """The time zone of the centers with a display of this name, if they agree; else of
    every center, if they agree; else the zone a center gets when its file names none
    (the importer's default, Asia/Baku). Never the server's own zone: servers often run
    on UTC, which is what a hall must not see."""
    every_center = select(Center.timezone).distinct()
    queries = [every_center]
    if limits.can_name_a_row(device):
        with_this_display = every_center.join(Device).where(
            Device.kind == "display", Device.name == device
        )
        queries.insert(0, with_this_display)
    for query in queries:
        zones = session.scalars(query.limit(2)).all()
        if len(zones) == 1:
            return zones[0]
    return CENTER_DEFAULTS["timezone"]


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
