"""Error types, grouped by what the caller must do.

TributaryError
├── ConfigurationError       fix the settings or the request; retrying will not help
├── RetryableError           try again later
│   ├── ThrottledError       the platform asked us to wait (carries retry_after_s)
│   └── TransientError       network fault, 5xx, a timeout
├── PermanentError           the platform refused for good (bad input, gone)
│   └── MalformedPayloadError  a payload we cannot parse (names platform/resource/field)
├── AuthExpiredError         refresh the credentials once, then retry
└── IntegrityError           a loaded block failed its checks; retry the block
"""

from __future__ import annotations


class TributaryError(Exception):
    """Base of every error Tributary raises on purpose."""


class ConfigurationError(TributaryError):
    """Settings or a request are wrong; retrying cannot help."""


class RetryableError(TributaryError):
    """The operation may succeed if tried again later."""


class ThrottledError(RetryableError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TransientError(RetryableError):
    """A network fault, a 5xx or a timeout."""


class PermanentError(TributaryError):
    """The platform refused the request for good."""


class MalformedPayloadError(PermanentError):
    def __init__(self, platform: str, resource: str, field: str, problem: str) -> None:
        super().__init__(f"{platform}/{resource}: field {field!r}: {problem}")
        self.platform = platform
        self.resource = resource
        self.field = field


class AuthExpiredError(TributaryError):
    """The access token expired: refresh once and retry."""


class IntegrityError(TributaryError):
    """A block failed its integrity checks."""
