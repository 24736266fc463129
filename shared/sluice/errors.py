"""Errors raised by Sluice code, each carrying the HTTP status and error code it maps to.

They are mapped to responses once, at the HTTP edge (`sluice.http`): a 4xx tells the sender
the event is permanently bad and must not be retried; a 5xx asks for a retry.
"""

from __future__ import annotations

from typing import Any


class SluiceError(Exception):
    """Base class: an error with an HTTP status, a stable machine-readable code and a message."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code", "message", "details"?}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(SluiceError):
    """The request cannot be parsed: invalid JSON, not UTF-8, a malformed CloudEvent."""

    status = 400
    code = "bad_request"


class Unauthorized(SluiceError):
    """No valid credential: an API key where keys are configured, the internal token where
    one is."""

    status = 401
    code = "unauthorized"


class NotFound(SluiceError):
    """The addressed resource (document, route) does not exist."""

    status = 404
    code = "not_found"


class Forbidden(SluiceError):
    """A valid credential that may not do this (the admin API without its key)."""

    status = 403
    code = "forbidden"


class Conflict(SluiceError):
    """The request contradicts the current state (a model change already under way)."""

    status = 409
    code = "conflict"


class MethodNotAllowed(SluiceError):
    """The route exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"


class LengthRequired(SluiceError):
    """A body without a Content-Length (chunked): its size must be known before it is read."""

    status = 411
    code = "length_required"


class PayloadTooLarge(SluiceError):
    """The body, a document or the batch is over its configured limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(SluiceError):
    """The content type is not one this endpoint accepts."""

    status = 415
    code = "unsupported_media_type"


class ValidationFailed(SluiceError):
    """The request parsed but its content is invalid (empty text, wrong field types, ...)."""

    status = 422
    code = "validation_failed"


class TooManyRequests(SluiceError):
    """The queue in front of the pipeline is over its bound: try again later."""

    status = 429
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(SluiceError):
    """A dependency (Redis, Milvus, the next function) is unreachable: retry later."""

    status = 503
    code = "unavailable"


class ConfigError(Exception):
    """Configuration is invalid; the message names the file or variable and the field."""
