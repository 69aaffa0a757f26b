"""Logging in: a bearer token for API clients (POST /auth/token), or a session cookie
for the web screens (POST /auth/session), where the browser keeps no token at all.

Both are rate-limited on failures per username and per address (login_limits.py). The
password is checked with no database session open and, in production, off the event
loop (server/password_work.py); the token or session is then written in a short
transaction. A web session lives on the server too (server/web_sessions.py), so
logging out ends it for any copy of the cookie.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, jsonify, session
from sqlalchemy.orm import Session

from .. import web_sessions
from ..auth import issue_staff_token, login_candidate, password_matches
from ..errors import Unauthorized
from ..extensions import db
from ..models import StaffUser
from ..serializers import iso
from ..session_cookie import session_actor
from . import bp, login_limits
from .request import field, json_body, reject_unknown


def _user_json(user: StaffUser) -> dict:
    # The center lets a screen (the counter page) find its counters; null for
    # network-wide admins.
    return {
        "username": user.username,
        "role": user.role,
        "center": user.center.code if user.center else None,
    }


def _authenticate() -> int:
    """The id of the account the body's username and password name, or 401 (and the
    failure counts against the login limits)."""
    data = json_body()
    reject_unknown(data, {"username", "password"})
    username = field(data, "username", str)
    password = field(data, "password", str)
    with db.read() as s:
        candidate = login_candidate(s, username)
    if not password_matches(candidate, password):
        login_limits.count_failure(username)
        raise Unauthorized("wrong username or password", code="bad_credentials")
    return candidate.staff_id


@contextmanager
def _logging_in() -> Iterator[tuple[Session, StaffUser]]:
    """The account the body names, in a write transaction for its token or session: the
    password is checked first, with no database session open."""
    staff_id = _authenticate()
    with db.write() as s:
        user = s.get(StaffUser, staff_id)
        if user is None or not user.active:  # deactivated while its password was checked
            raise Unauthorized("wrong username or password", code="bad_credentials")
        yield s, user


@bp.post("/auth/token")
@login_limits.limited
def create_token():
    with _logging_in() as (s, user):
        token, expires = issue_staff_token(s, user, current_app.config["API_TOKEN_HOURS"])
        body = {
            "token": token,
            "expires_at": iso(expires),
            "user": _user_json(user),
        }
    return jsonify(body), 201


@bp.post("/auth/session")
@login_limits.limited
def create_session():
    with _logging_in() as (s, user):
        staff_id = user.id
        web_sessions.revoke_session(s, session.get("sid"))  # this browser's previous login
        sid = web_sessions.open_session(s, user, current_app.permanent_session_lifetime)
        body = _user_json(user)
    session.clear()
    session.permanent = True
    session["staff_id"] = staff_id
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    return jsonify({"user": body, "csrf_token": session["csrf"]}), 201


@bp.get("/auth/session")
def current_session():
    with db.read() as s:
        actor = session_actor(s) if session.get("staff_id") else None
        if actor is None:
            raise Unauthorized("not logged in", code="not_logged_in")
        body = _user_json(s.get(StaffUser, actor.id))
    return jsonify({"user": body, "csrf_token": session["csrf"]})


@bp.delete("/auth/session")
def end_session():
    """Log out: the server revokes the session, so a copy of the cookie stops working."""
    sid = session.get("sid")
    if sid is not None:
        with db.write() as s:
            web_sessions.revoke_session(s, sid)
    session.clear()
    return "", 204
