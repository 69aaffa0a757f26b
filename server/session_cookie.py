"""The staff member behind a browser's session cookie (the counter, manage and admin
screens), for the API and the live channel alike. The cookie only names a server-side
session (server/web_sessions.py), which must still be live."""

from __future__ import annotations

from flask import session

from . import web_sessions
from .auth import staff_actor
from .extensions import db
from .queue import Actor


def session_actor(s) -> Actor | None:
    """The staff member logged in to the web screens with this browser's session cookie;
    None when logged out, revoked, expired, deactivated or the password changed since
    (server/web_sessions.py: the cookie's session id must name a live row)."""
    found = web_sessions.find_session(s, session.get("sid"), session.get("staff_id"))
    if found is None:
        return None
    live, user = found
    if web_sessions.needs_seen(live):
        if s.get_bind().get_execution_options().get("novbe_write"):
            web_sessions.mark_seen(s, live.id)  # in the caller's write transaction
        else:
            with db.write() as w:
                web_sessions.mark_seen(w, live.id)
    return staff_actor(user)
