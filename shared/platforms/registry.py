"""Platform name -> connector factory (``shared/platforms/<platform>/client.py``'s ``build``).

``build(platform, settings, credentials, account, transport=..., clock=..., store=...)``
imports the platform's client module on first use, so a platform whose connector is
missing fails with a ``ConfigurationError`` naming it, and the others keep working.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from shared.errors import ConfigurationError
from shared.platforms.base import Connector
from shared.platforms.quiltt.auth import SessionStore
from shared.platforms.tokens import GrantStore
from shared.settings import PLATFORMS, Settings


def factory(platform: str) -> Any:
    """The platform's ``build`` function. Raises ConfigurationError if the platform is
    unknown or has no connector."""
    if platform not in PLATFORMS:
        raise ConfigurationError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    try:
        module = importlib.import_module(f"shared.platforms.{platform}.client")
    except ModuleNotFoundError as exc:
        raise ConfigurationError(f"no connector for platform {platform!r}: {exc}") from None
    return module.build


def build(
    platform: str,
    settings: Settings,
    credentials: dict[str, Any],
    account: str,
    *,
    transport: Any = None,
    clock: Any = None,
    store: GrantStore | SessionStore | None = None,
) -> Connector:
    """A connector for ``account`` on ``platform`` (credentials stay inside it).

    Factories take the platform's ``PlatformSettings`` or the whole ``Settings`` (as
    their first parameter's annotation says); ``clock`` (a ``() -> aware datetime``) is
    passed to factories that accept one (token expiry on devhost's virtual clock), or as
    ``now`` (epoch seconds) to those that take that instead. ``store`` goes to the
    factories that take one: where a rotating refresh token is written back and re-read
    from (``tokens.GrantStore``: Shopify, Etsy), or where workers share a scarce session
    token (``quiltt.auth.SessionStore``); Amazon's and eBay's refresh tokens do not
    rotate, and their access tokens are not scarce."""
    build_fn = factory(platform)
    params = inspect.signature(build_fn).parameters
    first = next(iter(params.values()))
    wants_platform = "PlatformSettings" in str(first.annotation)
    config = settings.platform(platform) if wants_platform else settings
    kwargs: dict[str, Any] = {"transport": transport}
    if clock is not None and "clock" in params:
        kwargs["clock"] = clock
    elif clock is not None and "now" in params:  # an epoch-seconds clock
        kwargs["now"] = lambda: clock().timestamp()
    if store is not None and "store" in params:
        kwargs["store"] = store
    return build_fn(config, credentials, account, **kwargs)


def available() -> list[str]:
    """The platforms whose connector module can be imported."""
    found = []
    for platform in PLATFORMS:
        try:
            factory(platform)
        except ConfigurationError:
            continue
        found.append(platform)
    return found
