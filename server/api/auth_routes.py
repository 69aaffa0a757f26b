"""Logging in: a bearer token for API clients (POST /auth/token), or a session cookie
for the web screens (POST /auth/session), where the browser keeps no token at all."""

import secrets

from flask import current_app, jsonify, session

from ..auth import check_login, issue_staff_token
from ..errors import Unauthorized
from ..extensions import db
from ..models import StaffUser
from . import bp
from .request import field, json_body, password_stamp, reject_unknown, session_actor
from .serializers import iso


def _user_json(user: StaffUser) -> dict:
    # The center lets a screen (the counter page) find its counters; null for
    # network-wide admins.
    return {
        "username": user.username,
        "role": user.role,
        "center": user.center.code if user.center else None,
    }


@bp.post("/auth/token")
def create_token():
    data = json_body()
    reject_unknown(data, {"username", "password"})
    username = field(data, "username", str)
    password = field(data, "password", str)
    with db.write() as s:
        user = check_login(s, username, password)
        token, expires = issue_staff_token(s, user, current_app.config["API_TOKEN_HOURS"])
        body = {
            "token": token,
            "expires_at": iso(expires),
            "user": _user_json(user),
        }
    return jsonify(body), 201


@bp.post("/auth/session")
def create_session():
    data = json_body()
    reject_unknown(data, {"username", "password"})
    username = field(data, "username", str)
    password = field(data, "password", str)
    with db.read() as s:
        user = check_login(s, username, password)
        body = _user_json(user)
        session.clear()
        session.permanent = True
        session["staff_id"] = user.id
        session["password"] = password_stamp(user)
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
    session.clear()
    return "", 204
