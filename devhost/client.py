"""The durable client binding, HTTP triggers and timer triggers, served in-process.

The real ``DurableOrchestrationClient`` is used unchanged: only its three request
coroutines (instance attributes in SDK 1.7.0) are swapped for ``InProcessExtension``'s,
which answer as the extension's HTTP API would (status codes and JSON bodies), so URL
building, status parsing and ``create_check_status_response`` are the SDK's own.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import azure.durable_functions as df
import azure.functions as func

from devhost.host import DevHostError

if TYPE_CHECKING:
    from devhost.host import DevHost

ORIGIN = "http://localhost:7071"
RPC_BASE = f"{ORIGIN}/runtime/webhooks/durabletask/"
ROUTE_PREFIX = "api"
INSTANCE_PLACEHOLDER = "INSTANCEID"

_START = re.compile(r"^orchestrators/(?P<name>[^/?]+)(?:/(?P<id>[^?]+))?$")
_INSTANCE = re.compile(r"^instances/(?P<id>[^/?]*)$")
_INSTANCE_OP = re.compile(r"^instances/(?P<id>[^/]+)/(?P<op>terminate|raiseEvent/(?P<event>.+))$")
_ENTITY = re.compile(r"^entities/(?P<name>[^/]+)/(?P<key>[^/?]+)$")
_STATUS_CODE = {"Completed": 200, "Failed": 400, "Terminated": 400}


class InProcessExtension:
    """Answers the durable client's calls from a DevHost's state."""

    def __init__(self, host: DevHost, task_hub: str = "TributaryHub") -> None:
        self.host = host
        self.task_hub = task_hub

    def binding_json(self) -> str:
        base = f"{RPC_BASE}instances/{INSTANCE_PLACEHOLDER}"
        query = f"taskHub={self.task_hub}&connection=Storage&code=devhost"
        management = {
            "id": INSTANCE_PLACEHOLDER,
            "statusQueryGetUri": f"{base}?{query}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{base}?{query}",
            "restartPostUri": f"{base}/restart?{query}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
        }
        return json.dumps(
            {
                "taskHubName": self.task_hub,
                "creationUrls": {
                    "createNewInstancePostUri": f"{RPC_BASE}orchestrators/{{functionName}}",
                    "createAndWaitOnNewInstancePostUri": f"{RPC_BASE}orchestrators/"
                    "{functionName}?timeout={timeoutInSeconds}",
                },
                "managementUrls": management,
                "rpcBaseUrl": RPC_BASE,
                "requiredQueryStringParameters": query,
            }
        )

    def client(self) -> df.DurableOrchestrationClient:
        client = df.DurableOrchestrationClient(self.binding_json())
        client._post_async_request = self.post
        client._get_async_request = self.get
        client._delete_async_request = self.delete
        return client

    # The SDK's request coroutines return [status, parsed JSON body].
    async def post(self, url: str, data: Any = None, *_: Any, **__: Any) -> list[Any]:
        path, query = _split(url)
        try:
            if m := _START.match(path):
                return self._start(m["name"], m["id"], data)
            if m := _INSTANCE_OP.match(path):
                return self._instance_op(m["id"], m["op"], m["event"], data, query)
            if m := _ENTITY.match(path):
                op = query.get("op", [None])[0]
                entity = f"@{m['name'].lower()}@{m['key']}"
                text = data if isinstance(data, str) or data is None else json.dumps(data)
                self.host.signal_entity_text(entity, op or "", text)
                return [202, None]
        except DevHostError as exc:
            return [400, {"ExceptionMessage": str(exc), "Message": str(exc)}]
        return [404, {"Message": f"no route for POST {path}"}]

    async def get(self, url: str, *_: Any, **__: Any) -> list[Any]:
        path, query = _split(url)
        if m := _ENTITY.match(path):
            state = self.host.entity_state(f"@{m['name'].lower()}@{m['key']}")
            return [404, None] if state is None else [200, state]
        if m := _INSTANCE.match(path):
            if not m["id"]:
                return [200, [self.host.status(i) for i in self.host.instances]]
            if m["id"] not in self.host.instances:
                return [404, ""]  # aiohttp's reading of the extension's empty 404 body
            show_history = query.get("showHistory", ["false"])[0].lower() == "true"
            status = self.host.status(m["id"], show_history=show_history)
            return [_STATUS_CODE.get(status["runtimeStatus"], 202), status]
        return [404, {"Message": f"no route for GET {path}"}]

    async def delete(self, url: str, *_: Any, **__: Any) -> list[Any]:
        path, _query = _split(url)
        if m := _INSTANCE.match(path):
            deleted = self.host.purge(m["id"])
            return [200 if deleted else 404, {"instancesDeleted": deleted}]
        return [404, {"Message": f"no route for DELETE {path}"}]

    def _start(self, name: str, instance_id: str | None, data: Any) -> list[Any]:
        existing = self.host.instances.get(instance_id) if instance_id else None
        if existing is not None and not existing.done:
            return [
                409,
                f"An Orchestration instance with the status {existing.status} already exists.",
            ]
        text = data if isinstance(data, str) or data is None else json.dumps(data)
        new_id = self.host.start(name, instance_id=instance_id, input_text=text)
        payload = json.loads(self.binding_json())["managementUrls"]
        body = {k: v.replace(INSTANCE_PLACEHOLDER, new_id) for k, v in payload.items()}
        return [202, body]

    def _instance_op(
        self, instance_id: str, op: str, event: str | None, data: Any, query: dict
    ) -> list[Any]:
        inst = self.host.instances.get(instance_id)
        if inst is None:
            return [404, None]
        if inst.done:
            return [410, None]
        if event is not None:
            text = data if isinstance(data, str) or data is None else json.dumps(data)
            self.host.raise_event_text(instance_id, unquote(event), text)
        else:
            self.host.terminate(instance_id, query.get("reason", [""])[0])
        return [202, None]


def _split(url: str) -> tuple[str, dict[str, list[str]]]:
    parsed = urlparse(url)
    path = parsed.path
    marker = "/runtime/webhooks/durabletask/"
    if marker in path:
        path = path.split(marker, 1)[1]
    return unquote(path), parse_qs(parsed.query)


class TriggerRunner:
    """Calls HTTP- and timer-triggered functions with real request objects."""

    def __init__(self, host: DevHost, function_key: str = "devhost-function-key") -> None:
        self.host = host
        self.extension = InProcessExtension(host)
        self.function_key = function_key

    async def http(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        key: str | None = "default",
    ) -> func.HttpResponse:
        """Call the HTTP-triggered function serving ``method path`` (path under /api).

        ``body`` is sent as is when bytes or str, as JSON otherwise.

        ``key`` is sent as ``x-functions-key``; the default is the host's own key, None
        sends none (to test authorization)."""
        headers = dict(headers or {})
        if key == "default":
            key = self.function_key
        if key is not None:
            headers.setdefault("x-functions-key", key)
        parsed = urlparse(path)
        params = {**{k: v[0] for k, v in parse_qs(parsed.query).items()}, **(params or {})}
        route_path = parsed.path.strip("/")
        if route_path.startswith(ROUTE_PREFIX + "/"):
            route_path = route_path[len(ROUTE_PREFIX) + 1 :]
        for route in self.host.index.http:
            match = route.pattern.match(route_path)
            if not match:
                continue
            if method.upper() not in route.methods:
                return _json_response(405, {"error": f"method {method} not allowed"})
            if route.auth_level != "anonymous" and not self._authorized(headers, params):
                return _json_response(401, {"error": "missing or invalid function key"})
            if body is not None and not isinstance(body, bytes | str):
                body = json.dumps(body)
                headers.setdefault("content-type", "application/json")
            request = func.HttpRequest(
                method=method.upper(),
                url=f"{ORIGIN}/{ROUTE_PREFIX}/{route_path}"
                + (f"?{urlencode(params)}" if params else ""),
                headers=headers,
                params=params,
                route_params=match.groupdict(),
                body=body.encode() if isinstance(body, str) else (body or b""),
            )
            kwargs: dict[str, Any] = {route.request_param: request}
            if route.client_param:
                kwargs[route.client_param] = self.extension.client()
            try:
                response = route.handler(**kwargs)
                if asyncio.iscoroutine(response):
                    response = await response
            except Exception as exc:  # the host answers 500 and logs; so do we
                return _json_response(500, {"error": f"{type(exc).__name__}: {exc}"})
            return response
        return _json_response(404, {"error": f"no function serves {method} /{route_path}"})

    async def timer(self, name: str, *, past_due: bool = False) -> None:
        """Fire the timer-triggered function ``name`` once."""
        function = self.host.index.timers.get(name)
        if function is None:
            known = ", ".join(sorted(self.host.index.timers)) or "none"
            raise DevHostError(f"unknown timer function {name!r}; known: {known}")
        from azure.functions.timer import TimerRequest

        kwargs: dict[str, Any] = {function.timer_param: TimerRequest(past_due=past_due)}
        if function.client_param:
            kwargs[function.client_param] = self.extension.client()
        result = function.handler(**kwargs)
        if asyncio.iscoroutine(result):
            await result

    def _authorized(self, headers: dict[str, str], params: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.function_key in (lowered.get("x-functions-key"), params.get("code"))


def _json_response(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
