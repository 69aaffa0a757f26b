"""One error path: every failure under /api/v1 is ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import NovbeError, error_body
from . import bp


def error_response(status: int, code: str, message: str, details: dict | None = None):
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="novbe"'
    return response


@bp.app_errorhandler(NovbeError)
def handle_novbe_error(error: NovbeError):
    # details as a dict: a detail named "status" (a ticket's) must not clash with the argument
    return error_response(error.status, error.code, error.message, error.details)


@bp.app_errorhandler(HTTPException)
def handle_http_error(error: HTTPException):
    if not request.path.startswith(bp.url_prefix):
        return error
    if error.response is not None:
        return error.response  # already made by error_response (the login limits' 429)
    code = (error.name or "error").lower().replace(" ", "_")
    response = error_response(error.code or 500, code, error.description or error.name)
    # Keep the exception's own headers, e.g. the Allow header a 405 must carry.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.app_errorhandler(RequestEntityTooLarge)
def handle_too_large(error: RequestEntityTooLarge):
    # Refused by the Content-Length header, before the body is read (and the connection
    # then stops reading it: server/request_size.py).
    if not request.path.startswith(bp.url_prefix):
        return error
    limit = request.max_content_length
    return error_response(
        413, "body_too_large", f"the request body may be at most {limit} bytes", {"limit": limit}
    )


@bp.app_errorhandler(Exception)
def handle_unexpected(error: Exception):
    if not request.path.startswith(bp.url_prefix):
        raise error
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on the server")
