"""The Quiltt sandbox as a Starlette app (mounted by the world at ``/quiltt``).

Quiltt's two hosts share one path space here: ``auth.quiltt.io/v1/users/…`` and
``api.quiltt.io/v1/graphql`` become ``/quiltt/v1/users/…`` and ``/quiltt/v1/graphql``.

    POST   /v1/users/sessions   Bearer <API secret key>, {"userId": "p_…"}  -> 201 session
    GET    /v1/users/session    Bearer <Session token>                    -> 200 session
    DELETE /v1/users/session    Bearer <Session token>                    -> 204
    POST   /v1/graphql          Bearer <Session token> | Basic <profile:secret>, {query,
                                variables?, operationName?}               -> 200 {data, errors?}

Every request goes through one pipeline, in this order:

    accounting.call -> scope of the Authorization header -> requests-per-second window of
    that scope (429) -> ``throttle_despite_budget`` fault (429) -> ``timeout`` fault (60 s
    stall, then 503) -> ``server_error`` fault (500 with an errorId) -> the handler
    (400 / 401 / 404 / 422 / 429 issuance / 200 / 201 / 204) -> simulated latency
    (80-400 ms; ``slow`` adds 2-10 s) on the world clock.

Every answer carries ``Ratelimit-Limit``, ``Ratelimit-Remaining``, ``Ratelimit-Reset``.
Error bodies follow Quiltt's schema ``{message, instruction, errorId?}``; ``Not
Authenticated`` is the documented 401. GraphQL errors (syntax, validation, bad cursor)
answer 200 with an ``errors`` list, as GraphQL servers do. Fault decisions are keyed by
(endpoint, caller, body digest), so a run is reproducible per seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.quiltt.auth import Caller
from sandbox.quiltt.graphql_api import Query
from sandbox.quiltt.schema import run
from sandbox.responses import JSONResponse

if TYPE_CHECKING:
    from sandbox.quiltt import QuilttSandbox

PLATFORM = "quiltt"
Reply = tuple[int, Any]


def error(message: str, instruction: str, error_id: str | None = None) -> dict[str, str]:
    body = {"message": message, "instruction": instruction}
    if error_id:
        body["errorId"] = error_id
    return body


NOT_AUTHENTICATED = error(
    "Not Authenticated",
    "Does your `Authorization` header contain a valid, unexpired session token?",
)
BAD_SECRET = error(
    "Not Authenticated", "Does your `Authorization` header contain a valid API Secret Key?"
)
TOO_MANY_REQUESTS = error(
    "Too Many Requests", "Slow down: see the Ratelimit-* headers for your request budget."
)


@dataclass
class Call:
    """One request as a handler sees it."""

    caller: Caller
    authorization: str | None
    body: bytes
    now: float
    key: tuple[str, ...]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[[Call], Reply]


class Pipeline:
    def __init__(self, sandbox: QuilttSandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self._seen: dict[tuple[str, ...], int] = {}
        self._served = 0

    def roll(self, kind: str, *key: object) -> bool:
        hit = self.world.faults.roll(PLATFORM, kind, *key)
        if hit:
            self.world.accounting.fault(PLATFORM, kind)
        return hit

    async def finish(
        self,
        key: tuple[str, ...],
        status: int,
        body: Any,
        headers: dict[str, str],
        extra: float = 0.0,
    ) -> Response:
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        latency = 0.08 + 0.32 * self.world.faults.uniform(PLATFORM, "latency", *key, n)
        await self.world.clock.sleep(latency + extra)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return JSONResponse(body, status, headers)

    def _error_id(self) -> str:
        self._served += 1
        seed = repr((self.world.faults.seed, "quiltt-error", self._served)).encode()
        return hashlib.blake2b(seed, digest_size=12).hexdigest()

    async def serve(self, request: Request, endpoint: str, handler: Handler) -> Response:
        world, now = self.world, self.world.clock.now()
        world.accounting.call(PLATFORM, endpoint)
        body = await request.body()
        authorization = request.headers.get("authorization")
        caller = self.sandbox.auth.caller(authorization, now)
        decision = self.sandbox.windows[caller.scope].take(caller.key, now)
        headers = decision.headers()
        key = (endpoint, *caller.key, hashlib.blake2b(body, digest_size=8).hexdigest())
        if not decision.allowed or self.roll("throttle_despite_budget", *key):
            world.accounting.throttle(PLATFORM, endpoint)
            return await self.finish(key, 429, TOO_MANY_REQUESTS, headers)
        if self.roll("timeout", *key):
            body_503 = error(
                "Service Unavailable", "The request timed out; retry it later.", self._error_id()
            )
            return await self.finish(key, 503, body_503, headers, extra=60.0)
        if self.roll("server_error", *key):
            body_500 = error(
                "Internal Server Error",
                "Something went wrong on our end; retry the request.",
                self._error_id(),
            )
            return await self.finish(key, 500, body_500, headers)
        status, reply = handler(Call(caller, authorization, body, now, key))
        if status == 429:
            world.accounting.throttle(PLATFORM, endpoint)
        extra = 0.0
        if self.roll("slow", *key):
            extra = 2.0 + 8.0 * world.faults.uniform(PLATFORM, "slow", *key)
        return await self.finish(key, status, reply, headers, extra)

    async def unknown(self, request: Request, exc: HTTPException) -> Response:
        now = self.world.clock.now()
        self.world.accounting.call(PLATFORM, "unknown")
        caller = self.sandbox.auth.caller(request.headers.get("authorization"), now)
        headers = self.sandbox.windows[caller.scope].take(caller.key, now).headers()
        if exc.status_code == 405:
            body = error("Method Not Allowed", f"{request.method} is not supported on this path.")
        else:
            body = error("Not Found", "Check the URL: no such endpoint.")
        return await self.finish(("unknown", request.url.path), exc.status_code, body, headers)

    # --- handlers ------------------------------------------------------------------------
    def issue_session(self, call: Call) -> Reply:
        auth = self.sandbox.auth
        if not auth.secret_ok(call.authorization):
            return 401, BAD_SECRET
        try:
            payload = call.json()
        except ValueError:
            return 400, error("Bad Request", "The request body must be valid JSON.")
        if not isinstance(payload, dict):
            return 400, error("Bad Request", "The request body must be a JSON object.")
        user = payload.get("userId")
        if not isinstance(user, str) or not user:
            return 422, error(
                "Unprocessable Entity",
                "Provide the userId of an existing Profile (this sandbox does "
                "not create Profiles).",
            )
        if user not in auth.profiles:
            return 404, error("Not Found", f"No Profile {user!r} exists in this environment.")
        if auth.frees_at(user, call.now) is not None:
            limits = self.sandbox.limits
            return 429, error(
                "Too Many Requests",
                f"Session token issuance is limited to {limits.sessions_per_hour} per hour and "
                f"{limits.sessions_per_day} per day per Profile. Reuse tokens for their "
                "lifetime or revoke unused ones.",
            )
        return 201, auth.issue(user, call.now).body(auth.environment_id)

    def get_session(self, call: Call) -> Reply:
        if call.caller.session is None:
            return 401, NOT_AUTHENTICATED
        return 200, call.caller.session.body(self.sandbox.auth.environment_id)

    def revoke_session(self, call: Call) -> Reply:
        if call.caller.session is None:
            return 401, NOT_AUTHENTICATED
        self.sandbox.auth.revoke(call.caller.session)
        return 204, None

    def graphql(self, call: Call) -> Reply:
        profile = call.caller.profile_id
        if profile is None:
            return 401, NOT_AUTHENTICATED
        try:
            payload = call.json()
        except ValueError:
            return 400, error("Bad Request", "The request body must be valid JSON.")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return 400, error("Bad Request", "Send a JSON object with a `query` string.")
        variables = payload.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return 400, error("Bad Request", "`variables` must be a JSON object.")
        client_id = self.sandbox.auth.profiles[profile]
        root = Query(
            self.sandbox.view(client_id),
            profile,
            call.now,
            self.sandbox.limits.page_cap,
            lambda kind, *key: self.roll(kind, *key),
            lambda *key: self.world.faults.uniform(PLATFORM, *key),
        )
        return 200, run(payload["query"], root, variables, payload.get("operationName"))


ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/v1/users/sessions", "issue_session"),
    ("GET", "/v1/users/session", "get_session"),
    ("DELETE", "/v1/users/session", "revoke_session"),
    ("POST", "/v1/graphql", "graphql"),
)


def build_app(sandbox: QuilttSandbox) -> Starlette:
    pipeline = Pipeline(sandbox)

    def endpoint(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await pipeline.serve(request, name, handler)

        return run

    routes = [
        Route(path, endpoint(f"{method} {path}", getattr(pipeline, attr)), methods=[method])
        for method, path, attr in ROUTES
    ]
    handlers = {404: pipeline.unknown, 405: pipeline.unknown}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
