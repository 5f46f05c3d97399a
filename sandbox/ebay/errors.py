"""eBay's error envelope and the errors the sandbox answers with.

RESTful APIs answer ``{"errors": [{errorId, domain, category, message, longMessage?,
parameters?}]}`` (the spec's ``Error`` schema). The OAuth token endpoint answers the
OAuth 2.0 shape ``{"error": ..., "error_description": ...}`` instead.

Common errors (domain ACCESS / OAuth, eBay's "Using eBay RESTful APIs" pages):
1001 invalid access token (401), 1002 missing access token (401), 1100 insufficient
scope (403), 2001 too many requests (429), 2002 resource not found (404), 2003 internal
error (500), 2004 invalid request (400). API errors carry the errorIds the specs list
(30xxx Fulfillment, 135xxx Finances, 25xxx Inventory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EbayError(Exception):
    status: int
    error_id: int
    domain: str
    category: str
    message: str
    long_message: str | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "errorId": self.error_id,
            "domain": self.domain,
            "category": self.category,
            "message": self.message,
        }
        if self.long_message:
            error["longMessage"] = self.long_message
        if self.parameters:
            error["parameters"] = [{"name": n, "value": v} for n, v in self.parameters]
        return {"errors": [error]}


def missing_token() -> EbayError:
    return EbayError(
        401,
        1002,
        "OAuth",
        "REQUEST",
        "Missing access token",
        "Access token is missing in the Authorization HTTP request header.",
    )


def invalid_token() -> EbayError:
    return EbayError(
        401,
        1001,
        "OAuth",
        "REQUEST",
        "Invalid access token",
        "Invalid access token. Check the value of the Authorization HTTP request header.",
    )


def access_denied() -> EbayError:
    return EbayError(
        403,
        1100,
        "ACCESS",
        "REQUEST",
        "Access denied",
        "Insufficient permissions to fulfill the request.",
    )


def too_many_requests() -> EbayError:
    return EbayError(
        429,
        2001,
        "ACCESS",
        "REQUEST",
        "Too many requests.",
        "The request limit has been reached for the resource.",
    )


def not_found() -> EbayError:
    return EbayError(
        404,
        2002,
        "ACCESS",
        "REQUEST",
        "Resource not found",
        "A resource (URI) associated with the request could not be found.",
    )


def internal_error(status: int = 500) -> EbayError:
    return EbayError(
        status,
        2003,
        "ACCESS",
        "APPLICATION",
        "Internal error",
        "There was a problem with an eBay internal system or process. "
        "Contact eBay developer support for assistance.",
    )


def invalid_request() -> EbayError:
    return EbayError(400, 2004, "ACCESS", "REQUEST", "Invalid request", "The request is invalid.")


# The system error each API's spec lists under 500.
SYSTEM_ERRORS = {
    "fulfillment": (30500, "API_FULFILLMENT", "System error"),
    "finances": (
        135000,
        "API_FINANCES",
        "There was a problem with an eBay internal system or process. "
        "Contact eBay developer support for assistance.",
    ),
    "inventory": (25001, "API_INVENTORY", "A system error has occurred."),
    "analytics": (2003, "ACCESS", "Internal error"),
}


def system_error(api: str) -> EbayError:
    error_id, domain, message = SYSTEM_ERRORS[api]
    return EbayError(500, error_id, domain, "APPLICATION", message)


def fulfillment(error_id: int, message: str, *parameters: tuple[str, str]) -> EbayError:
    return EbayError(400, error_id, "API_FULFILLMENT", "REQUEST", message, None, list(parameters))


def finances(error_id: int, message: str, *parameters: tuple[str, str]) -> EbayError:
    return EbayError(400, error_id, "API_FINANCES", "REQUEST", message, None, list(parameters))


def inventory(error_id: int, message: str, *parameters: tuple[str, str]) -> EbayError:
    return EbayError(400, error_id, "API_INVENTORY", "REQUEST", message, None, list(parameters))


@dataclass
class OAuthError(Exception):
    """An error of the token endpoint, in the OAuth 2.0 shape."""

    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
