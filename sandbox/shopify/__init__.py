"""Shopify Admin API sandbox: expiring offline access tokens, Admin GraphQL (orders with
line items and refunds, Shopify Payments payouts and balance transactions, inventory
levels) with Shopify's calculated query cost and cost bucket, Bulk Operations with JSONL
results, and the REST orders endpoint with its leaky bucket and Link paging; faults and
a ground truth.

Path scheme (see app.py): ``https://{shop}.myshopify.com/admin/api/{version}/graphql.json``
is served at ``/shopify/{shop}/admin/api/{version}/graphql.json``; REST orders at
``/shopify/{shop}/admin/api/{version}/orders.json``; the token refresh at
``/shopify/{shop}/admin/oauth/access_token``; bulk results at
``/shopify/bulk-results/{id}.jsonl``. ``{shop}`` is the client's account
(``ClientSpec.account("shopify")``).

Layout:
    data.py         seeded history: catalogue, orders, line items, refunds
    payments.py     Shopify Payments balance transactions and daily payouts
    stock.py        inventory levels per item and location over time
    views.py        the API's payloads at an instant (GraphQL and REST dialects)
    schema.py       the Admin GraphQL schema subset (SDL, graphql-core)
    cost.py         requested and actual query cost
    paging.py       Relay connections with keyset cursors
    search.py       the ``query:`` search syntax
    graphql_api.py  resolvers
    bulk.py         bulk operations and their JSONL
    rest.py         REST orders.json
    limits.py       the policy (every number, overridable), REST and GraphQL buckets
    auth.py         access tokens and refresh
    app.py          the request pipeline and routes
    facade.py       ShopifySandbox: what the world and the tests use
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.shopify.facade import RESOURCES, ShopifySandbox

if TYPE_CHECKING:
    from sandbox.world import World

__all__ = ["RESOURCES", "ShopifySandbox", "build"]


def build(world: World) -> ShopifySandbox:
    return ShopifySandbox(world)
