"""Quiltt authentication: the API secret key, Session tokens, Basic auth (Q-SESS, Q-OV).

* ``POST /v1/users/sessions`` with ``Authorization: Bearer <API secret key>`` and
  ``{"userId": "p_…"}`` issues a Session token: 201 ``{token, userId, environmentId,
  expiration (epoch s), expiresAt (ISO)}``. Tokens live ``session_ttl`` (24 h) on the world
  clock. Issuance per Profile is capped (see ``limits.IssuanceQuota``); revoking frees quota.
* ``GET /v1/users/session`` (Bearer Session token) answers the session; ``DELETE`` revokes.
* GraphQL accepts ``Bearer <Session token>`` (the 100 req/s scope) or
  ``Basic base64(<profileId>:<API secret key>)`` (server-to-server, the 25 req/s scope).

Tokens look like Quiltt's (an HS512 JWT carrying ``exp``, ``uid``, ``did``), signed with a
key derived from the scenario seed, so a connector may read ``exp`` but cannot forge one.
The ``token_expiry`` fault, decided at issue, makes a token die early (between 1 h and
23 h after issue) while ``expiration`` still says 24 h.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.quiltt.data import HOUR, base62
from sandbox.quiltt.limits import IssuanceQuota, QuilttLimits
from sandbox.quiltt.view import iso_time

if TYPE_CHECKING:
    from sandbox.accounting import Accounting
    from sandbox.faults import Faults


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Session:
    token: str
    profile_id: str
    issued: float
    expiration: float  # what the token says (issued + ttl)
    dies: float  # when it actually stops working (earlier under the token_expiry fault)
    revoked: bool = False

    def live(self, now: float) -> bool:
        return not self.revoked and now < self.dies

    def body(self, environment_id: str) -> dict[str, object]:
        return {
            "token": self.token,
            "userId": self.profile_id,
            "environmentId": environment_id,
            "expiration": int(self.expiration),
            "expiresAt": iso_time(self.expiration),
        }


@dataclass(frozen=True)
class Caller:
    """Who a request is from, as far as limits and data access care."""

    scope: str  # "session" | "other"
    key: tuple[str, ...]  # the rate-limit key
    profile_id: str | None  # the Profile whose data may be read (None: no data access)
    session: Session | None = None


class Auth:
    def __init__(
        self,
        scenario_seed: int,
        profiles: dict[str, str],
        limits: QuilttLimits,
        faults: Faults,
        accounting: Accounting,
    ) -> None:
        rng = random.Random(f"quiltt-environment|{scenario_seed}")
        self.environment_id = "env_" + base62(rng)
        self.api_secret_key = "qltt_" + "".join(f"{rng.getrandbits(8):02x}" for _ in range(35))
        self._signing_key = hashlib.blake2b(f"quiltt-sign|{scenario_seed}".encode()).digest()
        self.profiles = profiles  # profile id -> client id
        self.limits = limits
        self.quota = IssuanceQuota(limits.sessions_per_hour, limits.sessions_per_day)
        self._faults = faults
        self._accounting = accounting
        self._sessions: dict[str, Session] = {}
        self._issued: dict[str, list[Session]] = {}

    # --- the API secret key and Basic auth -------------------------------------------
    def secret_ok(self, authorization: str | None) -> bool:
        scheme, _, value = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value, self.api_secret_key)

    def basic_profile(self, value: str) -> str | None:
        try:
            user, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if user in self.profiles and hmac.compare_digest(secret, self.api_secret_key):
            return user
        return None

    def caller(self, authorization: str | None, now: float) -> Caller:
        """Classify a request's ``Authorization`` header (never raises)."""
        scheme, _, value = (authorization or "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and value in self._sessions:
            session = self._sessions[value]
            if session.live(now):
                return Caller(
                    "session", ("session", session.profile_id), session.profile_id, session
                )
        if scheme == "basic":
            profile = self.basic_profile(value)
            if profile is not None:
                return Caller("other", ("basic", profile), profile)
        if scheme == "bearer" and value == self.api_secret_key:
            return Caller("other", ("secret", self.environment_id), None)
        return Caller("other", ("anonymous",), None)

    # --- Session tokens -----------------------------------------------------------------
    def frees_at(self, profile_id: str, now: float) -> float | None:
        """None if the Profile may get another token now, else when its quota frees."""
        issued = [s.issued for s in self._issued.get(profile_id, ()) if not s.revoked]
        return self.quota.frees_at(issued, now)

    def issue(self, profile_id: str, now: float) -> Session:
        history = self._issued.setdefault(profile_id, [])
        n = len(history)
        expiration = now + self.limits.session_ttl
        dies = expiration
        if self._faults.roll("quiltt", "token_expiry", "session", profile_id, n):
            self._accounting.fault("quiltt", "token_expiry")
            span = max(0.0, self.limits.session_ttl - 2 * HOUR)
            dies = (
                now
                + min(HOUR, self.limits.session_ttl / 2)
                + span * self._faults.uniform("quiltt", "token_life", profile_id, n)
            )
        session = Session(
            self._token(profile_id, n, now, expiration), profile_id, now, expiration, dies
        )
        history.append(session)
        self._sessions[session.token] = session
        return session

    def revoke(self, session: Session) -> None:
        session.revoked = True

    def _token(self, profile_id: str, n: int, now: float, expiration: float) -> str:
        jti = hashlib.blake2b(f"{profile_id}|{n}|{now}".encode(), digest_size=16).hexdigest()
        header = {"alg": "HS512"}
        claims = {
            "nbf": int(now),
            "iat": int(now),
            "jti": jti,
            "iss": "auth.quiltt.io",
            "aud": "api.quiltt.io",
            "exp": int(expiration),
            "ver": 2,
            "did": self.environment_id,
            "uid": profile_id,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha512).digest()
        return f"{signing_input}.{_b64url(signature)}"
