"""What a response's headers and body tell the ambassador, per platform (``feedback``)."""

from __future__ import annotations

from shared.ambassador.headers import feedback


def test_shopify_rest_429_with_a_text_error_body_is_throttled_with_its_wait() -> None:
    body = {"errors": "Exceeded 2 calls per second for api client. Reduce request rates."}
    out = feedback(
        "shopify", 429, {"X-Shopify-Shop-Api-Call-Limit": "40/40", "Retry-After": "1.0"}, body
    )
    assert out["throttled"] is True
    assert out["retry_after_s"] == 1.0


def test_shopify_graphql_throttled_at_200_computes_the_wait_from_throttle_status() -> None:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 500,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 300.0,
                    "restoreRate": 100.0,
                },
            }
        },
    }
    out = feedback("shopify", 200, {}, body)
    assert out["throttled"] is True
    assert out["retry_after_s"] == 2.0


def test_etsy_remaining_headers_become_readings() -> None:
    headers = {
        "x-limit-per-second": "10",
        "x-remaining-this-second": "3",
        "x-limit-per-day": "10000",
        "x-remaining-today": "9000",
    }
    out = feedback("etsy", 200, headers)
    assert out["throttled"] is False
    assert len(out["readings"]) == 2
