"""POST /auth/token: a bearer token for API clients (the web screens use a session)."""

from flask import current_app, jsonify

from ..auth import check_login, issue_staff_token
from ..extensions import db
from . import bp
from .request import field, json_body, reject_unknown
from .serializers import iso


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
            "user": {"username": user.username, "role": user.role},
        }
    return jsonify(body), 201
