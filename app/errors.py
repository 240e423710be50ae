"""The domain's error tree. Each transport maps it once (REST: one handler; GraphQL: typed errors).

DomainError
 ├── InvalidInput            400  a field of the request is wrong (``field`` names it)
 ├── Unauthenticated         401  no valid credentials for what was asked
 ├── NotFound                404  missing, or not the caller's (never 403)
 ├── Conflict                409  the resource is in the wrong state for the request
 ├── LengthRequired          411  an upload without Content-Length
 ├── PreconditionFailed      412  a protocol version the route does not speak (tus)
 ├── PayloadTooLarge         413  a body above the configured limit
 ├── UnsupportedMediaType    415  a body of a type the route does not take
 └── Unavailable             503  a dependency (database, Redis, storage) cannot be reached
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure; carries an HTTP status and a stable code."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.extra = extra or {}
        if code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (``Retry-After`` for a retryable failure)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code", "message", "field", ...}}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            body["details"] = self.details
        body.update(self.extra)
        return {"error": body}


class InvalidInput(DomainError):
    """A field of the request is wrong."""

    status_code = 400
    code = "invalid_input"


class Unauthenticated(DomainError):
    """No valid credentials for what was asked."""

    status_code = 401
    code = "unauthenticated"


class NotFound(DomainError):
    """The resource does not exist or is not the caller's."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The resource is in the wrong state for the request."""

    status_code = 409
    code = "conflict"


class LengthRequired(DomainError):
    """An upload came without Content-Length."""

    status_code = 411
    code = "length_required"


class PreconditionFailed(DomainError):
    """The request speaks a version of a protocol the route does not (tus's Tus-Resumable)."""

    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(DomainError):
    """A body above the configured limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """A body of a type the route does not take."""

    status_code = 415
    code = "unsupported_media_type"


class Unavailable(DomainError):
    """A dependency cannot be reached right now; retrying may help."""

    status_code = 503
    code = "unavailable"
    retry_after_seconds = 5

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
