"""Errors the queue engine and the API raise; each maps to one HTTP status and JSON body."""

from __future__ import annotations

from typing import Any


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
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


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
