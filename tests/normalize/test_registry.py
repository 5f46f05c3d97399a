"""The entry point: the (platform, resource) table, bad pairs, bad payloads, account."""

from __future__ import annotations

import json

import pytest

from shared.errors import ConfigurationError, MalformedPayloadError, PermanentError
from shared.models import RECORD_TYPES
from shared.normalize import SUPPORTED, handler, normalize, supported
from shared.settings import PLATFORMS

EXPECTED = {
    "amazon": {"orders", "order_items", "transactions", "payouts", "inventory", "returns"},
    "shopify": {"orders", "order_items", "transactions", "payouts", "inventory", "returns"},
    "ebay": {"orders", "order_items", "transactions", "payouts", "inventory", "returns"},
    "etsy": {"orders", "order_items", "transactions", "payouts", "inventory", "returns"},
    "quiltt": {"bank_transactions"},
}


def test_the_table_covers_every_platform_and_only_known_resources() -> None:
    assert {p for p, _ in SUPPORTED} == set(PLATFORMS)
    for platform, resources in EXPECTED.items():
        assert {r for p, r in supported(platform) if p == platform} == resources
    assert {r for _, r in SUPPORTED} <= set(RECORD_TYPES)


@pytest.mark.parametrize(("platform", "resource"), sorted(SUPPORTED))
def test_every_entry_resolves_to_a_function(platform: str, resource: str) -> None:
    assert callable(handler(platform, resource))


@pytest.mark.parametrize(
    ("platform", "resource", "hint"),
    [("walmart", "orders", "amazon/orders"), ("quiltt", "orders", "quiltt/bank_transactions")],
)
def test_unknown_pairs_name_what_is_supported(platform: str, resource: str, hint: str) -> None:
    with pytest.raises(ConfigurationError, match=hint):
        normalize(platform, resource, {})


@pytest.mark.parametrize("payload", [None, [], 42, b"{}"])
def test_non_page_payloads_are_malformed(payload: object) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("amazon", "orders", payload)  # type: ignore[arg-type]
    assert isinstance(info.value, PermanentError)
    assert (info.value.platform, info.value.resource) == ("amazon", "orders")


def test_account_is_keyword_only_and_stamped_on_every_record() -> None:
    page = {"payload": {"Orders": [_order("1"), _order("2")]}}
    records = normalize("amazon", "orders", page, account="A2SELLER")
    assert {r.account for r in records} == {"A2SELLER"}
    assert {r.account for r in normalize("amazon", "orders", page)} == {""}
    with pytest.raises(TypeError):
        normalize("amazon", "orders", page, "A2SELLER")  # type: ignore[misc]


def test_a_page_as_text_normalizes_like_the_page() -> None:
    page = {"payload": {"Orders": [_order("1")]}}
    assert normalize("amazon", "orders", json.dumps(page)) == normalize("amazon", "orders", page)
    with pytest.raises(MalformedPayloadError, match="not JSON"):
        normalize("ebay", "orders", "{not json")


def test_unexpected_shapes_become_malformed_payload_errors() -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("amazon", "orders", {"payload": {"Orders": {"not": "a list"}}})
    assert info.value.field == "$.payload.Orders"


def _order(n: str) -> dict[str, str]:
    return {
        "AmazonOrderId": f"902-000000{n}-0000000",
        "PurchaseDate": "2024-01-01T00:00:00Z",
        "LastUpdateDate": "2024-01-02T00:00:00Z",
        "OrderStatus": "Shipped",
    }
