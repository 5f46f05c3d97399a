"""A small, honest Quiltt client for the sandbox tests: session tokens, paging, retries.

It waits as the API tells it (``Ratelimit-Reset`` after a 429, a pause after a 5xx), gets
a new Session token after a 401, and keeps records by id so duplicates collapse; a crawl
whose record count falls short of the connection's ``count`` is repeated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from sandbox.clock import Clock

TXN_FIELDS = "id date description amount entryType status currencyCode metadata account { id name }"
ACCOUNT_FIELDS = (
    "id name type kind mask currencyCode verified metadata institution { name } "
    "connection { id provider status } balance { id at source current available limit }"
)
TRANSACTIONS_QUERY = (
    "query Page($first: Int, $after: String, $filter: TransactionFilter, $sort: TransactionSort)"
    " { transactions(first: $first, after: $after, filter: $filter, sort: $sort) { count"
    f" edges {{ cursor node {{ {TXN_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)
ACCOUNTS_QUERY = f"{{ accounts {{ {ACCOUNT_FIELDS} }} }}"


class QuilttCrawler:
    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: dict[str, str],
        now: Callable[[], float],
        wait: Callable[[float], Awaitable[None]],
        prefix: str = "/quiltt",
    ) -> None:
        self.http = http
        self.credentials = credentials
        self.now = now
        self.wait = wait
        self.prefix = prefix
        self.token: str | None = None
        self.statuses: list[int] = []
        self.responses: list[httpx.Response] = []

    @classmethod
    def on(
        cls, http: httpx.AsyncClient, credentials: dict[str, str], clock: Clock
    ) -> QuilttCrawler:
        return cls(http, credentials, clock.now, clock.sleep)

    async def _backoff(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            reset = float(response.headers["Ratelimit-Reset"])
            await self.wait(max(reset - self.now(), 0.05))
        else:
            await self.wait(1.0)

    async def session(self) -> str:
        secret = self.credentials["api_secret_key"]
        for _ in range(50):
            response = await self.http.post(
                f"{self.prefix}/v1/users/sessions",
                headers={"Authorization": f"Bearer {secret}"},
                json={"userId": self.credentials["profile_id"]},
            )
            self.statuses.append(response.status_code)
            self.responses.append(response)
            if response.status_code == 201:
                self.token = response.json()["token"]
                return self.token
            assert response.status_code in (429, 500, 503), response.text
            await self._backoff(response)
        raise AssertionError("no session token after 50 attempts")

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        for _ in range(200):
            token = self.token or await self.session()
            response = await self.http.post(
                f"{self.prefix}/v1/graphql",
                headers={"Authorization": f"Bearer {token}"},
                json={"query": query, "variables": variables or {}},
            )
            self.statuses.append(response.status_code)
            self.responses.append(response)
            if response.status_code == 200:
                body = response.json()
                assert "errors" not in body, body
                return body["data"]
            if response.status_code == 401:
                self.token = None
                continue
            assert response.status_code in (429, 500, 503), response.text
            await self._backoff(response)
        raise AssertionError("GraphQL request kept failing")

    async def transactions(self, first: int = 100, **arguments: Any) -> list[dict[str, Any]]:
        """Every transaction, following cursors; repeated until the count is reached."""
        for _ in range(10):
            seen: dict[str, dict[str, Any]] = {}
            after, count = None, None
            while True:
                variables = {"first": first, "after": after, **arguments}
                page = (await self.graphql(TRANSACTIONS_QUERY, variables))["transactions"]
                count = page["count"]
                for edge in page["edges"]:
                    seen[edge["node"]["id"]] = edge["node"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            if len(seen) == count:
                return list(seen.values())
        raise AssertionError(f"crawl stayed short: {len(seen)} of {count}")

    async def accounts(self) -> list[dict[str, Any]]:
        return (await self.graphql(ACCOUNTS_QUERY))["accounts"]


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in records}
