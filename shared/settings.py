"""Application settings: one typed object, read once from the environment.

In Azure the environment is the Function App's application settings; locally it is
``local.settings.json`` (see ``local.settings.sample.json`` for every key). Credentials
are ``SecretStr`` so that printing a settings object never reveals them.

Per-platform blocks (``TRIBUTARY_AMAZON__BASE_URL``, ``TRIBUTARY_AMAZON__LIMITS`` …) let
the same code point at the real API, the platform's own sandbox host or our simulator,
and override any limit-policy figure (JSON object of policy field -> number).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLATFORMS = ("amazon", "shopify", "ebay", "etsy", "quiltt")

AZURITE_CONNECTION_STRING = "UseDevelopmentStorage=true"


class PlatformSettings(BaseModel):
    """Where a platform's API lives and how its limit policy is overridden."""

    base_url: str
    auth_url: str = ""
    limits: dict[str, Any] = Field(default_factory=dict)
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")


def _platform(base_url: str, auth_url: str = "") -> Any:
    return Field(default_factory=lambda: PlatformSettings(base_url=base_url, auth_url=auth_url))


class Settings(BaseSettings):
    """Everything the app reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="TRIBUTARY_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    storage_connection: SecretStr = Field(
        default=SecretStr(AZURITE_CONNECTION_STRING),
        validation_alias=AliasChoices("AzureWebJobsStorage", "TRIBUTARY_STORAGE_CONNECTION"),
    )
    table_prefix: str = "trib"
    raw_container: str = "raw-pages"
    credentials_key: SecretStr = SecretStr("")

    pacing: Literal["ambassador", "reactive"] = "ambassador"
    """How block loops pace requests: through the ambassador (the product), or
    ``reactive``: take the permits, tell the ambassador nothing back and back off
    exponentially on a 429 (the benchmark's reactive-backoff strategy; never production)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    alert_sender: str = "tributary@localhost"
    support_address: str = "support@localhost"

    amazon: PlatformSettings = _platform(
        "https://sellingpartnerapi-na.amazon.com", "https://api.amazon.com/auth/o2/token"
    )
    shopify: PlatformSettings = _platform("https://{shop}.myshopify.com")
    ebay: PlatformSettings = _platform(
        "https://api.ebay.com", "https://api.ebay.com/identity/v1/oauth2/token"
    )
    etsy: PlatformSettings = _platform(
        "https://openapi.etsy.com", "https://api.etsy.com/v3/public/oauth/token"
    )
    quiltt: PlatformSettings = _platform(
        "https://api.quiltt.io/v1/graphql", "https://auth.quiltt.io/v1/users/sessions"
    )

    def platform(self, name: str) -> PlatformSettings:
        if name not in PLATFORMS:
            raise KeyError(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}")
        return getattr(self, name)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
