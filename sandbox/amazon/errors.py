"""Amazon's error bodies: ``{"errors": [{"code", "message", "details"}]}`` on every SP-API
error status, LWA's ``{"error", "error_description"}`` on the token endpoint, and S3's XML
on expired or tampered report-document URLs.

Bodies observed from the real services (MARKETPLACE_APIS.md §2; amzn/selling-partner-api-docs
issues #2147, #553; jlevers/selling-partner-api #891 for the expired-token details).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An SP-API error answer (raised by handlers, rendered by the app)."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"errors": [error]}


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidInput", message)


def not_found(message: str = "The requested resource was not found.") -> ApiError:
    return ApiError(404, "NotFound", message)


QUOTA_EXCEEDED = error_body(
    "QuotaExceeded", "You exceeded your quota for the requested resource.", ""
)
ACCESS_DENIED = "Access to requested resource is denied."
UNAUTHORIZED_MISSING = error_body("Unauthorized", ACCESS_DENIED, "")
UNAUTHORIZED_INVALID = error_body(
    "Unauthorized", ACCESS_DENIED, "The access token you provided is revoked, malformed or invalid."
)
UNAUTHORIZED_EXPIRED = error_body(
    "Unauthorized", ACCESS_DENIED, "The access token you provided has expired."
)
INTERNAL_FAILURE = error_body(
    "InternalFailure", "We encountered an internal error. Please try again."
)
SERVICE_UNAVAILABLE = error_body(
    "ServiceUnavailable", "Temporary overloading or maintenance of the server. Please try again."
)


def lwa_error(error: str, description: str) -> dict[str, str]:
    return {"error_description": description, "error": error}


def s3_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
