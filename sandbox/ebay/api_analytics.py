"""Developer Analytics v1_beta getRateLimits (``GET /developer/analytics/v1_beta/rate_limit/``).

Lists the application's daily quotas as ``{"rateLimits": [{apiContext, apiName,
apiVersion, resources: [{name, rates: [{count, limit, remaining, reset, timeWindow}]}]}]}``,
optionally narrowed by ``api_name`` and ``api_context`` (case-insensitive). The call itself
counts against Developer Analytics' own quota before the answer is computed, so the
numbers include it. eBay documents this method for an application (client-credentials)
token; the sandbox also accepts a user token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.ebay.formats import iso
from sandbox.ebay.limits import APIS

if TYPE_CHECKING:
    from sandbox.ebay.app import Call, Reply


def get_rate_limits(call: Call) -> Reply:
    sandbox, now = call.sandbox, call.now
    name = (call.query.get("api_name") or "").lower()
    context = (call.query.get("api_context") or "").lower()
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for api, (api_context, api_name, version, resource) in APIS.items():
        if (name and name != api_name.lower()) or (context and context != api_context.lower()):
            continue
        quota = sandbox.quotas.get(sandbox.oauth.app_id, api)
        rate = {
            "count": quota.count(now),
            "limit": quota.limit,
            "remaining": quota.remaining(now),
            "reset": iso(quota.reset_at(now)),
            "timeWindow": int(quota.window_s),
        }
        groups.setdefault((api_context, api_name, version), []).append(
            {"name": resource, "rates": [rate]}
        )
    limits = [
        {"apiContext": c, "apiName": n, "apiVersion": v, "resources": resources}
        for (c, n, v), resources in groups.items()
    ]
    return 200, {"rateLimits": limits}
