"""Etsy's error answers: ``{"error": "<message>"}`` with the HTTP status."""

from __future__ import annotations


class EtsyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Throttled(Exception):
    """A 429: which limit refused (its body) and when a slot frees (``retry-after``)."""

    def __init__(self, retry_after: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.retry_after, self.message, self.headers = retry_after, message, headers
