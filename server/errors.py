"""Errors the queue engine and the API raise; each maps to one HTTP status and JSON body."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    """``{"error": {"code", "message", "details"?}}``: the one shape of every error the
    server answers, over HTTP (the API, the connection limits) and on the live channel."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


class NovbeError(Exception):
    """Base class: ``code`` is stable for clients, ``message`` is for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class InvalidInput(NovbeError):
    status = 422
    code = "invalid_input"


class MalformedRequest(NovbeError):
    status = 400
    code = "malformed_request"


class Unauthorized(NovbeError):
    status = 401
    code = "unauthorized"


class Forbidden(NovbeError):
    status = 403
    code = "forbidden"


class NotFound(NovbeError):
    status = 404
    code = "not_found"


class Conflict(NovbeError):
    """The request is valid but the current state does not allow it."""

    status = 409
    code = "conflict"


class Busy(NovbeError):
    """Too much contention to finish in time; safe to retry."""

    status = 503
    code = "busy"
